//! `stylize-train`: perceptual-loss training of the stylize Johnson networks on tch
//! (libtorch), and their export to ONNX through the shared `stylize-model` writer.
//!
//! Modules in the spirit of pytorch/examples `fast_neural_style`: [`transformer`] (the net),
//! [`vgg`] (the loss network), [`data`] (image folder, crops, worker threads), [`train`] (the
//! loop), plus [`loss`], [`optim`] (a checkpointable Adam), [`schedule`] (the learning rate), [`ckpt`],
//! [`report`], [`export`], [`optimize`] (Gatys per-image optimisation), [`score`] and [`calibrate`] (the style
//! weight for a wanted style ratio).

pub mod calibrate;
pub mod ckpt;
pub mod data;
pub mod export;
pub mod io;
pub mod loss;
pub mod mixed;
pub mod optim;
pub mod optimize;
pub mod report;
pub mod schedule;
pub mod score;
pub mod train;
pub mod transformer;
pub mod vgg;

/// `cpu`, `cuda` / `cuda:N`, or `auto` (CUDA when libtorch sees a GPU).
pub fn parse_device(s: &str) -> anyhow::Result<tch::Device> {
    match s {
        "cpu" => Ok(tch::Device::Cpu),
        "auto" => Ok(tch::Device::cuda_if_available()),
        "cuda" | "gpu" => {
            if !tch::Cuda::is_available() {
                anyhow::bail!("--device cuda: libtorch sees no CUDA device (is libtorch_cuda.so linked and the driver present?)");
            }
            Ok(tch::Device::Cuda(0))
        }
        s => match s.strip_prefix("cuda:").and_then(|i| i.parse().ok()) {
            Some(i) => Ok(tch::Device::Cuda(i)),
            None => anyhow::bail!("unknown device {s:?}: cpu, cuda, cuda:N or auto"),
        },
    }
}
