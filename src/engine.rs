//! The inference engine: one ONNX model in one ONNX Runtime session, frames in, stylized frames out.
//!
//! It finds the ONNX Runtime library, picks the execution provider (`auto` tries TensorRT, then CUDA, then
//! CPU and says why it skipped the others), checks the model against the contract in `onnx/README.md`, and
//! keeps its input/output tensors across frames of the same size (bound once through an `IoBinding`), so the
//! hot loop only converts pixels and runs the graph.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use fast_image_resize as fir;
use ort::ep::{self, ExecutionProvider};
use ort::session::{builder::GraphOptimizationLevel, IoBinding, Session};
use ort::value::Tensor;

use crate::error::{Error, Result};
use crate::frame::Frame;

/// Where the network runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Device {
    /// TensorRT, then CUDA, then CPU: the first that works.
    #[default]
    Auto,
    Cpu,
    Cuda,
    TensorRt,
}

impl Device {
    pub fn name(self) -> &'static str {
        match self {
            Device::Auto => "auto",
            Device::Cpu => "cpu",
            Device::Cuda => "cuda",
            Device::TensorRt => "tensorrt",
        }
    }
}

impl std::str::FromStr for Device {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Device::Auto),
            "cpu" => Ok(Device::Cpu),
            "cuda" | "gpu" => Ok(Device::Cuda),
            "tensorrt" | "trt" => Ok(Device::TensorRt),
            _ => Err(format!("unknown device {s:?}: use auto, cpu, cuda or tensorrt")),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct EngineOptions {
    pub device: Device,
    /// Intra-op threads; `None` lets ONNX Runtime use every core.
    pub threads: Option<usize>,
    /// Explicit path of `libonnxruntime.so`.
    pub ort_lib: Option<PathBuf>,
    /// TensorRT engine cache (so the second start is fast).
    pub trt_cache: Option<PathBuf>,
}

/// What the engine learned about a model from its graph and metadata.
#[derive(Clone, Debug)]
pub struct ModelInfo {
    pub path: PathBuf,
    pub input: String,
    pub output: String,
    /// The pixel value that means white: 255 for `0-255` models, 1 for `0-1`.
    pub range_max: f32,
    /// Height and width when the model's input size is fixed (e.g. ONNX model zoo nets at 224x224).
    pub fixed_size: Option<(usize, usize)>,
    /// Inputs besides the image (e.g. `style_weights` of a multi-style net), with their shapes.
    pub extra_inputs: Vec<(String, Vec<i64>)>,
    pub metadata: Vec<(String, String)>,
}

impl ModelInfo {
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// How frames of another size are fed to this model, in words (`stylize info` prints it).
    pub fn size_policy(&self) -> String {
        match self.fixed_size {
            Some((h, w)) => format!("fixed input {w}x{h}: each frame is resized to it and the result back to the frame size"),
            None => format!("any size: frames are padded to a multiple of {SIZE_MULTIPLE} (at least {MIN_SIDE} px) and cropped back"),
        }
    }
}

/// Johnson nets halve the size twice and double it twice: sides that are multiples of 4 come back unchanged.
const SIZE_MULTIPLE: usize = 4;
/// Reflection padding needs sides larger than the pad (4 for 9x9 kernels), also after both downsamplings.
const MIN_SIDE: usize = 32;

static ORT_ENV: OnceLock<std::result::Result<(ort::environment::Environment, PathBuf), String>> = OnceLock::new();

/// Candidate places for `libonnxruntime.so`, in the order they are tried.
pub fn ort_library_candidates(explicit: Option<&Path>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = explicit {
        out.push(p.to_path_buf());
        return out;
    }
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        out.push(PathBuf::from(p));
    }
    let rel = Path::new(".deps/onnxruntime/lib");
    if let Ok(exe) = std::env::current_exe() {
        // beside the executable, and the checkout's .deps/ when run from target/{debug,release}/
        for dir in exe.ancestors().skip(1).take(4) {
            out.push(dir.join("libonnxruntime.so"));
            out.push(dir.join(rel));
        }
    }
    out.push(rel.to_path_buf());
    out
}

/// Resolves a candidate (file or folder) to a library file.
fn library_file(candidate: &Path) -> Option<PathBuf> {
    if candidate.is_file() {
        return Some(candidate.to_path_buf());
    }
    let entries = std::fs::read_dir(candidate).ok()?;
    let mut libs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("libonnxruntime.so")))
        .collect();
    libs.sort();
    libs.pop()
}

/// Loads ONNX Runtime once per process; returns the library path it used.
pub fn ort_environment(explicit: Option<&Path>) -> Result<(ort::environment::Environment, PathBuf)> {
    let init = ORT_ENV.get_or_init(|| {
        let candidates = ort_library_candidates(explicit);
        let Some(path) = candidates.iter().find_map(|c| library_file(c)) else {
            let searched = candidates.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
            return Err(Error::OrtLibraryMissing { searched }.to_string());
        };
        let load = |path: &Path| -> std::result::Result<ort::environment::Environment, String> {
            let builder = ort::init_from(path).map_err(|e| e.to_string())?;
            builder.with_name("stylize").build().map_err(|e| e.to_string())
        };
        load(&path)
            .map(|env| (env, path.clone()))
            .map_err(|reason| Error::OrtLibraryLoad { path, reason }.to_string())
    });
    init.clone().map_err(Error::Invalid)
}

/// Whether this ONNX Runtime build has an execution provider at all (before any model is loaded).
pub fn provider_status() -> Vec<(&'static str, std::result::Result<(), String>)> {
    let check = |available: ort::Result<bool>, what: &str| match available {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!("this ONNX Runtime build has no {what} support (scripts/setup.sh --gpu installs one that has)")),
        Err(e) => Err(e.to_string()),
    };
    vec![
        ("tensorrt", check(ep::TensorRT::is_available(), "TensorRT")),
        ("cuda", check(ep::CUDA::is_available(), "CUDA")),
        ("cpu", Ok(())),
    ]
}

/// Pre-allocated tensors for one padded frame size.
struct Buffers {
    height: usize,
    width: usize,
    input: Tensor<f32>,
    /// Bound once the first run has told us the output's shape; kept alive here, read through the run's outputs.
    output: Option<Tensor<f32>>,
}

/// Frames resized to and from a fixed-size model's input.
struct FixedSize {
    resizer: fir::Resizer,
    model_frame: Frame,
    styled: Frame,
}

pub struct Engine {
    session: Session,
    binding: IoBinding,
    info: ModelInfo,
    device: Device,
    device_notes: Vec<String>,
    buffers: Option<Buffers>,
    fixed: Option<FixedSize>,
    /// Extra named inputs stay alive while bound.
    extras: Vec<Tensor<f32>>,
}

impl Engine {
    pub fn load(model: &Path, opts: &EngineOptions) -> Result<Engine> {
        if !model.is_file() {
            return Err(Error::ModelMissing { path: model.to_path_buf() });
        }
        let bytes = std::fs::read(model).map_err(|e| Error::InputUnreadable { path: model.to_path_buf(), reason: e.to_string() })?;
        let (env, _) = ort_environment(opts.ort_lib.as_deref())?;

        let order: &[Device] = match opts.device {
            Device::Auto => &[Device::TensorRt, Device::Cuda, Device::Cpu],
            d => std::slice::from_ref(match d {
                Device::Cpu => &Device::Cpu,
                Device::Cuda => &Device::Cuda,
                _ => &Device::TensorRt,
            }),
        };
        let mut notes = Vec::new();
        for &device in order {
            match build_session(&env, &bytes, device, opts) {
                Ok(session) => {
                    let info = inspect(&session, model)?;
                    let binding = session.create_binding().map_err(|e| invalid(model, e))?;
                    let mut engine = Engine { session, binding, info, device, device_notes: notes, buffers: None, fixed: None, extras: Vec::new() };
                    engine.bind_default_extras()?;
                    return Ok(engine);
                }
                Err(SessionError::Device(reason)) if opts.device == Device::Auto => notes.push(format!("{}: {reason}", device.name())),
                Err(SessionError::Device(reason)) => {
                    let hint = if device == Device::Cpu { "" } else { ", or run scripts/setup.sh --gpu" };
                    return Err(Error::DeviceUnavailable { wanted: device.name().into(), reason, hint });
                }
                Err(SessionError::Model(reason)) => return Err(Error::ModelInvalid { path: model.to_path_buf(), reason }),
            }
        }
        unreachable!("the CPU provider is always tried last")
    }

    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// The execution provider in use.
    pub fn device(&self) -> Device {
        self.device
    }

    /// Why faster providers were skipped under `--device auto` (one line each).
    pub fn device_notes(&self) -> &[String] {
        &self.device_notes
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
        let dims: Vec<usize> = if shape.iter().any(|&d| d < 0) { vec![values.len()] } else { shape.iter().map(|&d| d as usize).collect() };
        let tensor = Tensor::from_array((dims, values.to_vec())).map_err(|e| self.model_err(e))?;
        self.binding.bind_input(name, &tensor).map_err(|e| self.model_err(e))?;
        self.extras.push(tensor);
        Ok(())
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
        match self.info.fixed_size {
            None => self.run_padded(frame),
            Some((h, w)) => self.run_fixed(frame, h, w),
        }
    }

    fn run_fixed(&mut self, frame: &mut Frame, h: usize, w: usize) -> Result<()> {
        let mut fixed = self.fixed.take().unwrap_or_else(|| FixedSize { resizer: fir::Resizer::new(), model_frame: Frame::new(w, h), styled: Frame::new(0, 0) });
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
        let ph = pad_side(h);
        let pw = pad_side(w);
        if self.buffers.as_ref().is_none_or(|b| b.height != ph || b.width != pw) {
            let input = Tensor::<f32>::new(&ort::memory::Allocator::default(), [1usize, 3, ph, pw]).map_err(|e| self.infer_err(w, h, e))?;
            self.binding.bind_input(self.info.input.clone(), &input).map_err(|e| self.infer_err(w, h, e))?;
            let cpu = self.session.allocator().memory_info().clone();
            self.binding.bind_output_to_device(self.info.output.clone(), &cpu).map_err(|e| self.infer_err(w, h, e))?;
            self.buffers = Some(Buffers { height: ph, width: pw, input, output: None });
        }
        let scale = self.info.range_max / 255.0;
        let buffers = self.buffers.as_mut().expect("buffers set above");
        {
            let (_, data) = buffers.input.try_extract_tensor_mut::<f32>().map_err(|e| Error::Invalid(e.to_string()))?;
            rgb_to_planar(frame, data, ph, pw, scale);
        }
        let outputs = self.session.run_binding(&self.binding).map_err(|e| Error::Inference {
            width: w,
            height: h,
            reason: first_line(&e.to_string()),
            hint: if self.device == Device::Cpu { "" } else { " (too large for GPU memory? try --scale 0.5)" },
        })?;
        let unscale = 255.0 / self.info.range_max;
        let first_run = self.buffers.as_ref().is_some_and(|b| b.output.is_none());
        // The run's outputs hold the bound output tensor too, once it is bound.
        let (shape, data) = outputs[self.info.output.as_str()].try_extract_tensor::<f32>().map_err(|e| Error::Invalid(e.to_string()))?;
        let out_dims: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
        check_output(&out_dims, h, w, &self.info.path)?;
        planar_to_rgb(data, out_dims[2], out_dims[3], frame, unscale);
        drop(outputs);
        if first_run {
            // Now that the output shape is known, give ONNX Runtime a buffer to write every following frame into.
            let mut out = Tensor::<f32>::new(&ort::memory::Allocator::default(), out_dims.clone()).map_err(|e| self.infer_err(w, h, e))?;
            self.binding.bind_output(self.info.output.clone(), &mut out).map_err(|e| self.infer_err(w, h, e))?;
            self.buffers.as_mut().expect("buffers set above").output = Some(out);
        }
        Ok(())
    }

    fn infer_err(&self, width: usize, height: usize, e: impl ToString) -> Error {
        Error::Inference { width, height, reason: first_line(&e.to_string()), hint: "" }
    }

    fn model_err(&self, e: impl ToString) -> Error {
        Error::ModelInvalid { path: self.info.path.clone(), reason: first_line(&e.to_string()) }
    }
}

fn check_output(dims: &[usize], h: usize, w: usize, path: &Path) -> Result<()> {
    if dims.len() != 4 || dims[1] != 3 || dims[2] < h || dims[3] < w {
        return Err(Error::ModelContract { path: path.to_path_buf(), reason: format!("output shape {dims:?} is not 1x3xHxW covering the {w}x{h} input") });
    }
    Ok(())
}

fn pad_side(n: usize) -> usize {
    n.max(MIN_SIDE).div_ceil(SIZE_MULTIPLE) * SIZE_MULTIPLE
}

/// Packed RGB u8 -> planar float (NCHW) scaled to the model's range; the padding repeats the last row/column.
fn rgb_to_planar(frame: &Frame, dst: &mut [f32], ph: usize, pw: usize, scale: f32) {
    let (h, w) = (frame.height, frame.width);
    let plane = ph * pw;
    let (r, rest) = dst.split_at_mut(plane);
    let (g, b) = rest.split_at_mut(plane);
    for y in 0..ph {
        let src = &frame.data[y.min(h - 1) * w * 3..][..w * 3];
        let row = y * pw;
        let (rr, gg, bb) = (&mut r[row..row + pw], &mut g[row..row + pw], &mut b[row..row + pw]);
        for (x, px) in src.chunks_exact(3).enumerate() {
            rr[x] = px[0] as f32 * scale;
            gg[x] = px[1] as f32 * scale;
            bb[x] = px[2] as f32 * scale;
        }
        for x in w..pw {
            rr[x] = rr[w - 1];
            gg[x] = gg[w - 1];
            bb[x] = bb[w - 1];
        }
    }
}

/// Planar float -> packed RGB u8, cropping to the frame's size, clamped and rounded.
fn planar_to_rgb(src: &[f32], oh: usize, ow: usize, frame: &mut Frame, unscale: f32) {
    let plane = oh * ow;
    let w = frame.width;
    let to_u8 = |v: f32| (v * unscale).clamp(0.0, 255.0).round() as u8;
    for (y, dst) in frame.data.chunks_exact_mut(w * 3).enumerate() {
        let row = y * ow;
        let (r, g, b) = (&src[row..row + w], &src[plane + row..plane + row + w], &src[2 * plane + row..2 * plane + row + w]);
        for (x, px) in dst.chunks_exact_mut(3).enumerate() {
            px[0] = to_u8(r[x]);
            px[1] = to_u8(g[x]);
            px[2] = to_u8(b[x]);
        }
    }
}

/// Bilinear resize between frames (fast_image_resize, SIMD).
pub fn resize_into(resizer: &mut fir::Resizer, src: &Frame, dst: &mut Frame) -> Result<()> {
    let err = |e: &dyn std::fmt::Display| Error::Invalid(format!("resize failed: {e}"));
    let src_img = fir::images::ImageRef::new(src.width as u32, src.height as u32, &src.data, fir::PixelType::U8x3).map_err(|e| err(&e))?;
    let mut dst_img = fir::images::Image::from_slice_u8(dst.width as u32, dst.height as u32, &mut dst.data, fir::PixelType::U8x3).map_err(|e| err(&e))?;
    let options = fir::ResizeOptions::new().resize_alg(fir::ResizeAlg::Convolution(fir::FilterType::Bilinear));
    resizer.resize(&src_img, &mut dst_img, &options).map_err(|e| err(&e))
}

enum SessionError {
    /// The execution provider could not be used (missing library, no GPU, ...).
    Device(String),
    /// ONNX Runtime rejected the model itself.
    Model(String),
}

fn build_session(env: &ort::environment::Environment, bytes: &[u8], device: Device, opts: &EngineOptions) -> std::result::Result<Session, SessionError> {
    let model_err = |e: &dyn std::fmt::Display| SessionError::Model(first_line(&e.to_string()));
    let mut builder = Session::builder(env).map_err(|e| model_err(&e))?;
    builder = builder.with_optimization_level(GraphOptimizationLevel::All).map_err(|e| model_err(&e))?;
    if let Some(n) = opts.threads {
        builder = builder.with_intra_threads(n.max(1)).map_err(|e| model_err(&e))?;
    }
    let dispatch = match device {
        Device::Cpu | Device::Auto => None,
        Device::Cuda => {
            if !ep::CUDA::is_available().unwrap_or(false) {
                return Err(SessionError::Device("this ONNX Runtime build has no CUDA provider".into()));
            }
            Some(ep::CUDA::default().build().error_on_failure())
        }
        Device::TensorRt => {
            if !ep::TensorRT::is_available().unwrap_or(false) {
                return Err(SessionError::Device("this ONNX Runtime build has no TensorRT provider".into()));
            }
            let cache = opts.trt_cache.clone().unwrap_or_else(|| std::env::temp_dir().join("stylize-trt-cache"));
            Some(ep::TensorRT::default().with_fp16(true).with_engine_cache(true).with_engine_cache_path(cache.display()).build().error_on_failure())
        }
    };
    if let Some(ep) = dispatch {
        ep.register(&mut builder).map_err(|e| SessionError::Device(first_line(&e.to_string())))?;
        // Providers may only find a missing library (libnvinfer, libcudnn) when the session is built.
        return builder.commit_from_memory(bytes).map_err(|e| SessionError::Device(first_line(&e.to_string())));
    }
    builder.commit_from_memory(bytes).map_err(|e| model_err(&e))
}

fn invalid(path: &Path, e: impl ToString) -> Error {
    Error::ModelInvalid { path: path.to_path_buf(), reason: first_line(&e.to_string()) }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_string()
}

/// Checks the model against the contract and reads its metadata.
fn inspect(session: &Session, path: &Path) -> Result<ModelInfo> {
    let contract = |reason: String| Error::ModelContract { path: path.to_path_buf(), reason };
    let image_input = session
        .inputs()
        .iter()
        .find(|i| i.name() == "input")
        .or_else(|| session.inputs().iter().find(|i| i.dtype().tensor_shape().is_some_and(|s| s.len() == 4)))
        .ok_or_else(|| contract("no 4-D image input (expected `input`, float32 1x3xHxW)".into()))?;
    let shape: Vec<i64> = image_input.dtype().tensor_shape().map(|s| s.to_vec()).unwrap_or_default();
    if shape.len() != 4 {
        return Err(contract(format!("input {:?} has rank {}, expected 4 (1x3xHxW)", image_input.name(), shape.len())));
    }
    if shape[1] >= 0 && shape[1] != 3 {
        return Err(contract(format!("input {:?} has {} channels, expected 3 (RGB)", image_input.name(), shape[1])));
    }
    if image_input.dtype().tensor_type() != Some(ort::value::TensorElementType::Float32) {
        return Err(contract(format!("input {:?} is not float32", image_input.name())));
    }
    let output = session
        .outputs()
        .iter()
        .find(|o| o.name() == "output")
        .or_else(|| session.outputs().first())
        .ok_or_else(|| contract("the model has no output".into()))?;
    let out_shape: Vec<i64> = output.dtype().tensor_shape().map(|s| s.to_vec()).unwrap_or_default();
    if out_shape.len() != 4 || (out_shape[1] >= 0 && out_shape[1] != 3) {
        return Err(contract(format!("output {:?} has shape {out_shape:?}, expected 1x3xHxW", output.name())));
    }
    let fixed_size = (shape[2] > 0 && shape[3] > 0).then_some((shape[2] as usize, shape[3] as usize));
    let extra_inputs = session
        .inputs()
        .iter()
        .filter(|i| i.name() != image_input.name())
        .map(|i| (i.name().to_string(), i.dtype().tensor_shape().map(|s| s.to_vec()).unwrap_or_default()))
        .collect();
    let mut metadata = Vec::new();
    if let Ok(meta) = session.metadata() {
        for key in meta.custom_keys().unwrap_or_default() {
            if let Some(v) = meta.custom(&key) {
                metadata.push((key, v));
            }
        }
    }
    metadata.sort();
    let range = metadata.iter().find(|(k, _)| k == stylize_model::meta::RANGE).map(|(_, v)| v.as_str());
    let range_max = match range {
        None | Some("0-255") => 255.0,
        Some("0-1") => 1.0,
        Some(other) => return Err(contract(format!("unknown value range {other:?} in {} (expected 0-255 or 0-1)", stylize_model::meta::RANGE))),
    };
    Ok(ModelInfo { path: path.to_path_buf(), input: image_input.name().to_string(), output: output.name().to_string(), range_max, fixed_size, extra_inputs, metadata })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pad_sides_are_multiples_of_four_and_not_tiny() {
        assert_eq!(pad_side(1), 32);
        assert_eq!(pad_side(33), 36);
        assert_eq!(pad_side(360), 360);
        assert_eq!(pad_side(4097), 4100);
    }

    #[test]
    fn planar_round_trip_keeps_pixels_and_replicates_edges() {
        let mut frame = Frame::new(3, 2);
        for (i, v) in frame.data.iter_mut().enumerate() {
            *v = (i * 13 % 256) as u8;
        }
        let (ph, pw) = (4, 5);
        let mut planar = vec![0.0; 3 * ph * pw];
        rgb_to_planar(&frame, &mut planar, ph, pw, 1.0);
        // padding column repeats the last pixel of the row, padding rows repeat the last row
        assert_eq!(planar[4], planar[2]);
        assert_eq!(planar[3 * pw], planar[pw]);
        let mut back = Frame::new(3, 2);
        planar_to_rgb(&planar, ph, pw, &mut back, 1.0);
        assert_eq!(back, frame);
    }

    #[test]
    fn device_names_parse() {
        assert_eq!("CUDA".parse::<Device>(), Ok(Device::Cuda));
        assert_eq!("trt".parse::<Device>(), Ok(Device::TensorRt));
        assert!("tpu".parse::<Device>().is_err());
    }
}
