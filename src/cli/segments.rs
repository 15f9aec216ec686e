//! `stylize video --plan N` and `stylize join`: a film cut into segments for many machines, and put back together.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use stylize::jobs::segment;

/// `stylize video --plan N`: the segments a job system would run.
pub fn plan(inputs: &[PathBuf], n: u64, json: bool) -> Result<()> {
    let [input] = inputs else { bail!("--plan takes one input ({} given)", inputs.len()) };
    let plan = segment::plan(input, n as usize)?;
    print!("{}", plan.render(json));
    if json {
        println!();
    }
    if plan.segments.len() < n as usize {
        eprintln!("note: {} has {} keyframes: {} segments instead of {n}", input.display(), plan.keyframes, plan.segments.len());
    }
    Ok(())
}

/// `stylize join`: the segments into one video with the source's audio.
pub fn join(segments: &[PathBuf], audio_from: &Path, output: &Path) -> Result<()> {
    let joined = segment::join(segments, audio_from, output)?;
    println!("joined {} segments into {}: {} frames, {} audio packets from {}", joined.segments, joined.output.display(), joined.frames, joined.audio_packets, audio_from.display());
    Ok(())
}
