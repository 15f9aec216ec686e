//! Live frames: each client keeps only its latest frame (a newer one replaces a waiting one, as in
//! `stylize live`), so its latency stays at about one inference. Clients with a frame waiting queue up once
//! each, and a client goes back to the end of the queue after each frame: the workers take them in turn,
//! however fast each one sends. Each worker owns its engines (one per model, loaded on first use).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{unbounded, Receiver, Sender};

use super::State;
use crate::args::EngineArgs;
use crate::effects::Effects;
use crate::engine::Engine;
use crate::frame::Frame;
use crate::temporal::{Temporal, TemporalMode};

/// How a client wants its frames: the model (index into `State::models`), its style mix, the effects.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub model: usize,
    /// A multi-style model's weights; None: all styles evenly.
    pub mix: Option<Vec<f32>>,
    pub effects: Effects,
}

pub struct Request {
    pub seq: u32,
    pub frame: Frame,
    pub settings: Settings,
    pub received: Instant,
}

pub struct Reply {
    pub seq: u32,
    /// The stylized frame, or why there is none.
    pub result: Result<Frame, String>,
    pub received: Instant,
}

#[derive(Default)]
struct Mailbox {
    pending: Option<Request>,
    /// In the queue now.
    queued: bool,
    /// A worker is stylizing one of its frames now.
    busy: bool,
    closed: bool,
}

/// One live client, as the workers see it.
pub struct Client {
    mailbox: Mutex<Mailbox>,
    replies: tokio::sync::mpsc::Sender<Reply>,
    pub stylized: AtomicU64,
    /// Frames replaced by a newer one before a worker took them.
    pub replaced: AtomicU64,
    /// Results dropped because the client had not taken the previous one yet (a slow connection).
    pub unsent: AtomicU64,
    /// The client's temporal stage and the settings its kept output was made with (one worker at a time
    /// stylizes a client's frames, so the lock is never contended).
    temporal: Mutex<Option<(Temporal, Settings)>>,
}

impl Client {
    pub fn new(replies: tokio::sync::mpsc::Sender<Reply>) -> Arc<Client> {
        Arc::new(Client { mailbox: Mutex::new(Mailbox::default()), replies, stylized: AtomicU64::new(0), replaced: AtomicU64::new(0), unsent: AtomicU64::new(0), temporal: Mutex::new(None) })
    }

    fn mailbox(&self) -> std::sync::MutexGuard<'_, Mailbox> {
        self.mailbox.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// No more frames: what waits is dropped.
    pub fn close(&self) {
        let mut m = self.mailbox();
        m.closed = true;
        m.pending = None;
    }

    /// Takes the waiting frame for a worker.
    fn begin(&self) -> Option<Request> {
        let mut m = self.mailbox();
        m.queued = false;
        let req = m.pending.take()?;
        m.busy = true;
        Some(req)
    }
}

pub struct Live {
    tx: Sender<Arc<Client>>,
    rx: Receiver<Arc<Client>>,
    stopped: AtomicBool,
}

impl Live {
    pub fn new() -> Live {
        let (tx, rx) = unbounded();
        Live { tx, rx, stopped: AtomicBool::new(false) }
    }

    /// Leaves `req` as the client's latest frame; true when it replaced an older one.
    pub fn submit(&self, client: &Arc<Client>, req: Request) -> bool {
        let mut m = client.mailbox();
        if m.closed {
            return false;
        }
        let replaced = m.pending.replace(req).is_some();
        if replaced {
            client.replaced.fetch_add(1, Relaxed);
        }
        if !m.queued && !m.busy {
            m.queued = true;
            let _ = self.tx.send(client.clone());
        }
        replaced
    }

    /// A worker is done with the client's frame: back into the queue if another one came meanwhile.
    fn done(&self, client: &Arc<Client>) {
        let mut m = client.mailbox();
        m.busy = false;
        if m.pending.is_some() && !m.queued && !m.closed {
            m.queued = true;
            let _ = self.tx.send(client.clone());
        }
    }

    pub fn stop(&self) {
        self.stopped.store(true, Relaxed);
    }
}

/// Starts `n` workers; the first gets the engines loaded at start-up.
pub fn start(state: &Arc<State>, n: usize, first: Vec<Option<Engine>>, args: &EngineArgs) -> Vec<JoinHandle<()>> {
    let quiet = EngineArgs { quiet: true, ..args.clone() };
    let mut first = Some(first);
    (0..n)
        .map(|i| {
            let state = state.clone();
            let engines = first.take().unwrap_or_else(|| (0..state.models.len()).map(|_| None).collect());
            let args = quiet.clone();
            std::thread::Builder::new().name(format!("serve-live-{i}")).spawn(move || worker(&state, engines, &args)).expect("start a live worker thread")
        })
        .collect()
}

/// An engine per model, loaded on first use; a model that failed to load says why instead of loading again.
struct Engines {
    slots: Vec<Option<Result<Engine, String>>>,
    /// The mix each engine was last given (setting it every frame is cheap, but not free).
    mixes: Vec<Option<Vec<f32>>>,
}

fn worker(state: &State, first: Vec<Option<Engine>>, args: &EngineArgs) {
    let n = state.models.len();
    let mut engines = Engines { slots: first.into_iter().map(|e| e.map(Ok)).collect(), mixes: vec![None; n] };
    let mut original = Frame::new(0, 0);
    let live = &state.live;
    while !live.stopped.load(Relaxed) {
        let client = match live.rx.recv_timeout(Duration::from_millis(100)) {
            Ok(c) => c,
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => continue,
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
        };
        let Some(mut req) = client.begin() else { continue };
        let result = stylize(state, &mut engines, &mut req, &mut original, args).and_then(|()| steady(state, &client, &original, &mut req)).map(|()| req.frame);
        if result.is_ok() {
            client.stylized.fetch_add(1, Relaxed);
        }
        if client.replies.try_send(Reply { seq: req.seq, result, received: req.received }).is_err() {
            client.unsent.fetch_add(1, Relaxed);
        }
        live.done(&client);
    }
}

fn stylize(state: &State, engines: &mut Engines, req: &mut Request, original: &mut Frame, args: &EngineArgs) -> Result<(), String> {
    let s = &req.settings;
    let model = &state.models[s.model];
    let slot = engines.slots[s.model].get_or_insert_with(|| args.load(&model.path.to_string_lossy()).map_err(|e| e.to_string()));
    let engine = slot.as_mut().map_err(|e| format!("model {} failed to load: {e}", model.name))?;
    if !model.styles.is_empty() {
        let even = || vec![1.0 / model.styles.len() as f32; model.styles.len()];
        let mix = s.mix.clone().unwrap_or_else(even);
        if engines.mixes[s.model].as_ref() != Some(&mix) {
            engine.set_style_mix(&mix).map_err(|e| e.to_string())?;
            engines.mixes[s.model] = Some(mix);
        }
    }
    if !s.effects.is_identity() || state.temporal != TemporalMode::Off {
        original.resize(req.frame.width, req.frame.height);
        original.data.copy_from_slice(&req.frame.data);
    }
    engine.stylize(&mut req.frame).map_err(|e| e.to_string())?;
    s.effects.apply(original, &mut req.frame);
    Ok(())
}

/// The client's temporal stage on its stylized frame (`--temporal on` or `smooth`): started afresh when the client picks
/// another model, mix or effect, and for a frame of another size.
fn steady(state: &State, client: &Client, original: &Frame, req: &mut Request) -> Result<(), String> {
    if state.temporal == TemporalMode::Off {
        return Ok(());
    }
    let mut slot = client.temporal.lock().unwrap_or_else(PoisonError::into_inner);
    let (stage, settings) = match slot.as_mut() {
        Some(kept) => kept,
        None => match Temporal::for_mode(state.temporal).map_err(|e| e.to_string())? {
            Some(stage) => slot.insert((stage, req.settings.clone())),
            None => return Ok(()),
        },
    };
    if *settings != req.settings {
        stage.reset();
        *settings = req.settings.clone();
    }
    stage.apply(original, &mut req.frame).map_err(|e| e.to_string())
}
