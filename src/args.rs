//! Command-line options every subcommand that runs a model shares (`stylize image`, `video`, `live`, `bench`, ...).

use std::path::PathBuf;

use clap::Args;

use crate::engine::{AutoCpu, Device, Engine, EngineOptions, FrameIo, Precision};
use crate::error::Result;
use crate::{models, styles};

#[derive(Args, Clone, Debug)]
pub struct EngineArgs {
    /// Execution provider: auto tries TensorRT, then CUDA, then the CPU (OpenVINO's where installed and faster:
    /// video, live, serve and bench on CPUs with native bf16, else for lite nets; image for full nets on native
    /// bf16; otherwise ONNX Runtime's);
    /// cpu is ONNX Runtime's CPU; openvino runs on OpenVINO's CPU (openvino:GPU, openvino:NPU: untested)
    #[arg(long, default_value = "auto", global = true, ignore_case = true)]
    pub device: Device,
    /// Inference threads (default: all cores)
    #[arg(long, global = true)]
    pub threads: Option<usize>,
    /// Frames into the graph: u8 (the graph is wrapped to take and give uint8 RGB, no float conversion on
    /// the host), f32 (float32 NCHW converted on the host), auto (u8 on GPUs; on the CPU the faster)
    #[arg(long, default_value = "auto", global = true, ignore_case = true)]
    pub frame_io: FrameIo,
    /// Network arithmetic: auto (fp32; on OpenVINO bf16 where the CPU has it natively), fp32, fp16 (opt-in,
    /// for GPUs; runs in the u8 path), bf16 (OpenVINO)
    #[arg(long, default_value = "auto", global = true, ignore_case = true)]
    pub precision: Precision,
    /// Path of libonnxruntime.so (default: $ORT_DYLIB_PATH, beside the binary, .deps/)
    #[arg(long, global = true)]
    pub ort_lib: Option<PathBuf>,
    /// Set by [`Self::for_frame_streams`] and [`Self::for_photos`].
    #[arg(skip)]
    pub auto_cpu: AutoCpu,
    /// Path of libopenvino_c.so or its folder (default: $OPENVINO_INSTALL_DIR, beside the binary, .deps/openvino)
    #[arg(long, global = true)]
    pub openvino_lib: Option<PathBuf>,
    /// Run the network at this fraction of the frame size and upsample its output (e.g. 0.5: ~4x faster, softer strokes)
    #[arg(long, global = true, value_parser = crate::engine::parse_process_scale)]
    pub process_scale: Option<f32>,
    /// Memory the network may use per frame (e.g. 2G, 512M); larger frames run in tiles with the whole frame's
    /// look. Default: 60% of the memory available (on a GPU, 6G)
    #[arg(long, global = true, value_parser = crate::engine::tile::parse_memory, value_name = "SIZE")]
    pub max_memory: Option<u64>,
    /// Always run the network in tiles of at most SIZE x SIZE pixels, context included (e.g. 1024)
    #[arg(long, global = true, value_name = "SIZE")]
    pub tile: Option<usize>,
    /// Tiled frames' norm statistics: exact (the tiles match the whole frame; 9-15x the time of a whole run) or probe (from the
    /// frame shrunk beside the tiles: 1.5-2x a whole run's time, a tone shift)
    #[arg(long, default_value = "exact", global = true, ignore_case = true)]
    pub tile_stats: crate::engine::tile::TileStats,
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
            openvino_lib: self.openvino_lib.clone(),
            trt_cache: None,
            process_scale: self.process_scale,
            max_memory: self.max_memory,
            tile: self.tile,
            sharing: 1,
            tile_stats: self.tile_stats,
            auto_cpu: self.auto_cpu,
        }
    }

    /// These options for a stream of same-size frames (video, live, serve, bench, flicker): there `--device auto`
    /// prefers OpenVINO's CPU where it is installed and faster per frame (see `engine::ov::auto_prefers`).
    pub fn for_frame_streams(&self) -> EngineArgs {
        EngineArgs { auto_cpu: AutoCpu::Streams, ..self.clone() }
    }

    /// These options for single photos (`image`): OpenVINO compiles the network for each frame size, which a
    /// photo pays in full, so `--device auto` takes it only where it still wins (full nets on native bf16).
    pub fn for_photos(&self) -> EngineArgs {
        EngineArgs { auto_cpu: AutoCpu::Photos, ..self.clone() }
    }

    /// The model's path: a file, or a name in `--models-dir` / onnx/.
    pub fn model_path(&self, model: &str) -> PathBuf {
        models::resolve(model, self.models_dir.as_deref())
    }

    /// Loads `model` (saying where it runs unless quiet) with the `--style-mix` applied.
    pub fn load(&self, model: &str) -> Result<Engine> {
        self.load_shared(model, 1)
    }

    /// [`Self::load`] for one of `sharing` engines that stylize at once and share the memory budget.
    fn load_shared(&self, model: &str, sharing: usize) -> Result<Engine> {
        let path = self.model_path(model);
        let mut engine = Engine::load(&path, &EngineOptions { sharing, ..self.options() })?;
        if !self.quiet {
            eprintln!("{}", engine.load_line());
        }
        match &self.style_mix {
            Some(text) => {
                let mix = engine.parse_style_mix(text)?;
                engine.set_style_mix(&mix)?;
                if !self.quiet {
                    eprintln!("style mix: {}", styles::describe(&mix, engine.style_names()));
                }
            }
            None if !engine.style_names().is_empty() && !self.quiet => {
                let names = engine.style_names();
                eprintln!("note: {model} mixes {} styles ({}) evenly; pick with --style-mix, e.g. --style-mix {}=1", names.len(), names.join(", "), names[0]);
            }
            None => {}
        }
        Ok(engine)
    }

    /// Loads `model` once per frame stylized at once (`parallel`; default: 2 on a CPU with at least 2 cores, where
    /// two single-threaded engines get through 1.1-1.3x the frames of one with two threads; 1 on a GPU), sharing
    /// the threads out between them. Only the first says where it runs.
    pub fn load_stylizers(&self, model: &str, parallel: Option<usize>) -> Result<Vec<Engine>> {
        let cores = self.threads.unwrap_or_else(crate::cores);
        let n = parallel.unwrap_or(if cores >= 2 { 2 } else { 1 }).max(1);
        // The CPU threads are what is shared out; on a GPU they only run the few CPU-side nodes.
        let each = EngineArgs { threads: (n > 1).then(|| (cores / n).max(1)).or(self.threads), ..self.clone() };
        let first = each.load_shared(model, n)?;
        // A GPU runs one frame at a time unless asked otherwise.
        let n = if first.device().on_cpu() || parallel.is_some() { n } else { 1 };
        let mut engines = vec![first];
        let quiet = EngineArgs { quiet: true, ..each };
        for _ in 1..n {
            engines.push(quiet.load_shared(model, n)?);
        }
        Ok(engines)
    }
}
