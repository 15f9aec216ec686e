//! `stylize demo`: the bundled clip through the default model into demo_out.mp4.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use stylize::args::{EngineArgs, VideoArgs};
use stylize::models;
use stylize::Effects;

/// Stylizes the demo clip into `output` (at half size unless a size is given) and says where it went.
pub fn run(model: &str, output: &Path, mut video: VideoArgs, effects: Effects, args: &EngineArgs) -> Result<()> {
    // Half size keeps the demo to a minute or two on a laptop CPU; --scale 1 for the full 1280x720.
    if video.size.is_none() && video.scale.is_none() {
        video.scale = Some(0.5);
    }
    let input = demo_clip().context("the bundled demo clip (bigbuckbunny.mp4) is missing: it comes with the checkout (assets/) and with scripts/setup.sh install")?;
    super::video::run(model, std::slice::from_ref(&input), output, &video, effects, args)?;
    println!("demo: wrote {} (stylized {} with its audio)", output.display(), input.display());
    Ok(())
}

/// The clip `stylize demo` uses: assets/ in the working directory or the checkout the binary was built in.
fn demo_clip() -> Option<PathBuf> {
    let rel = Path::new("assets/bigbuckbunny.mp4");
    let exe = std::env::current_exe().ok()?;
    let in_checkout = std::iter::once(rel.to_path_buf()).chain(exe.ancestors().skip(1).take(3).map(|d| d.join(rel))).find(|p| p.is_file());
    models::installed_file("bigbuckbunny.mp4").or(in_checkout)
}
