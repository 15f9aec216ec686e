//! The video transcode: decode, stylize and encode on their own threads joined by bounded channels, so the
//! stages overlap and at most a few frames are in flight. Several engines may stylize at once, one frame each;
//! the encoder restores the order. Frame buffers go back from the encoder to the decoder and are reused.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crossbeam_channel::bounded;

use crate::decode::{timed_send, Item, VideoSource};
use crate::encode::{auto_preset, EncodeOptions, VideoSink, AUTO_PRESET};
use crate::gif::GifSink;
use crate::effects::Effects;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::frame::Frame;
use crate::output::PendingOutput;
use crate::progress::frames_bar;

#[derive(Clone, Debug, Default)]
pub struct TranscodeOptions {
    pub encode: EncodeOptions,
    /// Keep what was written when the input turns out corrupt (as `<name>.partial.<ext>`).
    pub keep_partial: bool,
    /// No progress bar.
    pub quiet: bool,
    /// Stop after this many frames.
    pub max_frames: Option<u64>,
    /// Strength and colour preservation.
    pub effects: Effects,
}

/// What a transcode did, for the end-of-job line and for benchmarks.
#[derive(Clone, Debug)]
pub struct Summary {
    pub output: PathBuf,
    pub frames: u64,
    pub width: u32,
    pub height: u32,
    pub wall: Duration,
    pub decode: Duration,
    pub infer: Duration,
    pub encode: Duration,
    /// Engines stylizing at once; `infer` is their mean busy time.
    pub stylizers: usize,
    pub codec: String,
    pub notes: Vec<String>,
}

impl Summary {
    pub fn fps(&self) -> f64 {
        self.frames as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    /// One line: frames, time, fps, and each stage's busy time as a share of the wall time.
    pub fn line(&self) -> String {
        let share = |d: Duration| 100.0 * d.as_secs_f64() / self.wall.as_secs_f64().max(1e-9);
        format!(
            "{} frames {}x{} in {:.2} s: {:.2} fps (busy: decode {:.0}%, stylize {:.0}%{}, encode {:.0}%; {})",
            self.frames,
            self.width,
            self.height,
            self.wall.as_secs_f64(),
            self.fps(),
            share(self.decode),
            share(self.infer),
            if self.stylizers > 1 { format!(" x{}", self.stylizers) } else { String::new() },
            share(self.encode),
            self.codec
        )
    }
}

/// Where the stylized frames go: a video file with the input's audio, or an animated GIF.
enum Sink {
    Video(VideoSink),
    Gif(GifSink),
}

impl Sink {
    fn push_frame(&mut self, frame: &Frame, pts: Option<i64>) -> Result<()> {
        match self {
            Sink::Video(s) => s.push_frame(frame, pts),
            Sink::Gif(s) => s.push_frame(frame, pts),
        }
    }

    fn push_packet(&mut self, packet: ffmpeg_next::Packet) -> Result<()> {
        match self {
            Sink::Video(s) => s.push_packet(packet),
            Sink::Gif(_) => Ok(()),
        }
    }

    fn finish(self) -> Result<()> {
        match self {
            Sink::Video(s) => s.finish(),
            Sink::Gif(s) => s.finish(),
        }
    }
}

/// `--preset auto`: times an engine on a frame of the output size (which also warms it up, as the first frame
/// would) and picks the preset the encoder can afford beside `stylizers` such engines working at once.
fn preset_for(engine: &mut Engine, stylizers: usize, width: usize, height: usize) -> Result<&'static str> {
    let megapixels = (width * height) as f64 / 1e6;
    let engine_cores = engine.cpu_threads() * stylizers;
    let pick = |ms: f64| auto_preset(ms / stylizers as f64, megapixels, engine_cores, crate::cores());
    let mut frame = Frame::new(width, height);
    let mut timed_run = |engine: &mut Engine| -> Result<f64> {
        let t = Instant::now();
        engine.stylize(&mut frame)?;
        Ok(t.elapsed().as_secs_f64() * 1e3)
    };
    let first = timed_run(engine)?;
    // The first run also allocates (on a GPU it also tunes kernels, many times over); on the CPU, time a second
    // one unless an engine 3x faster would get the same preset.
    if engine_cores > 0 && pick(first / 3.0) == pick(first) {
        return Ok(pick(first));
    }
    Ok(pick(timed_run(engine)?))
}

/// Stylizes the video of `source` (opened by the caller, who may size things by it) into `output` with
/// `engines`: each stylizes whole frames on its own thread (on a small CPU, two single-threaded engines get
/// through more frames than one with two threads), and the encoder puts the frames back in order.
pub fn transcode(engines: &mut [Engine], source: VideoSource, output: &Path, opts: &TranscodeOptions) -> Result<Summary> {
    assert!(!engines.is_empty(), "transcode needs an engine");
    crate::stop::catch_signals();
    let input = source.info().path.clone();
    let pending = PendingOutput::new(output, &[input.as_path()])?;
    let stylizers = engines.len();
    let mut encode = opts.encode.clone();
    let gif = output.extension().is_some_and(|e| e.eq_ignore_ascii_case("gif"));
    if encode.preset == AUTO_PRESET && !gif {
        let info = source.info();
        encode.preset = preset_for(&mut engines[0], stylizers, info.out_width as usize, info.out_height as usize)?.into();
    }
    let mut info = source.info().clone();
    let (sink, codec) = if gif {
        if !info.copied_streams.is_empty() {
            info.notes.push("the audio is dropped (a GIF has none)".into());
        }
        (Sink::Gif(GifSink::create(pending.path(), output, info.out_width, info.out_height, info.time_base, info.frame_rate)?), "gif".to_string())
    } else {
        let sink = VideoSink::create(pending.path(), output, &source, &encode)?;
        let codec = sink.codec_name.clone();
        (Sink::Video(sink), codec)
    };
    let total = match (info.frames_hint, opts.max_frames) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let bar = frames_bar(total, opts.quiet);
    let max_frames = opts.max_frames.unwrap_or(u64::MAX);
    let effects = opts.effects;

    // Small queues: enough to keep every stage busy, few enough to bound memory and latency.
    let (dec_tx, dec_rx) = bounded::<Item>(4);
    let (inf_tx, inf_rx) = bounded::<(u64, Item)>(4);
    let (pool_tx, pool_rx) = bounded::<Frame>(12 + 2 * stylizers);
    // Items are numbered as they are taken from the decoder (under this lock), so the encoder can restore the
    // order; `.1` counts the video frames taken, for --frames.
    let taken = Mutex::new((0u64, 0u64));
    let failed = AtomicBool::new(false);
    let start = Instant::now();

    let (decoded, inferred, encoded) = std::thread::scope(|s| {
        let decoder = s.spawn(move || source.run(&dec_tx, &pool_rx));
        let workers: Vec<_> = engines
            .iter_mut()
            .map(|engine| {
                let (dec_rx, inf_tx, bar, taken, failed) = (dec_rx.clone(), inf_tx.clone(), bar.clone(), &taken, &failed);
                s.spawn(move || -> Result<(u64, Duration)> {
                    let mut busy = Duration::ZERO;
                    let mut frames = 0u64;
                    let mut blocked = Duration::ZERO;
                    // The input of the current frame, kept only when an effect needs it (one reused buffer).
                    let mut original = Frame::new(0, 0);
                    while !failed.load(Ordering::Relaxed) {
                        let (seq, item) = {
                            let mut taken = taken.lock().unwrap_or_else(|e| e.into_inner());
                            let Ok(item) = dec_rx.recv() else { break };
                            if matches!(item, Item::Video { .. }) {
                                if taken.1 >= max_frames {
                                    break;
                                }
                                taken.1 += 1;
                            }
                            taken.0 += 1;
                            (taken.0 - 1, item)
                        };
                        let item = match item {
                            Item::Video { mut frame, pts } => {
                                let t = Instant::now();
                                if !effects.is_identity() {
                                    original.resize(frame.width, frame.height);
                                    original.data.copy_from_slice(&frame.data);
                                }
                                if let Err(e) = engine.stylize(&mut frame) {
                                    failed.store(true, Ordering::Relaxed);
                                    return Err(e);
                                }
                                effects.apply(&original, &mut frame);
                                busy += t.elapsed();
                                frames += 1;
                                bar.inc(1);
                                Item::Video { frame, pts }
                            }
                            packet => packet,
                        };
                        if !timed_send(&inf_tx, (seq, item), &mut blocked) {
                            break;
                        }
                    }
                    Ok((frames, busy))
                })
            })
            .collect();
        drop((dec_rx, inf_tx));
        let encoder = s.spawn(move || -> Result<(u64, Duration)> {
            let mut sink = sink;
            let mut busy = Duration::ZERO;
            let mut frames = 0u64;
            // Items that arrived before one numbered lower, held until it comes.
            let mut waiting = BTreeMap::new();
            let mut next = 0u64;
            for (seq, item) in inf_rx.iter() {
                waiting.insert(seq, item);
                while let Some(item) = waiting.remove(&next) {
                    next += 1;
                    let t = Instant::now();
                    match item {
                        Item::Video { frame, pts } => {
                            sink.push_frame(&frame, pts)?;
                            frames += 1;
                            let _ = pool_tx.try_send(frame);
                        }
                        Item::Packet(p) => sink.push_packet(p)?,
                    }
                    busy += t.elapsed();
                }
            }
            let t = Instant::now();
            sink.finish()?;
            Ok((frames, busy + t.elapsed()))
        });
        let stylized = workers.into_iter().map(|w| w.join()).collect::<Vec<_>>();
        (decoder.join(), stylized, encoder.join())
    });
    bar.finish_and_clear();
    let joined = |r: std::thread::Result<Result<(u64, Duration)>>| r.unwrap_or_else(|_| Err(Error::Invalid("a pipeline thread panicked".into())));
    let inferred = inferred.into_iter().map(joined).try_fold((0u64, Duration::ZERO), |(n, busy), r| r.map(|(m, b)| (n + m, busy + b)));
    let (decoded, encoded) = (joined(decoded), joined(encoded));

    // The first stage's error explains the others' (a closed channel downstream).
    let (frames, decode_busy) = match decoded {
        Ok(v) => v,
        Err(Error::Corrupt { path, frame, reason, .. }) if opts.keep_partial && encoded.is_ok() => {
            let kept = pending.keep_partial()?;
            return Err(Error::Corrupt { path, frame, reason, kept: format!("; kept the {frame} frames before it in {}", kept.display()) });
        }
        Err(Error::Corrupt { path, frame, reason, .. }) => {
            return Err(Error::Corrupt { path, frame, reason, kept: "; no output written (--keep-partial keeps the frames before it)".into() });
        }
        Err(Error::Interrupted(_)) => return Err(Error::Interrupted(format!("; removed the unfinished {}", output.display()))),
        Err(e) => return Err(e),
    };
    let (styled, infer_busy) = inferred?;
    let (written, encode_busy) = encoded?;
    if written == 0 {
        return Err(Error::NoFrames { path: input });
    }
    debug_assert!(styled >= written && (frames >= styled || max_frames < u64::MAX));
    let output = pending.commit()?;
    Ok(Summary {
        output,
        frames: written,
        width: info.out_width,
        height: info.out_height,
        wall: start.elapsed(),
        decode: decode_busy,
        infer: infer_busy / stylizers as u32,
        stylizers,
        encode: encode_busy,
        codec,
        notes: info.notes,
    })
}
