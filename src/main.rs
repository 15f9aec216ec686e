//! `stylize`: the command line. It parses arguments, runs the command (`cli`) and reports errors in one line.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // `stylize models | head` ends quietly, as Unix tools do (Rust ignores SIGPIPE, and println! would panic).
    // SAFETY: called first, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // Before anything slow: Ctrl-C, SIGTERM and SIGHUP stop every command cleanly.
    stylize::stop::catch_signals();
    let result = cli::Cli::parse().run();
    if let Err(e) = &result {
        eprintln!("error: {e:#}");
    }
    match (stylize::stop::unhandled(), result) {
        // Stopped by a signal (cleanly: recordings kept, unfinished outputs removed): 128 + its number.
        (Some(sig), _) => ExitCode::from(stylize::stop::exit_code(sig) as u8),
        (None, Ok(())) => ExitCode::SUCCESS,
        (None, Err(_)) => ExitCode::FAILURE,
    }
}
