//! Frames too large for the memory budget run in tiles that are normalised with the whole frame's statistics.
//!
//! Instance normalisation uses each feature map's mean and variance over the whole frame, so a tile normalised
//! on its own comes out in its own tone. The tiles here run a graph whose norms take their statistics as inputs
//! (`stylize_model::norms`), and every tile gets the same, the whole frame's:
//!
//! 1. With [`TileStats::Exact`] (the default), one pass over the tiles per norm, in network order: pass `k` runs
//!    only the layers up to norm `k` (`stylize_model::norms::Variant::Moments`), with the exact statistics of
//!    norms `0..k` found by the passes before, and sums norm `k`'s input moments over the tile cores into its
//!    exact statistics. The cost is the sum of the network's prefixes, about 7x a whole run for the full net on
//!    paper; measured 14.7x (12 MP, 9 tiles: each pass also pays the overlap and each per-norm session its first run).
//!    Cheaper schemes were measured and rejected (candy-lite and candy on amber.jpg at 1600x1200, mean
//!    difference to the whole frame): the probe alone is 2.8-4 grey levels off at 0.7 of the size and 4.8-6.6
//!    at 0.5 (statistics depend on the scale the net sees); extrapolating from two probe sizes or correcting by
//!    a full-size crop helped at 0.7 and hurt below; re-estimating every norm at once from full-size tiles
//!    diverges, because each norm's moments are taken under the other norms' wrong statistics.
//!    [`TileStats::Probe`] takes the statistics of the whole frame shrunk into a tile's memory, through the
//!    graph with its own norms, instead: 1.5-2x a whole run's time, a tone shift, still no seams.
//! 2. The render pass with those statistics.
//!
//! Tiles overlap by at least the network's receptive field plus a feathering band, so every kept pixel saw all
//! the context it would have seen in the whole frame; the band is cross-faded anyway so that nothing can show a
//! seam. Tile origins are multiples of the model's size multiple, so the strided convolutions see the same grid.

use std::borrow::Cow;

use fast_image_resize as fir;
use ort::session::{Session, SessionInputValue};
use ort::value::TensorRef;
use stylize_model::norms::{norm_value, CORE_END, CORE_START};
use stylize_model::wrap::{FRAME_INPUT, FRAME_OUTPUT};

use super::{first_line, resize_into};
use crate::error::{Error, Result};
use crate::frame::Frame;

/// Where a tiled frame's norm statistics come from (`--tile-stats`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum TileStats {
    /// Exactly the whole frame's, one pass per norm: the tiles match the whole frame (9-15x a whole run's time).
    #[default]
    Exact,
    /// From the whole frame shrunk beside the tiles: 1.5-2x a whole run's time, a tone shift.
    Probe,
}
/// A tile's pixels over the probe's.
const PROBE_SHARE: f64 = 3.0;
/// Pixels cross-faded between neighbouring tiles.
const FEATHER: usize = 16;

/// How a frame is cut into tiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TileLayout {
    /// The frame as padded for the network.
    pub height: usize,
    pub width: usize,
    /// Side of each tile's core (the part it contributes), a multiple of the model's size multiple.
    pub core_h: usize,
    pub core_w: usize,
    pub rows: usize,
    pub cols: usize,
    /// Context on each side of a core, in pixels.
    pub margin: usize,
    /// The probe's size (the whole frame shrunk).
    pub probe_h: usize,
    pub probe_w: usize,
    pub stats: TileStats,
}

impl TileLayout {
    /// Largest tile that runs through the network (core plus context both sides, within the frame).
    pub fn tile_side(&self) -> (usize, usize) {
        ((self.core_h + 2 * self.margin).min(self.height), (self.core_w + 2 * self.margin).min(self.width))
    }

    /// `tiled 8000x6000 into 4 tiles of up to 4136x3136 (68 px context), exact norm statistics (one pass per norm)`
    pub fn describe(&self) -> String {
        let (th, tw) = self.tile_side();
        let stats = match self.stats {
            TileStats::Exact => "exact norm statistics (one pass per norm)".to_string(),
            TileStats::Probe => format!("norm statistics from a {}x{} probe", self.probe_w, self.probe_h),
        };
        format!("tiled {}x{} into {} tiles of up to {tw}x{th} ({} px context), {stats}", self.width, self.height, self.rows * self.cols, self.margin)
    }

    /// Core rectangles `(y0, x0, y1, x1)` in row-major order; the last row and column take the remainder.
    pub fn cores(&self) -> impl Iterator<Item = (usize, usize, usize, usize)> + '_ {
        (0..self.rows).flat_map(move |r| {
            (0..self.cols).map(move |c| {
                let (y0, x0) = (r * self.core_h, c * self.core_w);
                let y1 = if r + 1 == self.rows { self.height } else { y0 + self.core_h };
                let x1 = if c + 1 == self.cols { self.width } else { x0 + self.core_w };
                (y0, x0, y1, x1)
            })
        })
    }
}

/// What a tiled run needs to know about the model.
#[derive(Clone, Copy, Debug)]
pub struct TileModel {
    /// Sides are multiples of this (the engine's pad rule).
    pub multiple: usize,
    /// Smallest side the network accepts.
    pub min_side: usize,
    /// How far an output pixel sees, in input pixels.
    pub radius: usize,
    /// Working memory of the tile graph per input pixel (activations, plus the uint8 tile in and out).
    pub bytes_per_pixel: f64,
}

impl TileModel {
    /// Context each side of a core: the receptive field plus half the feather band, to the size multiple.
    pub fn margin(&self) -> usize {
        (self.radius + FEATHER / 2).div_ceil(self.multiple) * self.multiple
    }

    /// Lays out a `height` x `width` (padded) frame in tiles of at most `max_pixels` each (core plus context).
    /// `None` when even the smallest tile does not fit.
    pub fn layout(&self, height: usize, width: usize, max_pixels: f64, stats: TileStats) -> Option<TileLayout> {
        let m = self.margin();
        let q = self.multiple;
        // Square-ish tiles: the largest core side whose tile fits, capped by the frame.
        let side = ((max_pixels.sqrt() as usize).saturating_sub(2 * m) / q) * q;
        if side < q.max(self.min_side) {
            return None;
        }
        let split = |n: usize| {
            let parts = n.div_ceil(side);
            let core = n.div_ceil(parts).div_ceil(q) * q;
            (core, n.div_ceil(core))
        };
        let (core_h, rows) = split(height);
        let (core_w, cols) = split(width);
        // The probe (probe statistics only): the whole frame shrunk to a third of a tile's pixels (its graph,
        // the net with its own norms and their moments, measured 2-3x a tile's memory per pixel), sides on the
        // size rule.
        let shrink = (max_pixels / PROBE_SHARE / (height * width) as f64).sqrt().min(1.0);
        let probe_side = |n: usize| (((n as f64 * shrink) as usize / q) * q).max(self.min_side.div_ceil(q) * q);
        Some(TileLayout { height, width, core_h, core_w, rows, cols, margin: m, probe_h: probe_side(height), probe_w: probe_side(width), stats })
    }

    /// The smallest tile's memory: what a budget must leave for the network at least.
    pub fn smallest_tile_bytes(&self) -> f64 {
        let side = self.multiple.max(self.min_side) + 2 * self.margin();
        (side * side) as f64 * self.bytes_per_pixel
    }
}

/// One norm's statistics: mean and variance per channel.
type NormStats = (Vec<f32>, Vec<f32>);

/// The tiled path's sessions and buffers, built the first time a frame needs it.
pub(super) struct Tiler {
    /// For [`TileStats::Probe`]: the uint8-wrapped graph plus per-norm statistics as outputs.
    probe: Option<Session>,
    /// The uint8-wrapped graph with statistics as inputs and core moments as outputs.
    tiles: Session,
    /// Per norm, for [`TileStats::Exact`]: the layers up to it, giving its core moments.
    moments: Vec<Session>,
    stats: Vec<NormStats>,
    tile_in: Vec<u8>,
    out: Vec<u8>,
    probe_frame: Frame,
    resizer: fir::Resizer,
}

impl Tiler {
    pub fn new(probe: Option<Session>, tiles: Session, moments: Vec<Session>) -> Tiler {
        Tiler { probe, tiles, moments, stats: Vec::new(), tile_in: Vec::new(), out: Vec::new(), probe_frame: Frame::new(0, 0), resizer: fir::Resizer::new() }
    }

    /// Stylizes `frame` (already checked against the layout's padded size) in tiles; `extras` are the model's
    /// other inputs (a multi-style net's weights).
    pub fn run(&mut self, frame: &mut Frame, layout: &TileLayout, extras: &[(String, Vec<f32>)]) -> Result<()> {
        let err = |e: &dyn std::fmt::Display| Error::Inference { width: frame.width, height: frame.height, reason: first_line(&e.to_string()), hint: "" };
        match layout.stats {
            TileStats::Exact => {
                self.stats = vec![(Vec::new(), Vec::new()); self.moments.len()];
                for k in 0..self.moments.len() {
                    self.pass(frame, layout, extras, Some(k)).map_err(|e| err(&e))?;
                }
            }
            TileStats::Probe => self.stats = self.probe_at(frame, layout.probe_h, layout.probe_w, extras).map_err(|e| err(&e))?,
        }
        self.pass(frame, layout, extras, None).map_err(|e| err(&e))?;
        frame.data.copy_from_slice(&self.out);
        Ok(())
    }

    /// Each norm's statistics over the whole frame resized to `w` x `h`.
    fn probe_at(&mut self, frame: &Frame, h: usize, w: usize, extras: &[(String, Vec<f32>)]) -> std::result::Result<Vec<NormStats>, String> {
        self.probe_frame.resize(w, h);
        resize_into(&mut self.resizer, frame, &mut self.probe_frame).map_err(|e| e.to_string())?;
        let mut inputs: Vec<(Cow<str>, SessionInputValue)> = vec![(FRAME_INPUT.into(), tensor_ref(&[1, h, w, 3], &self.probe_frame.data)?)];
        for (name, values) in extras {
            inputs.push((name.clone().into(), tensor_ref(&[values.len()], values)?));
        }
        let probe = self.probe.as_mut().ok_or("the engine was built for exact statistics (no probe session)")?;
        let outputs = probe.run(inputs).map_err(|e| e.to_string())?;
        let mut stats = Vec::new();
        for i in 0.. {
            if !outputs.contains_key(norm_value(i, "mean")) {
                break;
            }
            let get = |what: &str| -> std::result::Result<Vec<f32>, String> {
                let (_, v) = outputs[norm_value(i, what).as_str()].try_extract_tensor::<f32>().map_err(|e| e.to_string())?;
                Ok(v.to_vec())
            };
            stats.push((get("mean")?, get("var")?));
        }
        Ok(stats)
    }

    /// One pass over the tiles with the current statistics: norm `k`'s (the moments of its input summed into
    /// its exact statistics), or with `None` the render (tiles written to `self.out`).
    fn pass(&mut self, frame: &Frame, layout: &TileLayout, extras: &[(String, Vec<f32>)], moments: Option<usize>) -> std::result::Result<(), String> {
        let session = match moments {
            Some(k) => &mut self.moments[k],
            None => {
                self.out.resize(frame.data.len(), 0);
                &mut self.tiles
            }
        };
        // A statistics pass's graph reads only the norms before its own.
        let wanted: Vec<String> = session.inputs().iter().map(|i| i.name().to_string()).collect();
        let stats_inputs: Vec<(String, Vec<f32>)> = self
            .stats
            .iter()
            .enumerate()
            .flat_map(|(i, (mean, var))| [(norm_value(i, "mean"), mean.clone()), (norm_value(i, "var"), var.clone())])
            .filter(|(n, _)| wanted.contains(n))
            .collect();
        let (mut s1, mut s2, mut total) = (Vec::<f64>::new(), Vec::<f64>::new(), 0.0);
        let m = layout.margin;
        for (y0, x0, y1, x1) in layout.cores() {
            let (ty0, tx0) = (y0.saturating_sub(m), x0.saturating_sub(m));
            let (ty1, tx1) = ((y1 + m).min(layout.height), (x1 + m).min(layout.width));
            let (th, tw) = (ty1 - ty0, tx1 - tx0);
            cut_tile(frame, &mut self.tile_in, ty0, tx0, th, tw);
            let start = [(y0 - ty0) as i64, (x0 - tx0) as i64];
            let end = [(y1 - ty0) as i64, (x1 - tx0) as i64];
            let mut inputs: Vec<(Cow<str>, SessionInputValue)> = vec![(FRAME_INPUT.into(), tensor_ref(&[1, th, tw, 3], &self.tile_in)?)];
            if wanted.iter().any(|n| n == CORE_START) {
                inputs.push((CORE_START.into(), tensor_ref(&[2], &start)?));
                inputs.push((CORE_END.into(), tensor_ref(&[2], &end)?));
            }
            for (name, values) in extras.iter().filter(|(n, _)| wanted.contains(n)).chain(&stats_inputs) {
                inputs.push((name.clone().into(), tensor_ref(&[values.len()], values)?));
            }
            let outputs = session.run(inputs).map_err(|e| e.to_string())?;
            match moments {
                None => {
                    let (shape, data) = outputs[FRAME_OUTPUT].try_extract_tensor::<u8>().map_err(|e| e.to_string())?;
                    if shape.len() != 4 || shape[1] as usize != th || shape[2] as usize != tw {
                        return Err(format!("tile output shape {shape:?}, expected [1, {th}, {tw}, 3]"));
                    }
                    let has = (y0 > 0, x0 > 0, y1 < layout.height, x1 < layout.width);
                    blend_tile(&mut self.out, frame, data, (ty0, tx0, tw), (y0, x0, y1, x1), has);
                }
                Some(k) => {
                    let area = ((y1 - y0) * (x1 - x0)) as f64;
                    total += area;
                    let (_, d1) = outputs[norm_value(k, "cmean").as_str()].try_extract_tensor::<f32>().map_err(|e| e.to_string())?;
                    let (_, d2) = outputs[norm_value(k, "cmsq").as_str()].try_extract_tensor::<f32>().map_err(|e| e.to_string())?;
                    s1.resize(d1.len(), 0.0);
                    s2.resize(d2.len(), 0.0);
                    for (acc, v) in s1.iter_mut().zip(d1) {
                        *acc += area * *v as f64;
                    }
                    for (acc, v) in s2.iter_mut().zip(d2) {
                        *acc += area * *v as f64;
                    }
                }
            }
        }
        if let Some(k) = moments {
            // First and second moments over the whole frame -> its mean and (biased, as the norm's) variance.
            let mean: Vec<f32> = s1.iter().map(|v| (v / total) as f32).collect();
            let var = s1.iter().zip(&s2).map(|(a, b)| (b / total - (a / total).powi(2)).max(0.0) as f32).collect();
            self.stats[k] = (mean, var);
        }
        Ok(())
    }
}

fn tensor_ref<'a, T: ort::value::PrimitiveTensorElementType + Clone + std::fmt::Debug + 'static>(
    shape: &[usize],
    data: &'a [T],
) -> std::result::Result<SessionInputValue<'a>, String> {
    let t = TensorRef::from_array_view((shape.to_vec(), data)).map_err(|e| e.to_string())?;
    Ok(t.into())
}

/// Copies the padded frame's rectangle (`th` x `tw` at `ty0, tx0`) into `tile`; beyond the frame's own size
/// the last row and column repeat, as the engine pads whole frames.
fn cut_tile(frame: &Frame, tile: &mut Vec<u8>, ty0: usize, tx0: usize, th: usize, tw: usize) {
    tile.resize(th * tw * 3, 0);
    let (h, w) = (frame.height, frame.width);
    for (y, row) in tile.chunks_exact_mut(tw * 3).enumerate() {
        let src = &frame.data[(ty0 + y).min(h - 1) * w * 3..][..w * 3];
        let inside = w.saturating_sub(tx0).min(tw);
        row[..inside * 3].copy_from_slice(&src[tx0 * 3..(tx0 + inside) * 3]);
        for px in row[inside * 3..].chunks_exact_mut(3) {
            px.copy_from_slice(&src[(w - 1) * 3..]);
        }
    }
}

/// Writes a tile's core, widened by half the feather band towards each neighbour, into `out` (the frame's
/// size, not padded). Towards the left and top neighbours, already written, it cross-fades linearly over the
/// band; towards the right and bottom it writes in full, and they fade over it in turn.
fn blend_tile(out: &mut [u8], frame: &Frame, tile: &[u8], (ty0, tx0, tw): (usize, usize, usize), (y0, x0, y1, x1): (usize, usize, usize, usize), has: (bool, bool, bool, bool)) {
    let (h, w) = (frame.height, frame.width);
    let half = FEATHER / 2;
    let (has_top, has_left, has_bottom, has_right) = has;
    let ya = if has_top { y0 - half } else { y0 };
    let xa = if has_left { x0 - half } else { x0 };
    let yb = if has_bottom { y1 + half } else { y1 }.min(h);
    let xb = if has_right { x1 + half } else { x1 }.min(w);
    // Weight of this tile at a distance `d` into the band that starts at the neighbour's side.
    let ramp = |d: usize| (d as f32 + 0.5) / FEATHER as f32;
    for y in ya..yb {
        let wy = if has_top && y < y0 + half { ramp(y - ya) } else { 1.0 };
        let src = &tile[((y - ty0) * tw + (xa - tx0)) * 3..][..(xb - xa) * 3];
        let dst = &mut out[(y * w + xa) * 3..][..(xb - xa) * 3];
        for (i, (d, s)) in dst.chunks_exact_mut(3).zip(src.chunks_exact(3)).enumerate() {
            let x = xa + i;
            let wx = if has_left && x < x0 + half { ramp(x - xa) } else { 1.0 };
            let a = wx.min(wy);
            if a >= 1.0 {
                d.copy_from_slice(s);
            } else {
                for k in 0..3 {
                    d[k] = (d[k] as f32 * (1.0 - a) + s[k] as f32 * a).round() as u8;
                }
            }
        }
    }
}

/// The machine's available memory (`MemAvailable`), in bytes.
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// This process's resident memory now, in bytes.
pub fn resident_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = text.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Parses a memory size: `2G`, `1.5GiB`, `512M`, `800MB`, or plain bytes. Units are binary (K = 1024).
pub fn parse_memory(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let scale: u64 = match unit.trim().to_ascii_lowercase().trim_end_matches("ib").trim_end_matches('b') {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => return Err(format!("{text:?} is not a memory size (e.g. 2G, 512M)")),
    };
    match num.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok((v * scale as f64) as u64),
        _ => Err(format!("{text:?} is not a memory size (e.g. 2G, 512M)")),
    }
}

/// `1.5G`, `300M`: a size as `--max-memory` takes it.
pub fn format_memory(bytes: f64) -> String {
    let g = bytes / (1u64 << 30) as f64;
    if g >= 1.0 {
        format!("{:.1}G", (g * 10.0).ceil() / 10.0)
    } else {
        format!("{}M", (bytes / (1u64 << 20) as f64).ceil() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> TileModel {
        TileModel { multiple: 4, min_side: 32, radius: 57, bytes_per_pixel: 500.0 }
    }

    #[test]
    fn layouts_cover_the_frame_with_aligned_cores() {
        let model = full();
        let l = model.layout(4000, 6000, 2048.0 * 2048.0, TileStats::Exact).unwrap();
        assert_eq!(l.margin, 68);
        assert_eq!(l.core_h % 4, 0);
        assert_eq!(l.core_w % 4, 0);
        let (th, tw) = l.tile_side();
        assert!((th * tw) as f64 <= 2048.0 * 2048.0, "{l:?}");
        let cores: Vec<_> = l.cores().collect();
        assert_eq!(cores.len(), l.rows * l.cols);
        let area: usize = cores.iter().map(|(y0, x0, y1, x1)| (y1 - y0) * (x1 - x0)).sum();
        assert_eq!(area, 4000 * 6000);
        assert!(cores.iter().all(|&(y0, x0, y1, x1)| y0 < y1 && x0 < x1 && y1 <= 4000 && x1 <= 6000));
        assert!(((l.probe_h * l.probe_w) as f64) <= 2048.0 * 2048.0 / PROBE_SHARE && l.probe_w > l.probe_h);
        assert!(model.layout(4000, 6000, 100.0 * 100.0, TileStats::Exact).is_none(), "a tile must hold its context");
    }

    #[test]
    fn tiles_cut_from_the_padded_frame() {
        let mut f = Frame::new(5, 3);
        for (i, v) in f.data.iter_mut().enumerate() {
            *v = i as u8;
        }
        let mut tile = Vec::new();
        cut_tile(&f, &mut tile, 2, 3, 2, 4);
        // Row 2 then row 2 again (beyond the frame); columns 3, 4, then 4 repeated.
        let row2: Vec<u8> = [3usize, 4, 4, 4].iter().flat_map(|&x| (0..3).map(move |k| (2 * 15 + x * 3 + k) as u8)).collect();
        assert_eq!(tile[..12], row2[..]);
        assert_eq!(tile[12..], row2[..]);
    }

    #[test]
    fn blending_fades_from_the_neighbour_to_the_tile() {
        let f = Frame::new(40, 1);
        let mut out = vec![0u8; 40 * 3];
        let tile = vec![200u8; 40 * 3];
        // A core from x = 20 with a left neighbour: x 12..28 fade from the old 0 to 200, then 200.
        blend_tile(&mut out, &f, &tile, (0, 0, 40), (0, 20, 1, 40), (false, true, false, false));
        assert_eq!(out[11 * 3], 0);
        assert!(out[12 * 3] > 0 && out[12 * 3] < 20);
        assert!(out[19 * 3] < out[20 * 3] && out[20 * 3] < out[27 * 3]);
        assert_eq!(out[28 * 3], 200);
    }

    #[test]
    fn memory_sizes_parse() {
        assert_eq!(parse_memory("2G"), Ok(2 << 30));
        assert_eq!(parse_memory("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_memory("512m"), Ok(512 << 20));
        assert_eq!(parse_memory("800MB"), Ok(800 << 20));
        assert_eq!(parse_memory("4096"), Ok(4096));
        assert!(parse_memory("lots").is_err());
        assert!(parse_memory("-1G").is_err());
        assert!(parse_memory("0").is_err());
        assert_eq!(format_memory(1.55 * (1u64 << 30) as f64), "1.6G");
        assert_eq!(format_memory(300.0 * (1u64 << 20) as f64), "300M");
    }
}

