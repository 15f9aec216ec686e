//! `stylize flicker`: the temporal instability of a model on a clip, per frame and with the temporal stage.

use std::path::Path;

use anyhow::{bail, Result};
use stylize::args::EngineArgs;
use stylize::flicker::{CoherenceMeter, FlickerMeter, STATIC_FLOW, STILL_NOISE_THRESHOLD};
use stylize::media::decode::VideoSource;
use stylize::progress::frames_bar;
use stylize::temporal::{Temporal, TemporalMode};
use stylize::Frame;

/// Stylizes the first `frames` frames of `input` and prints how much the output changes where the input stood
/// still, and its warping error, per frame and (unless `temporal` is off) with the temporal stage.
pub fn run(model: &str, input: &Path, frames: usize, temporal: TemporalMode, args: &EngineArgs) -> Result<()> {
    let source = VideoSource::open(input, Default::default())?;
    let mut engine = args.load(model)?;
    let mut stage = Temporal::for_mode(temporal)?;
    // The stage runs after the network on this thread: it may use the cores the network just used.
    if let Some(stage) = stage.as_mut() {
        stage.set_threads(engine.cpu_threads().max(1));
    }
    let mut meter = FlickerMeter::default();
    let mut coherence = CoherenceMeter::new(1 + usize::from(stage.is_some()))?;
    let pb = frames_bar(Some(frames as u64), args.quiet);
    let (mut styled, mut steady) = (Frame::new(0, 0), Frame::new(0, 0));
    let mut decoded = source.frames();
    for _ in 0..frames {
        let Some(frame) = decoded.next() else { break };
        styled.resize(frame.width, frame.height);
        styled.data.copy_from_slice(&frame.data);
        engine.stylize(&mut styled)?;
        meter.push(&frame, &styled);
        match stage.as_mut() {
            Some(stage) => {
                steady.resize(frame.width, frame.height);
                steady.data.copy_from_slice(&styled.data);
                stage.apply(&frame, &mut steady)?;
                coherence.push(&frame, &[&styled, &steady])?;
            }
            None => coherence.push(&frame, &[&styled])?,
        }
        decoded.recycle(frame);
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
    let c = coherence.result();
    let columns: &[&str] = if stage.is_some() { &["per frame", "temporal"] } else { &["per frame"] };
    println!("{:<44}{}", "", columns.iter().map(|c| format!("{c:>11}")).collect::<String>());
    let row = |label: String, values: &[f64]| println!("{label:<44}{}", values.iter().map(|v| format!("{v:>11.2}")).collect::<String>());
    row(format!("still-pixel change (input {:.2}, {:.0}% still)", c.input_still_change, c.still_share * 100.0), &c.still_change);
    row("  x the input's".to_string(), &c.still_change.iter().map(|v| v / c.input_still_change.max(1e-6)).collect::<Vec<_>>());
    row(format!("static-pixel change (input {:.2}, {:.0}% static)", c.input_static_change, c.static_share * 100.0), &c.static_change);
    row("  x the input's".to_string(), &c.static_change.iter().map(|v| v / c.input_static_change.max(1e-6)).collect::<Vec<_>>());
    row(format!("warping error (input {:.2}, {:.0}% of pixels)", c.input_warp_error, c.warp_share * 100.0), &c.warp_error);
    if let Some(stage) = &stage {
        println!("{}", stage.stats().describe());
    }
    if !args.quiet {
        eprintln!("still pixels: each channel of the input changes by less than {STILL_NOISE_THRESHOLD} grey levels; static: still, and the optical flow is below {STATIC_FLOW} px; warping error: mean |output - previous output warped along the input's optical flow| over the pixels the flow explains (grey levels)");
    }
    Ok(())
}
