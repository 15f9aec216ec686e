//! Live sources: a webcam, a video file at its own rate, or a moving test pattern; each paces itself.

use super::*;

pub(super) enum SourceSpec {
    Camera(CameraRequest),
    File { path: PathBuf, size: Option<(u32, u32)>, looping: bool },
    Test { width: u32, height: u32, fps: u32 },
}

#[derive(Clone, Debug)]
pub(super) struct SourceInfo {
    pub(super) width: usize,
    pub(super) height: usize,
    pub(super) rate: Rational,
    pub(super) label: String,
}

/// Something that yields frames; it paces itself (camera, or [`Pacer`] for the others).
pub(super) trait FrameSource {
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
pub(super) struct Pattern {
    pub(super) width: usize,
    pub(super) height: usize,
    pub(super) interval: Duration,
    pub(super) n: u64,
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
pub(super) fn draw_pattern(frame: &mut Frame, n: u64) {
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
pub(super) struct FilePlayer {
    pub(super) path: PathBuf,
    pub(super) size: SizeRequest,
    pub(super) looping: bool,
    pub(super) interval: Duration,
    pub(super) rx: Option<Receiver<Item>>,
    pub(super) decoder: Option<std::thread::JoinHandle<Result<(u64, Duration)>>>,
    pub(super) pool: Pool,
}

impl FilePlayer {
    pub(super) fn open(path: &Path, size: Option<(u32, u32)>, looping: bool, pool: &Pool) -> Result<(FilePlayer, SourceInfo)> {
        let size = SizeRequest { scale: None, size: size.map(|(w, h)| (even(w), even(h))) };
        let source = VideoSource::open(path, size)?;
        let vi = source.info();
        let info = SourceInfo { width: vi.out_width as usize, height: vi.out_height as usize, rate: vi.frame_rate, label: format!("{}", path.display()) };
        let interval = Duration::from_secs_f64(1.0 / f64::from(vi.frame_rate).clamp(1.0, 240.0));
        let mut player = FilePlayer { path: path.to_path_buf(), size, looping, interval, rx: None, decoder: None, pool: pool.clone() };
        player.start(source);
        Ok((player, info))
    }

    pub(super) fn start(&mut self, source: VideoSource) {
        // Two frames ahead: enough to hide decoding jitter, few enough to start quickly on a loop.
        let (tx, rx) = bounded(2);
        let pool_rx = self.pool.rx.clone();
        self.rx = Some(rx);
        self.decoder = Some(std::thread::spawn(move || source.run(&tx, &pool_rx)));
    }

    /// Closes the channel (so the decoder stops) and collects its result.
    pub(super) fn stop_decoder(&mut self) -> Result<()> {
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
pub(super) struct CameraFeed {
    pub(super) cam: Webcam,
    pub(super) size: (usize, usize),
    pub(super) resizer: fir::Resizer,
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

pub(super) fn open_source(spec: &SourceSpec, pool: &Pool) -> Result<(Box<dyn FrameSource>, SourceInfo)> {
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
pub(super) struct Pacer {
    pub(super) interval: Option<Duration>,
    pub(super) next_at: Option<Instant>,
}

impl Pacer {
    pub(super) fn reset(&mut self) {
        self.next_at = None;
    }

    /// Sleeps until the next frame is due; false when asked to stop meanwhile.
    pub(super) fn wait(&mut self, shared: &Shared) -> bool {
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
pub(super) fn source_thread(spec: SourceSpec, ready: Sender<Result<SourceInfo>>, go: Receiver<()>, slot: &Slot<Captured>, pool: &Pool, shared: &Shared) {
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
