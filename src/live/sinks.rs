//! Where the stylized frames go besides the window: `--output` targets (a virtual camera, a network stream, a
//! file or an image sequence) and the recordings of `--record` and R.
//!
//! Each output has its own thread behind a small queue. The display hands it a copy of each frame and never
//! waits: when the output falls behind, the oldest queued frame is dropped (and counted), so no output slows
//! the stylizer or the window. A network output that loses its server reconnects with backoff while live
//! goes on; timestamps are capture times (milliseconds), so dropped frames keep real time.

use std::sync::Arc;
use std::thread::JoinHandle;

use crate::media::encode::StreamOptions;
use crate::media::target::Target;

use super::*;

/// Frames a network or device output may fall behind before the oldest is dropped: little, for low latency.
const STREAM_QUEUE: usize = 2;
/// Files keep more in hand (a slow disk write should not cost frames).
const FILE_QUEUE: usize = 8;
/// The longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(4);

/// The frames waiting for one output, and spare buffers to copy the next ones into.
struct Queue {
    state: Mutex<QueueState>,
    ready: Condvar,
    capacity: usize,
}

struct QueueState {
    frames: VecDeque<(Frame, Instant)>,
    spare: Vec<Frame>,
    closed: bool,
}

impl Queue {
    /// Copies `frame` in; drops the oldest waiting frame when full (true when one was dropped).
    fn push(&self, frame: &Frame, at: Instant) -> bool {
        let mut buf = {
            let mut s = lock(&self.state);
            if s.closed {
                return false;
            }
            s.spare.pop().unwrap_or_else(|| Frame::new(0, 0))
        };
        buf.resize(frame.width, frame.height);
        buf.data.copy_from_slice(&frame.data);
        let mut s = lock(&self.state);
        let dropped = if s.frames.len() >= self.capacity {
            let (old, _) = s.frames.pop_front().expect("a full queue has frames");
            s.spare.push(old);
            true
        } else {
            false
        };
        s.frames.push_back((buf, at));
        self.ready.notify_one();
        dropped
    }

    /// The oldest frame; None once closed and empty.
    fn pop(&self) -> Option<(Frame, Instant)> {
        let mut s = lock(&self.state);
        loop {
            if let Some(item) = s.frames.pop_front() {
                return Some(item);
            }
            if s.closed {
                return None;
            }
            s = self.ready.wait(s).unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn recycle(&self, frame: Frame) {
        lock(&self.state).spare.push(frame);
    }

    fn close(&self) {
        lock(&self.state).closed = true;
        self.ready.notify_all();
    }
}

/// Capture-to-sent latency in 1 ms steps up to 10 s: percentiles over any length of run in fixed memory.
struct Histogram {
    counts: Vec<u32>,
    n: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram { counts: vec![0; 10_001], n: 0 }
    }
}

impl Histogram {

    fn add(&mut self, d: Duration) {
        let ms = (d.as_millis() as usize).min(self.counts.len() - 1);
        self.counts[ms] += 1;
        self.n += 1;
    }

    /// The `q` quantile in ms (the bucket's upper edge).
    fn quantile(&self, q: f64) -> f64 {
        let want = ((self.n as f64 * q).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (ms, &c) in self.counts.iter().enumerate() {
            seen += u64::from(c);
            if seen >= want {
                return (ms + 1) as f64;
            }
        }
        0.0
    }
}

/// What an output's thread reports to the display (HUD, summary).
#[derive(Default)]
struct Status {
    sent: AtomicU64,
    dropped: AtomicU64,
    reconnects: AtomicU64,
    down: AtomicBool,
    /// Messages for the HUD and stderr: (text, is an error).
    messages: Mutex<Vec<(String, bool)>>,
    latency: Mutex<Histogram>,
}

impl Status {
    fn say(&self, text: String, error: bool) {
        lock(&self.messages).push((text, error));
    }
}

/// How an output was opened: a file appears under its name only when complete; the rest are written as they go.
enum Writer {
    File { pending: PendingOutput, sink: VideoSink },
    Direct(VideoSink),
}

impl Writer {
    fn open(target: &Target, info: &SourceInfo, stream: &StreamOptions) -> Result<Writer> {
        let (w, h) = (info.width as u32, info.height as u32);
        match target {
            Target::File(dest) => {
                if dest.extension().is_some_and(|e| e.eq_ignore_ascii_case("gif") || e.eq_ignore_ascii_case("webp")) {
                    return Err(Error::output(dest, "live writes video files (.mp4, .mkv, .mov); make a GIF from the recording with `stylize video` or ffmpeg"));
                }
                let pending = PendingOutput::new(dest, &[])?;
                // Beside a stylizer that already uses the CPU in real time: the cheapest preset.
                let opts = EncodeOptions { preset: "ultrafast".into(), ..EncodeOptions::default() };
                let sink = VideoSink::create_plain(pending.path(), dest, w, h, info.rate, Rational(1, 1000), &opts)?;
                Ok(Writer::File { pending, sink })
            }
            _ => Ok(Writer::Direct(VideoSink::create_target(target, w, h, info.rate, Rational(1, 1000), stream)?)),
        }
    }

    fn push(&mut self, frame: &Frame, pts: i64) -> Result<()> {
        match self {
            Writer::File { sink, .. } | Writer::Direct(sink) => sink.push_frame(frame, Some(pts)),
        }
    }

    /// Flushes and closes; a file is moved into place.
    fn finish(self) -> Result<Option<PathBuf>> {
        match self {
            Writer::File { pending, sink } => {
                sink.finish()?;
                Ok(Some(pending.commit()?))
            }
            Writer::Direct(sink) => sink.finish().map(|()| None),
        }
    }
}

/// One output: its queue, its thread and what the thread reports.
pub(super) struct Sink {
    label: String,
    is_file: bool,
    queue: Arc<Queue>,
    status: Arc<Status>,
    thread: Option<JoinHandle<Result<Option<PathBuf>>>>,
}

/// What an output did, for the end-of-run summary.
pub(super) struct SinkReport {
    pub(super) label: String,
    pub(super) sent: u64,
    pub(super) dropped: u64,
    pub(super) reconnects: u64,
    latency: Option<(f64, f64)>,
    /// The file written (None for streams and devices), or why the output failed.
    pub(super) result: Result<Option<PathBuf>>,
}

impl Sink {
    /// Opens `target` now, so that a refused connection, a missing device or an unwritable file is an error
    /// before anything starts, then starts its thread.
    pub(super) fn start(target: Target, info: &SourceInfo, stream: StreamOptions, reconnect: bool) -> Result<Sink> {
        let writer = Writer::open(&target, info, &stream)?;
        let capacity = if matches!(target, Target::File(_)) { FILE_QUEUE } else { STREAM_QUEUE };
        let queue = Arc::new(Queue { state: Mutex::new(QueueState { frames: VecDeque::with_capacity(capacity), spare: Vec::new(), closed: false }), ready: Condvar::new(), capacity });
        let status = Arc::new(Status::default());
        let label = target.label();
        let is_file = matches!(target, Target::File(_));
        let reconnect = reconnect && target.is_network();
        let (q, st, info) = (queue.clone(), status.clone(), info.clone());
        let thread = std::thread::Builder::new()
            .name(format!("output {label}"))
            .spawn(move || {
                let result = write_frames(writer, &target, &info, &stream, reconnect, &q, &st);
                q.close();
                result
            })
            .map_err(|e| Error::Invalid(format!("cannot start a thread for an output: {e}")))?;
        Ok(Sink { label, is_file, queue, status, thread: Some(thread) })
    }

    /// Hands the output a copy of `frame`; never waits.
    pub(super) fn push(&self, frame: &Frame, at: Instant) {
        if self.queue.push(frame, at) {
            self.status.dropped.fetch_add(1, Relaxed);
        }
    }

    pub(super) fn label(&self) -> &str {
        &self.label
    }

    pub(super) fn sent(&self) -> u64 {
        self.status.sent.load(Relaxed)
    }

    pub(super) fn dropped(&self) -> u64 {
        self.status.dropped.load(Relaxed)
    }

    /// Messages for the HUD since the last call.
    pub(super) fn messages(&self) -> Vec<(String, bool)> {
        std::mem::take(&mut *lock(&self.status.messages))
    }

    /// The output's HUD line.
    pub(super) fn hud_line(&self, text: &mut String) {
        let kind = if self.is_file { "REC" } else { "OUT" };
        let state = if self.thread.as_ref().is_some_and(JoinHandle::is_finished) {
            "  STOPPED"
        } else if self.status.down.load(Relaxed) {
            "  reconnecting..."
        } else {
            ""
        };
        let _ = write!(text, "{kind} {}  {} frames, {} dropped{state}", self.label, self.sent(), self.dropped());
    }

    /// Closes the queue (what is in it is still written), waits for the thread and reports.
    pub(super) fn finish(mut self) -> SinkReport {
        self.queue.close();
        let result = match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            _ => Err(Error::Invalid(format!("the thread of {} panicked", self.label))),
        };
        let h = lock(&self.status.latency);
        let latency = (h.n > 0).then(|| (h.quantile(0.5), h.quantile(0.95)));
        drop(h);
        let c = |a: &AtomicU64| a.load(Relaxed);
        SinkReport { label: self.label.clone(), sent: c(&self.status.sent), dropped: c(&self.status.dropped), reconnects: c(&self.status.reconnects), latency, result }
    }
}

impl SinkReport {
    /// The summary line: frames sent and dropped, reconnections, latency.
    pub(super) fn line(&self) -> String {
        let mut s = format!("  output {}: {} frames sent, {} dropped", self.label, self.sent, self.dropped);
        if self.reconnects > 0 {
            let _ = write!(s, ", reconnected {} time{}", self.reconnects, if self.reconnects == 1 { "" } else { "s" });
        }
        if let Some((p50, p95)) = self.latency {
            let _ = write!(s, "; capture to sent: p50 {p50:.0} ms, p95 {p95:.0} ms");
        }
        match &self.result {
            Ok(Some(path)) => {
                let _ = write!(s, "; saved {}", path.display());
            }
            Ok(None) => {}
            Err(e) => {
                let _ = write!(s, "; failed: {e}");
            }
        }
        s
    }
}

/// The output's thread: writes frames as they come; a network output that fails reconnects (when allowed),
/// dropping the frames that arrive meanwhile; other failures end the output (live goes on without it).
fn write_frames(writer: Writer, target: &Target, info: &SourceInfo, stream: &StreamOptions, reconnect: bool, queue: &Queue, status: &Status) -> Result<Option<PathBuf>> {
    let mut writer = Some(writer);
    let mut start: Option<Instant> = None;
    let mut last_pts = -1i64;
    let mut backoff = Duration::from_millis(250);
    let mut retry_at = Instant::now();
    while let Some((frame, at)) = queue.pop() {
        if writer.is_none() && Instant::now() >= retry_at {
            match Writer::open(target, info, stream) {
                Ok(w) => {
                    writer = Some(w);
                    // A new connection is a new stream: timestamps start again.
                    (start, last_pts, backoff) = (None, -1, Duration::from_millis(250));
                    status.down.store(false, Relaxed);
                    status.reconnects.fetch_add(1, Relaxed);
                    status.say(format!("reconnected to {}", target.label()), false);
                }
                Err(_) => {
                    retry_at = Instant::now() + backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        let Some(w) = writer.as_mut() else {
            status.dropped.fetch_add(1, Relaxed);
            queue.recycle(frame);
            continue;
        };
        let t0 = *start.get_or_insert(at);
        let pts = (at.saturating_duration_since(t0).as_millis() as i64).max(last_pts + 1);
        last_pts = pts;
        let pushed = w.push(&frame, pts);
        queue.recycle(frame);
        match pushed {
            Ok(()) => {
                status.sent.fetch_add(1, Relaxed);
                lock(&status.latency).add(at.elapsed());
            }
            Err(e) if reconnect => {
                writer = None;
                status.down.store(true, Relaxed);
                status.dropped.fetch_add(1, Relaxed);
                let reason = match e {
                    Error::Output { reason, .. } => reason,
                    e => e.to_string(),
                };
                status.say(format!("lost {}: {reason}; reconnecting (live goes on)", target.label()), true);
                retry_at = Instant::now() + backoff;
            }
            Err(e) => {
                status.say(format!("output {} stopped: {e}", target.label()), true);
                return Err(e);
            }
        }
    }
    match writer {
        Some(w) => w.finish(),
        None => Ok(None),
    }
}

/// Where the next recording goes: `--record` first, then numbered variants of it, or one in the snapshot folder.
pub(super) fn recording_path(args: &LiveArgs, n: u32) -> PathBuf {
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

pub(super) fn unix_millis() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_drops_the_oldest_frame_and_reuses_buffers() {
        let q = Queue { state: Mutex::new(QueueState { frames: VecDeque::new(), spare: Vec::new(), closed: false }), ready: Condvar::new(), capacity: 2 };
        let t = Instant::now();
        let frame = |v: u8| Frame::from_raw(1, 1, vec![v; 3]);
        assert!(!q.push(&frame(1), t));
        assert!(!q.push(&frame(2), t));
        assert!(q.push(&frame(3), t), "the third frame drops the first");
        let (f, _) = q.pop().unwrap();
        assert_eq!(f.data, [2, 2, 2]);
        q.recycle(f);
        q.close();
        assert!(!q.push(&frame(4), t), "a closed queue takes nothing");
        assert_eq!(q.pop().unwrap().0.data, [3, 3, 3]);
        assert!(q.pop().is_none());
        // Buffers circulate: the dropped one and the recycled one.
        assert_eq!(lock(&q.state).spare.len(), 2);
    }

    #[test]
    fn latency_percentiles() {
        let mut h = Histogram::default();
        for ms in 1..=100 {
            h.add(Duration::from_micros(ms * 1000 - 500));
        }
        assert_eq!(h.quantile(0.5), 50.0);
        assert_eq!(h.quantile(0.95), 95.0);
        h.add(Duration::from_secs(60));
        assert_eq!(h.quantile(1.0), 10_001.0);
    }
}
