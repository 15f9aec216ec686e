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

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use fast_image_resize as fir;
use ort::ep::{self, ExecutionProvider};
use ort::memory::{AllocationDevice, Allocator, AllocatorType, MemoryInfo, MemoryType};
use ort::session::{builder::GraphOptimizationLevel, IoBinding, Session};
use ort::value::{DynTensor, Tensor};
use stylize_model::onnx::STYLE_WEIGHTS;
use stylize_model::wrap::{self, WrapInfo, WrapOptions, FRAME_INPUT, FRAME_OUTPUT};

use crate::error::{Error, Result};
use crate::frame::Frame;

pub mod ov;
mod pixels;
pub mod tile;

pub use ov::OvTarget;
pub use pixels::resize_into;
use pixels::{crop_rgb, pad_rgb, pad_side, planar_to_rgb, rgb_to_planar};

/// Where the network runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Device {
    /// TensorRT, then CUDA, then CPU: the first that works.
    #[default]
    Auto,
    Cpu,
    Cuda,
    TensorRt,
    /// OpenVINO on one of its devices (`openvino` is its CPU).
    OpenVino(OvTarget),
}

// By hand rather than derived: `openvino:GPU` carries a value, which the derive cannot express.
impl clap::ValueEnum for Device {
    fn value_variants<'a>() -> &'a [Self] {
        &[Device::Auto, Device::Cpu, Device::Cuda, Device::TensorRt, Device::OpenVino(OvTarget::Cpu), Device::OpenVino(OvTarget::Gpu), Device::OpenVino(OvTarget::Npu)]
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        use clap::builder::PossibleValue;
        Some(match self {
            Device::Auto => PossibleValue::new("auto").help("TensorRT, then CUDA, then the CPU (OpenVINO's when installed, else ONNX Runtime's): the first that works"),
            Device::Cpu => PossibleValue::new("cpu").help("ONNX Runtime on the CPU"),
            Device::Cuda => PossibleValue::new("cuda").alias("gpu"),
            Device::TensorRt => PossibleValue::new("tensorrt").alias("trt"),
            Device::OpenVino(OvTarget::Cpu) => PossibleValue::new("openvino").alias("openvino:cpu").help("OpenVINO on the CPU (bf16 where the CPU has it)"),
            Device::OpenVino(OvTarget::Gpu) => PossibleValue::new("openvino:GPU").help("OpenVINO on an Intel GPU (untested)"),
            Device::OpenVino(OvTarget::Npu) => PossibleValue::new("openvino:NPU").help("OpenVINO on an Intel NPU (untested)"),
        })
    }
}

/// The command-line name of a value of one of the option enums here (`cuda`, `u8`, `fp16`).
fn value_name<T: clap::ValueEnum>(v: &T) -> String {
    v.to_possible_value().expect("no variant is skipped").get_name().to_string()
}

impl Device {
    pub fn name(self) -> String {
        value_name(&self)
    }

    /// Whether the network runs on the CPU (ONNX Runtime's or OpenVINO's): threads matter, frames run in parallel.
    pub fn on_cpu(self) -> bool {
        matches!(self, Device::Cpu | Device::OpenVino(OvTarget::Cpu))
    }
}

/// How frames cross into and out of the graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum FrameIo {
    /// uint8 on CUDA/TensorRT (and with fp16); on the CPU [`CPU_FRAME_IO`], the faster there.
    #[default]
    Auto,
    /// uint8 NHWC frames straight into a graph-wrapped model: no float conversion on the host.
    #[value(alias = "uint8")]
    U8,
    /// float32 NCHW tensors converted on the host (the model as it is).
    #[value(alias = "float32")]
    F32,
}

/// What `FrameIo::Auto` picks on the CPU. `stylize bench --device cpu`, 640x360, 2 cores: half net about 250 ms
/// (u8) vs 270 ms (f32), full net about 675 vs 690 ms: equal within noise or slightly ahead, and the GPUs' path.
pub const CPU_FRAME_IO: FrameIo = FrameIo::U8;

impl FrameIo {
    pub fn name(self) -> String {
        value_name(&self)
    }

    /// The path a session on `device` gets.
    fn resolve(self, device: Device, precision: Precision) -> FrameIo {
        match self {
            FrameIo::Auto if precision == Precision::Fp16 => FrameIo::U8,
            FrameIo::Auto if device == Device::Cpu => CPU_FRAME_IO,
            FrameIo::Auto => FrameIo::U8,
            other => other,
        }
    }
}

/// The network's arithmetic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Precision {
    /// fp32 on ONNX Runtime; on OpenVINO bf16 where the CPU computes it natively, else fp32.
    #[default]
    Auto,
    #[value(alias = "float32", alias = "f32")]
    Fp32,
    /// float16 weights and activations (graph-wrapped; meant for GPUs: the CPU provider runs most float16
    /// nodes through casts to float32, so it gains nothing there).
    #[value(alias = "float16", alias = "half", alias = "f16")]
    Fp16,
    /// bfloat16 inside OpenVINO (`--device openvino`); emulated, so slow, on CPUs without native bf16.
    #[value(alias = "bfloat16")]
    Bf16,
}

impl Precision {
    pub fn name(self) -> String {
        value_name(&self)
    }
}

/// Where `bench --resident` keeps the bound input and output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Residence {
    /// Host memory (the CPU provider's own).
    Host,
    /// CUDA device memory (CUDA and TensorRT providers).
    Cuda,
}

#[derive(Clone, Debug, Default)]
pub struct EngineOptions {
    pub device: Device,
    /// How frames enter and leave the graph.
    pub frame_io: FrameIo,
    /// auto, float32, float16 (opt-in, graph-wrapped) or bfloat16 (OpenVINO).
    pub precision: Precision,
    /// Intra-op threads; `None` lets ONNX Runtime use every core.
    pub threads: Option<usize>,
    /// Explicit path of `libonnxruntime.so`.
    pub ort_lib: Option<PathBuf>,
    /// Explicit path of `libopenvino_c.so` (or its folder).
    pub openvino_lib: Option<PathBuf>,
    /// TensorRT engine cache (so the second start is fast).
    pub trt_cache: Option<PathBuf>,
    /// Run the network at this fraction of each frame's size (0 < s < 1) and upsample the result:
    /// about 1/s² less work for softer strokes. None: full size.
    pub process_scale: Option<f32>,
    /// `--max-memory`: frames whose network would need more run in tiles ([`tile`]). None: a share of the
    /// memory available when a frame arrives (on a GPU, [`GPU_DEFAULT_BUDGET`]).
    pub max_memory: Option<u64>,
    /// `--tile SIZE`: always run in tiles of at most SIZE x SIZE pixels (context included).
    pub tile: Option<usize>,
    /// Engines that share the budget (frames stylized in parallel); 0 or 1: this one alone.
    pub sharing: usize,
    /// `--tile-stats`: a tiled frame's norm statistics, exact or from a reduced-size probe.
    pub tile_stats: tile::TileStats,
    /// Under [`Device::Auto`], when no GPU provider works: which CPU backend, for what work. The library's
    /// default keeps ONNX Runtime; the CLI says what the frames are.
    pub auto_cpu: AutoCpu,
}

/// What `--device auto` runs on a CPU: OpenVINO's where it is installed and measured faster for the work
/// ([`ov::auto_prefers`]), else ONNX Runtime's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AutoCpu {
    /// ONNX Runtime always.
    #[default]
    OnnxRuntime,
    /// Single photos (each size compiled once by OpenVINO): OpenVINO only where that still pays.
    Photos,
    /// Streams of same-size frames (video, live, serve, bench): OpenVINO wherever it is faster per frame.
    Streams,
}

/// The share of the available memory a frame may use by default.
pub const DEFAULT_MEMORY_SHARE: f64 = 0.6;
/// The default budget on a GPU, whose free memory ONNX Runtime does not tell: what most cards have spare.
pub const GPU_DEFAULT_BUDGET: u64 = 6 << 30;

/// Parses `--process-scale`: a fraction in (0, 1].
pub fn parse_process_scale(s: &str) -> std::result::Result<f32, String> {
    match s.parse::<f32>() {
        Ok(v) if v > 0.0 && v <= 1.0 => Ok(v),
        _ => Err(format!("{s:?} is not a scale between 0 and 1 (e.g. 0.5)")),
    }
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
            None => {
                let (multiple, min_side) = self.pad_rule();
                format!("any size: frames are padded to a multiple of {multiple} (at least {min_side} px) and cropped back")
            }
        }
    }

    /// The styles of a multi-style model (one with a `style_weights` input), in its order: from the
    /// `stylize.styles` metadata, else numbered. Empty for a one-style model.
    pub fn style_names(&self) -> Vec<String> {
        let Some((_, shape)) = self.extra_inputs.iter().find(|(n, _)| n == STYLE_WEIGHTS) else { return Vec::new() };
        let n = shape.iter().map(|&d| d.max(1)).product::<i64>() as usize;
        let named = self.metadata.iter().find(|(k, _)| k == stylize_model::meta::STYLES).map(|(_, v)| stylize_model::meta::parse_styles(v));
        match named {
            Some(names) if names.len() == n => names,
            _ => (0..n).map(|i| i.to_string()).collect(),
        }
    }

    /// Padded sides are multiples of `.0` and at least `.1`: from the network spec in the metadata when there is
    /// one (space-to-depth nets halve once more: multiples of 8), else the Johnson defaults.
    pub fn pad_rule(&self) -> (usize, usize) {
        match self.meta(stylize_model::meta::SPEC).map(stylize_model::meta::parse_spec) {
            Some(Ok(spec)) => (spec.size_multiple(), spec.min_size().max(MIN_SIDE)),
            _ => (SIZE_MULTIPLE, MIN_SIDE),
        }
    }
}

/// Johnson nets halve the size twice and double it twice: sides that are multiples of 4 come back unchanged.
/// Models whose metadata has a spec use its own multiple ([`ModelInfo::pad_rule`]).
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
    out.extend(bundled_candidates("lib/stylize", "libonnxruntime.so", ".deps/onnxruntime/lib"));
    out
}

/// Where a runtime library that stylize ships is looked for, after any explicit choice: the install prefix's
/// `installed` folder (scripts/setup.sh install, the .deb), `beside` next to the executable and the checkout's
/// `deps` folder when run from target/{debug,release}/, then `deps` from the working folder.
pub(crate) fn bundled_candidates(installed: &str, beside: &str, deps: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(prefix) = crate::models::install_prefix() {
        out.push(prefix.join(installed));
    }
    if let Ok(exe) = std::env::current_exe().and_then(std::fs::canonicalize) {
        for dir in exe.ancestors().skip(1).take(4) {
            out.push(dir.join(beside));
            out.push(dir.join(deps));
        }
    }
    out.push(PathBuf::from(deps));
    out
}

/// The version of the loaded ONNX Runtime `lib`: from its build info (`git-branch=rel-1.31.1`) or, for builds
/// from another branch, from the library's file name (`libonnxruntime.so.1.31.1`).
pub fn ort_version(lib: &Path) -> String {
    let from_info = ort::info().split(['=', ',', ' ']).find_map(|w| w.strip_prefix("rel-")).map(str::to_string);
    let from_name = || std::fs::canonicalize(lib).ok()?.file_name()?.to_str()?.strip_prefix("libonnxruntime.so.").map(str::to_string);
    from_info.or_else(from_name).unwrap_or_else(|| "(version unknown)".into())
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

/// The uint8 path's tensors for one padded frame size: `[1, H, W, 3]` in, `[1, H', W', 3]` out.
struct FrameBuffers {
    height: usize,
    width: usize,
    input: Tensor<u8>,
    output: Option<Tensor<u8>>,
}

/// Frames resized to and from a fixed-size model's input.
struct FixedSize {
    resizer: fir::Resizer,
    model_frame: Frame,
    styled: Frame,
}

/// The ONNX Runtime side of an engine: the session and what is bound to it.
struct OrtRun {
    session: Session,
    binding: IoBinding,
    buffers: Option<Buffers>,
    /// The uint8 path's buffers (`io == FrameIo::U8`).
    frames: Option<FrameBuffers>,
    /// Extra named inputs stay alive while bound; updated in place.
    extras: Vec<(String, Tensor<f32>)>,
    /// `bench --resident`: the bound input and output, kept alive.
    resident: Option<(DynTensor, Option<DynTensor>)>,
    /// The uint8 path's frames in page-locked host memory (`STYLIZE_ORT_TUNE=pinned=1` on CUDA/TensorRT).
    pinned: bool,
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

/// The engine's tiled path ([`tile`]): the budget, and the sessions once a frame has needed them.
struct Tiling {
    opts: EngineOptions,
    /// The model as the tiles see it (size rule, receptive field, memory per pixel).
    model: tile::TileModel,
    /// The layout for the last padded frame size asked about (`None`: whole frame).
    layout: Option<((usize, usize), Option<tile::TileLayout>)>,
    tiler: Option<tile::Tiler>,
    /// Extra inputs (a multi-style net's weights) as last set, for the tile sessions.
    extras: Vec<(String, Vec<f32>)>,
    /// The last frame's layout if it was tiled, for summaries.
    last: Option<tile::TileLayout>,
}

impl Tiling {
    fn new(info: &ModelInfo, pad: (usize, usize), opts: &EngineOptions) -> Tiling {
        let spec = info.meta(stylize_model::meta::SPEC).and_then(|j| stylize_model::meta::parse_spec(j).ok());
        // A model without our spec: assume the full net's cost and a generous receptive field.
        let (radius, bytes) = match &spec {
            Some(s) => (s.receptive_radius(), s.working_bytes_per_pixel()),
            None => (96, stylize_model::JohnsonSpec::full().working_bytes_per_pixel()),
        };
        let model = tile::TileModel { multiple: pad.0, min_side: pad.1, radius, bytes_per_pixel: bytes * TILE_GRAPH_OVERHEAD };
        Tiling { opts: opts.clone(), model, layout: None, tiler: None, extras: Vec::new(), last: None }
    }
}

/// The tile graphs' working memory against the whole-frame session's, per pixel. Measured (peak RSS, candy,
/// 1000x750): 780 bytes per pixel in tiles against 290 whole, where ONNX Runtime's arena and memory pattern
/// plan the whole graph's buffers. The tile sessions run without the arena (each of them would keep its peak
/// for good); what remains is per-node allocation and the slices the moments are taken from.
const TILE_GRAPH_OVERHEAD: f64 = 2.0;

impl Engine {
    pub fn load(model: &Path, opts: &EngineOptions) -> Result<Engine> {
        if !model.is_file() {
            return Err(Error::ModelMissing { path: model.to_path_buf() });
        }
        let bytes = std::fs::read(model).map_err(|e| Error::InputUnreadable { path: model.to_path_buf(), reason: e.to_string() })?;
        let (env, _) = ort_environment(opts.ort_lib.as_deref())?;
        if let Device::OpenVino(target) = opts.device {
            return Self::load_openvino(model, &bytes, &env, target, opts);
        }
        let asked_precision = opts.precision;
        // ONNX Runtime's `auto` is float32; bf16 is OpenVINO's.
        let precision = match opts.precision {
            Precision::Auto => Precision::Fp32,
            Precision::Bf16 => return Err(Error::Invalid("--precision bf16 runs on OpenVINO: add --device openvino".into())),
            p => p,
        };
        let opts = &EngineOptions { precision, ..opts.clone() };

        let order: &[Device] = match opts.device {
            Device::Auto => &[Device::TensorRt, Device::Cuda, Device::Cpu],
            d => std::slice::from_ref(match d {
                Device::Cpu => &Device::Cpu,
                Device::Cuda => &Device::Cuda,
                Device::TensorRt => &Device::TensorRt,
                _ => unreachable!("OpenVINO returned above"),
            }),
        };
        if opts.precision == Precision::Fp16 && opts.frame_io == FrameIo::F32 {
            return Err(Error::Invalid("--precision fp16 runs in the graph-wrapped uint8 path; use --frame-io u8 or auto".into()));
        }
        let mut notes = Vec::new();
        // The graph wrapped for uint8 frames (or why it could not be), made when a device first wants it. The
        // CPU gets its own rewrites (`WrapOptions::for_cpu`: convs on phases, uint8 shuffles CUDA has no kernels
        // for); GPUs get the phase convs only when a benchmark asks (`STYLIZE_ORT_TUNE=gpurewrite=1`).
        let tune = Tuning::from_env();
        let mut wrapped: Option<((bool, bool), WrapResult)> = None;
        // Asking for float32 frames, fp16 or ONNX Runtime tuning (STYLIZE_ORT_TUNE) means ONNX Runtime.
        let openvino_first = opts.device == Device::Auto
            && opts.auto_cpu != AutoCpu::OnnxRuntime
            && opts.frame_io != FrameIo::F32
            && opts.precision != Precision::Fp16
            && std::env::var_os("STYLIZE_ORT_TUNE").is_none();
        for &device in order {
            if device == Device::Cpu && openvino_first {
                let lite = stylize_model::onnx::read_spec(&bytes).is_ok_and(|spec| spec.space_to_depth);
                match ov::auto_prefers(&ov::cpu_flags(), lite, opts.auto_cpu) {
                    Ok(why) => {
                        let ov_opts = EngineOptions { device: Device::OpenVino(OvTarget::Cpu), precision: asked_precision, ..opts.clone() };
                        match Self::load_openvino(model, &bytes, &env, OvTarget::Cpu, &ov_opts) {
                            Ok(mut engine) => {
                                engine.device_notes = notes;
                                engine.auto_why = Some(why);
                                return Ok(engine);
                            }
                            // Not installed, or this model does not suit it: ONNX Runtime's CPU, saying why.
                            Err(e) => notes.push(format!("openvino: {}", e.to_string().lines().next().unwrap_or_default())),
                        }
                    }
                    Err(why) => notes.push(format!("openvino: {why}")),
                }
            }
            let mut io = opts.frame_io.resolve(device, opts.precision);
            let mut io_note = None;
            if io == FrameIo::U8 {
                let rewrites = match device {
                    Device::Cpu => (tune.cpu_rewrites, tune.cpu_rewrites),
                    _ => (tune.gpu_rewrites, false),
                };
                if wrapped.as_ref().map(|w| w.0) != Some(rewrites) {
                    wrapped = Some((rewrites, wrap_for_frames(&env, &bytes, model, opts.precision, rewrites)?));
                }
                if let Some((_, Err(why))) = &wrapped {
                    // Auto keeps the model as it is when it cannot be wrapped (unless fp16 needs the wrap).
                    if opts.frame_io != FrameIo::Auto || opts.precision == Precision::Fp16 {
                        let hint = if opts.precision == Precision::Fp16 { "use --precision fp32 --frame-io f32" } else { "try --frame-io f32" };
                        return Err(Error::ModelContract { path: model.to_path_buf(), reason: format!("{why}; {hint}") });
                    }
                    io = FrameIo::F32;
                    io_note = Some(why.clone());
                }
            }
            let wrap = match (&wrapped, io) {
                (Some((_, Ok(w))), FrameIo::U8) => Some(w),
                _ => None,
            };
            let session_bytes = wrap.map_or(bytes.as_slice(), |(_, w)| w.bytes.as_slice());
            match build_session(&env, session_bytes, device, opts) {
                Ok(session) => {
                    let info = match wrap {
                        Some((info, _)) => {
                            check_wrapped(&session, info)?;
                            info.clone()
                        }
                        None => inspect(&session, model)?,
                    };
                    let binding = session.create_binding().map_err(|e| invalid(model, e))?;
                    let styles = info.style_names();
                    let tiling = Tiling::new(&info, info.pad_rule(), opts);
                    let backend = Backend::Ort(Box::new(OrtRun { session, binding, buffers: None, frames: None, extras: Vec::new(), resident: None, pinned: device != Device::Cpu && tune.pinned }));
                    let mut engine = Engine {
                        backend,
                        pad: info.pad_rule(),
                        info,
                        device,
                        device_notes: notes,
                        fixed: None,
                        process_scale: opts.process_scale.filter(|&s| s < 1.0),
                        styles,
                        io,
                        precision: opts.precision,
                        wrap: wrap.map(|(_, w)| w.info.clone()),
                        io_note,
                        backend_note: None,
                        auto_why: None,
                        threads: opts.threads,
                        tiling,
                    };
                    engine.bind_default_extras()?;
                    return Ok(engine);
                }
                Err(SessionError::Device(reason)) if opts.device == Device::Auto => notes.push(format!("{}: {reason}", device.name())),
                Err(SessionError::Device(reason)) => {
                    let hint = if device == Device::Cpu { "" } else { ", or run scripts/setup.sh --gpu" };
                    return Err(Error::DeviceUnavailable { wanted: device.name(), reason, hint });
                }
                Err(SessionError::Model(reason)) if opts.precision == Precision::Fp16 && device == Device::Cpu => {
                    return Err(Error::ModelInvalid { path: model.to_path_buf(), reason: format!("{reason} (this ONNX Runtime cannot run the float16 graph on the CPU; use --precision fp32 there)") })
                }
                Err(SessionError::Model(reason)) => return Err(Error::ModelInvalid { path: model.to_path_buf(), reason }),
            }
        }
        unreachable!("the CPU provider is always tried last")
    }

    /// The uint8-wrapped graph on OpenVINO. The wrap is the plain one: its CPU rewrites were measured on ONNX
    /// Runtime's kernels, and OpenVINO fuses the conversions itself.
    fn load_openvino(model: &Path, bytes: &[u8], env: &ort::environment::Environment, target: OvTarget, opts: &EngineOptions) -> Result<Engine> {
        if opts.frame_io == FrameIo::F32 {
            return Err(Error::Invalid("--device openvino runs the uint8 frame path; drop --frame-io f32".into()));
        }
        let flags = ov::cpu_flags();
        let precision = ov::resolve_precision(opts.precision, target, &flags);
        let why = match (opts.precision, target) {
            (Precision::Auto, OvTarget::Cpu) if ov::native_bf16(&flags) => " (auto: the CPU has native bf16)",
            (Precision::Auto, OvTarget::Cpu) => " (auto: no native bf16 on this CPU)",
            (Precision::Bf16, OvTarget::Cpu) if !ov::native_bf16(&flags) => " (bf16 asked, but this CPU has no native bf16: OpenVINO runs f32)",
            (Precision::Auto, _) => " (auto: the device's default)",
            _ => "",
        };
        let (info, wrapped) = wrap_for_frames(env, bytes, model, Precision::Fp32, (false, false))?
            .map_err(|why| Error::ModelContract { path: model.to_path_buf(), reason: format!("{why}; the OpenVINO backend needs it: use --device cpu") })?;
        let session = ov::OvSession::new(&wrapped.bytes, &info, target, precision, opts.threads, opts.openvino_lib.as_deref())?;
        let tiling = Tiling::new(&info, info.pad_rule(), opts);
        Ok(Engine {
            backend: Backend::OpenVino(session),
            pad: info.pad_rule(),
            styles: info.style_names(),
            info,
            device: opts.device,
            device_notes: Vec::new(),
            fixed: None,
            process_scale: opts.process_scale.filter(|&s| s < 1.0),
            io: FrameIo::U8,
            precision,
            wrap: Some(wrapped.info),
            io_note: None,
            backend_note: Some(format!("{why}, on OpenVINO {} {}", ov::OPENVINO_VERSION, target.name())),
            auto_why: None,
            threads: opts.threads,
            tiling,
        })
    }

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

    /// The session's image input and output names.
    fn io_names(&self) -> (String, String) {
        match self.io {
            FrameIo::U8 => (FRAME_INPUT.to_string(), FRAME_OUTPUT.to_string()),
            _ => (self.info.input.clone(), self.info.output.clone()),
        }
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

    /// Whether a `ph` x `pw` frame runs in tiles, and how: forced by `--tile`, or because the network's working
    /// memory for the whole frame would exceed the budget. `frame_bytes`: the frame itself (the tiled path keeps
    /// a second copy for its output).
    fn tile_layout(&mut self, ph: usize, pw: usize, frame_bytes: usize) -> Result<Option<tile::TileLayout>> {
        if let Some(((h, w), layout)) = &self.tiling.layout {
            if (*h, *w) == (ph, pw) {
                return Ok(*layout);
            }
        }
        if self.info.fixed_size.is_some() {
            return Ok(None);
        }
        let t = &self.tiling;
        let model = t.model;
        let sharing = t.opts.sharing.max(1) as f64;
        let on_host = self.device.on_cpu();
        let rss = tile::resident_memory().unwrap_or(0) as f64;
        let (limit, what) = match (t.opts.max_memory, on_host) {
            (Some(m), true) => (m as f64 - rss, format!("--max-memory {}", tile::format_memory(m as f64))),
            (Some(m), false) => (m as f64, format!("--max-memory {} (of GPU memory)", tile::format_memory(m as f64))),
            (None, true) => {
                let free = tile::available_memory().map_or(8.0 * (1u64 << 30) as f64, |a| a as f64);
                (free * DEFAULT_MEMORY_SHARE, format!("the default budget ({:.0}% of the {} available)", DEFAULT_MEMORY_SHARE * 100.0, tile::format_memory(free)))
            }
            (None, false) => (GPU_DEFAULT_BUDGET as f64, format!("the default GPU budget ({})", tile::format_memory(GPU_DEFAULT_BUDGET as f64))),
        };
        let whole = (ph * pw) as f64 * model.bytes_per_pixel / TILE_GRAPH_OVERHEAD;
        let layout = match t.opts.tile {
            Some(side) => {
                let l = model.layout(ph, pw, (side * side) as f64, t.opts.tile_stats);
                if l.is_none() {
                    let core = model.multiple.max(model.min_side);
                    let min = core + 2 * model.margin();
                    return Err(Error::Invalid(format!("--tile {side} is smaller than this model's smallest tile ({min}: a {core} px core and {} px of context each side); use --tile {min} or more", model.margin())));
                }
                l
            }
            // Each of the engines sharing the budget may hold a whole frame at once.
            None if whole <= limit / sharing => None,
            None => {
                // The tiled path's own copy of the frame comes out of the host budget first.
                let left = (limit - if on_host { frame_bytes as f64 } else { 0.0 }) / sharing;
                let l = model.layout(ph, pw, left / model.bytes_per_pixel, t.opts.tile_stats);
                if l.is_none() {
                    let need = (model.smallest_tile_bytes() * sharing + if on_host { frame_bytes as f64 + rss } else { 0.0 }) * 1.1;
                    return Err(Error::Invalid(format!(
                        "{what} is too small to stylize a {pw}x{ph} frame even in the smallest tiles; give --max-memory {} or more",
                        tile::format_memory(need)
                    )));
                }
                l
            }
        };
        if layout.is_some() && self.precision == Precision::Fp16 {
            return Err(Error::Invalid(format!("a {pw}x{ph} frame runs in tiles here, and tiles run in fp32: drop --precision fp16 (or raise --max-memory)")));
        }
        self.tiling.layout = Some(((ph, pw), layout));
        Ok(layout)
    }

    /// Runs `frame` in tiles (see [`tile`]), building the tile sessions the first time.
    fn run_tiled(&mut self, frame: &mut Frame, layout: &tile::TileLayout) -> Result<()> {
        if self.tiling.tiler.is_none() {
            self.tiling.tiler = Some(self.build_tiler()?);
        }
        let t = &mut self.tiling;
        t.tiler.as_mut().expect("built above").run(frame, layout, &t.extras)?;
        t.last = Some(*layout);
        Ok(())
    }

    /// The probe and tile sessions: the model wrapped for uint8 frames as for whole frames, then rewritten for
    /// statistics from outside ([`stylize_model::norms`]). They run on the engine's device through ONNX Runtime
    /// (on its CPU for OpenVINO), without the CPU memory arena, so that each session gives its memory back
    /// before the next runs (with the arena, the exact statistics' one session per norm held 15 peaks).
    fn build_tiler(&self) -> Result<tile::Tiler> {
        let path = &self.info.path;
        let bytes = std::fs::read(path).map_err(|e| Error::InputUnreadable { path: path.clone(), reason: e.to_string() })?;
        let (env, _) = ort_environment(self.tiling.opts.ort_lib.as_deref())?;
        let tune = Tuning::from_env();
        let device = if self.device.on_cpu() { Device::Cpu } else { self.device };
        let rewrites = if device == Device::Cpu { (tune.cpu_rewrites, tune.cpu_rewrites) } else { (tune.gpu_rewrites, false) };
        let cannot = |why: String| Error::ModelContract { path: path.clone(), reason: format!("this frame needs tiling, but {why}") };
        let (_, wrapped) = wrap_for_frames(&env, &bytes, path, Precision::Fp32, rewrites)?.map_err(cannot)?;
        use stylize_model::norms::{rewrite_bytes, Variant};
        let rewrite = |variant| rewrite_bytes(&wrapped.bytes, variant).map_err(|e| cannot(e.to_string()));
        let (tiles, norms) = rewrite(Variant::Render)?;
        // Exact statistics need one graph per norm; probe statistics the probe graph.
        let (probe, moments) = match self.tiling.opts.tile_stats {
            tile::TileStats::Exact => (None, (0..norms).map(|k| rewrite(Variant::Moments(k)).map(|(b, _)| b)).collect::<Result<Vec<_>>>()?),
            tile::TileStats::Probe => (Some(rewrite(Variant::Probe)?.0), Vec::new()),
        };
        let opts = EngineOptions { precision: Precision::Fp32, ..self.tiling.opts.clone() };
        let session = |bytes: &[u8]| match build_session_with(&env, bytes, device, &opts, false) {
            Ok(s) => Ok(s),
            Err(SessionError::Device(why) | SessionError::Model(why)) => Err(invalid(path, format!("the tile graph: {why}"))),
        };
        let moments = moments.iter().map(|b| session(b)).collect::<Result<Vec<_>>>()?;
        Ok(tile::Tiler::new(probe.as_deref().map(session).transpose()?, session(&tiles)?, moments))
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
        if self.io == FrameIo::U8 {
            return ort.run_frames(frame, ph, pw, self.device, &self.info.path);
        }
        if ort.buffers.as_ref().is_none_or(|b| b.height != ph || b.width != pw) {
            let input = Tensor::<f32>::new(&ort::memory::Allocator::default(), [1usize, 3, ph, pw]).map_err(|e| infer_err(w, h, e))?;
            ort.binding.bind_input(self.info.input.clone(), &input).map_err(|e| infer_err(w, h, e))?;
            let cpu = ort.session.allocator().memory_info().clone();
            ort.binding.bind_output_to_device(self.info.output.clone(), &cpu).map_err(|e| infer_err(w, h, e))?;
            ort.buffers = Some(Buffers { height: ph, width: pw, input, output: None });
        }
        let scale = self.info.range_max / 255.0;
        let buffers = ort.buffers.as_mut().expect("buffers set above");
        {
            let (_, data) = buffers.input.try_extract_tensor_mut::<f32>().map_err(|e| Error::Invalid(e.to_string()))?;
            rgb_to_planar(frame, data, ph, pw, scale);
        }
        // Bound again every frame: binding copies a host tensor to a GPU provider's memory then and there.
        ort.binding.bind_input(self.info.input.clone(), &buffers.input).map_err(|e| Error::Invalid(first_line(&e.to_string())))?;
        let outputs = ort.session.run_binding(&ort.binding).map_err(|e| Error::Inference {
            width: w,
            height: h,
            reason: first_line(&e.to_string()),
            hint: if self.device == Device::Cpu { "" } else { " (too large for GPU memory? try --scale 0.5)" },
        })?;
        let unscale = 255.0 / self.info.range_max;
        let first_run = ort.buffers.as_ref().is_some_and(|b| b.output.is_none());
        // The run's outputs hold the bound output tensor too, once it is bound.
        let (shape, data) = outputs[self.info.output.as_str()].try_extract_tensor::<f32>().map_err(|e| Error::Invalid(e.to_string()))?;
        let out_dims: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
        check_output(&out_dims, h, w, &self.info.path)?;
        planar_to_rgb(data, out_dims[2], out_dims[3], frame, unscale);
        drop(outputs);
        if first_run {
            // Now that the output shape is known, give ONNX Runtime a buffer to write every following frame into.
            let mut out = Tensor::<f32>::new(&ort::memory::Allocator::default(), out_dims.clone()).map_err(|e| infer_err(w, h, e))?;
            ort.binding.bind_output(self.info.output.clone(), &mut out).map_err(|e| infer_err(w, h, e))?;
            ort.buffers.as_mut().expect("buffers set above").output = Some(out);
        }
        Ok(())
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
    /// The uint8 path: the padded RGB24 frame is the input tensor, the output tensor's rows are the result.
    fn run_frames(&mut self, frame: &mut Frame, ph: usize, pw: usize, device: Device, path: &Path) -> Result<()> {
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
        let outputs = self.session.run_binding(&self.binding).map_err(|e| Error::Inference {
            width: w,
            height: h,
            reason: first_line(&e.to_string()),
            hint: if device == Device::Cpu { "" } else { " (too large for GPU memory? try --scale 0.5)" },
        })?;
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
struct Tuning {
    opt_level: GraphOptimizationLevel,
    spinning: Option<bool>,
    memory_pattern: Option<bool>,
    /// The CPU graph rewrites of the uint8 wrap (`WrapOptions::for_cpu`).
    cpu_rewrites: bool,
    /// The phase convs on GPUs too (off until measured there).
    gpu_rewrites: bool,
    /// CUDA: NHWC kernels for the convolutions (`prefer_nhwc`; tensor cores like that layout).
    prefer_nhwc: bool,
    /// CUDA: TensorFloat-32 for fp32 convolutions.
    tf32: bool,
    /// CUDA: capture the run into a CUDA graph and replay it (fixed frame size and buffer addresses: `bench --resident`).
    cuda_graph: bool,
    /// CUDA: cuDNN's convolution algorithm search (ONNX Runtime's default is exhaustive).
    conv_search: Option<ep::cuda::ConvAlgorithmSearch>,
    /// CUDA, uint8 frames in host memory: page-locked input and output buffers (faster, asynchronous copies).
    pinned: bool,
}

impl Tuning {
    fn from_env() -> Tuning {
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

enum SessionError {
    /// The execution provider could not be used (missing library, no GPU, ...).
    Device(String),
    /// ONNX Runtime rejected the model itself.
    Model(String),
}

fn build_session(env: &ort::environment::Environment, bytes: &[u8], device: Device, opts: &EngineOptions) -> std::result::Result<Session, SessionError> {
    build_session_with(env, bytes, device, opts, true)
}

/// [`build_session`]; `arena: false` gives memory back to the system after each run on the CPU (ONNX Runtime's
/// arena keeps its peak for the session's life).
fn build_session_with(env: &ort::environment::Environment, bytes: &[u8], device: Device, opts: &EngineOptions, arena: bool) -> std::result::Result<Session, SessionError> {
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

/// A model wrapped for uint8 frames, or why it cannot be.
type WrapResult = std::result::Result<(ModelInfo, wrap::Wrapped), String>;

/// Inspects the model as it is (a plain CPU session, not optimized: the contract checks and messages of
/// [`inspect`]) and wraps it for uint8 frames. The outer error: the model is unusable; the inner one: it is
/// fine but cannot be wrapped (the float32 path can still run it).
/// `rewrites`: [`WrapOptions::phase_convs`] and [`WrapOptions::shuffle_bytes`].
fn wrap_for_frames(env: &ort::environment::Environment, bytes: &[u8], path: &Path, precision: Precision, rewrites: (bool, bool)) -> Result<WrapResult> {
    let session = (|| Session::builder(env)?.with_optimization_level(GraphOptimizationLevel::Disable)?.with_intra_threads(1)?.commit_from_memory(bytes))()
        .map_err(|e| invalid(path, e))?;
    let info = inspect(&session, path)?;
    drop(session);
    let opts = WrapOptions {
        input: Some(info.input.clone()),
        output: Some(info.output.clone()),
        range_max: Some(info.range_max),
        fp16: precision == Precision::Fp16,
        phase_convs: rewrites.0,
        shuffle_bytes: rewrites.1,
    };
    Ok(match wrap::wrap_frame_io(bytes, &opts) {
        Ok(w) => Ok((info, w)),
        Err(e) => Err(format!("cannot wrap the graph for uint8 frames: {e}")),
    })
}

/// The wrapped session has the uint8 frame input and output, and the model's extra inputs.
fn check_wrapped(session: &Session, info: &ModelInfo) -> Result<()> {
    let bad = |reason: String| Error::ModelInvalid { path: info.path.clone(), reason: format!("the uint8-wrapped graph: {reason}") };
    let input = session.inputs().iter().find(|i| i.name() == FRAME_INPUT).ok_or_else(|| bad(format!("no input {FRAME_INPUT:?}")))?;
    if input.dtype().tensor_type() != Some(ort::value::TensorElementType::Uint8) {
        return Err(bad(format!("input {FRAME_INPUT:?} is not uint8")));
    }
    if !session.outputs().iter().any(|o| o.name() == FRAME_OUTPUT) {
        return Err(bad(format!("no output {FRAME_OUTPUT:?}")));
    }
    let extras = session.inputs().iter().filter(|i| i.name() != FRAME_INPUT).count();
    if extras != info.extra_inputs.len() {
        return Err(bad(format!("{extras} extra inputs, the model has {}", info.extra_inputs.len())));
    }
    Ok(())
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
    fn pad_rule_follows_the_spec_in_the_metadata() {
        let info = |metadata: Vec<(String, String)>| ModelInfo { path: "m.onnx".into(), input: "input".into(), output: "output".into(), range_max: 255.0, fixed_size: None, extra_inputs: Vec::new(), metadata };
        let spec = |s: &stylize_model::JohnsonSpec| stylize_model::meta::standard(s, "test");
        assert_eq!(info(Vec::new()).pad_rule(), (4, 32));
        assert_eq!(info(spec(&stylize_model::JohnsonSpec::full())).pad_rule(), (4, 32));
        assert_eq!(info(spec(&stylize_model::JohnsonSpec::lite())).pad_rule(), (8, 32));
        assert!(info(spec(&stylize_model::JohnsonSpec::lite())).size_policy().contains("multiple of 8"));
    }

    #[test]
    fn frame_io_and_precision_names_parse() {
        use clap::ValueEnum;
        assert_eq!(FrameIo::from_str("uint8", true), Ok(FrameIo::U8));
        assert_eq!(Precision::from_str("half", true), Ok(Precision::Fp16));
        assert_eq!((FrameIo::U8.name(), Precision::Fp16.name()), ("u8".to_string(), "fp16".to_string()));
        assert_eq!(FrameIo::Auto.resolve(Device::Cuda, Precision::Fp32), FrameIo::U8);
        assert_eq!(FrameIo::Auto.resolve(Device::Cpu, Precision::Fp16), FrameIo::U8);
        assert_eq!(FrameIo::F32.resolve(Device::Cuda, Precision::Fp32), FrameIo::F32);
    }

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

    #[test]
    fn device_names_parse() {
        use clap::ValueEnum;
        assert_eq!(Device::from_str("CUDA", true), Ok(Device::Cuda));
        assert_eq!(Device::from_str("trt", true), Ok(Device::TensorRt));
        assert_eq!(Device::TensorRt.name(), "tensorrt");
        assert!(Device::from_str("tpu", true).is_err());
    }
}
