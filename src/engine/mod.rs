//! The inference engine: one ONNX model in one ONNX Runtime session, frames in, stylized frames out.
//!
//! It finds the ONNX Runtime library, picks the execution provider (`auto` tries TensorRT, then CUDA, then
//! the CPU, OpenVINO's first where [`EngineOptions::auto_cpu`] says so, and says why it skipped the others), checks the model against the contract in `onnx/README.md`, and
//! keeps its input/output tensors across frames of the same size (bound once through an `IoBinding`), so the
//! hot loop only converts pixels and runs the graph.
//!
//! `--device openvino` runs the same wrapped graph on OpenVINO instead ([`ov`]); padding, resizing and styles
//! stay here, so the pipeline does not care which runtime runs.
//!
//! Frames reach the graph in one of two ways ([`FrameIo`]): as uint8 NHWC RGB, the frame's own bytes, into a
//! graph that the engine wraps at load time (`stylize_model::wrap`: cast, scale and transpose in, clamp, round,
//! cast and transpose out, optionally float16 inside), or as float32 NCHW converted on the host.

//!
//! One file per job: [`options`] (what callers choose), `load` (the device and why), `library` (finding ONNX
//! Runtime), `contract` (what a model must be, [`ModelInfo`]), `onnxruntime` and [`ov`] (the two backends),
//! [`int8`] (which file under `--precision auto|int8`), `budget` and [`tile`] (frames too large for memory), `pixels` (padding, layout, resizing). This file is the
//! [`Engine`] that callers use.

use fast_image_resize as fir;
use stylize_model::onnx::STYLE_WEIGHTS;
use stylize_model::wrap::WrapInfo;
use ort::value::Tensor;

use crate::error::{Error, Result};
use crate::frame::Frame;

mod budget;
mod contract;
pub mod int8;
mod library;
mod load;
mod onnxruntime;
pub mod options;
pub mod ov;
mod pixels;
pub mod tile;

pub use contract::ModelInfo;
pub use library::{ort_environment, ort_library_candidates, ort_version, provider_status};
pub use options::*;
pub use ov::OvTarget;
pub use pixels::resize_into;
use budget::Tiling;
use contract::{first_line, invalid};
use library::bundled_candidates;
use onnxruntime::OrtRun;
use pixels::pad_side;

/// Frames resized to and from a fixed-size model's input.
struct FixedSize {
    resizer: fir::Resizer,
    model_frame: Frame,
    styled: Frame,
}

/// The runtime under an engine; everything around it (padding, resizing, styles) is the engine's.
enum Backend {
    Ort(Box<OrtRun>),
    OpenVino(ov::OvSession),
}

pub struct Engine {
    backend: Backend,
    info: ModelInfo,
    /// `info.pad_rule()`: padded sides are multiples of `.0`, at least `.1`.
    pad: (usize, usize),
    device: Device,
    device_notes: Vec<String>,
    fixed: Option<FixedSize>,
    process_scale: Option<f32>,
    /// [`ModelInfo::style_names`], read once at load (live mode asks every frame while a mix glides).
    styles: Vec<String>,
    /// `U8` or `F32`, as resolved for the device.
    io: FrameIo,
    precision: Precision,
    /// What the graph wrap did (uint8 path only).
    wrap: Option<WrapInfo>,
    /// Why `FrameIo::Auto` kept float32 frames, if it had to.
    io_note: Option<String>,
    /// What `io_line` adds on OpenVINO: why this precision, and the runtime.
    backend_note: Option<String>,
    /// Why `--device auto` chose OpenVINO's CPU ([`ov::auto_prefers`]), for the load and io lines.
    auto_why: Option<&'static str>,
    /// `EngineOptions::threads`.
    threads: Option<usize>,
    /// Frames too large for the memory budget: when and how they run in tiles.
    tiling: Tiling,
}

impl Engine {
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// The execution provider in use.
    pub fn device(&self) -> Device {
        self.device
    }

    /// How many CPU cores a run keeps busy: the intra-op threads on the CPU, none on a GPU.
    pub fn cpu_threads(&self) -> usize {
        match self.device.on_cpu() {
            true => self.threads.unwrap_or_else(crate::cores),
            false => 0,
        }
    }

    /// `model PATH on DEVICE (skipped ...)`: what `--device auto` picked and why.
    pub fn load_line(&self) -> String {
        let mut why = Vec::new();
        if let Some(chosen) = self.auto_why {
            why.push(format!("{}; auto: {chosen}", self.precision.name()));
        }
        if !self.device_notes.is_empty() {
            why.push(format!("skipped {}", self.device_notes.join("; ")));
        }
        let why = if why.is_empty() { String::new() } else { format!(" ({})", why.join("; ")) };
        format!("model {} on {}{why}", self.info.path.display(), self.device().name())
    }

    /// Why faster providers were skipped under `--device auto` (one line each).
    pub fn device_notes(&self) -> &[String] {
        &self.device_notes
    }

    /// The frame path in use: [`FrameIo::U8`] (graph-wrapped) or [`FrameIo::F32`].
    pub fn frame_io(&self) -> FrameIo {
        self.io
    }

    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// What the graph wrap did, on the uint8 path.
    pub fn wrap_info(&self) -> Option<&WrapInfo> {
        self.wrap.as_ref()
    }

    /// One line for `stylize info` and `bench`: which frame path and precision are in use.
    pub fn io_line(&self) -> String {
        let phase_convs = self.wrap.as_ref().map_or(0, |w| w.phase_convs);
        let path = match self.io {
            FrameIo::U8 if phase_convs > 0 => format!("uint8 frames (graph-wrapped; {phase_convs} convs on 2x2 phases)"),
            FrameIo::U8 => "uint8 frames (graph-wrapped)".to_string(),
            _ => match &self.io_note {
                Some(why) => format!("float32 planar frames, converted on the host (the graph could not be wrapped: {why})"),
                None => "float32 planar frames, converted on the host".to_string(),
            },
        };
        let note = self.backend_note.as_deref().unwrap_or_default();
        let auto = self.auto_why.map(|why| format!(" (auto: {why})")).unwrap_or_default();
        format!("io: {path}, precision {}{note}{auto}", self.precision.name())
    }

    /// Sets a named extra input (e.g. `style_weights`), kept for every following frame.
    pub fn set_extra_input(&mut self, name: &str, values: &[f32]) -> Result<()> {
        let Some((_, shape)) = self.info.extra_inputs.iter().find(|(n, _)| n == name) else {
            let known: Vec<&str> = self.info.extra_inputs.iter().map(|(n, _)| n.as_str()).collect();
            return Err(Error::Invalid(format!("model has no input {name:?} (extra inputs: {known:?})")));
        };
        let want: i64 = shape.iter().map(|&d| d.max(1)).product();
        if want != values.len() as i64 && !shape.iter().any(|&d| d < 0) {
            return Err(Error::Invalid(format!("input {name:?} takes {want} values, got {}", values.len())));
        }
        self.tiling.extras.retain(|(n, _)| n != name);
        self.tiling.extras.push((name.to_string(), values.to_vec()));
        let ort = match &mut self.backend {
            Backend::OpenVino(ov) => return ov.set_extra(name, values),
            Backend::Ort(ort) => ort,
        };
        // Same length as before: write into the bound tensor (no allocation per frame) and bind it again,
        // because a GPU session copies host inputs when they are bound.
        if let Some((_, t)) = ort.extras.iter_mut().find(|(n, t)| n == name && t.shape().iter().product::<i64>() == values.len() as i64) {
            let (_, data) = t.try_extract_tensor_mut::<f32>().map_err(|e| Error::Invalid(e.to_string()))?;
            data.copy_from_slice(values);
            return ort.binding.bind_input(name, t).map_err(|e| Error::Invalid(format!("binding {name}: {e}")));
        }
        let dims: Vec<usize> = if shape.iter().any(|&d| d < 0) { vec![values.len()] } else { shape.iter().map(|&d| d as usize).collect() };
        let tensor = Tensor::from_array((dims, values.to_vec())).map_err(|e| invalid(&self.info.path, e))?;
        ort.binding.bind_input(name, &tensor).map_err(|e| invalid(&self.info.path, e))?;
        ort.extras.retain(|(n, _)| n != name);
        ort.extras.push((name.to_string(), tensor));
        Ok(())
    }

    /// The styles of a multi-style model, in `style_weights` order; empty for a one-style model.
    pub fn style_names(&self) -> &[String] {
        &self.styles
    }

    /// Parses a `--style-mix` (`candy=0.7,mosaic=0.3`) against this model's styles.
    pub fn parse_style_mix(&self, text: &str) -> Result<Vec<f32>> {
        if self.styles.is_empty() {
            return Err(self.one_style_error());
        }
        crate::styles::parse_mix(text, &self.styles)
    }

    /// Sets the mix of a multi-style model's styles (one weight per style, summing to 1).
    pub fn set_style_mix(&mut self, mix: &[f32]) -> Result<()> {
        if self.styles.is_empty() {
            return Err(self.one_style_error());
        }
        self.set_extra_input(STYLE_WEIGHTS, mix)
    }

    fn one_style_error(&self) -> Error {
        let name = self.info.path.file_stem().unwrap_or_default().to_string_lossy();
        Error::Invalid(format!("--style-mix: {name} has one style; mixes need a multi-style model (e.g. styles4-lite)"))
    }

    /// How the last frame was cut (`tiled 8000x6000 into 12 tiles ...`); None if it ran whole.
    pub fn tiling_note(&self) -> Option<String> {
        self.tiling.last.as_ref().map(|l| l.describe())
    }

    /// The last frame's tile layout, if it was tiled.
    pub fn last_tiling(&self) -> Option<&tile::TileLayout> {
        self.tiling.last.as_ref()
    }

    /// Extra inputs get a neutral default (an even mix for weights) so a plain `stylize image` runs them.
    fn bind_default_extras(&mut self) -> Result<()> {
        for (name, shape) in self.info.extra_inputs.clone() {
            let n = shape.iter().map(|&d| d.max(1)).product::<i64>().max(1) as usize;
            self.set_extra_input(&name, &vec![1.0 / n as f32; n])?;
        }
        Ok(())
    }

    /// Stylizes `frame` in place.
    pub fn stylize(&mut self, frame: &mut Frame) -> Result<()> {
        match (self.info.fixed_size, self.process_scale) {
            (Some((h, w)), _) => self.run_resized(frame, h, w),
            (None, Some(s)) => {
                let scaled = |n: usize| ((n as f32 * s).round() as usize).max(1);
                self.run_resized(frame, scaled(frame.height), scaled(frame.width))
            }
            (None, None) => self.run_padded(frame),
        }
    }

    /// Runs the network on the frame resized to `w` x `h` and resizes the result back.
    fn run_resized(&mut self, frame: &mut Frame, h: usize, w: usize) -> Result<()> {
        let mut fixed = self.fixed.take().unwrap_or_else(|| FixedSize { resizer: fir::Resizer::new(), model_frame: Frame::new(w, h), styled: Frame::new(0, 0) });
        fixed.model_frame.resize(w, h);
        let result = (|| {
            resize_into(&mut fixed.resizer, frame, &mut fixed.model_frame)?;
            self.run_padded(&mut fixed.model_frame)?;
            fixed.styled.resize(frame.width, frame.height);
            resize_into(&mut fixed.resizer, &fixed.model_frame, &mut fixed.styled)?;
            frame.data.copy_from_slice(&fixed.styled.data);
            Ok(())
        })();
        self.fixed = Some(fixed);
        result
    }

    fn run_padded(&mut self, frame: &mut Frame) -> Result<()> {
        let (h, w) = (frame.height, frame.width);
        if h == 0 || w == 0 {
            return Err(Error::Invalid("empty frame (0 pixels)".into()));
        }
        let ph = pad_side(h, self.pad);
        let pw = pad_side(w, self.pad);
        if let Some(layout) = self.tile_layout(ph, pw, frame.data.len())? {
            return self.run_tiled(frame, &layout);
        }
        self.tiling.last = None;
        let ort = match &mut self.backend {
            Backend::OpenVino(ov) => return ov.run(frame, ph, pw),
            Backend::Ort(ort) => ort,
        };
        match self.io {
            FrameIo::U8 => ort.run_frames(frame, ph, pw, self.device, &self.info.path),
            _ => ort.run_floats(frame, ph, pw, self.device, &self.info),
        }
    }
}
