//! Command-line options that several subcommands share: the engine's (every command that runs a model), the
//! blend with the input (`--strength`, `--preserve-color`) and a video job's (`video`, `demo`). They are plain
//! structs as well, for callers of the library.

use std::path::PathBuf;

use clap::Args;

use crate::engine::{AutoCpu, Device, Engine, EngineOptions, FrameIo, Precision};
use crate::effects::Effects;
#[cfg(feature = "video")]
use crate::temporal::TemporalMode;
use crate::error::{Error, Result};
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
    /// Network arithmetic: auto (fp32; on OpenVINO bf16 where the CPU has it natively, and for streams of frames
    /// the model's INT8 version where there is one and the CPU has VNNI), fp32, fp16 (opt-in, for GPUs; runs in
    /// the u8 path), bf16 (OpenVINO), int8 (the model's INT8 version, NAME-int8.onnx; see scripts/quantize.sh)
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

// How the stylized frame is blended with the input (`image`, `video`, `demo`). (No doc comment: clap would
// take it for the help text of the commands that flatten these options.)
#[derive(Args, Clone, Debug)]
pub struct EffectArgs {
    /// Blend with the input: 0 = the input, 1 = fully stylized
    #[arg(long, default_value_t = 1.0)]
    pub strength: f32,
    /// Keep the input's colours: take only the luminance (the strokes) from the style
    #[arg(long)]
    pub preserve_color: bool,
}

impl EffectArgs {
    pub fn effects(&self) -> Result<Effects> {
        if !(0.0..=1.0).contains(&self.strength) {
            return Err(Error::Invalid(format!("--strength {} is out of range; use 0 (the input) to 1 (fully stylized)", self.strength)));
        }
        Ok(Effects { strength: self.strength, preserve_color: self.preserve_color })
    }
}

#[cfg(feature = "video")]
// The options of `stylize video` (and `demo`) besides the model's: size, encoding, segments, streams.
#[derive(Args, Clone, Debug)]
pub struct VideoArgs {
    /// Output size WxH (odd sides are rounded down to even)
    #[arg(long, value_parser = parse_size, conflicts_with = "scale")]
    pub size: Option<(u32, u32)>,
    /// Output size as a factor of the input's (e.g. 0.5)
    #[arg(long)]
    pub scale: Option<f64>,
    /// H.264 constant rate factor (x264/x265)
    #[arg(long, default_value_t = 18)]
    pub crf: u8,
    /// FFmpeg encoder (default libx264, else mpeg4)
    #[arg(long)]
    pub codec: Option<String>,
    /// x264 preset; auto picks the slowest (smallest files) that does not slow the stylizer down:
    /// ultrafast for real-time models on the CPU, veryfast for the full nets
    #[arg(long, default_value = "auto", value_parser = ["auto", "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"])]
    pub preset: String,
    /// On a corrupt input keep the frames before the damage (as NAME.partial.EXT)
    #[arg(long)]
    pub keep_partial: bool,
    /// Stop after this many frames
    #[arg(long)]
    pub frames: Option<u64>,
    /// Print how the input splits into N keyframe-aligned segments (index, start, end, frames), then exit
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub plan: Option<u64>,
    /// With --plan: JSON for schedulers
    #[arg(long, requires = "plan")]
    pub json: bool,
    /// Stylize only segment K of N (K from 0; see --plan) into -o, for `stylize join`
    #[arg(long, value_name = "K/N", value_parser = parse_segment, conflicts_with = "plan")]
    pub segment: Option<(usize, usize)>,
    /// Stop after this many seconds of input (a live stream otherwise runs until Ctrl-C)
    #[arg(long)]
    pub duration: Option<f64>,
    /// Frame rate of an image-sequence input (frames/%05d.png; default 25)
    #[arg(long)]
    pub fps: Option<f64>,
    /// Stream outputs (rtmp://, srt://, udp://): bit rate in kbit/s (default: about 0.15 bits per pixel per frame)
    #[arg(long, value_parser = clap::value_parser!(u32).range(50..=200_000))]
    pub bitrate: Option<u32>,
    /// Stream outputs: seconds between keyframes
    #[arg(long, default_value_t = 2.0)]
    pub keyframe_seconds: f32,
    /// Batches: leave out inputs whose output already exists (to rerun a batch)
    #[arg(long)]
    pub skip_existing: bool,
    /// MP4/MOV: leave the index at the end (by default it goes first, so browsers play the file while it loads)
    #[arg(long)]
    pub no_faststart: bool,
    /// Frames stylized at once, each by its own copy of the model with a share of the threads (default: 2 on
    /// a CPU with 2 or more cores for frames up to 1080p, else 1)
    #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=64))]
    pub parallel_frames: Option<usize>,
    #[arg(long, default_value = crate::temporal::DEFAULT_MODE, ignore_case = true, help = TEMPORAL_HELP)]
    pub temporal: TemporalMode,
}


/// `--temporal` (video, demo, live, serve, flicker).
pub const TEMPORAL_HELP: &str = "Temporal coherence: on keeps the previous output where the scene stands still (optical \
flow on the input), so still parts do not boil, and stylizes what moves afresh (full style; where the camera moves, \
what moves keeps its strokes for a few frames); smooth also carries moving parts along the flow (steadier motion, \
paler strokes); off stylizes each frame on its own";

#[cfg(feature = "video")]
impl Default for VideoArgs {
    /// The command line's defaults (CRF 18, preset auto, ...), for callers of the library.
    fn default() -> Self {
        #[derive(clap::Parser)]
        struct Defaults {
            #[command(flatten)]
            video: VideoArgs,
        }
        <Defaults as clap::Parser>::parse_from(["stylize"]).video
    }
}

/// Options given as words by a program that embeds the library (the Python package, the GStreamer element),
/// parsed by the command's own clap structs so the defaults and checks are the command's; an error is clap's
/// first line, without its `error: `.
pub fn parse_words<T: clap::Parser>(words: Vec<String>) -> std::result::Result<T, String> {
    T::try_parse_from(words).map_err(|e| e.to_string().lines().next().unwrap_or_default().trim_start_matches("error: ").to_string())
}

/// Parses `WxH` (`640x360`) for `--size` and `bench --sizes`.
pub fn parse_size(s: &str) -> std::result::Result<(u32, u32), String> {
    parse_size_within(s, 1..=16384)
}

/// Parses `WxH` with both sides in `sides` (each command knows what it can take).
pub fn parse_size_within(s: &str, sides: std::ops::RangeInclusive<u32>) -> std::result::Result<(u32, u32), String> {
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(|| format!("size {s:?} is not WxH (e.g. 640x360)"))?;
    let w: u32 = w.trim().parse().map_err(|_| format!("bad width in {s:?}"))?;
    let h: u32 = h.trim().parse().map_err(|_| format!("bad height in {s:?}"))?;
    if !sides.contains(&w) || !sides.contains(&h) {
        return Err(format!("size {s:?} out of range ({}..{})", sides.start(), sides.end()));
    }
    Ok((w, h))
}

/// Parses `K/N` (0-based K).
pub fn parse_segment(s: &str) -> std::result::Result<(usize, usize), String> {
    let (k, n) = s.split_once('/').ok_or_else(|| format!("--segment {s:?} is not K/N (e.g. 0/8)"))?;
    let k: usize = k.trim().parse().map_err(|_| format!("bad segment index in {s:?}"))?;
    let n: usize = n.trim().parse().map_err(|_| format!("bad segment count in {s:?}"))?;
    if n == 0 || k >= n {
        return Err(format!("--segment {s:?}: K counts from 0 and must be below N"));
    }
    Ok((k, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_specs_parse() {
        assert_eq!(parse_segment("0/8"), Ok((0, 8)));
        assert_eq!(parse_segment(" 7 / 8 "), Ok((7, 8)));
        assert!(parse_segment("8/8").is_err());
        assert!(parse_segment("1/0").is_err());
        assert!(parse_segment("x").is_err());
    }

    #[test]
    fn sizes_parse_within_their_range() {
        assert_eq!(parse_size("640x360"), Ok((640, 360)));
        assert_eq!(parse_size_within(" 2 X 8192", 2..=8192), Ok((2, 8192)));
        assert_eq!(parse_size_within("1x8", 2..=8192), Err("size \"1x8\" out of range (2..8192)".to_string()));
        assert!(parse_size("640").is_err() && parse_size("ax3").is_err());
    }
}
