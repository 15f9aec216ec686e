//! The temporal stage's cost per frame, alone (no decoding, no network), on synthetic clips whose motion is
//! known: `cargo bench --bench temporal [-- SIZE... CASE...]` (default 1280x720 640x360, every case). Prints ms/frame per case: the
//! best of five rounds (this is CPU-bound work on shared machines, where the best is the steadiest), each over the same 24 frames, on one thread and on every core.
//!
//! - still: a noisy still shot (the stage copies the previous output; the cheap case);
//! - walkers: a still background with two textured blocks moving across it (a static camera with people);
//! - pan: the whole picture moves by 2.5 pixels a frame (a hand-held camera: every pixel is resampled).
//!
//! The "stylized" frame is the input with fresh noise per frame, so that the stage has boiling to remove.
//!
//! Real footage: `-- --raw WxH INPUT.rgb STYLIZED.rgb` (raw RGB frames, e.g. `ffmpeg -i clip.mp4 -f rawvideo
//! -pix_fmt rgb24 in.rgb`, and the same of `stylize video --temporal off`'s output) times the stage on those.

use std::time::Instant;

use stylize::frame::Frame;
use stylize::temporal::Temporal;

const FRAMES: usize = 24;
const ROUNDS: usize = 5;

/// A deterministic hash in 0..256 (noise without a random crate).
fn hash(x: usize, y: usize, t: usize) -> f32 {
    let mut h = (x as u32).wrapping_mul(0x9E37_79B1) ^ (y as u32).wrapping_mul(0x85EB_CA77) ^ (t as u32).wrapping_mul(0xC2B2_AE3D);
    h ^= h >> 15;
    h = h.wrapping_mul(0x2C1B_3C6D);
    h ^= h >> 12;
    (h & 255) as f32
}

/// A texture with strokes at several scales, at a (sub-pixel) position.
fn texture(x: f32, y: f32) -> [f32; 3] {
    let v = 128.0 + 50.0 * (x * 0.05).sin() * (y * 0.043).cos() + 30.0 * ((x + 1.7 * y) * 0.21).sin() + 20.0 * ((2.3 * x - y) * 0.6).sin();
    [v, 255.0 - v, 0.5 * v + 40.0]
}

fn frame(w: usize, h: usize, t: usize, noise: f32, at: impl Fn(usize, usize) -> (f32, f32)) -> Frame {
    let mut f = Frame::new(w, h);
    for y in 0..h {
        for x in 0..w {
            let (sx, sy) = at(x, y);
            let p = texture(sx, sy);
            for (c, (v, out)) in p.iter().zip(&mut f.data[(y * w + x) * 3..(y * w + x) * 3 + 3]).enumerate() {
                let n = (hash(x * 3 + c, y, t) - 127.5) / 127.5 * noise;
                *out = (v + n).clamp(0.0, 255.0) as u8;
            }
        }
    }
    f
}

/// (input, stylized) pairs of one case.
fn clip(case: &str, w: usize, h: usize) -> Vec<(Frame, Frame)> {
    (0..FRAMES)
        .map(|t| {
            let tf = t as f32;
            let at = |x: usize, y: usize| -> (f32, f32) {
                let (x, y) = (x as f32, y as f32);
                match case {
                    "still" => (x, y),
                    "pan" => (x + 2.5 * tf, y + 0.7 * tf),
                    _ => {
                        // Two blocks, a quarter of the height, walking in opposite directions over the background.
                        let (bw, bh) = (w as f32 / 6.0, h as f32 / 4.0);
                        let a = (w as f32 * 0.2 + 4.0 * tf, h as f32 * 0.3);
                        let b = (w as f32 * 0.7 - 3.0 * tf, h as f32 * 0.55);
                        for (bx, by) in [a, b] {
                            if x >= bx && x < bx + bw && y >= by && y < by + bh {
                                return (x - bx + 1000.0, y - by + 1000.0);
                            }
                        }
                        (x, y)
                    }
                }
            };
            let input = frame(w, h, t, 2.0, at);
            let styled = frame(w, h, t + 1000, 12.0, at);
            (input, styled)
        })
        .collect()
}

fn ms_per_frame(frames: &[(Frame, Frame)], threads: usize) -> f64 {
    let mut rounds: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let mut stage = Temporal::new().expect("the temporal stage (OpenCV DIS)");
            stage.set_threads(threads);
            let mut out = Frame::new(0, 0);
            let mut busy = 0.0;
            for (input, styled) in frames {
                out.resize(styled.width, styled.height);
                out.data.copy_from_slice(&styled.data);
                let t = Instant::now();
                stage.apply(input, &mut out).expect("apply");
                busy += t.elapsed().as_secs_f64();
            }
            busy * 1e3 / frames.len() as f64
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    rounds[0]
}

/// `--raw WxH INPUT.rgb STYLIZED.rgb`: the pairs of frames of a real clip.
fn raw_clip(args: &[String]) -> Result<(String, Vec<(Frame, Frame)>), String> {
    let [size, input, styled] = args else { return Err("--raw needs WxH INPUT.rgb STYLIZED.rgb".into()) };
    let (w, h) = size.split_once('x').and_then(|(w, h)| Some((w.parse::<usize>().ok()?, h.parse::<usize>().ok()?))).ok_or(format!("size {size} is not WIDTHxHEIGHT"))?;
    let read = |p: &String| std::fs::read(p).map_err(|e| format!("{p}: {e}"));
    let (input, styled) = (read(input)?, read(styled)?);
    let frames = input.chunks_exact(w * h * 3).zip(styled.chunks_exact(w * h * 3)).map(|(i, s)| (Frame::from_raw(w, h, i.to_vec()), Frame::from_raw(w, h, s.to_vec()))).collect::<Vec<_>>();
    if frames.len() < 2 {
        return Err(format!("fewer than two {size} frames in the raw files"));
    }
    Ok((size.clone(), frames))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--raw") {
        let (size, frames) = raw_clip(&args[i + 1..]).unwrap_or_else(|e| {
            eprintln!("error: {e}");
            std::process::exit(2);
        });
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        println!("temporal stage, ms/frame (best of {ROUNDS} rounds of {} frames): {size} raw clip: {:.2} on 1 thread, {:.2} on {cores}", frames.len(), ms_per_frame(&frames, 1), ms_per_frame(&frames, cores));
        return;
    }
    let sizes: Vec<String> = std::env::args().skip(1).filter(|a| a.contains('x')).collect();
    let cases: Vec<String> = std::env::args().skip(1).filter(|a| ["still", "walkers", "pan"].contains(&a.as_str())).collect();
    let sizes = if sizes.is_empty() { vec!["1280x720".to_string(), "640x360".to_string()] } else { sizes };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("temporal stage, ms/frame (best of {ROUNDS} rounds of {FRAMES} frames)");
    println!("{:<10} {:<8} {:>9} {:>9}", "size", "case", "1 thread", format!("{cores} threads"));
    for size in &sizes {
        let Some((w, h)) = size.split_once('x').and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?))) else {
            eprintln!("error: size {size} is not WIDTHxHEIGHT");
            std::process::exit(2);
        };
        for case in ["still", "walkers", "pan"] {
            if !cases.is_empty() && !cases.iter().any(|c| c == case) {
                continue;
            }
            let frames = clip(case, w, h);
            println!("{:<10} {:<8} {:>9.2} {:>9.2}", size, case, ms_per_frame(&frames, 1), ms_per_frame(&frames, cores));
        }
    }
}
