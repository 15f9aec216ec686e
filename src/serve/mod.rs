//! `stylize serve`: the live stylizer in a browser tab, and image/video uploads, over HTTP and a WebSocket.
//!
//! One embedded page (`page/`), served by axum on tokio. The heavy work runs on plain threads that own their
//! engines: `inference` stylizes live frames (each client's latest frame only, clients taken in turn), `jobs`
//! runs uploads one or a few at a time from a queue. The async side only moves bytes and decodes/encodes JPEG
//! on tokio's blocking pool. One file per job: `routes` (HTTP), `session` (one WebSocket client), `auth`
//! (token, Host and Origin checks), `limits` (sizes and rates), `inference`, `jobs`, `page` (the embedded files),
//! `error` (the one error type they all answer with).

mod auth;
mod error;
mod inference;
mod jobs;
mod limits;
mod page;
mod routes;
mod session;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Args;

use crate::args::EngineArgs;
use crate::temporal::{Temporal, TemporalMode};
use crate::error::{Error, Result};
use crate::models;

pub use limits::Limits;

#[derive(Args, Clone, Debug)]
pub struct ServeArgs {
    /// Models offered in the page (paths, or names of installed models); the first is the default
    #[arg(short = 'm', long = "model", default_value = models::DEFAULT_MODEL)]
    pub models: Vec<String>,
    /// Address and port to listen on; any address but loopback needs --token or --token-file
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// A secret every request must carry (`Authorization: Bearer TOKEN`, or `?token=TOKEN` in the page's URL)
    #[arg(long, conflicts_with = "token_file")]
    pub token: Option<String>,
    /// Read the token from this file (its first line), so it does not show in the process list
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// Largest upload, in MB
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_upload_mb: u64,
    /// Largest live frame, WxH (either orientation)
    #[arg(long, default_value = "1280x720", value_parser = limits::parse_size)]
    pub max_frame: (u32, u32),
    /// Largest image or video frame of an upload after --scale, WxH (either orientation)
    #[arg(long, default_value = "3840x2160", value_parser = limits::parse_size)]
    pub max_job_frame: (u32, u32),
    /// Live frames per second a client may send (more are dropped)
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=240))]
    pub max_fps: u32,
    /// Live clients at once
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub max_clients: u64,
    /// Upload jobs that run at once (the others wait in the queue)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub jobs: u64,
    /// Jobs one client (address) may have queued or running
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub jobs_per_client: u64,
    /// Jobs waiting in the queue, all clients together
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub queue: u64,
    /// Threads stylizing live frames, each with its own copy of the models and a share of the inference threads
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub live_workers: u64,
    /// Seconds a finished job's result is kept when no page holds it (a page's jobs go when the page closes)
    #[arg(long, default_value_t = 600)]
    pub keep_results: u64,
    #[arg(long, default_value = crate::temporal::DEFAULT_MODE, ignore_case = true, help = crate::args::TEMPORAL_HELP)]
    pub temporal: TemporalMode,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// A model offered in the page.
pub(crate) struct Model {
    pub name: String,
    pub path: PathBuf,
    /// Its styles if it is a multi-style model (blends), else empty.
    pub styles: Vec<String>,
}

/// What every request handler and worker shares.
pub(crate) struct State {
    pub models: Vec<Model>,
    pub limits: Limits,
    pub token: Option<String>,
    pub engine: EngineArgs,
    /// The temporal stage for live frames (one per client) and uploaded videos.
    pub temporal: TemporalMode,
    pub device: String,
    pub live: inference::Live,
    pub jobs: jobs::Jobs,
    /// Open page sessions (WebSockets): id -> the jobs they started are removed when they close.
    pub sessions: Mutex<HashMap<String, std::net::IpAddr>>,
    pub clients: AtomicUsize,
    /// Flips to true when the server stops: sessions close their sockets.
    pub stopping: tokio::sync::watch::Receiver<bool>,
}

impl State {
    pub fn model_index(&self, name: &str) -> Option<usize> {
        self.models.iter().position(|m| m.name == name)
    }
}

/// A random hex identifier (128 bits): job and session ids cannot be guessed by other clients.
pub(crate) fn random_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random number generator");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads and checks the token: none, from --token, or from the first line of --token-file.
fn read_token(args: &ServeArgs) -> Result<Option<String>> {
    let token = match (&args.token, &args.token_file) {
        (Some(t), _) => Some(t.clone()),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).map_err(|e| Error::InputUnreadable { path: path.clone(), reason: e.to_string() })?;
            Some(text.lines().next().unwrap_or("").trim().to_string())
        }
        (None, None) => None,
    };
    if let Some(t) = &token {
        // Short tokens can be guessed; odd characters would not survive a URL.
        if t.len() < 16 || !t.chars().all(|c| c.is_ascii_alphanumeric() || "-_.~".contains(c)) {
            return Err(Error::Invalid("the token must be at least 16 characters of A-Z, a-z, 0-9 and -_.~ (e.g. `openssl rand -hex 16`)".into()));
        }
    }
    if token.is_none() && !args.bind.ip().is_loopback() {
        return Err(Error::Invalid(format!(
            "--bind {} listens beyond this machine: give a --token (or --token-file) that every request must carry, or bind to 127.0.0.1",
            args.bind
        )));
    }
    Ok(token)
}

/// Loads every model once (a missing or broken one stops here, with the CLI's error) and hands the engines to
/// the first live worker.
fn load_models(args: &ServeArgs, engine: &EngineArgs) -> Result<(Vec<Model>, Vec<Option<crate::Engine>>, String)> {
    let mut models = Vec::new();
    let mut engines = Vec::new();
    let mut device = String::new();
    for name in &args.models {
        let path = engine.model_path(name);
        let loaded = engine.load(name)?;
        let label = path.file_stem().unwrap_or_default().to_string_lossy().to_string();
        if models.iter().any(|m: &Model| m.name == label) {
            return Err(Error::Invalid(format!("model {label} is given twice")));
        }
        device = loaded.device().name();
        models.push(Model { name: label, path, styles: loaded.style_names().to_vec() });
        engines.push(Some(loaded));
    }
    Ok((models, engines, device))
}

/// Runs the server until Ctrl-C, SIGTERM or SIGHUP; then closes the sockets, cancels the jobs and removes every
/// uploaded and written file.
pub fn run(args: ServeArgs) -> Result<()> {
    crate::stop::catch_signals();
    if args.engine.style_mix.is_some() {
        return Err(Error::Invalid("stylize serve: the style mix is picked per client in the page (and per upload, as \"style_mix\"); drop --style-mix".into()));
    }
    let token = read_token(&args)?;
    // Each client gets its own stage later; a missing flow library is an error now, not on the first frame.
    Temporal::for_mode(args.temporal)?;
    let limits = Limits::from_args(&args);
    let engine = args.engine.clone();
    let live_workers = args.live_workers as usize;
    // Live workers share the inference threads out, as `video` shares them between its frames.
    let live_engine = match live_workers {
        1 => engine.clone(),
        n => EngineArgs { threads: Some((engine.threads.unwrap_or_else(crate::cores) / n).max(1)), ..engine.clone() },
    };
    let (models, first_engines, device) = load_models(&args, &live_engine)?;
    let listener = std::net::TcpListener::bind(args.bind).map_err(|e| Error::Invalid(format!("cannot listen on {}: {e}", args.bind)))?;
    listener.set_nonblocking(true).map_err(|e| Error::Invalid(format!("cannot listen on {}: {e}", args.bind)))?;
    let bound = listener.local_addr().map_err(|e| Error::Invalid(e.to_string()))?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(crate::cores().clamp(1, 4))
        .enable_all()
        .thread_name("serve")
        .build()
        .map_err(|e| Error::Invalid(format!("cannot start the server's runtime: {e}")))?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let jobs = jobs::Jobs::new(&limits)?;
    let state = Arc::new(State {
        models,
        limits,
        token,
        engine: engine.clone(),
        temporal: args.temporal,
        device,
        live: inference::Live::new(),
        jobs,
        sessions: Mutex::new(HashMap::new()),
        clients: AtomicUsize::new(0),
        stopping: stop_rx,
    });
    let live_threads = inference::start(&state, live_workers, first_engines, &live_engine);
    let job_threads = jobs::start(&state, args.jobs as usize);

    let scheme = "http";
    let url = match &state.token {
        Some(_) => format!("{scheme}://{bound}/?token=..."),
        None => format!("{scheme}://{bound}/"),
    };
    println!("serving {} model{} on {} at {url} (Ctrl-C stops)", state.models.len(), if state.models.len() == 1 { "" } else { "s" }, state.device);
    let served = runtime.block_on(async {
        let listener = tokio::net::TcpListener::from_std(listener).map_err(|e| Error::Invalid(format!("cannot listen on {bound}: {e}")))?;
        let app = routes::router(state.clone());
        let reaper = tokio::spawn(jobs::reap(state.clone()));
        let stopped = async move {
            while !crate::stop::interrupted() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let _ = stop_tx.send(true);
        };
        let served = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).with_graceful_shutdown(stopped);
        // An upload still streaming in must not hold the stop up for long.
        let mut stopping = state.stopping.clone();
        let result = tokio::select! {
            r = served => r.map_err(|e| Error::Invalid(format!("the server failed: {e}"))),
            _ = async { let _ = stopping.wait_for(|s| *s).await; tokio::time::sleep(Duration::from_secs(5)).await } => Ok(()),
        };
        reaper.abort();
        result
    });
    // Sessions saw the stop; now the threads (they poll these flags) and the jobs (a running one stops at its
    // next frame).
    state.live.stop();
    state.jobs.stop();
    let cancelled = state.jobs.clear();
    for t in live_threads.into_iter().chain(job_threads) {
        let _ = t.join();
    }
    runtime.shutdown_timeout(Duration::from_secs(2));
    // What the stopped workers were still writing.
    state.jobs.clear();
    served?;
    if let Some(sig) = crate::stop::received() {
        // Stopping is how a server ends: not a failure.
        crate::stop::mark_handled();
        let jobs = if cancelled > 0 { format!("; cancelled {cancelled} unfinished job{}", if cancelled == 1 { "" } else { "s" }) } else { String::new() };
        println!("stopped ({}){jobs}; removed the uploads and results", crate::stop::name(sig));
    }
    Ok(())
}

/// The display name of an uploaded file, safe for a header and a download: letters, digits, `-`, `_` and `.`
/// only, no leading dot, at most 80 characters. It never becomes a path on the server.
pub(crate) fn safe_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '_' }).take(80).collect();
    let clean = clean.trim_start_matches('.').to_string();
    if clean.is_empty() { "upload".into() } else { clean }
}

/// The file stem of `safe_name`.
pub(crate) fn stem(name: &str) -> String {
    Path::new(name).file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_else(|| "upload".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_names_never_carry_a_path() {
        assert_eq!(safe_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_name("..\\..\\win.ini"), "win.ini");
        assert_eq!(safe_name(".hidden.png"), "hidden.png");
        assert_eq!(safe_name("a b\"c;\r\n.jpg"), "a_b_c___.jpg");
        assert_eq!(safe_name(""), "upload");
        assert_eq!(safe_name(".."), "upload");
        assert_eq!(stem("clip.mp4"), "clip");
    }

    #[test]
    fn ids_are_random_hex() {
        let (a, b) = (random_id(), random_id());
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
