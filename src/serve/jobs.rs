//! Uploaded images and videos: a queue, a few workers with their own engines, and each job's files in its own
//! folder inside the server's private temporary folder (mode 0700, removed at exit). A job's folder goes when
//! the job does: cancelled, its page closed, its result unclaimed for `--keep-results`, or the server stopped.
//! Uploaded names are only ever shown (and offered as the download's name), never used as paths.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{unbounded, Receiver, Sender};
use serde_json::json;

use super::limits::Limits;
use super::State;
use crate::args::EngineArgs;
use crate::media::decode::{InputOptions, SizeRequest, VideoSource, Watch};
use crate::effects::Effects;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::frame::Frame;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Image,
    Video,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Image => "image",
            Kind::Video => "video",
        }
    }
}

/// The CLI's options, per job.
#[derive(Clone, Debug)]
pub struct JobOptions {
    pub model: usize,
    pub mix: Option<Vec<f32>>,
    pub effects: Effects,
    pub scale: Option<f64>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Phase {
    Queued,
    Running,
    Done,
    Failed(String),
    Cancelled,
}

impl Phase {
    fn finished(&self) -> bool {
        matches!(self, Phase::Done | Phase::Failed(_) | Phase::Cancelled)
    }
}

struct Status {
    phase: Phase,
    /// Last asked about (status, result): unclaimed results expire.
    seen: Instant,
    summary: Option<String>,
    ticket: Option<Ticket>,
}

pub struct Job {
    pub id: String,
    pub session: Option<String>,
    pub kind: Kind,
    dir: PathBuf,
    input: PathBuf,
    pub output: PathBuf,
    /// The name the result is offered under (from the upload's name, cleaned).
    pub download: String,
    /// The upload's name (cleaned), for messages.
    pub name: String,
    pub options: JobOptions,
    watch: Watch,
    pub total: Option<u64>,
    status: Mutex<Status>,
}

impl Job {
    fn status(&self) -> MutexGuard<'_, Status> {
        self.status.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn phase(&self) -> Phase {
        self.status().phase.clone()
    }

    pub fn touch(&self) {
        self.status().seen = Instant::now();
    }

    /// Ends the job: a running one stops at its next frame, and its place in the limits is given back.
    fn cancel(&self) {
        self.watch.cancel.store(true, Relaxed);
        let mut s = self.status();
        if !s.phase.finished() {
            s.phase = Phase::Cancelled;
        }
        s.ticket = None;
    }

    fn set(&self, phase: Phase, summary: Option<String>) {
        let mut s = self.status();
        // A cancel that came while it ran wins.
        if s.phase != Phase::Cancelled {
            s.phase = phase;
            s.summary = summary;
        }
        s.seen = Instant::now();
        if s.phase.finished() {
            s.ticket = None;
        }
    }

    /// What the page shows: state, progress and, when done, where the result is.
    pub fn describe(&self) -> serde_json::Value {
        let s = self.status();
        let frames = self.watch.frames.load(Relaxed);
        let (state, error) = match &s.phase {
            Phase::Queued => ("queued", None),
            Phase::Running => ("running", None),
            Phase::Done => ("done", None),
            Phase::Failed(e) => ("failed", Some(e.clone())),
            Phase::Cancelled => ("cancelled", None),
        };
        let progress = match (&s.phase, self.total) {
            (Phase::Done, _) => Some(1.0),
            (Phase::Running, Some(t)) if t > 0 && self.kind == Kind::Video => Some((frames as f64 / t as f64).min(0.99)),
            _ => None,
        };
        json!({
            "id": self.id, "kind": self.kind.name(), "name": self.name, "state": state, "error": error,
            "frames": frames, "total": self.total, "progress": progress, "summary": s.summary,
            "result": (s.phase == Phase::Done).then(|| format!("/api/jobs/{}/result", self.id)), "download": self.download,
        })
    }

    /// Makes an error fit for the page: the server's folders never show, the upload's name does.
    fn clean(&self, e: &Error) -> String {
        e.to_string().replace(&self.input.display().to_string(), &self.name).replace(&self.dir.display().to_string(), "")
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A client's place in the limits: counted from the upload's start to the job's end.
pub struct Ticket {
    counts: Arc<Mutex<Counts>>,
    client: IpAddr,
    waiting: bool,
}

#[derive(Default)]
struct Counts {
    per_client: HashMap<IpAddr, usize>,
    /// Uploading or queued: not yet running.
    waiting: usize,
}

impl Ticket {
    fn started(&mut self) {
        if std::mem::take(&mut self.waiting) {
            lock(&self.counts).waiting -= 1;
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut c = lock(&self.counts);
        if self.waiting {
            c.waiting -= 1;
        }
        if let Some(n) = c.per_client.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                c.per_client.remove(&self.client);
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Why a job cannot be taken now.
pub enum Refusal {
    ClientBusy(usize),
    QueueFull(usize),
}

pub struct Jobs {
    root: tempfile::TempDir,
    map: Mutex<HashMap<String, Arc<Job>>>,
    counts: Arc<Mutex<Counts>>,
    tx: Sender<Arc<Job>>,
    rx: Receiver<Arc<Job>>,
    stopped: AtomicBool,
    limits: Limits,
}

/// An upload's folder until it becomes a job: removed if the upload fails half-way.
pub struct Staging {
    pub id: String,
    pub dir: PathBuf,
    ticket: Option<Ticket>,
    armed: bool,
}

impl Staging {
    pub fn input(&self) -> PathBuf {
        self.dir.join("upload")
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Jobs {
    pub fn new(limits: &Limits) -> Result<Jobs> {
        // This user's only (0700): other local users cannot read the uploads or the results.
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::Builder::new().prefix("stylize-serve-").permissions(std::fs::Permissions::from_mode(0o700)).tempdir().map_err(|e| Error::Invalid(format!("cannot create a temporary folder for uploads: {e}")))?;
        let (tx, rx) = unbounded();
        Ok(Jobs { root, map: Mutex::new(HashMap::new()), counts: Arc::default(), tx, rx, stopped: AtomicBool::new(false), limits: limits.clone() })
    }

    /// Takes a place for an upload from `client`, within the per-client and queue limits, and a folder for it.
    pub fn reserve(&self, client: IpAddr) -> std::result::Result<Staging, Refusal> {
        {
            let mut c = lock(&self.counts);
            let mine = c.per_client.get(&client).copied().unwrap_or(0);
            if mine >= self.limits.jobs_per_client {
                return Err(Refusal::ClientBusy(self.limits.jobs_per_client));
            }
            if c.waiting >= self.limits.queue {
                return Err(Refusal::QueueFull(self.limits.queue));
            }
            *c.per_client.entry(client).or_default() += 1;
            c.waiting += 1;
        }
        let ticket = Ticket { counts: self.counts.clone(), client, waiting: true };
        let id = super::random_id();
        let dir = self.root.path().join(&id);
        let staging = Staging { id, dir, ticket: Some(ticket), armed: true };
        // A folder that cannot be made fails the upload when it is written to.
        let _ = std::fs::create_dir(&staging.dir);
        Ok(staging)
    }

    /// Turns a complete upload into a queued job.
    #[allow(clippy::too_many_arguments)]
    pub fn submit(&self, mut staging: Staging, session: Option<String>, kind: Kind, name: String, options: JobOptions, total: Option<u64>, model: &str) -> Arc<Job> {
        staging.armed = false;
        let ext = match kind {
            Kind::Video => "mp4",
            Kind::Image => match image::ImageReader::open(staging.input()).ok().and_then(|r| r.with_guessed_format().ok()).and_then(|r| r.format()) {
                Some(image::ImageFormat::Jpeg) => "jpg",
                _ => "png",
            },
        };
        let dir = std::mem::take(&mut staging.dir);
        let ticket = staging.ticket.take();
        let job = Arc::new(Job {
            id: std::mem::take(&mut staging.id),
            session,
            kind,
            input: dir.join("upload"),
            output: dir.join(format!("result.{ext}")),
            dir,
            download: super::safe_name(&format!("{}-{model}.{ext}", super::stem(&name))),
            name,
            options,
            watch: Watch::default(),
            total,
            status: Mutex::new(Status { phase: Phase::Queued, seen: Instant::now(), summary: None, ticket }),
        });
        lock(&self.map).insert(job.id.clone(), job.clone());
        let _ = self.tx.send(job.clone());
        job
    }

    pub fn get(&self, id: &str) -> Option<Arc<Job>> {
        let job = lock(&self.map).get(id).cloned()?;
        job.touch();
        Some(job)
    }

    /// Cancels and forgets a job; its folder goes when its worker lets go of it.
    pub fn cancel(&self, id: &str) -> Option<Arc<Job>> {
        let job = lock(&self.map).remove(id)?;
        job.cancel();
        Some(job)
    }

    pub fn cancel_session(&self, session: &str) {
        let ids: Vec<String> = lock(&self.map).values().filter(|j| j.session.as_deref() == Some(session)).map(|j| j.id.clone()).collect();
        for id in ids {
            self.cancel(&id);
        }
    }

    pub fn stop(&self) {
        self.stopped.store(true, Relaxed);
    }

    /// At exit: cancels everything and removes every file; returns how many jobs were unfinished.
    pub fn clear(&self) -> usize {
        let jobs: Vec<Arc<Job>> = lock(&self.map).drain().map(|(_, j)| j).collect();
        let unfinished = jobs.iter().filter(|j| !j.phase().finished()).count();
        for job in &jobs {
            job.cancel();
        }
        drop(jobs);
        while self.rx.try_recv().is_ok() {}
        if let Ok(entries) = std::fs::read_dir(self.root.path()) {
            for e in entries.flatten() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        unfinished
    }
}

/// Every few seconds: jobs of pages that are gone are cancelled, results unclaimed for `--keep-results` removed.
pub async fn reap(state: Arc<State>) {
    loop {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let sessions: Vec<String> = state.sessions.lock().unwrap_or_else(PoisonError::into_inner).keys().cloned().collect();
        let keep = state.limits.keep_results;
        let expired: Vec<String> = lock(&state.jobs.map)
            .values()
            .filter(|j| {
                let s = j.status();
                let orphan = j.session.as_ref().is_some_and(|id| !sessions.contains(id));
                orphan || (s.phase.finished() && s.seen.elapsed() > keep)
            })
            .map(|j| j.id.clone())
            .collect();
        for id in expired {
            state.jobs.cancel(&id);
        }
    }
}

pub fn start(state: &Arc<State>, n: usize) -> Vec<JoinHandle<()>> {
    (0..n)
        .map(|i| {
            let state = state.clone();
            std::thread::Builder::new().name(format!("serve-jobs-{i}")).spawn(move || worker(&state)).expect("start a job worker thread")
        })
        .collect()
}

fn worker(state: &State) {
    let jobs = &state.jobs;
    let args = EngineArgs { quiet: true, ..state.engine.clone() };
    // Per model, loaded on first use: a video stylizes frames with several engines at once on a CPU.
    let mut engines: HashMap<usize, Vec<Engine>> = HashMap::new();
    while !jobs.stopped.load(Relaxed) {
        let job = match jobs.rx.recv_timeout(Duration::from_millis(100)) {
            Ok(j) => j,
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => continue,
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
        };
        {
            let mut s = job.status();
            if s.phase != Phase::Queued {
                continue;
            }
            s.phase = Phase::Running;
            if let Some(t) = s.ticket.as_mut() {
                t.started();
            }
        }
        let result = run_job(state, &job, &mut engines, &args);
        match result {
            Ok(summary) => job.set(Phase::Done, Some(summary)),
            Err(_) if job.watch.cancel.load(Relaxed) || crate::stop::interrupted() => job.set(Phase::Cancelled, None),
            Err(e) => job.set(Phase::Failed(job.clean(&e)), None),
        }
    }
}

fn run_job(state: &State, job: &Job, engines: &mut HashMap<usize, Vec<Engine>>, args: &EngineArgs) -> Result<String> {
    let model = &state.models[job.options.model];
    let set = match engines.entry(job.options.model) {
        std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
        std::collections::hash_map::Entry::Vacant(v) => v.insert(args.load_stylizers(&model.path.to_string_lossy(), if job.kind == Kind::Image { Some(1) } else { None })?),
    };
    if !model.styles.is_empty() {
        let n = model.styles.len();
        let mix = job.options.mix.clone().unwrap_or_else(|| vec![1.0 / n as f32; n]);
        for engine in set.iter_mut() {
            engine.set_style_mix(&mix)?;
        }
    }
    match job.kind {
        Kind::Image => run_image(state, job, &mut set[0]),
        Kind::Video => run_video(job, set, state.temporal),
    }
}

fn run_image(state: &State, job: &Job, engine: &mut Engine) -> Result<String> {
    let loaded = crate::media::images::load(&job.input)?;
    let mut frame = loaded.frame;
    if let Some(s) = job.options.scale.filter(|&s| s != 1.0) {
        let (w, h) = (((frame.width as f64 * s).round() as usize).max(1), ((frame.height as f64 * s).round() as usize).max(1));
        let mut scaled = Frame::new(w, h);
        crate::engine::resize_into(&mut fast_image_resize::Resizer::new(), &frame, &mut scaled)?;
        frame = scaled;
    }
    state.limits.check_job_frame(frame.width as u32, frame.height as u32).map_err(Error::Invalid)?;
    let effects = job.options.effects;
    let original = (!effects.is_identity()).then(|| frame.clone());
    if job.watch.cancel.load(Relaxed) {
        return Err(Error::Interrupted(String::new()));
    }
    let t = Instant::now();
    engine.stylize(&mut frame)?;
    if let Some(o) = &original {
        effects.apply(o, &mut frame);
    }
    crate::media::images::save_with_profile(&frame, &job.output, &[job.input.as_path()], loaded.icc_profile.as_deref())?;
    Ok(format!("{}x{} in {:.2} s", frame.width, frame.height, t.elapsed().as_secs_f64()))
}

fn run_video(job: &Job, engines: &mut [Engine], temporal: crate::temporal::TemporalMode) -> Result<String> {
    use crate::jobs::pipeline::{transcode, TranscodeOptions};
    let mut source = VideoSource::open_with(&job.input, SizeRequest { scale: job.options.scale, size: None }, InputOptions { untrusted: true, ..Default::default() })?;
    source.set_watch(job.watch.clone());
    let opts = TranscodeOptions { quiet: true, effects: job.options.effects, temporal, ..TranscodeOptions::default() };
    let summary = transcode(engines, source, &job.output, &opts)?;
    Ok(summary.line())
}

/// Reads what an upload is and checks its size before it is queued: an image's dimensions from its header, a
/// video's through FFmpeg (as a local file in a media container only). Returns the kind and the frame count.
pub fn probe(limits: &Limits, path: &Path, name: &str, scale: Option<f64>) -> std::result::Result<(Kind, Option<u64>), (u16, String)> {
    let clean = |e: String| e.replace(&path.display().to_string(), name);
    let mut head = [0u8; 32];
    let n = std::io::Read::read(&mut std::fs::File::open(path).map_err(|e| (500, e.to_string()))?, &mut head).unwrap_or(0);
    if matches!(image::guess_format(&head[..n]), Ok(image::ImageFormat::Png | image::ImageFormat::Jpeg)) {
        let reader = image::ImageReader::open(path).and_then(|r| r.with_guessed_format()).map_err(|e| (415, clean(e.to_string())))?;
        let (w, h) = reader.into_dimensions().map_err(|e| (415, format!("{name} is not an image stylize can read ({e}); use PNG or JPEG")))?;
        let s = scale.unwrap_or(1.0);
        let (w, h) = (((f64::from(w) * s).round() as u32).max(1), ((f64::from(h) * s).round() as u32).max(1));
        limits.check_job_frame(w, h).map_err(|e| (413, format!("{name}: {e}")))?;
        return Ok((Kind::Image, None));
    }
    let source = VideoSource::open_with(path, SizeRequest { scale, size: None }, InputOptions { untrusted: true, ..Default::default() }).map_err(|e| {
        let why = match e {
            Error::NotAVideo { reason, .. } => reason,
            e => clean(e.to_string()),
        };
        (415, format!("{name} is neither a PNG/JPEG image nor a video FFmpeg can read ({why})"))
    })?;
    let info = source.info();
    limits.check_job_frame(info.out_width, info.out_height).map_err(|e| (413, format!("{name}: {e}")))?;
    Ok((Kind::Video, info.frames_hint))
}
