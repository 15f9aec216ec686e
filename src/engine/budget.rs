//! The memory budget: whether a frame fits the network's working memory whole or runs in tiles ([`tile`]),
//! and the tile sessions, built the first time a frame needs them.

use stylize_model::norms::{rewrite_bytes, Variant};

use super::contract::{invalid, wrap_for_frames};
use super::library::ort_environment;
use super::onnxruntime::{build_session_with, SessionError, Tuning};
use super::{tile, Device, Engine, EngineOptions, ModelInfo, Precision, DEFAULT_MEMORY_SHARE, GPU_DEFAULT_BUDGET};
use crate::error::{Error, Result};
use crate::frame::Frame;

/// The engine's tiled path ([`tile`]): the budget, and the sessions once a frame has needed them.
pub(super) struct Tiling {
    pub(super) opts: EngineOptions,
    /// The model as the tiles see it (size rule, receptive field, memory per pixel).
    pub(super) model: tile::TileModel,
    /// The layout for the last padded frame size asked about (`None`: whole frame).
    pub(super) layout: Option<((usize, usize), Option<tile::TileLayout>)>,
    pub(super) tiler: Option<tile::Tiler>,
    /// Extra inputs (a multi-style net's weights) as last set, for the tile sessions.
    pub(super) extras: Vec<(String, Vec<f32>)>,
    /// The last frame's layout if it was tiled, for summaries.
    pub(super) last: Option<tile::TileLayout>,
}

impl Tiling {
    pub(super) fn new(info: &ModelInfo, pad: (usize, usize), opts: &EngineOptions) -> Tiling {
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
    /// Whether a `ph` x `pw` frame runs in tiles, and how: forced by `--tile`, or because the network's working
    /// memory for the whole frame would exceed the budget. `frame_bytes`: the frame itself (the tiled path keeps
    /// a second copy for its output).
    pub(super) fn tile_layout(&mut self, ph: usize, pw: usize, frame_bytes: usize) -> Result<Option<tile::TileLayout>> {
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
    pub(super) fn run_tiled(&mut self, frame: &mut Frame, layout: &tile::TileLayout) -> Result<()> {
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
        let rewrites = tune.rewrites(device == Device::Cpu);
        let cannot = |why: String| Error::ModelContract { path: path.clone(), reason: format!("this frame needs tiling, but {why}") };
        let (_, wrapped) = wrap_for_frames(&env, &bytes, path, Precision::Fp32, &rewrites)?.map_err(cannot)?;
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
}
