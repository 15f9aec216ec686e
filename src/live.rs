//! `stylize live`: a webcam, a video file or a test pattern, stylized and shown as it happens.
//!
//! Three threads joined by one-frame slots where the latest frame wins: the source (camera, file at its own
//! frame rate, or a synthetic pattern) -> inference -> display (the main thread, which owns the window).
//! When inference is slower than the source, the frame waiting in the slot is replaced, never queued, so the
//! latency stays bounded: one frame being stylized plus the one shown. Every replaced frame is counted, and
//! frame buffers go back to a pool for reuse.

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

use crate::camera::{self, CameraRequest, Webcam};
use crate::decode::{Item, SizeRequest, VideoSource};
use crate::encode::{EncodeOptions, VideoSink};
use crate::effects::Effects;
use crate::args::EngineArgs;
use crate::engine::{resize_into, Engine, EngineOptions};
use crate::error::{Error, Result};
use crate::frame::Frame;
use crate::hud::{self, Canvas};
use crate::output::PendingOutput;
use crate::stop::{catch_signals, interrupted};
use crate::styles::{self, Glide};
use crate::window::{self, Hotkey, Window, HOTKEYS_HELP, HOTKEYS_HUD};
use crate::{images, models};

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
    #[command(flatten)]
    pub engine: EngineArgs,
}

fn parse_size(s: &str) -> std::result::Result<(u32, u32), String> {
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(|| format!("size {s:?} is not WxH (e.g. 640x360)"))?;
    let w: u32 = w.trim().parse().map_err(|_| format!("bad width in {s:?}"))?;
    let h: u32 = h.trim().parse().map_err(|_| format!("bad height in {s:?}"))?;
    if !(2..=8192).contains(&w) || !(2..=8192).contains(&h) {
        return Err(format!("size {s:?} out of range (2..8192)"));
    }
    Ok((w, h))
}

/// Recording needs even sides (YUV 4:2:0).
fn even(n: u32) -> u32 {
    (n & !1).max(2)
}

// ---------------------------------------------------------------------------------------------------------------
// Plumbing: slots, the buffer pool, shared state.

/// A one-item mailbox: `put` replaces what is waiting (handing it back, to count and recycle).
struct Slot<T> {
    state: Mutex<SlotState<T>>,
    ready: Condvar,
}

struct SlotState<T> {
    item: Option<T>,
    /// The producer is done: the consumer takes what is left, then sees `Closed`.
    finished: bool,
    /// Shutting down: nothing more goes in or out.
    aborted: bool,
}

enum Put<T> {
    Stored,
    Replaced(T),
    Refused(T),
}

enum Take<T> {
    Item(T),
    Empty,
    Closed,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<T> Slot<T> {
    fn new() -> Self {
        Slot { state: Mutex::new(SlotState { item: None, finished: false, aborted: false }), ready: Condvar::new() }
    }

    fn put(&self, item: T) -> Put<T> {
        let mut s = lock(&self.state);
        if s.aborted || s.finished {
            return Put::Refused(item);
        }
        let old = s.item.replace(item);
        self.ready.notify_one();
        old.map_or(Put::Stored, Put::Replaced)
    }

    fn take(&self, timeout: Duration) -> Take<T> {
        let deadline = Instant::now() + timeout;
        let mut s = lock(&self.state);
        loop {
            if s.aborted {
                return Take::Closed;
            }
            if let Some(item) = s.item.take() {
                return Take::Item(item);
            }
            if s.finished {
                return Take::Closed;
            }
            let now = Instant::now();
            if now >= deadline {
                return Take::Empty;
            }
            s = self.ready.wait_timeout(s, deadline - now).unwrap_or_else(PoisonError::into_inner).0;
        }
    }

    fn finish(&self) {
        lock(&self.state).finished = true;
        self.ready.notify_all();
    }

    fn abort(&self) {
        lock(&self.state).aborted = true;
        self.ready.notify_all();
    }

    /// What is still waiting after shutdown (for the accounting).
    fn leftover(&self) -> Option<T> {
        lock(&self.state).item.take()
    }
}

/// Frame buffers in circulation: taken by the source and inference, given back by whoever drops a frame.
#[derive(Clone)]
struct Pool {
    tx: Sender<Frame>,
    rx: Receiver<Frame>,
}

impl Pool {
    fn new() -> Self {
        let (tx, rx) = bounded(16);
        Pool { tx, rx }
    }

    fn get(&self) -> Frame {
        self.rx.try_recv().unwrap_or_else(|_| Frame::new(0, 0))
    }

    fn give(&self, frame: Frame) {
        let _ = self.tx.try_send(frame);
    }
}

/// A source frame and when it was captured (end-to-end latency runs from here to the screen).
struct Captured {
    frame: Frame,
    at: Instant,
}

/// A stylized frame with the original it came from (for blending and side-by-side).
struct Styled {
    original: Frame,
    styled: Frame,
    at: Instant,
    model: usize,
}

#[derive(Default)]
struct Counters {
    captured: AtomicU64,
    dropped_before_stylize: AtomicU64,
    stylized: AtomicU64,
    dropped_before_display: AtomicU64,
    /// Stylized while the display was already shutting down.
    unshown_at_exit: AtomicU64,
    stylize_nanos: AtomicU64,
}

/// A message for the HUD (and stderr): model load failures, snapshots, recordings.
struct Notice {
    text: String,
    error: bool,
    at: Instant,
}

struct Shared {
    stop: AtomicBool,
    paused: AtomicBool,
    wanted_model: AtomicUsize,
    counters: Counters,
    notice: Mutex<Option<Notice>>,
    /// Per model: "name on CPU" once loaded, the file name before.
    labels: Mutex<Vec<String>>,
    /// The first error of the source or inference thread: it ends the run.
    error: Mutex<Option<Error>>,
    quiet: bool,
    /// Multi-style models: the style to glide to ([`STARTING_MIX`]: the starting mix), the number of
    /// styles of the current model (0: one-style model), morphing on/off, and the mix in words.
    style_target: AtomicUsize,
    style_count: AtomicUsize,
    morph: AtomicBool,
    style_label: Mutex<String>,
}

/// `style_target` before any style key: the `--style-mix` mix (or the even one).
const STARTING_MIX: usize = usize::MAX;

impl Shared {
    fn notify(&self, text: String, error: bool) {
        if !self.quiet || error {
            eprintln!("{}{text}", if error { "warning: " } else { "" });
        }
        *lock(&self.notice) = Some(Notice { text, error, at: Instant::now() });
    }

    fn fail(&self, e: Error) {
        lock(&self.error).get_or_insert(e);
    }

    fn label(&self, model: usize) -> String {
        lock(&self.labels).get(model).cloned().unwrap_or_default()
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Sources.

enum SourceSpec {
    Camera(CameraRequest),
    File { path: PathBuf, size: Option<(u32, u32)>, looping: bool },
    Test { width: u32, height: u32, fps: u32 },
}

#[derive(Clone, Debug)]
struct SourceInfo {
    width: usize,
    height: usize,
    rate: Rational,
    label: String,
}

/// Something that yields frames; it paces itself (camera, or [`Pacer`] for the others).
trait FrameSource {
    /// The next frame, `None` at the end of the input.
    fn next(&mut self, pool: &Pool) -> Result<Option<Frame>>;
    /// Frame interval to keep (`None`: the device keeps it).
    fn interval(&self) -> Option<Duration>;
    /// True for a camera: while paused, its frames are read and thrown away so none go stale in its queue.
    fn is_device(&self) -> bool {
        false
    }
}

/// The moving synthetic pattern of `--input test`.
struct Pattern {
    width: usize,
    height: usize,
    interval: Duration,
    n: u64,
}

impl FrameSource for Pattern {
    fn next(&mut self, pool: &Pool) -> Result<Option<Frame>> {
        let mut frame = pool.get();
        frame.resize(self.width, self.height);
        draw_pattern(&mut frame, self.n);
        self.n += 1;
        Ok(Some(frame))
    }

    fn interval(&self) -> Option<Duration> {
        Some(self.interval)
    }
}

/// Colour gradients scrolling sideways, a checkerboard drifting down and a bright disc going round.
fn draw_pattern(frame: &mut Frame, n: u64) {
    let (w, h) = (frame.width, frame.height);
    let t = n as usize;
    let (cx, cy) = {
        let a = n as f64 * 0.08;
        ((w as f64 * (0.5 + 0.3 * a.cos())) as isize, (h as f64 * (0.5 + 0.3 * a.sin())) as isize)
    };
    let r2 = ((w.min(h) / 8).max(2) as isize).pow(2);
    let cell = (w.min(h) / 12).max(2);
    for (y, row) in frame.data.chunks_exact_mut(w * 3).enumerate() {
        let g = (y * 255 / h.max(1)) as u8;
        for (x, px) in row.chunks_exact_mut(3).enumerate() {
            let (dx, dy) = (x as isize - cx, y as isize - cy);
            if dx * dx + dy * dy < r2 {
                px.copy_from_slice(&[255, 240, 200]);
                continue;
            }
            let r = (((x + t * 3) % w) * 255 / w) as u8;
            let check = ((x / cell) + (y + t) / cell).is_multiple_of(2);
            px.copy_from_slice(&[r, g, if check { 200 } else { 40 }]);
        }
    }
}

/// A video file played at its own frame rate; decoding runs ahead on its own thread (the existing decoder).
struct FilePlayer {
    path: PathBuf,
    size: SizeRequest,
    looping: bool,
    interval: Duration,
    rx: Option<Receiver<Item>>,
    decoder: Option<std::thread::JoinHandle<Result<(u64, Duration)>>>,
    pool: Pool,
}

impl FilePlayer {
    fn open(path: &Path, size: Option<(u32, u32)>, looping: bool, pool: &Pool) -> Result<(FilePlayer, SourceInfo)> {
        let size = SizeRequest { scale: None, size: size.map(|(w, h)| (even(w), even(h))) };
        let source = VideoSource::open(path, size)?;
        let vi = source.info();
        let info = SourceInfo { width: vi.out_width as usize, height: vi.out_height as usize, rate: vi.frame_rate, label: format!("{}", path.display()) };
        let interval = Duration::from_secs_f64(1.0 / f64::from(vi.frame_rate).clamp(1.0, 240.0));
        let mut player = FilePlayer { path: path.to_path_buf(), size, looping, interval, rx: None, decoder: None, pool: pool.clone() };
        player.start(source);
        Ok((player, info))
    }

    fn start(&mut self, source: VideoSource) {
        // Two frames ahead: enough to hide decoding jitter, few enough to start quickly on a loop.
        let (tx, rx) = bounded(2);
        let pool_rx = self.pool.rx.clone();
        self.rx = Some(rx);
        self.decoder = Some(std::thread::spawn(move || source.run(&tx, &pool_rx)));
    }

    /// Closes the channel (so the decoder stops) and collects its result.
    fn stop_decoder(&mut self) -> Result<()> {
        self.rx = None;
        match self.decoder.take().map(|h| h.join()) {
            None | Some(Ok(Ok(_))) | Some(Ok(Err(Error::Interrupted(_)))) => Ok(()),
            Some(Ok(Err(e))) => Err(e),
            Some(Err(_)) => Err(Error::Invalid("the decoder thread panicked".into())),
        }
    }
}

impl FrameSource for FilePlayer {
    fn next(&mut self, _pool: &Pool) -> Result<Option<Frame>> {
        loop {
            let item = self.rx.as_ref().and_then(|rx| rx.recv().ok());
            match item {
                Some(Item::Video { frame, .. }) => return Ok(Some(frame)),
                Some(Item::Packet(_)) => continue,
                None => {
                    self.stop_decoder()?;
                    if !self.looping || interrupted() {
                        return Ok(None);
                    }
                    let source = VideoSource::open(&self.path, self.size)?;
                    self.start(source);
                }
            }
        }
    }

    fn interval(&self) -> Option<Duration> {
        Some(self.interval)
    }
}

impl Drop for FilePlayer {
    fn drop(&mut self) {
        let _ = self.stop_decoder();
    }
}

/// A webcam, its frames resized to the requested size when the nearest mode differs.
struct CameraFeed {
    cam: Webcam,
    size: (usize, usize),
    resizer: fir::Resizer,
}

impl FrameSource for CameraFeed {
    fn next(&mut self, pool: &Pool) -> Result<Option<Frame>> {
        let mut frame = pool.get();
        self.cam.read(&mut frame)?;
        if (frame.width, frame.height) == self.size {
            return Ok(Some(frame));
        }
        let mut out = pool.get();
        out.resize(self.size.0, self.size.1);
        resize_into(&mut self.resizer, &frame, &mut out)?;
        pool.give(frame);
        Ok(Some(out))
    }

    fn interval(&self) -> Option<Duration> {
        None
    }

    fn is_device(&self) -> bool {
        true
    }
}

fn open_source(spec: &SourceSpec, pool: &Pool) -> Result<(Box<dyn FrameSource>, SourceInfo)> {
    match spec {
        SourceSpec::Test { width, height, fps } => {
            let (w, h) = (even(*width) as usize, even(*height) as usize);
            let info = SourceInfo { width: w, height: h, rate: Rational(*fps as i32, 1), label: "test pattern".into() };
            Ok((Box::new(Pattern { width: w, height: h, interval: Duration::from_secs_f64(1.0 / f64::from(*fps)), n: 0 }), info))
        }
        SourceSpec::File { path, size, looping } => {
            let (player, info) = FilePlayer::open(path, *size, *looping, pool)?;
            Ok((Box::new(player), info))
        }
        SourceSpec::Camera(req) => {
            let cam = Webcam::open(req)?;
            let (w, h) = (even(cam.mode.width()), even(cam.mode.height()));
            let size = match req.size {
                Some((rw, rh)) => (even(rw) as usize, even(rh) as usize),
                None => (w as usize, h as usize),
            };
            let info = SourceInfo { width: size.0, height: size.1, rate: Rational(cam.mode.frame_rate().max(1) as i32, 1), label: cam.describe() };
            Ok((Box::new(CameraFeed { cam, size, resizer: fir::Resizer::new() }), info))
        }
    }
}

/// Keeps a frame interval without bursting after a stall or a pause.
struct Pacer {
    interval: Option<Duration>,
    next_at: Option<Instant>,
}

impl Pacer {
    fn reset(&mut self) {
        self.next_at = None;
    }

    /// Sleeps until the next frame is due; false when asked to stop meanwhile.
    fn wait(&mut self, shared: &Shared) -> bool {
        let Some(interval) = self.interval else { return true };
        let now = Instant::now();
        let due = self.next_at.unwrap_or(now);
        let mut left = due.saturating_duration_since(now);
        while !left.is_zero() {
            if shared.stop.load(Relaxed) || interrupted() {
                return false;
            }
            let nap = left.min(Duration::from_millis(20));
            std::thread::sleep(nap);
            left = due.saturating_duration_since(Instant::now());
        }
        let next = due + interval;
        self.next_at = Some(if next + interval < Instant::now() { Instant::now() } else { next });
        true
    }
}

/// The source thread: opens the source, reports its info, waits for `go`, then fills `slot` until stopped.
fn source_thread(spec: SourceSpec, ready: Sender<Result<SourceInfo>>, go: Receiver<()>, slot: &Slot<Captured>, pool: &Pool, shared: &Shared) {
    let (mut source, info) = match open_source(&spec, pool) {
        Ok(v) => v,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let _ = ready.send(Ok(info));
    if go.recv().is_err() {
        return;
    }
    let mut pacer = Pacer { interval: source.interval(), next_at: None };
    let counters = &shared.counters;
    while !shared.stop.load(Relaxed) && !interrupted() {
        if shared.paused.load(Relaxed) {
            pacer.reset();
            if source.is_device() {
                match source.next(pool) {
                    Ok(Some(frame)) => pool.give(frame),
                    Ok(None) => break,
                    Err(e) => {
                        shared.fail(e);
                        break;
                    }
                }
            } else {
                std::thread::sleep(Duration::from_millis(20));
            }
            continue;
        }
        if !pacer.wait(shared) {
            break;
        }
        let frame = match source.next(pool) {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(e) => {
                shared.fail(e);
                break;
            }
        };
        match slot.put(Captured { frame, at: Instant::now() }) {
            Put::Stored => {
                counters.captured.fetch_add(1, Relaxed);
            }
            Put::Replaced(old) => {
                counters.captured.fetch_add(1, Relaxed);
                counters.dropped_before_stylize.fetch_add(1, Relaxed);
                pool.give(old.frame);
            }
            Put::Refused(c) => {
                pool.give(c.frame);
                break;
            }
        }
    }
    // End of input or error: let inference finish what is waiting.
    slot.finish();
}

// ---------------------------------------------------------------------------------------------------------------
// Inference.

fn model_name(path: &Path) -> String {
    path.file_stem().unwrap_or_default().to_string_lossy().to_string()
}

fn load_engine(path: &Path, opts: &EngineOptions, quiet: bool) -> Result<(Engine, String)> {
    let engine = Engine::load(path, opts)?;
    if !quiet {
        eprintln!("{}", engine.load_line());
    }
    let label = format!("{} on {}", model_name(path), engine.device().name().to_uppercase());
    Ok((engine, label))
}

struct Models {
    paths: Vec<PathBuf>,
    /// Loaded on first use: starting stays quick, and a model that fails to load only costs its switch.
    engines: Vec<Option<Engine>>,
    current: usize,
    opts: EngineOptions,
    /// Style mixes of the current model if it has several styles.
    mix: Option<MixState>,
    /// `--style-mix`, applied to each multi-style model whose style names it fits.
    start_mix: Option<String>,
    glide_seconds: f32,
}

/// The style mix of a multi-style model as it glides towards the chosen style.
struct MixState {
    names: Vec<String>,
    start: Vec<f32>,
    glide: Glide,
    last_step: Instant,
    /// When the mix reached its target (morphing holds each style a moment).
    arrived_at: Option<Instant>,
}

impl MixState {
    /// The mix of a freshly selected model: `--style-mix` if it names this model's styles, else even.
    fn new(engine: &Engine, start_mix: Option<&str>, shared: &Shared) -> Option<MixState> {
        let names = engine.style_names().to_vec();
        if names.is_empty() {
            return None;
        }
        let even = vec![1.0 / names.len() as f32; names.len()];
        let start = match start_mix.map(|m| engine.parse_style_mix(m)) {
            Some(Ok(mix)) => mix,
            Some(Err(e)) => {
                shared.notify(format!("{e}; starting with all styles evenly"), true);
                even
            }
            None => even,
        };
        Some(MixState { names, glide: Glide::new(start.clone()), start, last_step: Instant::now(), arrived_at: None })
    }

    /// Moves the mix one frame towards the style the display asked for; applies it to `engine`.
    fn advance(&mut self, engine: &mut Engine, shared: &Shared, glide_seconds: f32) -> Result<()> {
        let n = self.names.len();
        let mut target = shared.style_target.load(Relaxed);
        let now = Instant::now();
        if shared.morph.load(Relaxed) && self.arrived_at.is_some_and(|t| now - t >= MORPH_HOLD) {
            target = if target == STARTING_MIX { 0 } else { (target + 1) % n };
            shared.style_target.store(target, Relaxed);
        }
        // In place: this runs every frame.
        if target == STARTING_MIX {
            self.glide.target.copy_from_slice(&self.start);
        } else {
            self.glide.target.iter_mut().enumerate().for_each(|(i, w)| *w = if i == target % n { 1.0 } else { 0.0 });
        }
        let dt = (now - self.last_step).as_secs_f32().min(0.25);
        self.last_step = now;
        // A switch between two pure styles moves 2 units of weight.
        let moved = self.glide.step(2.0 * dt / glide_seconds.max(1e-3));
        if moved {
            engine.set_style_mix(&self.glide.current)?;
            *lock(&shared.style_label) = styles::describe(&self.glide.current, &self.names);
            self.arrived_at = None;
        }
        if self.glide.arrived() {
            self.arrived_at.get_or_insert(now);
        }
        Ok(())
    }
}

/// How long morphing shows each style before gliding on.
const MORPH_HOLD: Duration = Duration::from_millis(1500);

impl Models {
    /// Switches to the model the display asked for; on a load error stays with the current one.
    fn follow(&mut self, shared: &Shared) {
        let wanted = shared.wanted_model.load(Relaxed).min(self.paths.len() - 1);
        if wanted == self.current {
            return;
        }
        if self.engines[wanted].is_none() {
            let path = &self.paths[wanted];
            match load_engine(path, &self.opts, shared.quiet) {
                Ok((engine, label)) => {
                    lock(&shared.labels)[wanted] = label;
                    self.engines[wanted] = Some(engine);
                }
                Err(e) => {
                    shared.notify(format!("model {} failed to load ({e}); still showing {}", wanted + 1, model_name(&self.paths[self.current])), true);
                    shared.wanted_model.store(self.current, Relaxed);
                    return;
                }
            }
        }
        self.current = wanted;
        self.select_mix(shared);
    }

    /// Sets up the style mix of the current model (after a switch, and at the start).
    fn select_mix(&mut self, shared: &Shared) {
        let engine = self.engines[self.current].as_mut().expect("the current model is loaded");
        self.mix = MixState::new(engine, self.start_mix.as_deref(), shared);
        if let Some(m) = &self.mix {
            if let Err(e) = engine.set_style_mix(&m.glide.current) {
                shared.notify(format!("style mix: {e}"), true);
            }
        }
        shared.style_target.store(STARTING_MIX, Relaxed);
        shared.style_count.store(self.mix.as_ref().map_or(0, |m| m.names.len()), Relaxed);
        *lock(&shared.style_label) = self.mix.as_ref().map(|m| styles::describe(&m.glide.current, &m.names)).unwrap_or_default();
    }
}

fn inference_thread(mut models: Models, input: &Slot<Captured>, output: &Slot<Styled>, pool: &Pool, shared: &Shared) {
    let counters = &shared.counters;
    loop {
        let Captured { frame, at } = match input.take(Duration::from_millis(100)) {
            Take::Item(c) => c,
            Take::Empty => continue,
            Take::Closed => break,
        };
        models.follow(shared);
        let mut styled = pool.get();
        styled.resize(frame.width, frame.height);
        styled.data.copy_from_slice(&frame.data);
        let engine = models.engines[models.current].as_mut().expect("the current model is loaded");
        if let Some(mix) = models.mix.as_mut() {
            if let Err(e) = mix.advance(engine, shared, models.glide_seconds) {
                shared.fail(e);
                break;
            }
        }
        let t = Instant::now();
        if let Err(e) = engine.stylize(&mut styled) {
            shared.fail(e);
            break;
        }
        counters.stylize_nanos.fetch_add(t.elapsed().as_nanos() as u64, Relaxed);
        counters.stylized.fetch_add(1, Relaxed);
        match output.put(Styled { original: frame, styled, at, model: models.current }) {
            Put::Stored => {}
            Put::Replaced(old) => {
                counters.dropped_before_display.fetch_add(1, Relaxed);
                pool.give(old.original);
                pool.give(old.styled);
            }
            Put::Refused(s) => {
                counters.unshown_at_exit.fetch_add(1, Relaxed);
                pool.give(s.original);
                pool.give(s.styled);
                break;
            }
        }
    }
    output.finish();
}

// ---------------------------------------------------------------------------------------------------------------
// Display side: composing, recording, statistics, HUD.

/// `left | right` in one frame of twice the width.
fn side_by_side(left: &Frame, right: &Frame, out: &mut Frame) {
    let (w, h) = (left.width, left.height);
    out.resize(w * 2, h);
    for (y, row) in out.data.chunks_exact_mut(w * 6).enumerate() {
        row[..w * 3].copy_from_slice(&left.data[y * w * 3..][..w * 3]);
        row[w * 3..].copy_from_slice(&right.data[y * w * 3..][..w * 3]);
    }
}

/// An MP4 being recorded: timestamps are capture times (milliseconds), so dropped frames keep real time.
struct Recorder {
    pending: PendingOutput,
    sink: VideoSink,
    start: Option<Instant>,
    last_pts: i64,
    frames: u64,
}

impl Recorder {
    fn start(dest: &Path, info: &SourceInfo) -> Result<Recorder> {
        let pending = PendingOutput::new(dest, &[])?;
        // Recording happens beside a stylizer that is already using the CPU in real time: the cheapest preset.
        let opts = EncodeOptions { preset: "ultrafast".into(), ..EncodeOptions::default() };
        let sink = VideoSink::create_plain(pending.path(), dest, info.width as u32, info.height as u32, info.rate, Rational(1, 1000), &opts)?;
        Ok(Recorder { pending, sink, start: None, last_pts: -1, frames: 0 })
    }

    fn push(&mut self, frame: &Frame, at: Instant) -> Result<()> {
        let start = *self.start.get_or_insert(at);
        let pts = (at.saturating_duration_since(start).as_millis() as i64).max(self.last_pts + 1);
        self.last_pts = pts;
        self.frames += 1;
        self.sink.push_frame(frame, Some(pts))
    }

    /// Writes the trailer and moves the file into place.
    fn finish(self) -> Result<(PathBuf, u64)> {
        let frames = self.frames;
        self.sink.finish()?;
        Ok((self.pending.commit()?, frames))
    }
}

/// Where the next recording goes: `--record` first, then numbered variants of it, or one in the snapshot folder.
fn recording_path(args: &LiveArgs, n: u32) -> PathBuf {
    match &args.record {
        Some(p) if n == 1 => p.clone(),
        Some(p) => {
            let stem = p.file_stem().unwrap_or_default().to_string_lossy();
            let ext = p.extension().map_or("mp4".into(), |e| e.to_string_lossy());
            p.with_file_name(format!("{stem}-{n}.{ext}"))
        }
        None => args.snapshot_dir.join(format!("stylize-{}.mp4", unix_millis())),
    }
}

fn unix_millis() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or_default()
}

/// What the display counted; the pipeline's counters live in [`Counters`].
struct Stats {
    started: Instant,
    first_shown: Option<Instant>,
    last_shown: Option<Instant>,
    shown: u64,
    latencies_ms: Vec<f64>,
    /// Recent display times, for the HUD's fps.
    recent: VecDeque<Instant>,
    second: SecondStats,
}

/// The current second, for `-v`.
struct SecondStats {
    index: u64,
    shown: u64,
    latency_sum: f64,
    dropped_base: u64,
}

impl Stats {
    fn new() -> Self {
        Stats {
            started: Instant::now(),
            first_shown: None,
            last_shown: None,
            shown: 0,
            latencies_ms: Vec::with_capacity(1024),
            recent: VecDeque::with_capacity(64),
            second: SecondStats { index: 1, shown: 0, latency_sum: 0.0, dropped_base: 0 },
        }
    }

    fn shown(&mut self, captured_at: Instant) {
        let now = Instant::now();
        let latency = now.saturating_duration_since(captured_at).as_secs_f64() * 1e3;
        self.latencies_ms.push(latency);
        self.shown += 1;
        self.first_shown.get_or_insert(now);
        self.last_shown = Some(now);
        if self.recent.len() == 30 {
            self.recent.pop_front();
        }
        self.recent.push_back(now);
        self.second.shown += 1;
        self.second.latency_sum += latency;
    }

    /// Display rate over the frames of the last 3 s, but at least the last two (slow models run under 1 fps).
    fn fps_now(&self) -> f64 {
        let n = self.recent.len();
        if n < 2 {
            return 0.0;
        }
        let now = Instant::now();
        let start = self.recent.iter().position(|t| now.duration_since(*t) < Duration::from_secs(3)).unwrap_or(n).min(n - 2);
        (n - 1 - start) as f64 / self.recent[n - 1].duration_since(self.recent[start]).as_secs_f64().max(1e-6)
    }

    fn latency_now(&self) -> f64 {
        let n = self.latencies_ms.len().min(10);
        if n == 0 {
            return 0.0;
        }
        self.latencies_ms[self.latencies_ms.len() - n..].iter().sum::<f64>() / n as f64
    }

    /// Steady display rate: from the first shown frame to the last.
    fn fps(&self) -> f64 {
        match (self.first_shown, self.last_shown) {
            (Some(a), Some(b)) if self.shown > 1 => (self.shown - 1) as f64 / b.duration_since(a).as_secs_f64().max(1e-6),
            _ => 0.0,
        }
    }

    /// `-v`: one line per elapsed second.
    /// `last`: also the partial second at the end.
    fn per_second(&mut self, counters: &Counters, last: bool) {
        let elapsed = self.started.elapsed().as_secs();
        if elapsed < self.second.index && !(last && self.second.shown > 0) {
            return;
        }
        let dropped = counters.dropped_before_stylize.load(Relaxed) + counters.dropped_before_display.load(Relaxed);
        let s = &mut self.second;
        let mean = if s.shown > 0 { s.latency_sum / s.shown as f64 } else { 0.0 };
        eprintln!("[{:>4} s] shown {:>3}  latency mean {:>6.1} ms  dropped {:>3} (total {dropped})", s.index, s.shown, mean, dropped - s.dropped_base);
        *s = SecondStats { index: elapsed + 1, shown: 0, latency_sum: 0.0, dropped_base: dropped };
    }

    fn summary(&self, info: &SourceInfo, model: &str, counters: &Counters, leftover_captured: u64, leftover_styled: u64) -> String {
        let c = |a: &AtomicU64| a.load(Relaxed);
        let (captured, stylized) = (c(&counters.captured), c(&counters.stylized));
        let mut lat = self.latencies_ms.clone();
        lat.sort_by(f64::total_cmp);
        let mean = if lat.is_empty() { 0.0 } else { lat.iter().sum::<f64>() / lat.len() as f64 };
        let p95 = if lat.is_empty() { 0.0 } else { lat[((lat.len() - 1) as f64 * 0.95).round() as usize] };
        let stylize_ms = if stylized > 0 { c(&counters.stylize_nanos) as f64 / 1e6 / stylized as f64 } else { 0.0 };
        let mut s = String::new();
        let _ = writeln!(
            s,
            "live: {} frames shown, {:.2} fps, {}x{} from {}, {model} ({:.1} s in all)",
            self.shown,
            self.fps(),
            info.width,
            info.height,
            info.label,
            self.started.elapsed().as_secs_f64()
        );
        let _ = writeln!(s, "  captured {captured} = stylized {stylized} + dropped before stylizing {} + left at exit {leftover_captured}", c(&counters.dropped_before_stylize));
        let _ = writeln!(
            s,
            "  stylized {stylized} = shown {} + dropped before display {} + left at exit {}",
            self.shown,
            c(&counters.dropped_before_display),
            leftover_styled + c(&counters.unshown_at_exit)
        );
        let _ = write!(s, "  latency (capture to display): mean {mean:.1} ms, p95 {p95:.1} ms; stylize alone: mean {stylize_ms:.1} ms");
        s
    }
}

/// What the user controls with the hotkeys.
struct ViewState {
    effects: Effects,
    split: bool,
    hud: bool,
}

/// The display thread's working set: the current frame, composed views, the recorder.
struct Display<'a> {
    args: &'a LiveArgs,
    info: SourceInfo,
    shared: &'a Shared,
    pool: &'a Pool,
    window: Option<Window>,
    view: ViewState,
    current: Option<Styled>,
    /// The blended frame (what is recorded) and the side-by-side view.
    blended: Frame,
    split: Frame,
    recorder: Option<Recorder>,
    recordings: u32,
    stats: Stats,
    hud_text: String,
    n_models: usize,
}

impl Display<'_> {
    fn compose(&mut self) {
        if let Some(cur) = &self.current {
            self.view.effects.render(&cur.original, &cur.styled, &mut self.blended);
            if self.view.split {
                side_by_side(&cur.original, &self.blended, &mut self.split);
            }
        }
    }

    fn shown_frame(&self) -> Option<&Frame> {
        self.current.as_ref()?;
        Some(if self.view.split { &self.split } else { &self.blended })
    }

    fn toggle_recording(&mut self) {
        if let Some(rec) = self.recorder.take() {
            self.finish_recording(rec);
            return;
        }
        self.recordings += 1;
        let dest = recording_path(self.args, self.recordings);
        match Recorder::start(&dest, &self.info) {
            Ok(rec) => {
                self.recorder = Some(rec);
                self.shared.notify(format!("recording to {}", dest.display()), false);
            }
            Err(e) => self.shared.notify(format!("cannot record: {e}"), true),
        }
    }

    fn finish_recording(&self, rec: Recorder) {
        match rec.finish() {
            Ok((path, frames)) => self.shared.notify(format!("recorded {frames} frames to {}", path.display()), false),
            Err(e) => self.shared.notify(format!("the recording failed: {e}"), true),
        }
    }

    fn snapshot(&self) {
        let Some(frame) = self.shown_frame() else { return };
        let model = self.current.as_ref().map(|c| model_name(Path::new(&self.args.models[c.model]))).unwrap_or_default();
        let dest = self.args.snapshot_dir.join(format!("stylize-{model}-{}.png", unix_millis()));
        match images::save(frame, &dest, &[]) {
            Ok(()) => self.shared.notify(format!("snapshot saved to {}", dest.display()), false),
            Err(e) => self.shared.notify(format!("snapshot failed: {e}"), true),
        }
    }

    /// Applies a hotkey; false means quit.
    fn key(&mut self, key: Hotkey) -> bool {
        let shared = self.shared;
        let n = self.n_models;
        let wanted = shared.wanted_model.load(Relaxed);
        match key {
            Hotkey::Model(i) if i < n => shared.wanted_model.store(i, Relaxed),
            Hotkey::Model(i) => shared.notify(format!("there is no model {} ({n} loaded with -m)", i + 1), true),
            Hotkey::NextModel => shared.wanted_model.store((wanted + 1) % n, Relaxed),
            Hotkey::PrevModel => shared.wanted_model.store((wanted + n - 1) % n, Relaxed),
            Hotkey::Stronger => self.view.effects.strength = ((self.view.effects.strength * 10.0).round() + 1.0).min(10.0) / 10.0,
            Hotkey::Weaker => self.view.effects.strength = ((self.view.effects.strength * 10.0).round() - 1.0).max(0.0) / 10.0,
            Hotkey::PreserveColor => self.view.effects.preserve_color = !self.view.effects.preserve_color,
            Hotkey::NextStyle | Hotkey::PrevStyle | Hotkey::Morph => self.style_key(key),
            Hotkey::SideBySide => self.view.split = !self.view.split,
            Hotkey::Pause => {
                shared.paused.fetch_xor(true, Relaxed);
            }
            Hotkey::Snapshot => self.snapshot(),
            Hotkey::Record => self.toggle_recording(),
            Hotkey::ToggleHud => self.view.hud = !self.view.hud,
            Hotkey::Quit => return false,
        }
        if matches!(key, Hotkey::Stronger | Hotkey::Weaker | Hotkey::PreserveColor | Hotkey::SideBySide) {
            self.compose();
        }
        true
    }

    /// ] [ M: pick the style a multi-style model glides to, or morph through them.
    fn style_key(&self, key: Hotkey) {
        let shared = self.shared;
        let n = shared.style_count.load(Relaxed);
        if n == 0 {
            shared.notify("this model has one style: ] [ and M blend the styles of a multi-style model (e.g. styles4-lite)".into(), true);
            return;
        }
        let t = shared.style_target.load(Relaxed);
        let next = match (key, t) {
            (Hotkey::Morph, _) => {
                let on = !shared.morph.fetch_xor(true, Relaxed);
                shared.notify(format!("morphing through the styles {}", if on { "on" } else { "off" }), false);
                return;
            }
            (Hotkey::NextStyle, STARTING_MIX) => 0,
            (Hotkey::PrevStyle, STARTING_MIX) => n - 1,
            (Hotkey::NextStyle, t) => (t + 1) % n,
            (_, t) => (t % n + n - 1) % n,
        };
        shared.style_target.store(next, Relaxed);
    }

    fn present(&mut self) -> Result<()> {
        let Some(mut window) = self.window.take() else { return Ok(()) };
        let mut text = std::mem::take(&mut self.hud_text);
        let frame = if self.view.split { &self.split } else { &self.blended };
        let frame = self.current.as_ref().map(|_| frame);
        let result = window.present(frame, |canvas| self.draw_hud(canvas, &mut text));
        self.hud_text = text;
        self.window = Some(window);
        result
    }

    fn draw_hud(&self, canvas: &mut Canvas, text: &mut String) {
        let shared = self.shared;
        let notice = lock(&shared.notice);
        let fresh = notice.as_ref().filter(|n| n.at.elapsed() < Duration::from_secs(if n.error { 10 } else { 4 }));
        if !self.view.hud {
            if let Some(n) = fresh.filter(|n| n.error) {
                for (i, part) in hud::wrap(&n.text, canvas.columns()).into_iter().take(4).enumerate() {
                    canvas.line(i, false, part, hud::RED);
                }
            }
            return;
        }
        text.clear();
        let c = &shared.counters;
        match &self.current {
            None => text.push_str("waiting for the first stylized frame..."),
            Some(cur) => {
                let dropped = c.dropped_before_stylize.load(Relaxed) + c.dropped_before_display.load(Relaxed);
                let _ = write!(
                    text,
                    "[{}/{}] {}  {:.1} fps  latency {:.0} ms  dropped {dropped}  strength {:.0}%{}",
                    cur.model + 1,
                    self.n_models,
                    shared.label(cur.model),
                    self.stats.fps_now(),
                    self.stats.latency_now(),
                    self.view.effects.strength * 100.0,
                    if self.view.effects.preserve_color { "  colours kept" } else { "" }
                );
            }
        }
        canvas.line(0, false, text, hud::WHITE);
        let mut line = 1;
        let mix = lock(&shared.style_label);
        if !mix.is_empty() {
            text.clear();
            let _ = write!(text, "styles: {mix}{}", if shared.morph.load(Relaxed) { "  (morphing)" } else { "" });
            canvas.line(line, false, text, hud::WHITE);
            line += 1;
        }
        drop(mix);
        if shared.paused.load(Relaxed) {
            canvas.line(line, false, "PAUSED (Space resumes)", hud::YELLOW);
            line += 1;
        }
        if let Some(rec) = &self.recorder {
            text.clear();
            let _ = write!(text, "REC {} ({} frames)", rec.pending.dest().display(), rec.frames);
            canvas.line(line, false, text, hud::RED);
            line += 1;
        }
        if let Some(n) = fresh {
            for (i, part) in hud::wrap(&n.text, canvas.columns()).into_iter().take(4).enumerate() {
                canvas.line(line + i, false, part, if n.error { hud::RED } else { hud::YELLOW });
            }
        }
        canvas.line(0, true, HOTKEYS_HUD, hud::GREY);
    }

    /// Runs until quit, the end of the input, `--frames`, Ctrl-C or a pipeline error.
    fn run(&mut self, slot: &Slot<Styled>) -> Result<()> {
        let mut dirty = true;
        let mut last_present = Instant::now();
        loop {
            if interrupted() {
                if !self.shared.quiet {
                    eprintln!("interrupted ({}): stopping", crate::stop::received_name());
                }
                return Ok(());
            }
            if let Some(window) = &self.window {
                if !window.is_open() {
                    return Ok(());
                }
                for key in window.hotkeys() {
                    dirty = true;
                    if !self.key(key) {
                        return Ok(());
                    }
                }
            }
            match slot.take(Duration::from_millis(15)) {
                Take::Item(next) => {
                    if let Some(old) = self.current.replace(next) {
                        self.pool.give(old.original);
                        self.pool.give(old.styled);
                    }
                    self.compose();
                    let at = self.current.as_ref().expect("just set").at;
                    if let Some(rec) = self.recorder.as_mut() {
                        if let Err(e) = rec.push(&self.blended, at) {
                            self.shared.notify(format!("recording stopped: {e}"), true);
                            self.recorder = None;
                        }
                    }
                    self.present()?;
                    last_present = Instant::now();
                    self.stats.shown(at);
                    dirty = false;
                    if self.args.frames > 0 && self.stats.shown >= self.args.frames {
                        return Ok(());
                    }
                }
                Take::Empty if self.window.is_some() => {
                    // Redraw after a key press, and a few times a second for the HUD (notices, pause);
                    // otherwise just keep the window's events flowing.
                    if dirty || last_present.elapsed() > Duration::from_millis(250) {
                        self.present()?;
                        last_present = Instant::now();
                        dirty = false;
                    } else if let Some(w) = self.window.as_mut() {
                        w.poll();
                    }
                }
                Take::Empty => {}
                Take::Closed => return Ok(()),
            }
            if self.args.verbose {
                self.stats.per_second(&self.shared.counters, false);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
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
        let window = if args.no_window {
            None
        } else {
            let (w, h) = window_size(&info);
            let mut window = Window::open(w, h)?;
            let loading = format!("loading {} ...", paths[0].display());
            window.present(None, |c| c.line(0, false, &loading, hud::WHITE))?;
            Some(window)
        };
        // Before the model: a bad --record path fails fast (and the unused file is removed on the way out).
        let recorder = match &args.record {
            Some(_) => Some(Recorder::start(&recording_path(&args, 1), &info)?),
            None => None,
        };
        let (first, label) = load_engine(&paths[0], &opts, args.engine.quiet)?;
        lock(&shared.labels)[0] = label;
        let mut engines: Vec<Option<Engine>> = paths.iter().map(|_| None).collect();
        engines[0] = Some(first);
        let mut models = Models { paths: paths.clone(), engines, current: 0, opts: opts.clone(), mix: None, start_mix: args.engine.style_mix.clone(), glide_seconds: args.glide_seconds };
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
            stats: Stats::new(),
            hud_text: String::with_capacity(256),
            n_models: paths.len(),
        };
        if !args.engine.quiet {
            eprintln!("live: {} {}x{} at {:.2} fps{}", info.label, info.width, info.height, f64::from(info.rate), if args.no_window { " (headless)" } else { "" });
            if let Some(rec) = &display.recorder {
                eprintln!("recording to {}", rec.pending.dest().display());
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
        let recording = display.recorder.take().map(Recorder::finish);
        let model = shared.label(display.current.as_ref().map_or(0, |c| c.model));
        println!("{}", display.stats.summary(&info, &model, &shared.counters, left_captured, left_styled));
        let mut saved = String::new();
        match recording {
            Some(Ok((path, frames))) => {
                println!("recorded {frames} frames to {}", path.display());
                saved = format!("; the recording {} was saved", path.display());
            }
            Some(Err(e)) => eprintln!("warning: the recording could not be finished: {e}"),
            None => {}
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
