//! What callers choose about an engine: the device, how frames cross into the graph, the arithmetic, and the
//! rest of [`EngineOptions`]. Plain values with their command-line names; nothing here loads anything.

use std::path::PathBuf;

use super::ov::OvTarget;
use super::tile;

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
    pub(super) fn resolve(self, device: Device, precision: Precision) -> FrameIo {
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
    /// An INT8 model (`NAME-int8.onnx` beside the float one, made by `scripts/quantize.sh`): auto takes it for
    /// streams of frames on OpenVINO's CPU where the CPU has VNNI.
    #[value(alias = "i8")]
    Int8,
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
    /// auto, float32, float16 (opt-in, graph-wrapped), bfloat16 (OpenVINO) or int8 (an INT8 model).
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn device_names_parse() {
        use clap::ValueEnum;
        assert_eq!(Device::from_str("CUDA", true), Ok(Device::Cuda));
        assert_eq!(Device::from_str("trt", true), Ok(Device::TensorRt));
        assert_eq!(Device::TensorRt.name(), "tensorrt");
        assert!(Device::from_str("tpu", true).is_err());
    }
}
