//! Mixed precision and memory layout of the forward passes.
//!
//! tch's `autocast` is CUDA-only and uses fp16 (which needs loss scaling), so bf16 is done with explicit casts:
//! the convolutions of the transformer and of the frozen VGG16 run in bf16, while the trained weights stay fp32
//! (a cast is differentiable: the gradients reach the fp32 master weights) and the instance norms, the residual
//! sums, the Gram matrices and the losses stay fp32. The same casts run on the CPU, so tests can check them.
//! Channels-last is asked for by giving tensors NHWC strides, which PyTorch's convolutions follow.

use anyhow::{bail, Result};
use tch::{Device, Kind, Tensor};

/// The arithmetic of the convolutions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    Fp32,
    Bf16,
}

impl Precision {
    /// `auto`, `fp32` or `bf16`. Auto is bf16 on CUDA and on CPUs with native bf16 (AVX-512 BF16, AMX: a lite
    /// net's step 1.7-1.8x faster, a full net's 1.6x), fp32 on other CPUs (bf16 convolutions crawl there).
    pub fn parse(s: &str, device: Device) -> Result<Self> {
        match s {
            "auto" => Ok(Self::auto(device, &std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default())),
            "fp32" | "f32" => Ok(Self::Fp32),
            "bf16" => Ok(Self::Bf16),
            other => bail!("--precision {other}: auto, fp32 or bf16"),
        }
    }

    /// What `auto` means on `device`, given the CPU's `/proc/cpuinfo`.
    pub fn auto(device: Device, cpuinfo: &str) -> Self {
        let native_bf16 = cpuinfo.split_whitespace().any(|f| f == "avx512_bf16" || f == "amx_bf16");
        if device.is_cuda() || native_bf16 {
            Self::Bf16
        } else {
            Self::Fp32
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Fp32 => "fp32",
            Self::Bf16 => "bf16",
        }
    }
}

/// How a forward pass computes its convolutions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Compute {
    pub kind: Kind,
    pub channels_last: bool,
}

impl Default for Compute {
    fn default() -> Self {
        Self { kind: Kind::Float, channels_last: false }
    }
}

impl Compute {
    pub fn new(precision: Precision, channels_last: bool) -> Self {
        let kind = match precision {
            Precision::Fp32 => Kind::Float,
            Precision::Bf16 => Kind::BFloat16,
        };
        Self { kind, channels_last }
    }

    /// `t` (a 4-d input or weight) in this precision and layout; unchanged when it already is.
    pub fn cast(&self, t: &Tensor) -> Tensor {
        let t = t.to_kind(self.kind);
        if self.channels_last {
            channels_last(&t)
        } else {
            t
        }
    }
}

/// The same values with NHWC strides (a no-op copy-wise when they already have them).
pub fn channels_last(t: &Tensor) -> Tensor {
    t.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2])
}
