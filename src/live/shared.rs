//! What the live threads share: frames in flight, counters, notices, the model and style the user picked.

use super::*;

/// A source frame and when it was captured (end-to-end latency runs from here to the screen).
pub(super) struct Captured {
    pub(super) frame: Frame,
    pub(super) at: Instant,
}

/// A stylized frame with the original it came from (for blending and side-by-side).
pub(super) struct Styled {
    pub(super) original: Frame,
    pub(super) styled: Frame,
    pub(super) at: Instant,
    pub(super) model: usize,
}

#[derive(Default)]
pub(super) struct Counters {
    pub(super) captured: AtomicU64,
    pub(super) dropped_before_stylize: AtomicU64,
    pub(super) stylized: AtomicU64,
    pub(super) dropped_before_display: AtomicU64,
    /// Stylized while the display was already shutting down.
    pub(super) unshown_at_exit: AtomicU64,
    pub(super) stylize_nanos: AtomicU64,
    /// The temporal stage's time, and whether it runs.
    pub(super) temporal_nanos: AtomicU64,
    pub(super) temporal_on: AtomicBool,
}

/// A message for the HUD (and stderr): model load failures, snapshots, recordings.
pub(super) struct Notice {
    pub(super) text: String,
    pub(super) error: bool,
    pub(super) at: Instant,
}

pub(super) struct Shared {
    pub(super) stop: AtomicBool,
    pub(super) paused: AtomicBool,
    pub(super) wanted_model: AtomicUsize,
    pub(super) counters: Counters,
    pub(super) notice: Mutex<Option<Notice>>,
    /// Per model: "name on CPU" once loaded, the file name before.
    pub(super) labels: Mutex<Vec<String>>,
    /// The first error of the source or inference thread: it ends the run.
    pub(super) error: Mutex<Option<Error>>,
    pub(super) quiet: bool,
    /// Multi-style models: the style to glide to ([`STARTING_MIX`]: the starting mix), the number of
    /// styles of the current model (0: one-style model), morphing on/off, and the mix in words.
    pub(super) style_target: AtomicUsize,
    pub(super) style_count: AtomicUsize,
    pub(super) morph: AtomicBool,
    pub(super) style_label: Mutex<String>,
}

/// `style_target` before any style key: the `--style-mix` mix (or the even one).
pub(super) const STARTING_MIX: usize = usize::MAX;

impl Shared {
    pub(super) fn notify(&self, text: String, error: bool) {
        if !self.quiet || error {
            eprintln!("{}{text}", if error { "warning: " } else { "" });
        }
        *lock(&self.notice) = Some(Notice { text, error, at: Instant::now() });
    }

    pub(super) fn fail(&self, e: Error) {
        lock(&self.error).get_or_insert(e);
    }

    pub(super) fn label(&self, model: usize) -> String {
        lock(&self.labels).get(model).cloned().unwrap_or_default()
    }
}
