//! `stylize flicker`: the temporal instability of a model on a clip.

use std::path::Path;

use anyhow::{bail, Result};
use stylize::args::EngineArgs;
use stylize::flicker::FlickerMeter;
use stylize::media::decode::VideoSource;
use stylize::progress::frames_bar;
use stylize::Frame;

/// Stylizes the first `frames` frames of `input` and prints how much the output changes where the input stood still.
pub fn run(model: &str, input: &Path, frames: usize, args: &EngineArgs) -> Result<()> {
    let source = VideoSource::open(input, Default::default())?;
    let mut engine = args.load(model)?;
    let pb = frames_bar(Some(frames as u64), args.quiet);
    let mut meter = FlickerMeter::default();
    let mut styled = Frame::new(0, 0);
    let mut decoded = source.frames();
    for frame in decoded.by_ref().take(frames) {
        styled.resize(frame.width, frame.height);
        styled.data.copy_from_slice(&frame.data);
        engine.stylize(&mut styled)?;
        meter.push(&frame, &styled);
        pb.inc(1);
    }
    drop(decoded);
    pb.finish_and_clear();
    let r = meter.result();
    if r.pairs == 0 {
        bail!("{} has fewer than two video frames: nothing to compare", input.display());
    }
    println!(
        "flicker: {:.2} grey levels of output change per still pixel (input: {:.2}; ratio {:.1}), {:.0} % of pixels still, {} frame pairs, {}",
        r.output_change,
        r.input_change,
        r.output_change / r.input_change.max(1e-6),
        r.still_share * 100.0,
        r.pairs,
        model
    );
    Ok(())
}
