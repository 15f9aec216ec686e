//! `stylize live`: a webcam, a video file or a test pattern, stylized and shown as it happens.
//!
//! Three threads joined by one-frame slots where the latest frame wins: the source (camera, file at its own
//! frame rate, or a synthetic pattern) -> inference -> display (the main thread, which owns the window).
//! When inference is slower than the source, the frame waiting in the slot is replaced, never queued, so the
//! latency stays bounded: one frame being stylized plus the one shown. Every replaced frame is counted, and
//! frame buffers go back to a pool for reuse.
//!
//! One module per job: `source` (camera, file, pattern; [`camera`] opens webcams), `inference`, `display` ([`window`], hotkeys, [`hud`]),
//! `sinks` (outputs and recordings, each on its own thread), `stats`; `slot` and `shared` are the plumbing between the threads. The submodules
//! share this module's imports (`use super::*`).

pub mod camera;
pub mod hud;
pub mod window;
mod slot;
mod shared;
mod source;
mod inference;
mod sinks;
mod stats;
mod display;

use slot::*;
use shared::*;
use source::*;
use inference::*;
use sinks::*;
use stats::*;
use display::*;

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Args;
use crossbeam_channel::{bounded, Receiver, Sender};
use fast_image_resize as fir;
use ffmpeg_next::Rational;

use crate::media::decode::{Item, SizeRequest, VideoSource};
use crate::media::encode::{EncodeOptions, StreamOptions, VideoSink};
use crate::media::target::Target;
use crate::effects::Effects;
use crate::args::EngineArgs;
use crate::engine::{resize_into, Engine, EngineOptions};
use crate::error::{Error, Result};
use crate::frame::Frame;
use crate::output::PendingOutput;
use crate::stop::{catch_signals, interrupted};
use crate::styles::{self, Glide};
use crate::temporal::{prepare_beside, Temporal, TemporalMode};
use crate::media::images;
use crate::models;

use camera::{CameraRequest, Webcam};
use hud::Canvas;
use window::{Hotkey, Window, HOTKEYS_HELP, HOTKEYS_HUD};

#[derive(Args, Clone, Debug)]
#[command(after_help = HOTKEYS_HELP)]
pub struct LiveArgs {
    /// Models to switch between (paths, or names in onnx/); hotkeys 1-9 pick them in this order
    #[arg(short = 'm', long = "model", default_value = models::DEFAULT_MODEL)]
    pub models: Vec<String>,
    /// Webcam index (the default source is camera 0)
    #[arg(long, conflicts_with = "input")]
    pub camera: Option<u32>,
    /// A video file (played at its own frame rate) or `test` (a moving synthetic pattern) instead of a webcam
    #[arg(long)]
    pub input: Option<String>,
    /// Frame size WxH (camera: nearest mode, resized to it; file: scaled; test pattern: default 640x360)
    #[arg(long, value_parser = parse_size)]
    pub size: Option<(u32, u32)>,
    /// Frame rate of the camera (nearest mode) and of the test pattern
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=240))]
    pub fps: u32,
    /// Camera pixel format: mjpeg, yuyv, nv12, rawrgb (default: whichever fits the size and rate best)
    #[arg(long)]
    pub camera_format: Option<String>,
    /// Play the file again from the start when it ends
    #[arg(long = "loop")]
    pub looping: bool,
    /// Stop after this many frames are shown (0: until quit, Ctrl-C, SIGTERM or the end of the input)
    #[arg(long, default_value_t = 0)]
    pub frames: u64,
    /// No window: stylize headless and print the statistics at the end
    #[arg(long)]
    pub no_window: bool,
    /// Record the stylized frames to this MP4 from the start (R stops; later recordings add -2, -3, ...)
    #[arg(long)]
    pub record: Option<PathBuf>,
    /// Send the stylized frames here too (repeatable): a virtual camera (/dev/videoN, a v4l2loopback device),
    /// a stream (rtmp://, rtmps://, srt://, udp://), a video file or an image sequence (frames/%05d.png)
    #[arg(short = 'o', long = "output", value_name = "TARGET")]
    pub outputs: Vec<String>,
    /// Bit rate of streamed outputs in kbit/s (default: about 0.15 bits per pixel per frame)
    #[arg(long, value_parser = clap::value_parser!(u32).range(50..=200_000))]
    pub bitrate: Option<u32>,
    /// Seconds between keyframes of streamed outputs (a viewer who joins waits at most this long)
    #[arg(long, default_value_t = 2.0)]
    pub keyframe_seconds: f32,
    /// A network output that loses its server stops instead of reconnecting (by default it reconnects with
    /// backoff while live goes on)
    #[arg(long)]
    pub no_reconnect: bool,
    /// Folder for snapshots (S) and for recordings (R) without --record
    #[arg(long, default_value = ".")]
    pub snapshot_dir: PathBuf,
    /// Starting strength: 1 shows the stylized frame, 0 the original (+/- change it in steps of 0.1)
    #[arg(long, default_value_t = 1.0)]
    pub strength: f32,
    /// Start with the camera's colours kept: only the luminance (the strokes) comes from the style (C toggles)
    #[arg(long)]
    pub preserve_color: bool,
    /// Seconds a style-to-style glide takes (] [ and M)
    #[arg(long, default_value_t = 1.5)]
    pub glide_seconds: f32,
    /// List the cameras and their modes, then exit
    #[arg(long)]
    pub list_cameras: bool,
    /// Print a statistics line every second
    #[arg(short, long)]
    pub verbose: bool,
    #[arg(long, default_value = crate::temporal::DEFAULT_MODE, ignore_case = true, help = crate::args::TEMPORAL_HELP)]
    pub temporal: TemporalMode,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// `--size`: what cameras and the window can take.
fn parse_size(s: &str) -> std::result::Result<(u32, u32), String> {
    crate::args::parse_size_within(s, 2..=8192)
}

/// Recording needs even sides (YUV 4:2:0).
fn even(n: u32) -> u32 {
    (n & !1).max(2)
}


// The command.

fn list_cameras() -> Result<()> {
    let cams = camera::describe_all();
    if cams.is_empty() {
        println!("no cameras found (plug in a webcam, or use --input FILE or --input test)");
    }
    for cam in cams {
        println!("camera {}: {}", cam.index, cam.name);
        for mode in cam.modes {
            println!("  {mode}");
        }
    }
    Ok(())
}

/// The source the arguments ask for.
fn source_spec(args: &LiveArgs) -> Result<SourceSpec> {
    Ok(match args.input.as_deref() {
        Some("test") => {
            let (width, height) = args.size.unwrap_or((640, 360));
            SourceSpec::Test { width, height, fps: args.fps }
        }
        Some(path) => {
            let path = PathBuf::from(path);
            if !path.exists() {
                return Err(Error::InputMissing { path });
            }
            SourceSpec::File { path, size: args.size, looping: args.looping }
        }
        None => SourceSpec::Camera(CameraRequest { index: args.camera.unwrap_or(0), size: args.size, fps: args.fps, format: args.camera_format.clone() }),
    })
}

/// The window's first size: the frame's, scaled so that the HUD (80 columns of 8 px) fits.
fn window_size(info: &SourceInfo) -> (usize, usize) {
    let (w, h) = (info.width as f64, info.height as f64);
    let scale = if w < 640.0 { 640.0 / w } else if w > 1600.0 { 1600.0 / w } else { 1.0 };
    ((w * scale).round() as usize, (h * scale).round() as usize)
}

pub fn run(args: LiveArgs) -> Result<()> {
    if args.list_cameras {
        return list_cameras();
    }
    if !(0.0..=1.0).contains(&args.strength) {
        return Err(Error::Invalid(format!("--strength {} is out of range; use 0 (original) to 1 (stylized)", args.strength)));
    }
    if args.models.len() > 9 && !args.engine.quiet {
        eprintln!("note: {} models given; hotkeys 1-9 reach the first nine, Left/Right all of them", args.models.len());
    }
    if !args.snapshot_dir.is_dir() {
        return Err(Error::Invalid(format!("snapshot folder {} does not exist; create it or pass --snapshot-dir", args.snapshot_dir.display())));
    }
    // Fail on a missing display before the slow parts.
    if !args.no_window {
        window::check_display()?;
    }
    catch_signals();
    let spec = source_spec(&args)?;
    let targets = args.outputs.iter().map(|t| Target::parse(t)).collect::<Result<Vec<_>>>()?;
    let paths: Vec<PathBuf> = args.models.iter().map(|m| args.engine.model_path(m)).collect();
    let opts = args.engine.options();

    let shared = Shared {
        stop: AtomicBool::new(false),
        paused: AtomicBool::new(false),
        wanted_model: AtomicUsize::new(0),
        counters: Counters::default(),
        notice: Mutex::new(None),
        labels: Mutex::new(paths.iter().map(|p| model_name(p)).collect()),
        error: Mutex::new(None),
        quiet: args.engine.quiet,
        style_target: AtomicUsize::new(STARTING_MIX),
        style_count: AtomicUsize::new(0),
        morph: AtomicBool::new(false),
        style_label: Mutex::new(String::new()),
    };
    let pool = Pool::new();
    let captured = Slot::<Captured>::new();
    let styled = Slot::<Styled>::new();

    std::thread::scope(|s| -> Result<()> {
        // Created in here so that an early return drops `go_tx`, which ends the waiting source thread.
        let (ready_tx, ready_rx) = bounded(1);
        let (go_tx, go_rx) = bounded::<()>(1);
        let source = s.spawn(|| source_thread(spec, ready_tx, go_rx, &captured, &pool, &shared));
        // The source opens on its own thread (cameras are bound to the thread that opened them).
        let info = match ready_rx.recv() {
            Ok(Ok(info)) => info,
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(Error::Invalid("the source thread ended before opening".into())),
        };
        // Before the window and the model: a refused connection, a missing device or an unwritable path fails
        // fast (and an unused file is removed on the way out).
        let stream = StreamOptions { bitrate_kbps: args.bitrate, keyframe_seconds: args.keyframe_seconds };
        let outputs = targets.into_iter().map(|t| Sink::start(t, &info, stream, !args.no_reconnect)).collect::<Result<Vec<_>>>()?;
        let recorder = match &args.record {
            Some(_) => Some(Sink::start(Target::File(recording_path(&args, 1)), &info, stream, false)?),
            None => None,
        };
        let window = if args.no_window {
            None
        } else {
            let (w, h) = window_size(&info);
            let mut window = Window::open(w, h)?;
            let loading = format!("loading {} ...", paths[0].display());
            window.present(None, |c| c.line(0, false, &loading, hud::WHITE))?;
            Some(window)
        };
        let (first, label) = load_engine(&paths[0], &opts, args.engine.quiet)?;
        lock(&shared.labels)[0] = label;
        let mut engines: Vec<Option<Engine>> = paths.iter().map(|_| None).collect();
        engines[0] = Some(first);
        // The stage runs between inferences on the same thread, while the engine's cores wait: it may use them all.
        let temporal = Temporal::for_mode(args.temporal)?.map(|mut stage| {
            stage.set_threads(crate::cores());
            stage
        });
        let mut models = Models { paths: paths.clone(), engines, current: 0, opts: opts.clone(), mix: None, start_mix: args.engine.style_mix.clone(), glide_seconds: args.glide_seconds, temporal };
        if let (Some(text), Some(engine)) = (&args.engine.style_mix, &models.engines[0]) {
            // A --style-mix that does not fit the first model is a typo: stop before the window shows.
            engine.parse_style_mix(text)?;
        }
        models.select_mix(&shared);
        let mut display = Display {
            args: &args,
            info: info.clone(),
            shared: &shared,
            pool: &pool,
            window,
            view: ViewState { effects: Effects { strength: args.strength, preserve_color: args.preserve_color }, split: false, hud: true },
            current: None,
            blended: Frame::new(0, 0),
            split: Frame::new(0, 0),
            recordings: u32::from(recorder.is_some()),
            recorder,
            outputs,
            stats: Stats::new(),
            hud_text: String::with_capacity(256),
            n_models: paths.len(),
        };
        if !args.engine.quiet {
            eprintln!("live: {} {}x{} at {:.2} fps{}", info.label, info.width, info.height, f64::from(info.rate), if args.no_window { " (headless)" } else { "" });
            for sink in display.recorder.iter().chain(&display.outputs) {
                eprintln!("{} {}", if display.recorder.as_ref().is_some_and(|r| std::ptr::eq(r, sink)) { "recording to" } else { "sending to" }, sink.label());
            }
        }
        let inference = s.spawn(|| inference_thread(models, &captured, &styled, &pool, &shared));
        display.stats = Stats::new();
        let _ = go_tx.send(());
        let shown = display.run(&styled);
        if args.verbose {
            display.stats.per_second(&shared.counters, true);
        }

        // Shut down: stop the workers, then count what they left behind so the numbers add up.
        shared.stop.store(true, Relaxed);
        captured.abort();
        styled.abort();
        for (name, joined) in [("source", source.join()), ("inference", inference.join())] {
            if joined.is_err() {
                shared.fail(Error::Invalid(format!("the {name} thread panicked")));
            }
        }
        let left_captured = u64::from(captured.leftover().is_some());
        let left_styled = u64::from(styled.leftover().is_some());
        let recording = display.recorder.take().map(Sink::finish);
        let reports: Vec<SinkReport> = std::mem::take(&mut display.outputs).into_iter().map(Sink::finish).collect();
        let model = shared.label(display.current.as_ref().map_or(0, |c| c.model));
        println!("{}", display.stats.summary(&info, &model, &shared.counters, left_captured, left_styled));
        for report in &reports {
            println!("{}", report.line());
        }
        let mut saved = String::new();
        match recording.map(|r| (r.sent, r.result)) {
            Some((frames, Ok(Some(path)))) => {
                println!("recorded {frames} frames to {}", path.display());
                saved = format!("; the recording {} was saved", path.display());
            }
            Some((_, Err(e))) => eprintln!("warning: the recording could not be finished: {e}"),
            _ => {}
        }
        shown?;
        match lock(&shared.error).take() {
            Some(Error::Camera(msg)) => Err(Error::Camera(format!("{msg}{saved}"))),
            Some(e) => Err(e),
            None => Ok(()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_keeps_the_latest_and_counts_replacements() {
        let slot = Slot::new();
        assert!(matches!(slot.put(1), Put::Stored));
        assert!(matches!(slot.put(2), Put::Replaced(1)));
        assert!(matches!(slot.take(Duration::ZERO), Take::Item(2)));
        assert!(matches!(slot.take(Duration::from_millis(1)), Take::Empty));
        slot.put(3);
        slot.finish();
        assert!(matches!(slot.put(4), Put::Refused(4)));
        // A finished slot still hands out what is waiting, then reports closed.
        assert!(matches!(slot.take(Duration::ZERO), Take::Item(3)));
        assert!(matches!(slot.take(Duration::ZERO), Take::Closed));
        let slot = Slot::new();
        slot.put(5);
        slot.abort();
        assert!(matches!(slot.take(Duration::ZERO), Take::Closed));
        assert_eq!(slot.leftover(), Some(5));
    }

    #[test]
    fn blend_and_side_by_side() {
        let a = Frame::from_raw(2, 1, vec![0, 0, 0, 100, 100, 100]);
        let b = Frame::from_raw(2, 1, vec![200, 200, 200, 100, 100, 100]);
        let mut out = Frame::new(0, 0);
        let blend = |strength| Effects { strength, preserve_color: false };
        blend(0.5).render(&a, &b, &mut out);
        assert_eq!(out.data, vec![100, 100, 100, 100, 100, 100]);
        blend(1.0).render(&a, &b, &mut out);
        assert_eq!(out.data, b.data);
        blend(0.0).render(&a, &b, &mut out);
        assert_eq!(out.data, a.data);
        side_by_side(&a, &b, &mut out);
        assert_eq!((out.width, out.height), (4, 1));
        assert_eq!(out.data, [&a.data[..], &b.data[..]].concat());
    }

    #[test]
    fn pattern_moves() {
        let (mut f0, mut f1) = (Frame::new(64, 36), Frame::new(64, 36));
        draw_pattern(&mut f0, 0);
        draw_pattern(&mut f1, 5);
        assert_ne!(f0.data, f1.data);
    }

    #[test]
    fn recording_names() {
        let mut args = LiveArgs::try_parse_from_for_test(&["--record", "out/rec.mp4"]);
        assert_eq!(recording_path(&args, 1), PathBuf::from("out/rec.mp4"));
        assert_eq!(recording_path(&args, 3), PathBuf::from("out/rec-3.mp4"));
        args.record = None;
        assert!(recording_path(&args, 1).to_string_lossy().starts_with("./stylize-"));
    }

    impl LiveArgs {
        fn try_parse_from_for_test(extra: &[&str]) -> LiveArgs {
            use clap::Parser;
            #[derive(Parser)]
            struct Cli {
                #[command(flatten)]
                live: LiveArgs,
            }
            let argv = std::iter::once("live").chain(extra.iter().copied());
            Cli::parse_from(argv).live
        }
    }
}
