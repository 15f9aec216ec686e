//! Stopping from outside. Ctrl-C (SIGINT), service managers, schedulers and `docker stop` (SIGTERM) and a
//! closed terminal (SIGHUP) all ask a job to stop cleanly: long loops poll [`interrupted`], finish what must be
//! finished (a live recording is closed and kept) and remove what is unfinished. A second signal while shutting
//! down exits at once, after removing the unfinished outputs registered here. The exit code is 128 + the
//! signal's number (130, 143, 129), as shells and service managers expect.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Mutex, Once};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

/// The first stop signal received (0: none).
static RECEIVED: AtomicI32 = AtomicI32::new(0);
static HANDLER: Once = Once::new();
/// Set by [`leave_signals_to_host`]: a host process (Python) owns the signals.
static HOSTED: AtomicBool = AtomicBool::new(false);
/// Temporary outputs that exist now; a forced exit removes them.
static UNFINISHED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Installs the handler for SIGINT, SIGTERM and SIGHUP (once; later calls do nothing; nothing when the host
/// owns the signals).
pub fn catch_signals() {
    if HOSTED.load(Ordering::SeqCst) {
        return;
    }
    HANDLER.call_once(|| {
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else { return };
        // A plain thread, not the signal handler itself, so it may take locks and remove files.
        let _ = std::thread::Builder::new().name("signals".into()).spawn(move || {
            for sig in signals.forever() {
                if RECEIVED.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst).is_err() {
                    // A second signal means "now".
                    for path in UNFINISHED.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
                        let _ = std::fs::remove_file(path);
                    }
                    eprintln!("{}: stopped at once", name(sig));
                    std::process::exit(exit_code(RECEIVED.load(Ordering::SeqCst)));
                }
            }
        });
    });
}

/// True once a stop signal has arrived.
pub fn interrupted() -> bool {
    RECEIVED.load(Ordering::Relaxed) != 0
}

/// The stop signal received, if any.
/// A signal that ended the job the normal way (a live stream input ends with Ctrl-C) is not reported as an
/// interruption in the exit code.
static HANDLED: AtomicBool = AtomicBool::new(false);

pub fn mark_handled() {
    HANDLED.store(true, Ordering::SeqCst);
}

/// The signal received, unless it was [`mark_handled`] as the job's normal end.
pub fn unhandled() -> Option<i32> {
    received().filter(|_| !HANDLED.load(Ordering::SeqCst))
}

pub fn received() -> Option<i32> {
    Some(RECEIVED.load(Ordering::Relaxed)).filter(|&s| s != 0)
}

/// How a signal is named to the user.
pub fn name(sig: i32) -> &'static str {
    match sig {
        SIGINT => "Ctrl-C",
        SIGTERM => "SIGTERM",
        SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}

/// The name of the signal received, for messages ("Ctrl-C" before any, for tests that fake one).
pub fn received_name() -> &'static str {
    name(received().unwrap_or(SIGINT))
}

/// 128 + the signal's number: 130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP.
pub fn exit_code(sig: i32) -> i32 {
    128 + sig
}

/// For a library inside another program (the Python package): its own handlers stay (a KeyboardInterrupt, a
/// second Ctrl-C that does not exit the interpreter), and it stops a job through the job's own handle (a
/// [`crate::media::decode::Watch`]).
pub fn leave_signals_to_host() {
    HOSTED.store(true, Ordering::SeqCst);
}

/// Marks a temporary output as unfinished until [`finished`] is called for it.
pub(crate) fn unfinished(path: &Path) {
    UNFINISHED.lock().unwrap_or_else(|e| e.into_inner()).push(path.to_path_buf());
}

/// The temporary output is gone or renamed: a forced exit leaves it alone.
pub(crate) fn finished(path: &Path) {
    UNFINISHED.lock().unwrap_or_else(|e| e.into_inner()).retain(|p| p != path);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_shell_convention() {
        assert_eq!(exit_code(SIGINT), 130);
        assert_eq!(exit_code(SIGTERM), 143);
        assert_eq!(exit_code(SIGHUP), 129);
        assert_eq!(name(SIGTERM), "SIGTERM");
    }
}
