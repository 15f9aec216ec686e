//! Progress bars and the end-of-job summary line.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A frame counter with fps and ETA (hidden when stderr is not a terminal or `quiet`).
pub fn frames_bar(total: Option<u64>, quiet: bool) -> ProgressBar {
    let bar = match total {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::no_length(),
    };
    if quiet {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    let template = if total.is_some() {
        "{spinner} [{elapsed_precise}] {bar:32} {pos}/{len} frames  {per_sec}  ETA {eta}  {msg}"
    } else {
        "{spinner} [{elapsed_precise}] {pos} frames  {per_sec}  {msg}"
    };
    bar.set_style(ProgressStyle::with_template(template).expect("valid template").progress_chars("=> "));
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

pub fn fmt_secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}
