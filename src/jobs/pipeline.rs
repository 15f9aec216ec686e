//! The video transcode: decode, stylize and encode on their own threads joined by bounded channels, so the
//! stages overlap and at most a few frames are in flight. Several engines may stylize at once, one frame each;
//! the encoder restores the order. Frame buffers go back from the encoder to the decoder and are reused.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crossbeam_channel::bounded;

use crate::media::decode::{timed_send, Item, VideoSource};
use crate::media::encode::{auto_preset, EncodeOptions, StreamOptions, VideoSink, AUTO_PRESET};
use crate::media::target::Target;
use crate::media::gif::GifSink;
use crate::effects::Effects;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::frame::Frame;
use crate::output::PendingOutput;
use crate::progress::frames_bar;
use crate::temporal::{Temporal, TemporalMode, TemporalStats};

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
    /// Stream outputs: bit rate and keyframe interval.
    pub stream: StreamOptions,
    /// The temporal stage after the network (`--temporal`; on by default).
    pub temporal: TemporalMode,
}

/// What a transcode did, for the end-of-job line and for benchmarks.
#[derive(Clone, Debug)]
pub struct Summary {
    /// The file written, or the stream, device or sequence written to (as it may be shown).
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
    /// What the temporal stage did, when it ran.
    pub temporal: Option<TemporalStats>,
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
        ) + &self.temporal.map(|t| format!("; {}", t.describe())).unwrap_or_default()
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

/// Holds frames back to the input's own rate (streams and devices), from the first frame's timestamp.
struct Pacer {
    time_base: f64,
    start: Option<(Instant, i64)>,
}

impl Pacer {
    fn new(time_base: ffmpeg_next::Rational) -> Pacer {
        Pacer { time_base: f64::from(time_base), start: None }
    }

    /// Sleeps until the frame stamped `pts` is due.
    fn wait(&mut self, pts: Option<i64>) {
        let Some(pts) = pts else { return };
        let (t0, p0) = *self.start.get_or_insert((Instant::now(), pts));
        let due = t0 + Duration::from_secs_f64(((pts - p0) as f64 * self.time_base).max(0.0));
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
}

/// The files of an image sequence being written: removed again unless the transcode completes.
struct SequenceFiles {
    pattern: PathBuf,
    written: u64,
    done: bool,
}

impl Drop for SequenceFiles {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // image2 numbers from 1; the file of a frame being written when it failed may exist too.
        for n in 1..=self.written + 1 {
            let _ = std::fs::remove_file(crate::media::target::sequence_file(&self.pattern, n));
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
    let target = Target::parse(&output.to_string_lossy())?;
    // Files appear when complete; streams, devices and sequences are written as frames come.
    let pending = match &target {
        Target::File(_) => Some(PendingOutput::new(output, &[input.as_path()])?),
        _ => None,
    };
    let stylizers = engines.len();
    let mut encode = opts.encode.clone();
    let ext = output.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    let animation = matches!(target, Target::File(_)) && (ext == "gif" || ext == "webp");
    if encode.preset == AUTO_PRESET && !animation {
        let info = source.info();
        encode.preset = preset_for(&mut engines[0], stylizers, info.out_width as usize, info.out_height as usize)?.into();
    }
    let mut info = source.info().clone();
    if animation && !info.copied_streams.is_empty() {
        info.notes.push(format!("the audio is dropped (a {} has none)", ext.to_uppercase()));
    }
    let loops = crate::media::gif::muxer_loop(info.gif_loops);
    let sink = match &target {
        Target::File(_) if ext == "gif" => Sink::Gif(GifSink::create(pending.as_ref().expect("a file").path(), output, info.out_width, info.out_height, info.time_base, info.frame_rate, loops)?),
        Target::File(_) => Sink::Video(VideoSink::create(pending.as_ref().expect("a file").path(), output, &source, &EncodeOptions { animation_loop: loops, ..encode })?),
        Target::Network { .. } => {
            let stream = opts.stream.encode_options(info.out_width, info.out_height, info.frame_rate);
            let encode = EncodeOptions { preset: encode.preset.clone(), ..stream };
            Sink::Video(VideoSink::create_stream(&target, &source, &encode)?)
        }
        Target::Device(_) | Target::Sequence(_) => Sink::Video(VideoSink::create_target(&target, info.out_width, info.out_height, info.frame_rate, info.time_base, &opts.stream)?),
    };
    let codec = match &sink {
        Sink::Video(s) => s.codec_name.clone(),
        Sink::Gif(_) => "gif".to_string(),
    };
    // A stream or a device is sent at the input's own rate (a live input is paced already).
    let paced = matches!(target, Target::Network { .. } | Target::Device(_)).then(|| Pacer::new(info.time_base));
    // A sequence that fails half-way is removed, as a file would be.
    let mut sequence = match &target {
        Target::Sequence(pattern) => Some(SequenceFiles { pattern: pattern.clone(), written: 0, done: false }),
        _ => None,
    };
    let total = match (info.frames_hint, opts.max_frames) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let bar = frames_bar(total, opts.quiet);
    let max_frames = opts.max_frames.unwrap_or(u64::MAX);
    let effects = opts.effects;
    // The temporal stage runs in frame order, on the encoder's thread; the workers pass each frame's input along.
    let mut temporal = Temporal::for_mode(opts.temporal)?;
    let keep_input = temporal.is_some() || !effects.is_identity();

    // Small queues: enough to keep every stage busy, few enough to bound memory and latency.
    let (dec_tx, dec_rx) = bounded::<Item>(4);
    let (inf_tx, inf_rx) = bounded::<(u64, Item, Option<Frame>)>(4);
    let (pool_tx, pool_rx) = bounded::<Frame>(12 + 2 * stylizers);
    // The inputs kept beside their stylized frames, reused the same way.
    let (input_pool, pool_rx_inputs) = bounded::<Frame>(12 + 2 * stylizers);
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
                let pool = pool_rx_inputs.clone();
                s.spawn(move || -> Result<(u64, Duration)> {
                    let mut busy = Duration::ZERO;
                    let mut frames = 0u64;
                    let mut blocked = Duration::ZERO;
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
                        let (item, input) = match item {
                            Item::Video { mut frame, pts } => {
                                let t = Instant::now();
                                // The frame's input, kept when an effect or the temporal stage needs it (buffers
                                // come back from the encoder).
                                let input = keep_input.then(|| {
                                    let mut input = pool.try_recv().unwrap_or_default();
                                    input.resize(frame.width, frame.height);
                                    input.data.copy_from_slice(&frame.data);
                                    input
                                });
                                if let Err(e) = engine.stylize(&mut frame) {
                                    failed.store(true, Ordering::Relaxed);
                                    return Err(e);
                                }
                                if let Some(input) = &input {
                                    effects.apply(input, &mut frame);
                                }
                                busy += t.elapsed();
                                frames += 1;
                                bar.inc(1);
                                (Item::Video { frame, pts }, input)
                            }
                            packet => (packet, None),
                        };
                        if !timed_send(&inf_tx, (seq, item, input), &mut blocked) {
                            break;
                        }
                    }
                    Ok((frames, busy))
                })
            })
            .collect();
        drop((dec_rx, inf_tx, pool_rx_inputs));
        let temporal = &mut temporal;
        let sequence = &mut sequence;
        let encoder = s.spawn(move || -> Result<(u64, Duration)> {
            let mut sink = sink;
            let mut paced = paced;
            let mut busy = Duration::ZERO;
            let mut frames = 0u64;
            // Items that arrived before one numbered lower, held until it comes.
            let mut waiting = BTreeMap::new();
            let mut next = 0u64;
            for (seq, item, input) in inf_rx.iter() {
                waiting.insert(seq, (item, input));
                while let Some((item, input)) = waiting.remove(&next) {
                    next += 1;
                    // Waiting for a frame's time is not encoding time.
                    if let (Some(p), Item::Video { pts, .. }) = (paced.as_mut(), &item) {
                        p.wait(*pts);
                    }
                    let t = Instant::now();
                    match item {
                        Item::Video { mut frame, pts } => {
                            if let (Some(stage), Some(input)) = (temporal.as_mut(), input.as_ref()) {
                                stage.apply(input, &mut frame)?;
                            }
                            if let Some(input) = input {
                                let _ = input_pool.try_send(input);
                            }
                            sink.push_frame(&frame, pts)?;
                            frames += 1;
                            if let Some(seq) = sequence.as_mut() {
                                seq.written = frames;
                            }
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
        Err(Error::Corrupt { path, frame, reason, .. }) if opts.keep_partial && encoded.is_ok() && pending.is_some() => {
            let kept = pending.expect("checked above").keep_partial()?;
            return Err(Error::Corrupt { path, frame, reason, kept: format!("; kept the {frame} frames before it in {}", kept.display()) });
        }
        Err(Error::Corrupt { path, frame, reason, .. }) => {
            return Err(Error::Corrupt { path, frame, reason, kept: "; no output written (--keep-partial keeps the frames before it)".into() });
        }
        Err(Error::Interrupted(_)) if pending.is_some() => return Err(Error::Interrupted(format!("; removed the unfinished {}", output.display()))),
        Err(Error::Interrupted(_)) => return Err(Error::Interrupted(format!("; stopped sending to {}", target.label()))),
        Err(e) => return Err(e),
    };
    let (styled, infer_busy) = inferred?;
    let (written, encode_busy) = encoded?;
    if written == 0 {
        return Err(Error::NoFrames { path: input });
    }
    debug_assert!(styled >= written && (frames >= styled || max_frames < u64::MAX));
    let output = match pending {
        Some(p) => p.commit()?,
        None => PathBuf::from(target.label()),
    };
    if let Some(seq) = sequence.as_mut() {
        seq.done = true;
    }
    if info.live && crate::stop::interrupted() {
        // Ctrl-C was how this live input ended, and the output is complete: not a failure.
        crate::stop::mark_handled();
    }
    let mut notes = info.notes;
    if let Some(tiled) = engines[0].tiling_note() {
        notes.push(format!("the frames did not fit the memory budget: {tiled}"));
    }
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
        notes,
        temporal: temporal.map(|t| t.stats()),
    })
}
