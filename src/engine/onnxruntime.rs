//! The ONNX Runtime backend: sessions built for a device (with the tuning `STYLIZE_ORT_TUNE` varies), their
//! bound input and output buffers reused across frames of one size, the uint8 and float32 frame paths, and
//! `bench --resident`.

use std::path::Path;

use fast_image_resize as fir;
use ort::ep::{self, ExecutionProvider};
use ort::memory::{AllocationDevice, Allocator, AllocatorType, MemoryInfo, MemoryType};
use ort::session::{builder::GraphOptimizationLevel, IoBinding, Session};
use ort::value::{DynTensor, Tensor};
use stylize_model::wrap::{WrapOptions, FRAME_INPUT, FRAME_OUTPUT};

use super::contract::first_line;
use super::pixels::{crop_rgb, pad_rgb, pad_side, planar_to_rgb, rgb_to_planar};
use super::{resize_into, Backend, Device, Engine, EngineOptions, FrameIo, ModelInfo, Residence};
use crate::error::{Error, Result};
use crate::frame::Frame;

/// Pre-allocated tensors for one padded frame size.
struct Buffers {
    height: usize,
    width: usize,
    input: Tensor<f32>,
    /// Bound once the first run has told us the output's shape; kept alive here, read through the run's outputs.
    output: Option<Tensor<f32>>,
}

/// The uint8 path's tensors for one padded frame size: `[1, H, W, 3]` in, `[1, H', W', 3]` out.
struct FrameBuffers {
    height: usize,
    width: usize,
    input: Tensor<u8>,
    output: Option<Tensor<u8>>,
}

/// The ONNX Runtime side of an engine: the session and what is bound to it.
pub(super) struct OrtRun {
    session: Session,
    pub(super) binding: IoBinding,
    buffers: Option<Buffers>,
    /// The uint8 path's buffers (`io == FrameIo::U8`).
    frames: Option<FrameBuffers>,
    /// Extra named inputs stay alive while bound; updated in place.
    pub(super) extras: Vec<(String, Tensor<f32>)>,
    /// `bench --resident`: the bound input and output, kept alive.
    resident: Option<(DynTensor, Option<DynTensor>)>,
    /// The uint8 path's frames in page-locked host memory (`STYLIZE_ORT_TUNE=pinned=1` on CUDA/TensorRT).
    pinned: bool,
}

impl Engine {
    /// The session's image input and output names.
    fn io_names(&self) -> (String, String) {
        match self.io {
            FrameIo::U8 => (FRAME_INPUT.to_string(), FRAME_OUTPUT.to_string()),
            _ => (self.info.input.clone(), self.info.output.clone()),
        }
    }

    /// `bench --resident`: binds `frame` (padded, or resized for a fixed-size model) as the input once, and an
    /// output buffer, both in `at` (default: CUDA memory on CUDA/TensorRT, else host memory), so that
    /// [`Engine::run_resident`] times the session alone, without per-frame host copies. Returns where they live.
    /// The next [`Engine::stylize`] binds its own buffers again.
    pub fn bind_resident(&mut self, frame: &Frame, at: Option<Residence>) -> Result<Residence> {
        let at = at.unwrap_or(if self.device == Device::Cpu { Residence::Host } else { Residence::Cuda });
        let frame = match self.info.fixed_size {
            Some((fh, fw)) => {
                let mut model_frame = Frame::new(fw, fh);
                resize_into(&mut fir::Resizer::new(), frame, &mut model_frame)?;
                model_frame
            }
            None => frame.clone(),
        };
        let (h, w) = (frame.height, frame.width);
        if h == 0 || w == 0 {
            return Err(Error::Invalid("empty frame (0 pixels)".into()));
        }
        let (ph, pw) = (pad_side(h, self.pad), pad_side(w, self.pad));
        let err = |what: &str, e: &dyn std::fmt::Display| Error::Invalid(format!("bench --resident: {what}: {}", first_line(&e.to_string())));
        let host: DynTensor = match self.io {
            FrameIo::U8 => {
                let mut t = Tensor::<u8>::new(&Allocator::default(), [1usize, ph, pw, 3]).map_err(|e| err("input", &e))?;
                pad_rgb(&frame, t.try_extract_tensor_mut::<u8>().map_err(|e| err("input", &e))?.1, ph, pw);
                t.upcast()
            }
            _ => {
                let mut t = Tensor::<f32>::new(&Allocator::default(), [1usize, 3, ph, pw]).map_err(|e| err("input", &e))?;
                rgb_to_planar(&frame, t.try_extract_tensor_mut::<f32>().map_err(|e| err("input", &e))?.1, ph, pw, self.info.range_max / 255.0);
                t.upcast()
            }
        };
        let (input_name, output_name) = self.io_names();
        let Backend::Ort(ort) = &mut self.backend else {
            return Err(Error::Invalid("bench --resident times ONNX Runtime sessions; drop it for --device openvino".into()));
        };
        // Whatever stylize() bound is replaced here; it binds its own buffers again on its next frame.
        ort.buffers = None;
        ort.frames = None;
        ort.resident = None;
        let (input, out_memory) = match at {
            Residence::Host => (host, MemoryInfo::new(AllocationDevice::CPU, 0, AllocatorType::Device, MemoryType::Default).map_err(|e| err("CPU memory info", &e))?),
            Residence::Cuda => {
                let placed = host.to(AllocationDevice::CUDA, 0).map_err(|e| err("cannot copy the input into CUDA memory (is this a CUDA build of ONNX Runtime, with a GPU?)", &e))?;
                if placed.memory_info().allocation_device() != AllocationDevice::CUDA {
                    return Err(Error::Invalid("bench --resident: the input did not land in CUDA memory".into()));
                }
                let cuda = MemoryInfo::new(AllocationDevice::CUDA, 0, AllocatorType::Device, MemoryType::Default).map_err(|e| err("CUDA memory info", &e))?;
                (placed, cuda)
            }
        };
        ort.binding.bind_input(input_name, &input).map_err(|e| err("binding the input", &e))?;
        ort.binding.bind_output_to_device(output_name.clone(), &out_memory).map_err(|e| err("binding the output", &e))?;
        // One run tells the output's shape and type; then the output gets a buffer of its own, on the same side.
        let (dims, ty) = {
            let outputs = ort.session.run_binding(&ort.binding).map_err(|e| Error::Inference { width: w, height: h, reason: first_line(&e.to_string()), hint: "" })?;
            let out = &outputs[output_name.as_str()];
            let ty = out.dtype().tensor_type().ok_or_else(|| Error::Invalid("the output is not a tensor".into()))?;
            let dims: Vec<usize> = out.dtype().tensor_shape().map(|s| s.iter().map(|&d| d as usize).collect()).unwrap_or_default();
            (dims, ty)
        };
        let mut output = match at {
            Residence::Host => DynTensor::new(&Allocator::default(), ty, dims),
            Residence::Cuda => {
                let allocator = Allocator::new(&ort.session, out_memory).map_err(|e| err("CUDA allocator", &e))?;
                DynTensor::new(&allocator, ty, dims)
            }
        }
        .map_err(|e| err("output buffer", &e))?;
        ort.binding.bind_output(output_name, &mut output).map_err(|e| err("binding the output", &e))?;
        ort.resident = Some((input, Some(output)));
        Ok(at)
    }

    /// One session run on what [`Engine::bind_resident`] bound (waits for the device to finish).
    pub fn run_resident(&mut self) -> Result<()> {
        let ort = match &mut self.backend {
            Backend::Ort(ort) if ort.resident.is_some() => ort,
            _ => return Err(Error::Invalid("run_resident before bind_resident".into())),
        };
        let outputs = ort.session.run_binding(&ort.binding).map_err(|e| Error::Inference { width: 0, height: 0, reason: first_line(&e.to_string()), hint: "" })?;
        drop(outputs);
        Ok(())
    }
}

impl OrtRun {
    /// A session with nothing bound yet; `pinned`: page-locked frame buffers (CUDA, STYLIZE_ORT_TUNE=pinned=1).
    pub(super) fn new(session: Session, binding: IoBinding, pinned: bool) -> OrtRun {
        OrtRun { session, binding, buffers: None, frames: None, extras: Vec::new(), resident: None, pinned }
    }

    /// The uint8 path: the padded RGB24 frame is the input tensor, the output tensor's rows are the result.
    pub(super) fn run_frames(&mut self, frame: &mut Frame, ph: usize, pw: usize, device: Device, path: &Path) -> Result<()> {
        let (h, w) = (frame.height, frame.width);
        if self.frames.as_ref().is_none_or(|b| b.height != ph || b.width != pw) {
            let input = Tensor::<u8>::new(&self.host_allocator(MemoryType::CPUInput)?, [1usize, ph, pw, 3]).map_err(|e| infer_err(w, h, e))?;
            let cpu = self.session.allocator().memory_info().clone();
            self.binding.bind_output_to_device(FRAME_OUTPUT, &cpu).map_err(|e| infer_err(w, h, e))?;
            self.frames = Some(FrameBuffers { height: ph, width: pw, input, output: None });
        }
        let buffers = self.frames.as_mut().expect("buffers set above");
        {
            let (_, data) = buffers.input.try_extract_tensor_mut::<u8>().map_err(|e| Error::Invalid(e.to_string()))?;
            pad_rgb(frame, data, ph, pw);
        }
        // Bound again every frame: binding copies a host tensor to a GPU provider's memory then and there.
        self.binding.bind_input(FRAME_INPUT, &buffers.input).map_err(|e| Error::Invalid(first_line(&e.to_string())))?;
        let first_run = buffers.output.is_none();
        let outputs = self.session.run_binding(&self.binding).map_err(|e| run_err(w, h, device, e))?;
        let (shape, data) = outputs[FRAME_OUTPUT].try_extract_tensor::<u8>().map_err(|e| Error::Invalid(e.to_string()))?;
        let out_dims: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
        if out_dims.len() != 4 || out_dims[0] != 1 || out_dims[3] != 3 || out_dims[1] < h || out_dims[2] < w {
            let reason = format!("output shape {out_dims:?} (NHWC after the uint8 wrap) does not cover the {w}x{h} input");
            return Err(Error::ModelContract { path: path.to_path_buf(), reason });
        }
        crop_rgb(data, out_dims[2], frame);
        drop(outputs);
        if first_run {
            // Now that the output shape is known, give ONNX Runtime a buffer to write every following frame into.
            let mut out = Tensor::<u8>::new(&self.host_allocator(MemoryType::CPUOutput)?, out_dims).map_err(|e| infer_err(w, h, e))?;
            self.binding.bind_output(FRAME_OUTPUT, &mut out).map_err(|e| infer_err(w, h, e))?;
            self.frames.as_mut().expect("buffers set above").output = Some(out);
        }
        Ok(())
    }

    /// The float32 path: the frame converted to planar floats on the host, and back.
    pub(super) fn run_floats(&mut self, frame: &mut Frame, ph: usize, pw: usize, device: Device, info: &ModelInfo) -> Result<()> {
        let (h, w) = (frame.height, frame.width);
        if self.buffers.as_ref().is_none_or(|b| b.height != ph || b.width != pw) {
            let input = Tensor::<f32>::new(&ort::memory::Allocator::default(), [1usize, 3, ph, pw]).map_err(|e| infer_err(w, h, e))?;
            self.binding.bind_input(info.input.clone(), &input).map_err(|e| infer_err(w, h, e))?;
            let cpu = self.session.allocator().memory_info().clone();
            self.binding.bind_output_to_device(info.output.clone(), &cpu).map_err(|e| infer_err(w, h, e))?;
            self.buffers = Some(Buffers { height: ph, width: pw, input, output: None });
        }
        let scale = info.range_max / 255.0;
        let buffers = self.buffers.as_mut().expect("buffers set above");
        {
            let (_, data) = buffers.input.try_extract_tensor_mut::<f32>().map_err(|e| Error::Invalid(e.to_string()))?;
            rgb_to_planar(frame, data, ph, pw, scale);
        }
        // Bound again every frame: binding copies a host tensor to a GPU provider's memory then and there.
        self.binding.bind_input(info.input.clone(), &buffers.input).map_err(|e| Error::Invalid(first_line(&e.to_string())))?;
        let outputs = self.session.run_binding(&self.binding).map_err(|e| run_err(w, h, device, e))?;
        let unscale = 255.0 / info.range_max;
        let first_run = self.buffers.as_ref().is_some_and(|b| b.output.is_none());
        // The run's outputs hold the bound output tensor too, once it is bound.
        let (shape, data) = outputs[info.output.as_str()].try_extract_tensor::<f32>().map_err(|e| Error::Invalid(e.to_string()))?;
        let out_dims: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
        check_output(&out_dims, h, w, &info.path)?;
        planar_to_rgb(data, out_dims[2], out_dims[3], frame, unscale);
        drop(outputs);
        if first_run {
            // Now that the output shape is known, give ONNX Runtime a buffer to write every following frame into.
            let mut out = Tensor::<f32>::new(&ort::memory::Allocator::default(), out_dims.clone()).map_err(|e| infer_err(w, h, e))?;
            self.binding.bind_output(info.output.clone(), &mut out).map_err(|e| infer_err(w, h, e))?;
            self.buffers.as_mut().expect("buffers set above").output = Some(out);
        }
        Ok(())
    }

    /// Where the uint8 path's host buffers come from: plain memory, or page-locked memory from the CUDA provider
    /// (copies to and from the GPU then need no staging buffer and can run asynchronously).
    fn host_allocator(&self, side: MemoryType) -> Result<Allocator> {
        if !self.pinned {
            return Ok(Allocator::default());
        }
        let pinned = |e: ort::Error| Error::Invalid(format!("page-locked frame buffers (STYLIZE_ORT_TUNE=pinned=1): {}", first_line(&e.to_string())));
        let memory = MemoryInfo::new(AllocationDevice::CUDA_PINNED, 0, AllocatorType::Device, side).map_err(pinned)?;
        Allocator::new(&self.session, memory).map_err(pinned)
    }
}

fn infer_err(width: usize, height: usize, e: impl ToString) -> Error {
    Error::Inference { width, height, reason: first_line(&e.to_string()), hint: "" }
}

/// A failed run of a frame; on a GPU, the likely cause.
fn run_err(width: usize, height: usize, device: Device, e: impl ToString) -> Error {
    let hint = if device == Device::Cpu { "" } else { " (too large for GPU memory? try --scale 0.5)" };
    Error::Inference { width, height, reason: first_line(&e.to_string()), hint }
}

fn check_output(dims: &[usize], h: usize, w: usize, path: &Path) -> Result<()> {
    if dims.len() != 4 || dims[1] != 3 || dims[2] < h || dims[3] < w {
        return Err(Error::ModelContract { path: path.to_path_buf(), reason: format!("output shape {dims:?} is not 1x3xHxW covering the {w}x{h} input") });
    }
    Ok(())
}

/// Session settings that `scripts/bench_cpu_tuning.sh` and `scripts/bench_gpu.sh` vary through `STYLIZE_ORT_TUNE`
/// (a comma-separated list of `opt=disable|basic|extended|all`, `spin=0|1`, `mempattern=0|1`, `cpurewrite=0|1`,
/// `gpurewrite=0|1`, and for CUDA `nhwc=0|1`, `tf32=0|1`, `cudagraph=0|1`, `convsearch=exhaustive|heuristic|default`,
/// `pinned=0|1`); the defaults are what measured best (docs/benchmarks.md). Not a user option: unknown entries are
/// ignored.
pub(super) struct Tuning {
    pub(super) opt_level: GraphOptimizationLevel,
    pub(super) spinning: Option<bool>,
    pub(super) memory_pattern: Option<bool>,
    /// The CPU graph rewrites of the uint8 wrap (`WrapOptions::for_cpu`).
    pub(super) cpu_rewrites: bool,
    /// The phase convs on GPUs too (off until measured there).
    pub(super) gpu_rewrites: bool,
    /// CUDA: NHWC kernels for the convolutions (`prefer_nhwc`; tensor cores like that layout).
    pub(super) prefer_nhwc: bool,
    /// CUDA: TensorFloat-32 for fp32 convolutions.
    tf32: bool,
    /// CUDA: capture the run into a CUDA graph and replay it (fixed frame size and buffer addresses: `bench --resident`).
    pub(super) cuda_graph: bool,
    /// CUDA: cuDNN's convolution algorithm search (ONNX Runtime's default is exhaustive).
    pub(super) conv_search: Option<ep::cuda::ConvAlgorithmSearch>,
    /// CUDA, uint8 frames in host memory: page-locked input and output buffers (faster, asynchronous copies).
    pub(super) pinned: bool,
}

impl Tuning {
    /// The uint8 wrap's rewrites for ONNX Runtime on the CPU (`on_cpu`) or a GPU.
    pub(super) fn rewrites(&self, on_cpu: bool) -> WrapOptions {
        if on_cpu {
            if self.cpu_rewrites { WrapOptions::default().for_cpu() } else { WrapOptions::default() }
        } else {
            WrapOptions { phase_convs: self.gpu_rewrites, ..WrapOptions::default() }
        }
    }

    pub(super) fn from_env() -> Tuning {
        Self::parse(&std::env::var("STYLIZE_ORT_TUNE").unwrap_or_default())
    }

    fn parse(text: &str) -> Tuning {
        let mut t = Tuning {
            opt_level: GraphOptimizationLevel::All,
            spinning: None,
            memory_pattern: None,
            cpu_rewrites: true,
            gpu_rewrites: false,
            prefer_nhwc: false,
            tf32: false,
            cuda_graph: false,
            conv_search: None,
            pinned: false,
        };
        for (k, v) in text.split(',').filter_map(|kv| kv.split_once('=')) {
            match (k.trim(), v.trim()) {
                ("opt", "disable") => t.opt_level = GraphOptimizationLevel::Disable,
                ("opt", "basic") => t.opt_level = GraphOptimizationLevel::Level1,
                ("opt", "extended") => t.opt_level = GraphOptimizationLevel::Level2,
                ("opt", "all") => t.opt_level = GraphOptimizationLevel::All,
                ("spin", v) => t.spinning = Some(v != "0"),
                ("mempattern", v) => t.memory_pattern = Some(v != "0"),
                ("cpurewrite", v) => t.cpu_rewrites = v != "0",
                ("gpurewrite", v) => t.gpu_rewrites = v != "0",
                ("nhwc", v) => t.prefer_nhwc = v != "0",
                ("tf32", v) => t.tf32 = v != "0",
                ("cudagraph", v) => t.cuda_graph = v != "0",
                ("convsearch", "exhaustive") => t.conv_search = Some(ep::cuda::ConvAlgorithmSearch::Exhaustive),
                ("convsearch", "heuristic") => t.conv_search = Some(ep::cuda::ConvAlgorithmSearch::Heuristic),
                ("convsearch", "default") => t.conv_search = Some(ep::cuda::ConvAlgorithmSearch::Default),
                ("pinned", v) => t.pinned = v != "0",
                _ => {}
            }
        }
        t
    }
}

pub(super) enum SessionError {
    /// The execution provider could not be used (missing library, no GPU, ...).
    Device(String),
    /// ONNX Runtime rejected the model itself.
    Model(String),
}

pub(super) fn build_session(env: &ort::environment::Environment, bytes: &[u8], device: Device, opts: &EngineOptions) -> std::result::Result<Session, SessionError> {
    build_session_with(env, bytes, device, opts, true)
}

/// [`build_session`]; `arena: false` gives memory back to the system after each run on the CPU (ONNX Runtime's
/// arena keeps its peak for the session's life).
pub(super) fn build_session_with(env: &ort::environment::Environment, bytes: &[u8], device: Device, opts: &EngineOptions, arena: bool) -> std::result::Result<Session, SessionError> {
    let model_err = |e: &dyn std::fmt::Display| SessionError::Model(first_line(&e.to_string()));
    let mut builder = Session::builder(env).map_err(|e| model_err(&e))?;
    let tune = Tuning::from_env();
    builder = builder.with_optimization_level(tune.opt_level).map_err(|e| model_err(&e))?;
    if let Some(spin) = tune.spinning {
        builder = builder.with_intra_op_spinning(spin).map_err(|e| model_err(&e))?;
    }
    if let Some(pattern) = tune.memory_pattern {
        builder = builder.with_memory_pattern(pattern).map_err(|e| model_err(&e))?;
    }
    // Trained nets produce subnormal activations that cost the CPU dearly; at 0..255 they change no pixel.
    builder = builder.with_flush_to_zero().map_err(|e| model_err(&e))?;
    if let Some(n) = opts.threads {
        builder = builder.with_intra_threads(n.max(1)).map_err(|e| model_err(&e))?;
    }
    if !arena && device == Device::Cpu {
        ep::CPU::default().with_arena_allocator(false).build().register(&mut builder).map_err(|e| model_err(&e))?;
    }
    let dispatch = match device {
        Device::Cpu | Device::Auto | Device::OpenVino(_) => None,
        Device::Cuda => {
            if !ep::CUDA::is_available().unwrap_or(false) {
                return Err(SessionError::Device("this ONNX Runtime build has no CUDA provider".into()));
            }
            let mut cuda = ep::CUDA::default().with_prefer_nhwc(tune.prefer_nhwc).with_tf32(tune.tf32).with_cuda_graph(tune.cuda_graph);
            if let Some(search) = tune.conv_search {
                cuda = cuda.with_conv_algorithm_search(search);
            }
            Some(cuda.build().error_on_failure())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuning_entries_parse() {
        let t = Tuning::parse("opt=basic, spin=0,mempattern=1,bogus=3,cpurewrite=0,gpurewrite=1,nhwc=1,tf32=1,cudagraph=1,convsearch=heuristic,pinned=1");
        assert!(matches!(t.opt_level, GraphOptimizationLevel::Level1));
        assert_eq!((t.spinning, t.memory_pattern, t.cpu_rewrites, t.gpu_rewrites), (Some(false), Some(true), false, true));
        assert_eq!((t.prefer_nhwc, t.tf32, t.cuda_graph, t.pinned), (true, true, true, true));
        assert!(matches!(t.conv_search, Some(ep::cuda::ConvAlgorithmSearch::Heuristic)));
        let d = Tuning::parse("");
        assert!(matches!(d.opt_level, GraphOptimizationLevel::All));
        assert_eq!((d.spinning, d.memory_pattern, d.cpu_rewrites, d.gpu_rewrites), (None, None, true, false));
        assert_eq!((d.prefer_nhwc, d.tf32, d.cuda_graph, d.pinned), (false, false, false, false));
        assert!(d.conv_search.is_none() && Tuning::parse("convsearch=fastest").conv_search.is_none());
    }
}
