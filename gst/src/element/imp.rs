//! The element: properties (settings), the model loaded at start (and reloaded in the background when a
//! property that picks it changes while playing), each frame stylized with the strength, colour and style-mix
//! glide of the moment and the temporal stage, and the latency it adds reported upstream. A live stream has one
//! frame in flight, stylized in place as it passes; any other stream (a file) has several ([`Ahead`]): the next
//! frames are inferred on threads of their own while the one before them is finished and passed on.

use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::base_transform::GenerateOutputSuccess;
use gst_base::subclass::prelude::*;
use gst_video::subclass::prelude::*;
use gst_video::{VideoFormat, VideoFrameRef, VideoInfo};
use stylize::args::EngineArgs;
use stylize::styles::Glide;
use stylize::temporal::{prepare_beside, Temporal};
use stylize::{Effects, Engine, Frame};

use super::ahead::{Ahead, Inferred};
use super::pixels::{self, Yuv, FORMATS};
use crate::paths;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| gst::DebugCategory::new("stylize", gst::DebugColorFlags::empty(), Some("style transfer")));

/// A style mix glides to a new setting over this long, as in live mode.
const GLIDE_SECONDS: f64 = 0.5;

/// What picks the engine: a change reloads it.
#[derive(Clone, Debug, PartialEq)]
struct EngineKey {
    model: String,
    device: String,
    precision: String,
    threads: u32,
    max_memory: Option<String>,
}

#[derive(Clone, Debug)]
struct Settings {
    key: EngineKey,
    strength: f64,
    preserve_color: bool,
    style_mix: Option<String>,
    temporal: bool,
}

impl Settings {
    fn effects(&self) -> Effects {
        Effects { strength: self.strength as f32, preserve_color: self.preserve_color }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            key: EngineKey { model: stylize::models::DEFAULT_MODEL.into(), device: "auto".into(), precision: "auto".into(), threads: 0, max_memory: None },
            strength: 1.0,
            preserve_color: false,
            style_mix: None,
            temporal: true,
        }
    }
}

/// The stream's working state, from start to stop.
struct State {
    engine: Engine,
    key: EngineKey,
    load_line: String,
    frame: Frame,
    input: Frame,
    temporal: Option<Temporal>,
    /// A multi-style model's mix as it glides, and the setting it glides to.
    glide: Option<Glide>,
    mix_text: Option<String>,
    yuv: Option<Yuv>,
    /// One frame's time, for the glide's speed.
    frame_seconds: f64,
    /// The inference time, smoothed; and the one last reported as latency.
    infer: Duration,
    reported: Duration,
    /// The negotiated input; the frames in flight when the stream is not live, and the one inferred and next out.
    info: Option<VideoInfo>,
    ahead: Option<Ahead<gst::Buffer>>,
    ready: Option<Inferred<gst::Buffer>>,
    /// Frames back from [`Ahead`], reused.
    spare: Vec<Frame>,
}

/// A model loading in the background, and where it arrives.
type Loading = (EngineKey, Receiver<Result<Loaded, String>>);

/// A model loaded in the background: the engine, and the engines of the frames in flight (none when live).
struct Loaded {
    engine: Engine,
    stylizers: Vec<Engine>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Default)]
pub struct Stylize {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
    /// A model loading in the background after a change while playing.
    pending: Mutex<Option<Loading>>,
}

/// The engine options, parsed as the command parses them (same defaults, checks and messages).
#[derive(Parser)]
#[command(name = "stylize", no_binary_name = true, disable_help_flag = true)]
struct EngineCli {
    #[command(flatten)]
    engine: EngineArgs,
}

fn engine_args(key: &EngineKey) -> Result<EngineArgs, String> {
    let mut words = vec!["--device".to_string(), key.device.clone(), "--precision".into(), key.precision.clone()];
    if key.threads > 0 {
        words.extend(["--threads".into(), key.threads.to_string()]);
    }
    if let Some(m) = &key.max_memory {
        words.extend(["--max-memory".into(), m.clone()]);
    }
    // Element properties have no dashes in front.
    let cli: EngineCli = stylize::args::parse_words(words).map_err(|e| e.replace("--", ""))?;
    // A pipeline's frames come one after another: the stream choice (OpenVINO, INT8 where it pays).
    let mut args = cli.engine.for_frame_streams();
    args.quiet = true;
    args.ort_lib = args.ort_lib.or_else(paths::ort_lib);
    args.openvino_lib = args.openvino_lib.or_else(paths::openvino_lib);
    Ok(args)
}

fn load(key: &EngineKey) -> Result<Engine, String> {
    engine_args(key)?.load(&key.model).map_err(|e| e.to_string())
}

/// The engines of frames in flight, as `stylize video` loads them (on a CPU two, each with half the cores).
fn load_stylizers(key: &EngineKey) -> Result<Vec<Engine>, String> {
    engine_args(key)?.load_stylizers(&key.model, None).map_err(|e| e.to_string())
}

impl Stylize {
    fn latency(&self) -> gst::ClockTime {
        let state = lock(&self.state);
        gst::ClockTime::from_nseconds(state.as_ref().map_or(0, |s| s.infer.as_nanos() as u64))
    }

    /// Swaps in a model that finished loading in the background (a failed load is a warning: the old goes on).
    fn take_pending(&self, state: &mut State) {
        let mut pending = lock(&self.pending);
        let Some((key, rx)) = pending.as_ref() else { return };
        match rx.try_recv() {
            Err(TryRecvError::Empty) => return,
            Ok(Ok(Loaded { engine, stylizers })) => {
                gst::info!(CAT, imp = self, "{}", engine.load_line());
                state.load_line = engine.load_line();
                state.engine = engine;
                if let Some(ahead) = &state.ahead {
                    if let Err(e) = ahead.set_engines(stylizers) {
                        gst::element_imp_warning!(self, gst::LibraryError::Settings, ("{}", e));
                    }
                }
                state.key = key.clone();
                state.temporal = None;
                state.glide = None;
                state.mix_text = None;
                state.infer = Duration::ZERO;
            }
            Ok(Err(e)) => gst::element_imp_warning!(self, gst::LibraryError::Settings, ("{}; keeping {}", e, state.key.model)),
            Err(TryRecvError::Disconnected) => {}
        }
        *pending = None;
    }

    /// Starts loading the engine for `key` in the background when it differs from the running one.
    fn reload_if_needed(&self, key: &EngineKey) {
        let state = lock(&self.state);
        let Some(state) = state.as_ref() else { return };
        let mut pending = lock(&self.pending);
        if &state.key == key || pending.as_ref().is_some_and(|(k, _)| k == key) {
            return;
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let k = key.clone();
        let in_flight = state.ahead.is_some();
        std::thread::spawn(move || {
            let loaded = load(&k).and_then(|engine| Ok(Loaded { engine, stylizers: if in_flight { load_stylizers(&k)? } else { Vec::new() } }));
            let _ = tx.send(loaded);
        });
        *pending = Some((key.clone(), rx));
    }

    /// Moves the style mix one frame's step towards the setting.
    fn glide(&self, state: &mut State, setting: Option<&String>) {
        let names = state.engine.style_names().len();
        if names == 0 {
            if setting.is_some() && state.mix_text.as_ref() != setting {
                gst::element_imp_warning!(self, gst::LibraryError::Settings, ("style-mix: {} has one style; mixes need a multi-style model (e.g. styles4-lite)", state.key.model));
                state.mix_text = setting.cloned();
            }
            return;
        }
        if state.mix_text.as_ref() != setting || state.glide.is_none() {
            let even = vec![1.0 / names as f32; names];
            let target = match setting.map(|text| state.engine.parse_style_mix(text)) {
                Some(Ok(mix)) => mix,
                Some(Err(e)) => {
                    gst::element_imp_warning!(self, gst::LibraryError::Settings, ("{}", e));
                    even
                }
                None => even,
            };
            state.mix_text = setting.cloned();
            match state.glide.as_mut() {
                Some(g) => g.target = target,
                // The first mix of a stream applies at once.
                None => {
                    let _ = state.engine.set_style_mix(&target);
                    if let Some(ahead) = &state.ahead {
                        let _ = ahead.set_style_mix(&target);
                    }
                    state.glide = Some(Glide::new(target));
                }
            }
        }
        let step = (2.0 * state.frame_seconds / GLIDE_SECONDS) as f32;
        if let Some(g) = state.glide.as_mut() {
            if g.step(step) {
                let _ = state.engine.set_style_mix(&g.current);
                if let Some(ahead) = &state.ahead {
                    let _ = ahead.set_style_mix(&g.current);
                }
            }
        }
    }

    /// Posts the error on the bus with the CLI's message and stops the stream.
    fn failed(&self, what: &str, e: &dyn std::fmt::Display) -> gst::FlowError {
        gst::element_imp_error!(self, gst::StreamError::Failed, ("{}: {}", what, e));
        gst::FlowError::Error
    }

    /// Starts or ends the temporal stage as the property says.
    fn set_stage(&self, state: &mut State, on: bool) -> Result<(), gst::FlowError> {
        if !on {
            state.temporal = None;
        } else if state.temporal.is_none() {
            let mut stage = Temporal::new().map_err(|e| self.failed("temporal stage", &e))?;
            // Its blend runs between inferences, while the engine's cores wait, where one frame is in flight; beside
            // the next inference where two are, on one core, as `stylize video` runs it.
            stage.set_threads(if state.ahead.is_some() { 1 } else { stylize::cores() });
            state.temporal = Some(stage);
        }
        Ok(())
    }

    /// Smooths the inference time; true when it moved by more than a fifth since it was last reported (the
    /// pipeline then asks for the latency again).
    fn record(&self, state: &mut State, took: Duration) -> bool {
        state.infer = if state.infer.is_zero() { took } else { (state.infer * 7 + took) / 8 };
        let moved = state.infer.abs_diff(state.reported) * 5 > state.reported.max(Duration::from_millis(1));
        if moved {
            state.reported = state.infer;
        }
        moved
    }

    /// A live stream's frame, stylized in place as it passes.
    fn stylize(&self, frame: &mut VideoFrameRef<&mut gst::BufferRef>) -> Result<bool, gst::FlowError> {
        let settings = lock(&self.settings).clone();
        let mut guard = lock(&self.state);
        let state = guard.as_mut().ok_or(gst::FlowError::NotNegotiated)?;
        self.take_pending(state);
        self.glide(state, settings.style_mix.as_ref());
        pixels::read(frame, state.yuv.as_mut(), &mut state.frame).map_err(|e| self.failed("reading the frame", &e))?;
        let effects = settings.effects();
        if settings.temporal || !effects.is_identity() {
            state.input.resize(state.frame.width, state.frame.height);
            state.input.data.copy_from_slice(&state.frame.data);
        }
        self.set_stage(state, settings.temporal)?;
        // The temporal stage's look at the input (shrinking, flow, trust) runs on a thread of its own beside the
        // inference of the same frame; only its blend waits for the stylized frame.
        let State { engine, frame: styled, input, temporal, .. } = state;
        let t = Instant::now();
        let (stylized, prepared) = prepare_beside(temporal.as_mut(), input, || engine.stylize(styled));
        stylized.map_err(|e| self.failed("stylize", &e))?;
        let moved = self.record(state, t.elapsed());
        prepared.map_err(|e| self.failed("temporal stage", &e))?;
        effects.apply(&state.input, &mut state.frame);
        if let Some(stage) = state.temporal.as_mut() {
            stage.finish(&mut state.frame);
        }
        pixels::write(frame, state.yuv.as_mut(), &state.frame).map_err(|e| self.failed("writing the frame", &e))?;
        Ok(moved)
    }

    /// Not live: when every worker has a frame, waits for the oldest (it becomes the next out); then reads this
    /// frame and sends it to a worker.
    fn submit_ahead(&self, mut buffer: gst::Buffer) -> Result<bool, gst::FlowError> {
        let settings = lock(&self.settings).clone();
        let mut guard = lock(&self.state);
        let state = guard.as_mut().ok_or(gst::FlowError::NotNegotiated)?;
        let mut moved = false;
        if state.ahead.as_ref().is_some_and(Ahead::full) {
            moved = self.wait_oldest(state)?;
        }
        self.take_pending(state);
        self.glide(state, settings.style_mix.as_ref());
        let mut frame = state.spare.pop().unwrap_or_default();
        {
            let info = state.info.as_ref().ok_or(gst::FlowError::NotNegotiated)?;
            let mapped = VideoFrameRef::from_buffer_ref_writable(buffer.make_mut(), info).map_err(|e| self.failed("reading the frame", &e))?;
            pixels::read(&mapped, state.yuv.as_mut(), &mut frame).map_err(|e| self.failed("reading the frame", &e))?;
        }
        // The input is kept for every frame in flight, not only when effects or the temporal stage are on now:
        // they apply when the frame is finished, so a strength or temporal change made while frames are in
        // flight reaches the next frame out (one copy a frame, small beside the inference).
        let mut input = state.spare.pop().unwrap_or_default();
        input.resize(frame.width, frame.height);
        input.data.copy_from_slice(&frame.data);
        let ahead = state.ahead.as_mut().ok_or(gst::FlowError::NotNegotiated)?;
        ahead.send(buffer, frame, input).map_err(|e| self.failed("stylize", &e))?;
        Ok(moved)
    }

    /// Not live: the oldest frame in flight becomes the ready one; true when the latency moved.
    fn wait_oldest(&self, state: &mut State) -> Result<bool, gst::FlowError> {
        let ahead = state.ahead.as_mut().ok_or(gst::FlowError::NotNegotiated)?;
        match ahead.wait().map_err(|e| self.failed("stylize", &e))? {
            Some((inferred, took)) => {
                state.ready = Some(inferred);
                Ok(self.record(state, took))
            }
            None => Ok(false),
        }
    }

    /// Not live: the ready frame finished (effects, the temporal stage) into its buffer, while the workers infer
    /// the next ones; None when no frame is ready.
    fn finish_ahead(&self, state: &mut State, settings: &Settings) -> Result<Option<gst::Buffer>, gst::FlowError> {
        let Some(Inferred { tag: mut buffer, input, mut styled }) = state.ready.take() else { return Ok(None) };
        self.set_stage(state, settings.temporal)?;
        settings.effects().apply(&input, &mut styled);
        if let Some(stage) = state.temporal.as_mut() {
            stage.prepare(&input).map_err(|e| self.failed("temporal stage", &e))?;
            stage.finish(&mut styled);
        }
        {
            let info = state.info.as_ref().ok_or(gst::FlowError::NotNegotiated)?;
            let mut mapped = VideoFrameRef::from_buffer_ref_writable(buffer.make_mut(), info).map_err(|e| self.failed("writing the frame", &e))?;
            pixels::write(&mut mapped, state.yuv.as_mut(), &styled).map_err(|e| self.failed("writing the frame", &e))?;
        }
        // A frame and an input per frame in flight are in use at a time: keep as many for reuse.
        let keep = 2 * state.ahead.as_ref().map_or(1, Ahead::workers) + 2;
        state.spare.push(input);
        state.spare.push(styled);
        state.spare.truncate(keep);
        Ok(Some(buffer))
    }

    /// Not live: the frames still in flight, finished in order (`keep`: an event that must follow them), or
    /// dropped (a flush).
    fn drain(&self, keep: bool) -> Vec<gst::Buffer> {
        let settings = lock(&self.settings).clone();
        let mut guard = lock(&self.state);
        let mut out = Vec::new();
        let Some(state) = guard.as_mut() else { return out };
        while state.ahead.is_some() {
            if state.ready.is_none() {
                match state.ahead.as_mut().map(Ahead::wait) {
                    Some(Ok(Some((inferred, _)))) => state.ready = Some(inferred),
                    Some(Err(e)) if keep => {
                        let _ = self.failed("stylize", &e);
                        break;
                    }
                    _ => break,
                }
            }
            if !keep {
                state.ready = None;
                continue;
            }
            match self.finish_ahead(state, &settings) {
                Ok(Some(buffer)) => out.push(buffer),
                _ => break,
            }
        }
        out
    }
}

#[glib::object_subclass]
impl ObjectSubclass for Stylize {
    const NAME: &'static str = "GstStylize";
    type Type = super::Stylize;
    type ParentType = gst_video::VideoFilter;
}

impl ObjectImpl for Stylize {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecString::builder("model").nick("Model").blurb("A model's name (stylize models) or the path of an .onnx; changeable while playing").default_value(Some(stylize::models::DEFAULT_MODEL)).mutable_playing().build(),
                glib::ParamSpecString::builder("device").nick("Device").blurb("auto, cpu, openvino, cuda or tensorrt, as stylize --device").default_value(Some("auto")).mutable_playing().build(),
                glib::ParamSpecString::builder("precision").nick("Precision").blurb("auto, fp32, fp16, bf16 or int8, as stylize --precision").default_value(Some("auto")).mutable_playing().build(),
                glib::ParamSpecUInt::builder("threads").nick("Threads").blurb("Inference threads (0: every core)").default_value(0).mutable_ready().build(),
                glib::ParamSpecDouble::builder("strength").nick("Strength").blurb("0 = the input, 1 = fully stylized").minimum(0.0).maximum(1.0).default_value(1.0).mutable_playing().build(),
                glib::ParamSpecBoolean::builder("preserve-color").nick("Preserve colour").blurb("Keep the input's colours, take the strokes from the style").default_value(false).mutable_playing().build(),
                glib::ParamSpecString::builder("style-mix").nick("Style mix").blurb("A multi-style model's mix, e.g. candy=0.7,mosaic=0.3 (glides there over half a second)").mutable_playing().build(),
                glib::ParamSpecString::builder("max-memory").nick("Max memory").blurb("Memory a frame may use, e.g. 2G (larger frames run in tiles)").mutable_ready().build(),
                glib::ParamSpecBoolean::builder("temporal").nick("Temporal").blurb("Keep the previous output where the scene stood still (no boiling)").default_value(true).mutable_playing().build(),
                glib::ParamSpecString::builder("info").nick("Info").blurb("Where the model runs and why").read_only().build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let key = {
            let mut s = lock(&self.settings);
            let text = || value.get::<Option<String>>().expect("type checked upstream");
            match pspec.name() {
                "model" => s.key.model = text().unwrap_or_else(|| stylize::models::DEFAULT_MODEL.into()),
                "device" => s.key.device = text().unwrap_or_else(|| "auto".into()),
                "precision" => s.key.precision = text().unwrap_or_else(|| "auto".into()),
                "threads" => s.key.threads = value.get().expect("type checked upstream"),
                "max-memory" => s.key.max_memory = text(),
                "strength" => s.strength = value.get().expect("type checked upstream"),
                "preserve-color" => s.preserve_color = value.get().expect("type checked upstream"),
                "style-mix" => s.style_mix = text(),
                "temporal" => s.temporal = value.get().expect("type checked upstream"),
                _ => unimplemented!("property {}", pspec.name()),
            }
            s.key.clone()
        };
        self.reload_if_needed(&key);
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = lock(&self.settings);
        match pspec.name() {
            "model" => s.key.model.to_value(),
            "device" => s.key.device.to_value(),
            "precision" => s.key.precision.to_value(),
            "threads" => s.key.threads.to_value(),
            "max-memory" => s.key.max_memory.to_value(),
            "strength" => s.strength.to_value(),
            "preserve-color" => s.preserve_color.to_value(),
            "style-mix" => s.style_mix.to_value(),
            "temporal" => s.temporal.to_value(),
            "info" => lock(&self.state).as_ref().map(|st| st.load_line.clone()).to_value(),
            _ => unimplemented!("property {}", pspec.name()),
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        // Late frames in a live pipeline are dropped, not queued (downstream QoS events).
        self.obj().set_qos(true);
    }
}

impl GstObjectImpl for Stylize {}

impl ElementImpl for Stylize {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new("Stylize", "Filter/Effect/Video", "Paints each frame in the style of an artwork (feed-forward style transfer on ONNX Runtime or OpenVINO)", "stylize developers")
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let caps = gst_video::VideoCapsBuilder::new().format_list(FORMATS).build();
            vec![
                gst::PadTemplate::new("src", gst::PadDirection::Src, gst::PadPresence::Always, &caps).expect("valid template"),
                gst::PadTemplate::new("sink", gst::PadDirection::Sink, gst::PadPresence::Always, &caps).expect("valid template"),
            ]
        });
        TEMPLATES.as_ref()
    }
}

impl BaseTransformImpl for Stylize {
    const MODE: gst_base::subclass::BaseTransformMode = gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let key = lock(&self.settings).key.clone();
        let engine = load(&key).map_err(|e| gst::error_msg!(gst::LibraryError::Settings, ("{}", e)))?;
        gst::info!(CAT, imp = self, "{}", engine.load_line());
        *lock(&self.state) = Some(State {
            load_line: engine.load_line(),
            engine,
            key,
            frame: Frame::default(),
            input: Frame::default(),
            temporal: None,
            glide: None,
            mix_text: None,
            yuv: None,
            frame_seconds: 1.0 / 30.0,
            infer: Duration::ZERO,
            reported: Duration::ZERO,
            info: None,
            ahead: None,
            ready: None,
            spare: Vec::new(),
        });
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *lock(&self.state) = None;
        *lock(&self.pending) = None;
        Ok(())
    }

    fn query(&self, direction: gst::PadDirection, query: &mut gst::QueryRef) -> bool {
        if direction == gst::PadDirection::Src {
            if let gst::QueryViewMut::Latency(q) = query.view_mut() {
                let mut upstream = gst::query::Latency::new();
                if !self.obj().sink_pad().peer_query(&mut upstream) {
                    return false;
                }
                let (live, min, max) = upstream.result();
                // One frame in flight: what we add is one inference.
                let ours = self.latency();
                q.set(live, min + ours, max.map(|m| m + ours));
                return true;
            }
        }
        BaseTransformImplExt::parent_query(self, direction, query)
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        // Frames in flight go on before any event ordered with them (EOS, new caps, a segment); a flush drops them.
        if event.type_() == gst::EventType::FlushStop {
            self.drain(false);
        } else if event.is_serialized() {
            for buffer in self.drain(true) {
                if self.obj().src_pad().push(buffer).is_err() {
                    break;
                }
            }
        }
        self.parent_sink_event(event)
    }

    fn submit_input_buffer(&self, is_discont: bool, inbuf: gst::Buffer) -> Result<gst::FlowSuccess, gst::FlowError> {
        let ahead = lock(&self.state).as_ref().is_some_and(|s| s.ahead.is_some());
        if !ahead {
            return self.parent_submit_input_buffer(is_discont, inbuf);
        }
        if self.submit_ahead(inbuf)? {
            let _ = self.obj().post_message(gst::message::Latency::builder().src(&*self.obj()).build());
        }
        Ok(gst::FlowSuccess::Ok)
    }

    fn generate_output(&self) -> Result<GenerateOutputSuccess, gst::FlowError> {
        let settings = lock(&self.settings).clone();
        let mut guard = lock(&self.state);
        match guard.as_mut() {
            Some(state) if state.ahead.is_some() => Ok(match self.finish_ahead(state, &settings)? {
                Some(buffer) => GenerateOutputSuccess::Buffer(buffer),
                None => GenerateOutputSuccess::NoOutput,
            }),
            _ => {
                drop(guard);
                self.parent_generate_output()
            }
        }
    }
}

impl VideoFilterImpl for Stylize {
    fn set_info(&self, incaps: &gst::Caps, in_info: &VideoInfo, outcaps: &gst::Caps, out_info: &VideoInfo) -> Result<(), gst::LoggableError> {
        // A live source gets one frame in flight (the least latency), anything else several (the most frames a
        // second).
        let mut upstream = gst::query::Latency::new();
        let live = self.obj().sink_pad().peer_query(&mut upstream) && upstream.result().0;
        let mut guard = lock(&self.state);
        let state = guard.as_mut().ok_or_else(|| gst::loggable_error!(CAT, "caps before start"))?;
        state.yuv = match in_info.format() {
            VideoFormat::I420 => Some(Yuv::new(in_info).map_err(|e| gst::loggable_error!(CAT, "I420 converter: {}", e))?),
            _ => None,
        };
        let fps = in_info.fps();
        state.frame_seconds = if fps.numer() > 0 { f64::from(fps.denom()) / f64::from(fps.numer()) } else { 1.0 / 30.0 };
        state.temporal = None;
        let (w, h) = (in_info.width() as usize, in_info.height() as usize);
        state.frame = Frame::new(w, h);
        state.info = Some(in_info.clone());
        // (Frames of the caps before were sent on before the caps event: see sink_event.)
        state.ahead = None;
        state.ready = None;
        if live {
            // A first run at this size: compiles the network for it (OpenVINO) and measures the latency reported.
            let t = Instant::now();
            if let Err(e) = state.engine.stylize(&mut state.frame) {
                gst::element_imp_error!(self, gst::StreamError::Failed, ("stylize: {}", e));
                return Err(gst::loggable_error!(CAT, "{}", e));
            }
            state.infer = t.elapsed();
            state.reported = state.infer;
        } else {
            // Latency does not matter here; the workers' engines compile for the size on their first frame.
            let key = lock(&self.settings).key.clone();
            let stylizers = load_stylizers(&key).map_err(|e| gst::loggable_error!(CAT, "{}", e))?;
            state.ahead = Some(Ahead::new(stylizers).map_err(|e| gst::loggable_error!(CAT, "inference threads: {}", e))?);
        }
        let in_flight = state.ahead.as_ref().map_or(1, |a| a.workers() + 1);
        gst::info!(CAT, imp = self, "{} frames in flight ({})", in_flight, if live { "a live source" } else { "not a live source" });
        drop(guard);
        let _ = self.obj().post_message(gst::message::Latency::builder().src(&*self.obj()).build());
        self.parent_set_info(incaps, in_info, outcaps, out_info)
    }

    fn transform_frame_ip(&self, frame: &mut VideoFrameRef<&mut gst::BufferRef>) -> Result<gst::FlowSuccess, gst::FlowError> {
        if self.stylize(frame)? {
            let _ = self.obj().post_message(gst::message::Latency::builder().src(&*self.obj()).build());
        }
        Ok(gst::FlowSuccess::Ok)
    }
}
