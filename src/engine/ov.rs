//! The OpenVINO backend (`--device openvino[:GPU|:NPU]`): the same uint8-wrapped graph the ONNX Runtime engine
//! runs (`stylize_model::wrap`, read from memory by OpenVINO's ONNX frontend), compiled once per padded frame
//! size, with its input and output tensors set once per size so a frame is a copy in, `infer`, a copy out.
//!
//! Why the wrapped graph and not OpenVINO's pre/post-processing API: the `openvino` crate exposes element type,
//! layout and resize steps, but no scale and nothing on the output side (clamp, round, cast to uint8); the wrap
//! does all of it in one graph, exactly as the ONNX Runtime path does, so both backends round the same way.
//!
//! The library is the PyPI wheel's, unpacked by `scripts/setup.sh` into `.deps/openvino/lib` and loaded at run
//! time (the crate's `runtime-linking`): a machine without it still runs everything on ONNX Runtime.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use openvino::{CompiledModel, Core, DeviceType, ElementType, InferRequest, Model, PartialShape, RwPropertyKey, Shape, Tensor};
use stylize_model::wrap::{FRAME_INPUT, FRAME_OUTPUT};

use super::pixels::{crop_rgb, crop_rgb_phases, pad_rgb, pad_rgb_phases};
use super::{first_line, AutoCpu, ModelInfo, Precision};
use crate::error::{Error, Result};
use crate::frame::Frame;

/// The OpenVINO release `scripts/setup.sh` installs.
pub const OPENVINO_VERSION: &str = "2026.4.1";
const C_LIBRARY: &str = "libopenvino_c.so";

/// An OpenVINO device (`--device openvino`, `openvino:GPU`, `openvino:NPU`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OvTarget {
    Cpu,
    /// An Intel GPU (integrated or discrete); untested here.
    Gpu,
    /// An Intel NPU; untested here.
    Npu,
}

impl OvTarget {
    fn device_type(self) -> DeviceType<'static> {
        match self {
            OvTarget::Cpu => DeviceType::CPU,
            OvTarget::Gpu => DeviceType::GPU,
            OvTarget::Npu => DeviceType::NPU,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            OvTarget::Cpu => "CPU",
            OvTarget::Gpu => "GPU",
            OvTarget::Npu => "NPU",
        }
    }
}

/// Whether a CPU with these `/proc/cpuinfo` flags computes bf16 natively (AVX-512 BF16: AMD Zen 4 and later,
/// Intel Cooper Lake; AMX: Intel Sapphire Rapids and later). Elsewhere OpenVINO would emulate it: slower than f32.
pub fn native_bf16(cpu_flags: &str) -> bool {
    cpu_flags.split_whitespace().any(|f| f == "avx512_bf16" || f == "amx_bf16")
}

/// Whether `--device auto` runs `work` on OpenVINO's CPU rather than ONNX Runtime's, and why (measured,
/// docs/benchmarks.md "CPU: OpenVINO backend" and "CPU with native bf16"). Streams of frames: with native bf16
/// every net (engine 1.9-3.7x, video 1.5-1.8x); without it the lite nets only (engine 1.2-1.3x, video 1.07x at
/// 1280x720; the full net's video ran 0.93x). A single photo pays OpenVINO's compilation for its size: with
/// native bf16 a full net still gains (1080x1080: 1.50 s against 2.51 s), a lite net does not (0.31 s both, in
/// 40 MB more); without bf16 ONNX Runtime is faster (candy-lite, 1080x1080: 404 ms against 522 ms).
/// `int8`: the work would run an INT8 model on a CPU with VNNI ([`super::int8`]; for photos only when asked
/// for or given), which only OpenVINO runs fast (ONNX Runtime's int8 kernels ran candy-lite 0.7x its float32).
pub fn auto_prefers(cpu_flags: &str, lite_net: bool, work: AutoCpu, int8: bool) -> std::result::Result<&'static str, &'static str> {
    match (work, native_bf16(cpu_flags), lite_net) {
        (AutoCpu::OnnxRuntime, ..) => Err("ONNX Runtime asked for"),
        (..) if int8 => Ok("an INT8 model on a CPU with VNNI: OpenVINO's int8 kernels"),
        (AutoCpu::Streams, true, _) => Ok("the CPU has native bf16: 1.9-3.7x ONNX Runtime"),
        (AutoCpu::Streams, false, true) => Ok("a lite net: 1.07-1.29x ONNX Runtime on CPUs without native bf16"),
        (AutoCpu::Streams, false, false) => Err("kept ONNX Runtime: without native bf16 OpenVINO is no faster for this net"),
        (AutoCpu::Photos, true, false) => Ok("the CPU has native bf16: a full net's photo in 0.6x ONNX Runtime's time"),
        (AutoCpu::Photos, true, true) => Err("kept ONNX Runtime: a lite net's single photo is as fast there, in less memory"),
        (AutoCpu::Photos, false, _) => Err("kept ONNX Runtime: for single photos it is faster on CPUs without native bf16"),
    }
}

/// The flags line of `/proc/cpuinfo` (empty where there is none).
pub fn cpu_flags() -> String {
    let text = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    text.lines().find(|l| l.starts_with("flags")).and_then(|l| l.split_once(':')).map(|(_, f)| f.to_string()).unwrap_or_default()
}

/// The precision OpenVINO runs at for a `--precision` on `target`: `auto` is bf16 on a CPU with native bf16
/// (about twice the speed there, at a fraction of a grey level), f32 on other CPUs, and the device's own
/// default (f16) on GPUs and NPUs. An explicit bf16 on a CPU without it is f32 too: OpenVINO compiles f32 then
/// (its compiled model reports `INFERENCE_PRECISION_HINT` f32), so that is what the engine reports.
pub fn resolve_precision(requested: Precision, target: OvTarget, cpu_flags: &str) -> Precision {
    match (requested, target) {
        // An INT8 model's float layers run at what auto picks (see `load_openvino`).
        (Precision::Auto | Precision::Bf16 | Precision::Int8, OvTarget::Cpu) if native_bf16(cpu_flags) => Precision::Bf16,
        (Precision::Auto | Precision::Bf16 | Precision::Int8, OvTarget::Cpu) => Precision::Fp32,
        (Precision::Auto | Precision::Int8, _) => Precision::Fp16,
        (p, _) => p,
    }
}

/// Candidate places for `libopenvino_c.so` (a file, or a folder holding it), in the order they are tried.
pub fn library_candidates(explicit: Option<&Path>) -> Vec<PathBuf> {
    if let Some(p) = explicit {
        return vec![p.to_path_buf()];
    }
    let mut out = Vec::new();
    // The variable the `openvino` crate and OpenVINO's own setupvars use.
    if let Some(dir) = std::env::var_os("OPENVINO_INSTALL_DIR") {
        out.push(PathBuf::from(&dir));
        out.push(PathBuf::from(dir).join("runtime/lib/intel64"));
    }
    out.extend(super::bundled_candidates("lib/stylize/openvino", "openvino", ".deps/openvino/lib"));
    out
}

fn library_file(candidate: &Path) -> Option<PathBuf> {
    if candidate.is_file() {
        return Some(candidate.to_path_buf());
    }
    Some(candidate.join(C_LIBRARY)).filter(|p| p.is_file())
}

static LIBRARY: OnceLock<std::result::Result<PathBuf, Error>> = OnceLock::new();

/// Loads OpenVINO's C library once per process; returns its path.
pub fn load_library(explicit: Option<&Path>) -> Result<PathBuf> {
    let loaded = LIBRARY.get_or_init(|| {
        let candidates = library_candidates(explicit);
        let Some(path) = candidates.iter().find_map(|c| library_file(c)) else {
            let searched = candidates.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
            return Err(Error::OpenVinoMissing { searched });
        };
        match openvino_sys::library::load_from(&path) {
            Ok(()) => Ok(path),
            Err(reason) => Err(Error::OpenVinoLoad { path, reason: first_line(&reason) }),
        }
    });
    match loaded {
        Ok(p) => Ok(p.clone()),
        // Errors are not Clone; their text is what matters.
        Err(Error::OpenVinoMissing { searched }) => Err(Error::OpenVinoMissing { searched: searched.clone() }),
        Err(Error::OpenVinoLoad { path, reason }) => Err(Error::OpenVinoLoad { path: path.clone(), reason: reason.clone() }),
        Err(e) => Err(Error::Invalid(e.to_string())),
    }
}

/// The OpenVINO version string of the loaded library (`2026.4.1-...`), for `stylize info`.
pub fn version(lib: &Path) -> String {
    std::fs::canonicalize(lib)
        .ok()
        .and_then(|p| p.file_name()?.to_str()?.strip_prefix("libopenvino_c.so.").map(|v| format!("{OPENVINO_VERSION} (library {v})")))
        .unwrap_or_else(|| OPENVINO_VERSION.to_string())
}

/// The devices this OpenVINO sees (`CPU`, `GPU.0`, ...), for `stylize info`.
pub fn available_devices(explicit: Option<&Path>) -> Result<Vec<String>> {
    load_library(explicit)?;
    let core = Core::new().map_err(|e| Error::Invalid(format!("OpenVINO: {}", first_line(&e.to_string()))))?;
    let devices = core.available_devices().map_err(|e| Error::Invalid(format!("OpenVINO: {}", first_line(&e.to_string()))))?;
    Ok(devices.iter().map(|d| d.as_ref().to_string()).collect())
}

/// One size's compiled network, its request and the tensors set into it.
struct Compiled {
    height: usize,
    width: usize,
    // Declared before `_compiled`: a request must go before the network it runs.
    request: InferRequest,
    input: Tensor,
    output: Tensor,
    /// The output's `[1, H', W', 3]` (in pixels, also when it crosses as phases).
    out_dims: [usize; 4],
    extras: Vec<(String, Tensor)>,
    _compiled: CompiledModel,
}

/// How many padded sizes stay compiled (a batch of images of a few sizes does not recompile per image).
const SIZES_KEPT: usize = 3;

pub(crate) struct OvSession {
    core: Core,
    model: Model,
    target: OvTarget,
    /// Most recently used first.
    compiled: Vec<Compiled>,
    /// The extra inputs' values (`style_weights`), set into every size's request.
    extras: Vec<(String, Vec<i64>, Vec<f32>)>,
    path: PathBuf,
    /// 2: frames cross as their 2x2 phases (`stylize_model::wrap::WrapInfo::phases`); 1: as they are.
    phases: usize,
}

impl OvSession {
    /// Reads the uint8-wrapped `graph` (its frames as `phases` x `phases` blocks) for `target` at `precision`
    /// (already resolved) with `threads` (None: all).
    pub fn new(graph: &[u8], info: &ModelInfo, phases: usize, target: OvTarget, precision: Precision, threads: Option<usize>, lib: Option<&Path>) -> Result<OvSession> {
        let wanted = format!("openvino:{}", target.name());
        load_library(lib)?;
        let ov_err = |e: &dyn std::fmt::Display| first_line(&e.to_string());
        let mut core = Core::new().map_err(|e| Error::Invalid(format!("OpenVINO: {}", ov_err(&e))))?;
        let devices = core.available_devices().map_err(|e| Error::Invalid(format!("OpenVINO: {}", ov_err(&e))))?;
        let seen: Vec<String> = devices.iter().map(|d| d.as_ref().to_string()).collect();
        if !seen.iter().any(|d| d.split('.').next() == Some(target.name())) {
            let reason = format!("OpenVINO sees no {} (it sees: {})", target.name(), if seen.is_empty() { "nothing".into() } else { seen.join(", ") });
            return Err(Error::DeviceUnavailable { wanted, reason, hint: "" });
        }
        let device = target.device_type();
        let hint = match precision {
            Precision::Bf16 => Some("bf16"),
            Precision::Fp16 => Some("f16"),
            Precision::Fp32 => Some("f32"),
            Precision::Auto | Precision::Int8 => None,
        };
        let mut props: Vec<(RwPropertyKey, String)> = vec![(RwPropertyKey::HintPerformanceMode, "LATENCY".into())];
        if let Some(h) = hint {
            props.push((RwPropertyKey::HintInferencePrecision, h.into()));
        }
        if target == OvTarget::Cpu {
            if let Some(n) = threads {
                props.push((RwPropertyKey::InferenceNumThreads, n.max(1).to_string()));
                // With a thread budget the engine shares the CPU (`video` runs two at once): pinned, both would
                // pin to the same first cores (docs/benchmarks.md). `STYLIZE_OV_TUNE=pin=1` measures it.
                let pin = std::env::var("STYLIZE_OV_TUNE").unwrap_or_default().split(',').any(|kv| kv.trim() == "pin=1");
                props.push((RwPropertyKey::HintEnableCpuPinning, if pin { "YES" } else { "NO" }.into()));
            }
            // Trained nets produce subnormal activations that cost the CPU dearly (ONNX Runtime gets flush-to-zero
            // for the same reason); at 0..255 they change no pixel.
            props.push((RwPropertyKey::Other("CPU_DENORMALS_OPTIMIZATION".into()), "YES".into()));
        }
        for (key, value) in &props {
            core.set_property(&device, key, value)
                .map_err(|e| Error::DeviceUnavailable { wanted: wanted.clone(), reason: format!("setting {} = {value}: {}", key.as_ref(), ov_err(&e)), hint: "" })?;
        }
        let model = core.read_model_from_buffer(graph, None).map_err(|e| Error::ModelInvalid { path: info.path.clone(), reason: format!("OpenVINO cannot read it: {}", ov_err(&e)) })?;
        let extras = info
            .extra_inputs
            .iter()
            .map(|(name, shape)| {
                let n = shape.iter().map(|&d| d.max(1)).product::<i64>().max(1) as usize;
                (name.clone(), shape.iter().map(|&d| d.max(1)).collect(), vec![1.0 / n as f32; n])
            })
            .collect();
        Ok(OvSession { core, model, target, compiled: Vec::new(), extras, path: info.path.clone(), phases })
    }

    /// Sets an extra input's values (validated by the engine) for this and every following frame.
    pub fn set_extra(&mut self, name: &str, values: &[f32]) -> Result<()> {
        let Some((_, _, kept)) = self.extras.iter_mut().find(|(n, _, _)| n == name) else {
            return Err(Error::Invalid(format!("model has no input {name:?}")));
        };
        if kept.len() != values.len() {
            return Err(Error::Invalid(format!("input {name:?} takes {} values, got {}", kept.len(), values.len())));
        }
        kept.copy_from_slice(values);
        // The requests read these tensors' memory on every infer: writing into them is enough.
        for c in &mut self.compiled {
            if let Some((_, t)) = c.extras.iter_mut().find(|(n, _)| n == name) {
                t.get_data_mut::<f32>().map_err(|e| Error::Invalid(format!("OpenVINO: {e}")))?.copy_from_slice(values);
            }
        }
        Ok(())
    }

    /// Stylizes `frame` padded to `ph` x `pw` (the engine's pad rule).
    pub fn run(&mut self, frame: &mut Frame, ph: usize, pw: usize) -> Result<()> {
        let (h, w) = (frame.height, frame.width);
        let infer_err = |e: &dyn std::fmt::Display| Error::Inference { width: w, height: h, reason: format!("OpenVINO: {}", first_line(&e.to_string())), hint: "" };
        match self.compiled.iter().position(|c| (c.height, c.width) == (ph, pw)) {
            Some(0) => {}
            Some(i) => {
                let c = self.compiled.remove(i);
                self.compiled.insert(0, c);
            }
            None => {
                let c = self.compile(ph, pw).map_err(|e| infer_err(&e))?;
                self.compiled.truncate(SIZES_KEPT - 1);
                self.compiled.insert(0, c);
            }
        }
        let c = &mut self.compiled[0];
        let input = c.input.get_data_mut::<u8>().map_err(|e| infer_err(&e))?;
        match self.phases {
            2 => pad_rgb_phases(frame, input, ph, pw),
            _ => pad_rgb(frame, input, ph, pw),
        }
        c.request.infer().map_err(|e| infer_err(&e))?;
        let [_, oh, ow, _] = c.out_dims;
        if oh < h || ow < w {
            let reason = format!("output shape {:?} (NHWC after the uint8 wrap) does not cover the {w}x{h} input", c.out_dims);
            return Err(Error::ModelContract { path: self.path.clone(), reason });
        }
        let output = c.output.get_data::<u8>().map_err(|e| infer_err(&e))?;
        match self.phases {
            2 => crop_rgb_phases(output, ow, frame),
            _ => crop_rgb(output, ow, frame),
        }
        Ok(())
    }

    /// Reshapes the model to `[1, ph, pw, 3]` frames (`[1, ph/2, pw/2, 12]` as phases), compiles it and sets its tensors.
    fn compile(&mut self, ph: usize, pw: usize) -> std::result::Result<Compiled, String> {
        let e = |what: &str, err: &dyn std::fmt::Display| format!("{what}: {}", first_line(&err.to_string()));
        let b = self.phases as i64;
        let frame_dims = [1, ph as i64 / b, pw as i64 / b, 3 * b * b];
        let shape = PartialShape::new_static(4, &frame_dims).map_err(|x| e("shape", &x))?;
        self.model.reshape_input_by_name(FRAME_INPUT, &shape).map_err(|x| e("reshape", &x))?;
        let mut compiled = self.core.compile_model(&self.model, self.target.device_type()).map_err(|x| e("compile", &x))?;
        let out_shape = compiled.get_output_by_name(FRAME_OUTPUT).and_then(|o| o.get_shape()).map_err(|x| e("output shape", &x))?;
        let dims = out_shape.get_dimensions();
        if dims.len() != 4 || dims[0] != 1 || dims[3] != 3 * b * b {
            return Err(format!("output shape {dims:?} is not 1xHxWx{}", 3 * b * b));
        }
        let out_dims = [1, (dims[1] * b) as usize, (dims[2] * b) as usize, 3];
        let mut request = compiled.create_infer_request().map_err(|x| e("infer request", &x))?;
        let input = Tensor::new(ElementType::U8, &Shape::new(&frame_dims).map_err(|x| e("shape", &x))?).map_err(|x| e("input tensor", &x))?;
        let output = Tensor::new(ElementType::U8, &out_shape).map_err(|x| e("output tensor", &x))?;
        request.set_tensor(FRAME_INPUT, &input).map_err(|x| e("input", &x))?;
        request.set_tensor(FRAME_OUTPUT, &output).map_err(|x| e("output", &x))?;
        let mut extras = Vec::new();
        for (name, dims, values) in &self.extras {
            let mut t = Tensor::new(ElementType::F32, &Shape::new(dims).map_err(|x| e(name, &x))?).map_err(|x| e(name, &x))?;
            t.get_data_mut::<f32>().map_err(|x| e(name, &x))?.copy_from_slice(values);
            request.set_tensor(name, &t).map_err(|x| e(name, &x))?;
            extras.push((name.clone(), t));
        }
        Ok(Compiled { height: ph, width: pw, request, input, output, out_dims, extras, _compiled: compiled })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bf16_only_where_the_cpu_has_it() {
        let zen4 = "fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni";
        let spr = "avx2 avx512f amx_bf16 amx_tile amx_int8";
        let avx2 = "fpu sse2 fma avx2 f16c";
        // avx512_bf16 must be a whole flag, not a prefix of another
        let lookalike = "avx512f avx512_bf16x avx512bw";
        assert!(native_bf16(zen4) && native_bf16(spr));
        assert!(!native_bf16(avx2) && !native_bf16(lookalike) && !native_bf16(""));
        assert_eq!(resolve_precision(Precision::Auto, OvTarget::Cpu, zen4), Precision::Bf16);
        assert_eq!(resolve_precision(Precision::Auto, OvTarget::Cpu, avx2), Precision::Fp32);
        assert_eq!(resolve_precision(Precision::Fp32, OvTarget::Cpu, zen4), Precision::Fp32);
        assert_eq!(resolve_precision(Precision::Bf16, OvTarget::Cpu, avx2), Precision::Fp32);
        assert_eq!(resolve_precision(Precision::Bf16, OvTarget::Cpu, spr), Precision::Bf16);
        assert_eq!(resolve_precision(Precision::Auto, OvTarget::Gpu, zen4), Precision::Fp16);
    }

    #[test]
    fn auto_picks_openvino_where_it_was_measured_faster() {
        let (zen4, avx2) = ("avx2 avx512f avx512_bf16", "fpu sse2 fma avx2 f16c");
        let (streams, photos) = (AutoCpu::Streams, AutoCpu::Photos);
        assert!(auto_prefers(zen4, false, streams, false).is_ok() && auto_prefers(zen4, true, streams, false).is_ok());
        assert!(auto_prefers(avx2, true, streams, false).is_ok());
        assert!(auto_prefers(avx2, false, streams, false).is_err());
        // Single photos: only a full net on native bf16.
        assert!(auto_prefers(zen4, false, photos, false).is_ok());
        assert!(auto_prefers(zen4, true, photos, false).is_err() && auto_prefers(avx2, false, photos, false).is_err() && auto_prefers(avx2, true, photos, false).is_err());
        assert!(auto_prefers(zen4, true, AutoCpu::OnnxRuntime, false).is_err());
        // An INT8 stream (VNNI without bf16, e.g. Intel Ice Lake) goes to OpenVINO even for a full net.
        let icelake = "avx2 avx512f avx512_vnni";
        assert!(auto_prefers(icelake, false, streams, false).is_err() && auto_prefers(icelake, false, streams, true).is_ok());
        assert!(auto_prefers(icelake, false, AutoCpu::OnnxRuntime, true).is_err());
    }

    #[test]
    fn library_is_looked_for_where_setup_puts_it() {
        let c = library_candidates(None);
        assert!(c.iter().any(|p| p.ends_with(".deps/openvino/lib")), "{c:?}");
        assert_eq!(library_candidates(Some(Path::new("/x/libopenvino_c.so"))), vec![PathBuf::from("/x/libopenvino_c.so")]);
        assert_eq!(library_file(Path::new("/nonexistent/openvino")), None);
    }
}
