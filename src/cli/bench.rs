//! `stylize bench`: the engine alone on synthetic frames or a decoded clip, ms per frame and fps per size.

use std::time::Instant;

use anyhow::Result;
use stylize::args::EngineArgs;
use stylize::engine::Residence;
use stylize::stop::interrupted;
use stylize::Frame;

/// The frames `stylize bench` times: synthetic ones per size, or a decoded clip.
pub enum BenchFrames {
    Synthetic(Vec<(u32, u32)>),
    #[cfg_attr(not(feature = "video"), allow(dead_code))]
    Clip(Vec<Frame>),
}

/// Decodes up to `max` frames of a video into memory.
#[cfg(feature = "video")]
pub fn decode_clip(input: &std::path::Path, max: usize) -> Result<Vec<Frame>> {
    let source = stylize::media::decode::VideoSource::open(input, Default::default())?;
    let frames: Vec<Frame> = source.frames().take(max).collect();
    if frames.is_empty() {
        anyhow::bail!("{} has no video frames", input.display());
    }
    Ok(frames)
}

/// `bench` measures the video path, except that `--resident` times ONNX Runtime sessions.
pub fn engine_args(engine: EngineArgs, resident: bool) -> EngineArgs {
    if resident {
        engine
    } else {
        engine.for_frame_streams()
    }
}

/// Times the engine on `input`'s frames and prints a table (or JSON).
pub fn run(model: &str, input: BenchFrames, frames: usize, json: bool, resident: bool, args: &EngineArgs) -> Result<()> {
    let mut engine = args.load(model)?;
    let mut rows = Vec::new();
    let mut placement = None;
    let sets: Vec<Vec<Frame>> = match input {
        BenchFrames::Clip(clip) => vec![clip],
        BenchFrames::Synthetic(sizes) => sizes
            .iter()
            .map(|&(w, h)| {
                // A gradient with some texture, so the network has something to do.
                let mut frame = Frame::new(w as usize, h as usize);
                for (i, px) in frame.data.chunks_exact_mut(3).enumerate() {
                    let (x, y) = (i % w as usize, i / w as usize);
                    px.copy_from_slice(&[(x * 255 / w as usize) as u8, (y * 255 / h as usize) as u8, ((x ^ y) & 0xff) as u8]);
                }
                vec![frame]
            })
            .collect(),
    };
    for set in sets {
        let (w, h) = (set[0].width, set[0].height);
        let mut frame = set[0].clone();
        let mut times = Vec::with_capacity(frames);
        if resident {
            // One frame bound once; each timed run is the session alone.
            placement = Some(engine.bind_resident(&frame, None)?);
            for _ in 0..2 {
                engine.run_resident()?;
            }
            for _ in 0..frames.max(1) {
                let t = Instant::now();
                engine.run_resident()?;
                times.push(t.elapsed().as_secs_f64() * 1e3);
            }
            rows.push(summarize(w, h, times));
            continue;
        }
        for i in 0..2 {
            frame.data.copy_from_slice(&set[i % set.len()].data);
            engine.stylize(&mut frame)?;
        }
        for i in 0..frames.max(1) {
            if interrupted() {
                return Err(stylize::Error::Interrupted(format!(" after {} timed frames at {w}x{h}", times.len())).into());
            }
            frame.data.copy_from_slice(&set[(i + 2) % set.len()].data);
            let t = Instant::now();
            engine.stylize(&mut frame)?;
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        rows.push(summarize(w, h, times));
    }
    let mode = match placement {
        None => "engine only".to_string(),
        Some(Residence::Cuda) => "resident (session runs only; input bound once in CUDA memory, output in CUDA memory)".to_string(),
        Some(Residence::Host) => "resident (session runs only; input bound once in host memory, output in host memory)".to_string(),
    };
    if json {
        let items: Vec<String> = rows
            .iter()
            .map(|(w, h, p50, p95, mean, fps)| format!("{{\"size\":\"{w}x{h}\",\"p50_ms\":{p50:.3},\"p95_ms\":{p95:.3},\"mean_ms\":{mean:.3},\"fps\":{fps:.3}}}"))
            .collect();
        println!(
            "{{\"model\":{:?},\"device\":\"{}\",\"frame_io\":\"{}\",\"precision\":\"{}\",\"mode\":{:?},\"frames\":{frames},\"warmup\":2,\"results\":[{}]}}",
            model,
            engine.device().name(),
            engine.frame_io().name(),
            engine.precision().name(),
            mode,
            items.join(",")
        );
    } else {
        println!("{mode}, {} on {}, {frames} timed frames per size after 2 warm-up frames", model, engine.device().name());
        println!("{}", engine.io_line());
        println!("{:>11} {:>9} {:>9} {:>9} {:>8}", "size", "p50 ms", "p95 ms", "mean ms", "fps");
        for (w, h, p50, p95, mean, fps) in rows {
            println!("{:>11} {p50:>9.1} {p95:>9.1} {mean:>9.1} {fps:>8.2}", format!("{w}x{h}"));
        }
    }
    Ok(())
}

/// (w, h, p50, p95, mean, fps) of a size's frame times in ms.
fn summarize(w: usize, h: usize, mut times: Vec<f64>) -> (usize, usize, f64, f64, f64, f64) {
    times.sort_by(f64::total_cmp);
    let pct = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    (w, h, pct(0.5), pct(0.95), mean, 1e3 / mean)
}
