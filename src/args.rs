//! Command-line options every subcommand that runs a model shares (`stylize image`, `video`, `live`, `bench`, ...).

use std::path::PathBuf;

use clap::Args;

use crate::engine::{Device, Engine, EngineOptions, FrameIo, Precision};
use crate::error::{Error, Result};
use crate::{models, styles};

#[derive(Args, Clone, Debug)]
pub struct EngineArgs {
    /// Execution provider: auto tries TensorRT, then CUDA, then CPU
    #[arg(long, default_value = "auto", global = true, ignore_case = true)]
    pub device: Device,
    /// Inference threads (default: all cores)
    #[arg(long, global = true)]
    pub threads: Option<usize>,
    /// Frames into the graph: u8 (the graph is wrapped to take and give uint8 RGB, no float conversion on
    /// the host), f32 (float32 NCHW converted on the host), auto (u8 on GPUs; on the CPU the faster)
    #[arg(long, default_value = "auto", global = true, ignore_case = true)]
    pub frame_io: FrameIo,
    /// Network arithmetic: fp32, or fp16 (opt-in, for GPUs; runs in the u8 path)
    #[arg(long, default_value = "fp32", global = true, ignore_case = true)]
    pub precision: Precision,
    /// Path of libonnxruntime.so (default: $ORT_DYLIB_PATH, beside the binary, .deps/)
    #[arg(long, global = true)]
    pub ort_lib: Option<PathBuf>,
    /// Run the network at this fraction of the frame size and upsample its output (e.g. 0.5: ~4x faster, softer strokes)
    #[arg(long, global = true, value_parser = crate::engine::parse_process_scale)]
    pub process_scale: Option<f32>,
    /// Extra folder with models (searched before onnx/)
    #[arg(long, global = true)]
    pub models_dir: Option<PathBuf>,
    /// Multi-style models: the mix of styles, e.g. candy=0.7,mosaic=0.3 (default: all styles evenly)
    #[arg(long, global = true)]
    pub style_mix: Option<String>,
    /// No progress bar or notes
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

impl EngineArgs {
    pub fn options(&self) -> EngineOptions {
        EngineOptions {
            device: self.device,
            frame_io: self.frame_io,
            precision: self.precision,
            threads: self.threads,
            ort_lib: self.ort_lib.clone(),
            trt_cache: None,
            process_scale: self.process_scale,
        }
    }

    /// The model's path: a file, or a name in `--models-dir` / onnx/.
    pub fn model_path(&self, model: &str) -> PathBuf {
        models::resolve(model, self.models_dir.as_deref())
    }

    /// Loads `model` (saying where it runs unless quiet) with the `--style-mix` applied.
    pub fn load(&self, model: &str) -> Result<Engine> {
        let path = self.model_path(model);
        let mut engine = Engine::load(&path, &self.options())?;
        if !self.quiet {
            eprintln!("{}", engine.load_line());
        }
        let names = engine.style_names();
        match &self.style_mix {
            Some(text) => {
                let mix = parse_style_mix(text, &names, model)?;
                engine.set_style_mix(&mix)?;
                if !self.quiet {
                    eprintln!("style mix: {}", styles::describe(&mix, &names));
                }
            }
            None if !names.is_empty() && !self.quiet => {
                eprintln!("note: {model} mixes {} styles ({}) evenly; pick with --style-mix, e.g. --style-mix {}=1", names.len(), names.join(", "), names[0]);
            }
            None => {}
        }
        Ok(engine)
    }
}

/// A `--style-mix` for a model with these style names (none: a one-style model, which takes no mix).
pub fn parse_style_mix(text: &str, names: &[String], model: &str) -> Result<Vec<f32>> {
    if names.is_empty() {
        let name = std::path::Path::new(model).file_stem().unwrap_or_default().to_string_lossy().to_string();
        return Err(Error::Invalid(format!("--style-mix: {name} has one style; mixes need a multi-style model (e.g. styles4-lite)")));
    }
    styles::parse_mix(text, names)
}
