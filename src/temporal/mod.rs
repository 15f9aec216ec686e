//! Temporal coherence at run time, for any model: the stage after the network in `video`, `live` and `serve`.
//!
//! A network stylizes each frame on its own and turns the input's sensor noise into strokes that change from
//! frame to frame: the picture boils where the scene stands still. This stage keeps the previous output where
//! it still shows the scene, moved along the optical flow of the input, and takes the new stylized frame where
//! it does not:
//!
//! 1. Both inputs are shrunk to a long side of at most [`FLOW_SIDE`] (grey, area-averaged: that also averages
//!    the sensor noise away; in square-root levels, [`SQRT_TONE`]) and OpenCV's DIS optical flow ([`flow`]) says
//!    where each pixel was a frame ago.
//! 2. Trust: the stage keeps, beside the previous output, the input as that output shows it (the reference,
//!    small and grey). Warped along the flow, it is compared with the new input: where they agree within the
//!    noise ([`SAME_LEVEL`], raised for noisy footage by [`NOISE_MARGIN`]) the previous output is kept, where
//!    they differ by [`NEW_LEVEL`] or more
//!    (occlusions, uncovered background, new objects, flow that failed, light that changed) the new stylized
//!    frame is taken, and in between the two are blended. Comparing with the reference rather than with the
//!    previous input makes slow changes (a fade, exposure drift) add up until they count, so the output
//!    follows them instead of drifting away from the input.
//! 3. Where the flow is below [`STILL_FLOW`] the previous output is copied as it is, not resampled, so a still
//!    scene stays exactly as it was however long it lasts (repeated resampling would blur the strokes away).
//!    What moves is stylized afresh each frame (`--temporal on`) before a still camera: blending the previous
//!    strokes into the new ones averages two paintings into a paler one (measured: the style term 1.4-1.6x weaker
//!    on a face and a moving camera when moving pixels kept 3/4 of the warped output). Where the camera moves (at
//!    least [`CARRY_SHARE`] of the frame), renewing everything that moves would boil the whole picture: there
//!    moving parts are carried from an [`anchor`] (one network output, read once at each pixel's position
//!    followed back along the flow, so its strokes stay sharp), renewed every [`RENEW_EVERY`] frames.
//!    `--temporal smooth` instead keeps [`MOVING_HOLD`] of the previous output, warped, wherever something moves:
//!    steadier motion, softer strokes.
//!    Where `on` mixes the previous output or the anchor with the new frame, it gives the mix's difference to the
//!    new frame's local mean back the contrast one painting has ([`CONTRAST_POWER`]): a plain mix of two
//!    paintings is a paler one.
//! 4. A cut (most of the frame untrusted) starts afresh; callers [`Temporal::reset`] on a change of model or
//!    style mix.

mod anchor;
mod blend;
mod flow;
pub mod warp;

use std::time::{Duration, Instant};

use anchor::{Anchor, Levels};
use blend::{class_of, Blend, Grid, Source, NEW};
pub use flow::{Dis, Preset};
use warp::{sample, shrink_luma, small_pos, small_size};

use crate::error::{Error, Result};
use crate::frame::Frame;

/// `--temporal`: whether the stage runs, and what it keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TemporalMode {
    /// Keep the previous output where the input stood still (no boiling); what moves is stylized afresh (full style), or, where the camera moves, carried for a few frames
    On,
    /// Also carry moving parts along the optical flow, 3/4 from the frame before: steadier motion, paler strokes
    Smooth,
    /// Every frame stylized on its own
    Off,
}

/// On where this build has the optical flow (the `temporal` feature), else off: a build without OpenCV
/// stylizes each frame on its own unless asked otherwise, instead of failing by default.
pub const DEFAULT_MODE: &str = if cfg!(feature = "temporal") { "on" } else { "off" };

impl Default for TemporalMode {
    fn default() -> Self {
        if cfg!(feature = "temporal") {
            TemporalMode::On
        } else {
            TemporalMode::Off
        }
    }
}

/// The flow and the trust are computed with the long side shrunk to at most this many pixels (320 before the
/// flow was refined; 192 keeps the stage within 10% of `stylize video`'s frames a second at 640x360, where 240
/// cost 18%, for a little less steadiness on small frames).
pub const FLOW_SIDE: usize = 192;
/// DIS at its ultrafast preset, but searched down to half that size ([`FLOW_FINEST_SCALE`]) and smoothed by
/// variational refinement ([`FLOW_REFINEMENT`] iterations): the preset's own flow is blocky (8-pixel patches, no
/// refinement), and its blocks showed as rectangles of old strokes in moving footage; refined, the still-pixel
/// change fell from 2.0x to 1.1x the input's on a static camera (vtest.avi), for 1-2 ms more a frame.
pub const FLOW_FINEST_SCALE: i32 = 1;
pub const FLOW_REFINEMENT: i32 = 5;
/// A (small, grey, area-averaged) pixel whose input differs from the warped reference by at most this many
/// grey levels shows the same thing: the previous output is kept there.
pub const SAME_LEVEL: f32 = 3.0;
/// ... and from this many on it shows something new: the new stylized frame is taken.
pub const NEW_LEVEL: f32 = 10.0;
/// Noisier footage raises both levels: "the same" is then this many times the frame's median difference (most
/// of a frame shows the same thing, so the median is the noise), up to [`MAX_SAME_LEVEL`].
pub const NOISE_MARGIN: f32 = 2.5;
pub const MAX_SAME_LEVEL: f32 = 6.0;
/// `--temporal smooth`: the share of the warped previous output that moving pixels keep (the rest is the new
/// frame's); `on` keeps none.
pub const MOVING_HOLD: f32 = 0.75;
/// Where the camera moves (at least [`CARRY_SHARE`] of the frame moves), `--temporal on` carries what moves from an
/// [`anchor`]: the network's output of a frame, set afresh every this many frames (then what moves shows new
/// strokes; in between it keeps the anchor's, moved along the flow). Measured on a hand-held clip (vtest.avi
/// shaken) with candy-lite: every 8 frames, warping error 0.48x per frame's and the style term 1.09x weaker; 6:
/// 0.50x, 1.07x; 4: 0.53x, 1.05x; renewing every frame, as before a still camera: 0.97x, 1.02x.
pub const RENEW_EVERY: u32 = 6;
/// Before a still camera what moves (people, a face) is stylized afresh each frame: carried from the anchor, a face
/// close-up's style term was 5% weaker for no less boiling on its still parts (the eye follows what moves, and
/// sees boiling where the picture stands still). Measured on a clip of shots with and without camera motion
/// (bikes.mp4): carrying from a moving share of 0.3 on, 1.11x weaker style for a warping error of 0.55x; from 0.5,
/// 1.07x and 0.62x (per frame as before: 1.06x and 0.65x).
pub const CARRY_SHARE: f32 = 0.5;
pub const CARRY_UNTIL: f32 = 0.3;
/// Mixing two paintings pales them: `a x old + (1 - a) x new` has `sqrt(a^2 + (1 - a)^2)` of the contrast of
/// either where their strokes differ (0.71 at a half). `on` gives a mixed pixel's difference to the new frame's
/// local mean ([`CONTRAST_RADIUS`]) back its contrast, to this power for the previous output and to the
/// anchor's for the anchor (the strokes of two outputs of nearly the same input are partly alike, so the full
/// gain overshoots where they are: a face close-up came out 7% stronger than per frame). Measured with candy-lite
/// (style term x per frame's, warping error): a face close-up 1.09x / 0.59 -> 1.03x / 0.63, a hand-held clip
/// 1.08x / 0.51 -> 1.05x / 0.52, bikes.mp4 1.06x / 0.65 -> 1.05x / 0.67.
pub const CONTRAST_POWER: f32 = 0.5;
pub const ANCHOR_CONTRAST_POWER: f32 = 1.0;
/// The local mean's window: (2 r + 1)^2 pixels of the new frame.
pub const CONTRAST_RADIUS: usize = 2;
/// Flow below this many pixels (at the frame's size) counts as none: the previous output is copied, not resampled,
/// where the input still matches it (DIS on noisy still footage reads up to about a pixel of motion, and a face
/// that barely moves should not boil; measured on a face close-up, Megamind.avi, 2.0 against 1.0 with a flow side
/// of 240: still-pixel change 3.1x the input's instead of 6.4x, the style term 4% weaker).
pub const STILL_FLOW: f32 = 2.0;
/// Frames whose shrunk long side is below this are too small to track (DIS needs 12): they show as they are.
pub const MIN_FLOW_SIDE: usize = 16;
/// A frame more than this share of which is untrusted (its input differs from the warped reference by
/// [`NEW_LEVEL`] or more) is a cut: it is taken whole and the stage starts afresh.
pub const CUT_SHARE: f32 = 0.7;

/// Grey levels as the flow and the trust compare them: the square root, scaled to 0..255. A camera's noise grows
/// with the square root of the light, so in these levels it is about the same in the dark as in the bright, and one
/// [`SAME_LEVEL`] fits both; in plain levels, dark parts (whose strokes the network repaints at every small change)
/// were held as the same for many frames, and showed as rectangles of old strokes (a fade-in from black).
static SQRT_TONE: std::sync::LazyLock<[u8; 256]> = std::sync::LazyLock::new(|| std::array::from_fn(|g| (255.0 * (g as f32 / 255.0).sqrt() + 0.5) as u8));

/// What the stage did over a run, for summaries and the live HUD.
#[derive(Clone, Copy, Debug, Default)]
pub struct TemporalStats {
    pub frames: u64,
    /// Frames taken whole: the first, cuts, resets.
    pub fresh: u64,
    /// Sum over frames of the share of the output that came from earlier ones (the last output, the anchor).
    pub kept: f64,
    pub busy: Duration,
    /// Of `busy`, the optical flow's share.
    pub flow: Duration,
}

impl TemporalStats {
    /// `temporal: 61% of each frame kept from earlier frames, 2 fresh starts, 3.1 ms/frame (flow 1.2)`.
    pub fn describe(&self) -> String {
        let n = self.frames.max(1) as f64;
        let ms = |d: Duration| d.as_secs_f64() * 1e3 / n;
        format!("temporal: {:.0}% of each frame kept from earlier frames, {} fresh starts, {:.1} ms/frame (flow {:.1})", 100.0 * self.kept / n, self.fresh, ms(self.busy), ms(self.flow))
    }
}

/// The stage's state for one stream of frames (all of one size; another size starts afresh).
pub struct Temporal {
    dis: Dis,
    /// Where full-size pixels sit on the small maps.
    grid: Grid,
    grey: Vec<u8>,
    prev_grey: Vec<u8>,
    /// Backward flow at the small size: the pixel at p now was at p + flow(p) a frame ago.
    flow: Vec<f32>,
    /// The input as the kept output shows it (small, grey), and its warped copy.
    reference: Vec<f32>,
    warped: Vec<f32>,
    /// The new input's difference to the reference where it is, unwarped (smoothed like `alpha`'s).
    in_place: Vec<f32>,
    /// How much of the warped previous output each small pixel keeps (0..1), and a scratch row for smoothing.
    alpha: Vec<f32>,
    scratch: Vec<f32>,
    /// Per small pixel: [`NEW`], [`HELD`] or [`MIXED`], and [`STILL`] where its flow was zeroed.
    class: Vec<u8>,
    /// Where the blend reads each pixel of a row from: one row per band of rows.
    sources: Vec<Source>,
    prev_out: Frame,
    primed: bool,
    /// What [`Self::prepare`] found for the frame [`Self::finish`] is to blend: the share kept, or None to take it
    /// whole.
    plan: Option<Option<f32>>,
    stats: TemporalStats,
    /// Threads the blend may use (1: the caller's own; more where the stage runs while cores are idle).
    threads: usize,
    /// The share of the warped previous output that moving pixels keep: 0 (`on`) or [`MOVING_HOLD`] (`smooth`).
    moving_hold: f32,
    /// `on`: the anchor moving pixels are carried from, which small pixels move (not still) and whether moving
    /// pixels are carried (the camera moves).
    anchor: Option<Anchor>,
    moving: Vec<bool>,
    carrying: bool,
    /// `on`: the new frame's local mean, and the horizontal sums it is made from (contrast kept when mixing).
    mean: Option<Frame>,
    row_sums: Vec<u16>,
    col_sums: Vec<u32>,
}

impl Temporal {
    /// The stage of `--temporal on`: still parts held, moving parts stylized afresh. OpenCV's DIS at its ultrafast
    /// preset, refined (a few ms per frame at [`FLOW_SIDE`]).
    pub fn new() -> Result<Temporal> {
        Ok(Temporal {
            dis: Dis::new(Preset::UltraFast)?.refined(FLOW_FINEST_SCALE, FLOW_REFINEMENT)?,
            grid: Grid::default(),
            grey: Vec::new(),
            prev_grey: Vec::new(),
            flow: Vec::new(),
            reference: Vec::new(),
            warped: Vec::new(),
            in_place: Vec::new(),
            alpha: Vec::new(),
            scratch: Vec::new(),
            class: Vec::new(),
            sources: Vec::new(),
            prev_out: Frame::new(0, 0),
            primed: false,
            plan: None,
            stats: TemporalStats::default(),
            threads: 1,
            moving_hold: 0.0,
            anchor: Some(Anchor::default()),
            moving: Vec::new(),
            carrying: false,
            mean: Some(Frame::new(0, 0)),
            row_sums: Vec::new(),
            col_sums: Vec::new(),
        })
    }

    /// The stage of `--temporal smooth`: moving parts also keep [`MOVING_HOLD`] of the previous output, warped.
    pub fn smooth() -> Result<Temporal> {
        Ok(Temporal { moving_hold: MOVING_HOLD, anchor: None, mean: None, ..Temporal::new()? })
    }

    /// The stage `mode` asks for, none when it is off.
    pub fn for_mode(mode: TemporalMode) -> Result<Option<Temporal>> {
        match mode {
            TemporalMode::On => Temporal::new().map(Some),
            TemporalMode::Smooth => Temporal::smooth().map(Some),
            TemporalMode::Off => Ok(None),
        }
    }

    /// Lets the blend use `n` threads: for callers whose cores are idle while the stage runs (the GStreamer
    /// element runs it between inferences); the video pipeline runs it beside the network and keeps one.
    pub fn set_threads(&mut self, n: usize) {
        self.threads = n.max(1);
    }

    /// The next frame starts afresh (a new model or style, a jump in the input).
    pub fn reset(&mut self) {
        self.primed = false;
        self.carrying = false;
    }

    pub fn stats(&self) -> TemporalStats {
        self.stats
    }

    /// Makes `styled`, the network's output for `input`, coherent with the frames before it (in place).
    pub fn apply(&mut self, input: &Frame, styled: &mut Frame) -> Result<()> {
        assert_eq!((input.width, input.height), (styled.width, styled.height), "input and stylized frame sizes differ");
        self.prepare(input)?;
        self.finish(styled);
        Ok(())
    }

    /// The part of [`Self::apply`] that needs only the input frame (shrinking it, the flow, the trust map): a caller
    /// with a core to spare runs it while the network stylizes the same frame, then [`Self::finish`].
    pub fn prepare(&mut self, input: &Frame) -> Result<()> {
        let t = Instant::now();
        self.plan = None;
        let plan = self.plan(input);
        self.stats.busy += t.elapsed();
        self.plan = Some(plan?);
        Ok(())
    }

    /// The rest of [`Self::apply`]: makes `styled`, the network's output for the frame last given to
    /// [`Self::prepare`], coherent with the frames before it (in place). Without a prepared frame of its size it
    /// leaves `styled` as it is and the next frame starts afresh.
    pub fn finish(&mut self, styled: &mut Frame) {
        let t = Instant::now();
        let Some(plan) = self.plan.take().filter(|_| (styled.width, styled.height) == self.grid.size) else {
            self.primed = false;
            return;
        };
        self.stats.frames += 1;
        // The anchor first (what moves), then the previous output (what stands still) over it.
        let renew = plan.is_none() || self.anchor.as_ref().is_some_and(|a| a.age >= RENEW_EVERY);
        // The new frame's local mean, before either blends into it, where one will.
        let blends = plan.is_some() || (self.anchor.is_some() && !renew);
        if let Some(mean) = self.mean.as_mut().filter(|_| blends) {
            box_mean(styled, mean, (&mut self.row_sums, &mut self.col_sums), CONTRAST_RADIUS);
        }
        let (mean, (gain, anchor_gain)) = (self.mean.as_ref(), gains());
        if let Some(anchor) = self.anchor.as_mut().filter(|_| renew) {
            anchor.set(styled, &self.grey);
        } else if let Some(a) = &self.anchor {
            let inputs = Blend { grid: &self.grid, class: &a.class, alpha: &a.alpha, flow: &a.to, prev: &a.out, nearest: true, mean, gain: anchor_gain };
            blend(&inputs, self.threads, styled, &mut self.sources);
        }
        if let Some(anchor) = &mut self.anchor {
            anchor.age += 1;
        }
        match plan {
            Some(share) => {
                let inputs = Blend { grid: &self.grid, class: &self.class, alpha: &self.alpha, flow: &self.flow, prev: &self.prev_out, nearest: false, mean, gain };
                blend(&inputs, self.threads, styled, &mut self.sources);
                self.stats.kept += f64::from(share);
            }
            None => self.stats.fresh += 1,
        }
        self.prev_out.resize(styled.width, styled.height);
        self.prev_out.data.copy_from_slice(&styled.data);
        std::mem::swap(&mut self.grey, &mut self.prev_grey);
        self.primed = true;
        self.stats.busy += t.elapsed();
    }

    /// Shrinks `input`, finds the flow and the trust: the share of the frame to keep from the last one, or None
    /// when it is taken whole.
    fn plan(&mut self, input: &Frame) -> Result<Option<f32>> {
        if (input.width, input.height) != self.grid.size {
            self.resize(input.width, input.height);
        }
        let (sw, sh) = self.grid.small;
        shrink_luma(input, self.grid.k, sw, sh, &mut self.grey);
        let tone = &*SQRT_TONE;
        self.grey.iter_mut().for_each(|g| *g = tone[usize::from(*g)]);
        // DIS needs a side of at least 12 pixels; frames that small show as they are.
        if !self.primed || sw.max(sh) < MIN_FLOW_SIDE {
            self.take_whole();
            return Ok(None);
        }
        let t = Instant::now();
        self.dis.calc(&self.grey, &self.prev_grey, sw, sh, &mut self.flow)?;
        self.stats.flow += t.elapsed();
        let (kept, trusted) = self.trust();
        if trusted < 1.0 - CUT_SHARE {
            self.take_whole();
            return Ok(None);
        }
        Ok(Some(kept))
    }

    fn resize(&mut self, w: usize, h: usize) {
        let (k, sw, sh) = small_size(w, h, FLOW_SIDE);
        self.grid.size = (w, h);
        self.grid.k = k;
        self.grid.small = (sw, sh);
        self.prev_grey.clear();
        self.prev_grey.resize(sw * sh, 0);
        for v in [&mut self.reference, &mut self.warped, &mut self.in_place, &mut self.alpha] {
            v.clear();
            v.resize(sw * sh, 0.0);
        }
        self.flow.clear();
        self.flow.resize(sw * sh * 2, 0.0);
        self.class.clear();
        self.class.resize(sw * sh, NEW);
        self.moving.clear();
        self.moving.resize(sw * sh, false);
        if let Some(anchor) = &mut self.anchor {
            anchor.resize(sw, sh);
        }
        self.grid.cols = taps(w, k, sw);
        self.grid.spans = (0..=sw).map(|sx| self.grid.cols.partition_point(|c| c.0 < sx)).collect();
        self.grid.rows = taps(h, k, sh);
        self.primed = false;
    }

    /// The output is the new stylized frame as it is; the reference becomes the new input.
    fn take_whole(&mut self) {
        for (r, &g) in self.reference.iter_mut().zip(&self.grey) {
            *r = f32::from(g);
        }
    }

    /// Fills `alpha` (how much of the warped previous output each small pixel keeps) and moves the reference
    /// along; returns the mean of `alpha` and the share of the frame the warp explains (a cut when low: with
    /// `on`, moving pixels keep nothing, so the kept share alone would call any pan a cut).
    fn trust(&mut self) -> (f32, f32) {
        let (sw, sh) = self.grid.small;
        let still = STILL_FLOW / self.grid.k as f32;
        // The reference warped along the flow; the difference to the new input, smoothed over 3x3 (noise).
        for y in 0..sh {
            for x in 0..sw {
                let i = y * sw + x;
                let (fx, fy) = (self.flow[2 * i], self.flow[2 * i + 1]);
                let (sx, sy) = (x as f32 + fx, y as f32 + fy);
                self.warped[i] = if fx.abs() < still && fy.abs() < still {
                    self.reference[i]
                } else if sx < 0.0 || sy < 0.0 || sx > (sw - 1) as f32 || sy > (sh - 1) as f32 {
                    f32::NAN
                } else {
                    sample(&self.reference, sw, 1, 0, sx, sy)
                };
                let d = (f32::from(self.grey[i]) - self.warped[i]).abs();
                self.alpha[i] = if d.is_nan() { 255.0 } else { d };
                self.in_place[i] = (f32::from(self.grey[i]) - self.reference[i]).abs();
            }
        }
        box3(&mut self.alpha, &mut self.scratch, sw, sh);
        box3(&mut self.in_place, &mut self.scratch, sw, sh);
        // The input's own noise, as most of a frame shows it (the median difference): compressed or dim footage
        // differs by more where nothing changed than clean footage, and the levels rise with it, up to a cap
        // (at a cut the median is the cut, not noise).
        self.scratch.clear();
        self.scratch.extend_from_slice(&self.alpha);
        let mid = self.scratch.len() / 2;
        let noise = *self.scratch.select_nth_unstable_by(mid, f32::total_cmp).1;
        let same_level = (NOISE_MARGIN * noise).clamp(SAME_LEVEL, MAX_SAME_LEVEL);
        let levels = Levels { same: same_level, new: same_level + (NEW_LEVEL - SAME_LEVEL) };
        let (mut sum, mut trusted) = (0.0f64, 0.0f64);
        for i in 0..sw * sh {
            let (fx, fy) = (self.flow[2 * i], self.flow[2 * i + 1]);
            // Still where the flow says so, and where it reads a little motion (up to twice that) but no motion
            // explains the input as well. (Without the bound on the flow, flat parts of a moving camera's view were
            // held as the strokes around them moved on, and tore.)
            let is_still = fx.abs() < still && fy.abs() < still || levels.explained_in_place((fx, fy), still, self.in_place[i], self.alpha[i]);
            if is_still {
                self.warped[i] = self.reference[i];
                self.alpha[i] = self.in_place[i];
            }
            let trust = levels.trust(self.alpha[i]);
            // The blend copies still pixels as they are; so it does moving ones that keep nothing of the last frame
            // (`on`), whose flow is zeroed below.
            let in_place = is_still || self.moving_hold == 0.0;
            self.moving[i] = !is_still;
            let hold = if is_still { 1.0 } else { self.moving_hold };
            // (Where the warp left the frame the difference is 255, so the trust is 0.)
            let a = trust * hold;
            self.alpha[i] = a;
            self.class[i] = class_of(a, is_still, in_place);
            let warped = if self.warped[i].is_nan() { 0.0 } else { self.warped[i] };
            self.reference[i] = a * warped + (1.0 - a) * f32::from(self.grey[i]);
            sum += f64::from(a);
            trusted += f64::from(trust);
        }
        // `on`: where the camera moves, moving pixels are carried from the anchor (along the flow as it is), where
        // it still shows them; before a still camera they show the new frame.
        if let Some(anchor) = &mut self.anchor {
            let moving = self.moving.iter().filter(|&&m| m).count();
            // (Once carrying, until the moving share falls to [`CARRY_UNTIL`]: frames that hover about the threshold
            // would otherwise switch what moves between the anchor's strokes and new ones, frame after frame.)
            let from = if self.carrying { CARRY_UNTIL } else { CARRY_SHARE };
            self.carrying = moving as f32 >= from * self.moving.len() as f32;
            if self.carrying {
                anchor.follow(&self.flow, &self.grey, (sw, sh), still, levels, |i| self.moving[i]);
                sum += anchor.alpha.iter().map(|&a| f64::from(a)).sum::<f64>();
            } else {
                // Not carrying, the anchor is not followed (a third of the stage's own work on a still camera):
                // it becomes this frame's output, so that carrying starts from the frame before.
                anchor.pass();
            }
        }
        // Zeroed (once the anchor has followed it), the pixels between moving ones that keep nothing of the last
        // frame and held ones mix with the previous output where it is, not resampled from where the flow points.
        for (i, f) in self.flow.chunks_exact_mut(2).enumerate() {
            if !self.moving[i] || self.moving_hold == 0.0 {
                f.fill(0.0);
            }
        }
        let n = (sw * sh) as f64;
        ((sum / n) as f32, (trusted / n) as f32)
    }
}

/// `styled` = alpha x (the previous output or the anchor, warped along the flow) + (1 - alpha) x `styled`, at full
/// size, in `threads` bands of rows at once (`sources`: a row of sources for each band, kept from frame to frame).
fn blend(inputs: &Blend, threads: usize, styled: &mut Frame, sources: &mut Vec<Source>) {
    let (w, h) = inputs.grid.size;
    let band = h.div_ceil(threads.clamp(1, h.max(1)));
    sources.resize(h.div_ceil(band) * w, Source::default());
    if band >= h {
        return inputs.blend_rows(&mut styled.data, 0, sources);
    }
    std::thread::scope(|s| {
        let mut bands = styled.data.chunks_mut(band * w * 3).zip(sources.chunks_mut(w)).enumerate();
        let first = bands.next();
        for (k, (rows, sources)) in bands {
            s.spawn(move || inputs.blend_rows(rows, k * band, sources));
        }
        // The first band on this thread.
        if let Some((_, (rows, sources))) = first {
            inputs.blend_rows(rows, 0, sources);
        }
    });
}

/// Runs `work` (the network, on the frame `input` shows) on this thread while `stage`'s [`Temporal::prepare`] of
/// `input` runs on a thread of its own, for callers with a core to spare beside the network (live mode, the
/// GStreamer element); returns what `work` returned and how prepare went (Ok without a stage). Then
/// [`Temporal::finish`] the stylized frame.
pub fn prepare_beside<R>(stage: Option<&mut Temporal>, input: &Frame, work: impl FnOnce() -> R) -> (R, Result<()>) {
    std::thread::scope(|s| {
        let prepare = stage.map(|stage| s.spawn(|| stage.prepare(input)));
        let out = work();
        let prepared = prepare.map_or(Ok(()), |p| p.join().unwrap_or_else(|_| Err(Error::Invalid("the temporal stage's thread stopped".into()))));
        (out, prepared)
    })
}

/// For each of `n` full-size positions, the small pixel at or before its centre and the weight of the next
/// (bilinear, centres aligned, clamped at the edges).
fn taps(n: usize, k: usize, small: usize) -> Vec<(usize, f32)> {
    (0..n)
        .map(|i| {
            let s = small_pos(i, k, small);
            let i0 = s.floor() as usize;
            (i0, s - i0 as f32)
        })
        .collect()
}

/// A 3x3 box filter in place (separable; edges use the pixels there are).
fn box3(v: &mut [f32], scratch: &mut Vec<f32>, w: usize, h: usize) {
    scratch.clear();
    scratch.resize(w * h, 0.0);
    for (src, dst) in v.chunks_exact(w).zip(scratch.chunks_exact_mut(w)) {
        if w == 1 {
            dst[0] = src[0];
            continue;
        }
        dst[0] = (src[0] + src[1]) / 2.0;
        for x in 1..w - 1 {
            dst[x] = (src[x - 1] + src[x] + src[x + 1]) / 3.0;
        }
        dst[w - 1] = (src[w - 2] + src[w - 1]) / 2.0;
    }
    for (y, dst) in v.chunks_exact_mut(w).enumerate() {
        // Rows a..=b, summed in order.
        let (a, b) = (y.saturating_sub(1), (y + 1).min(h - 1));
        let row = |r: usize| &scratch[r * w..r * w + w];
        let n = (b - a + 1) as f32;
        match b - a {
            2 => dst.iter_mut().zip(row(a).iter().zip(row(a + 1)).zip(row(b))).for_each(|(d, ((p, q), r))| *d = (p + q + r) / n),
            1 => dst.iter_mut().zip(row(a).iter().zip(row(b))).for_each(|(d, (p, q))| *d = (p + q) / n),
            _ => dst.copy_from_slice(row(a)),
        }
    }
}

#[cfg(all(test, feature = "temporal"))]
mod tests;

/// Per alpha in 1/256ths, the gain in 1/256ths that gives a mix of two paintings back the contrast of one, to
/// [`CONTRAST_POWER`] and to [`ANCHOR_CONTRAST_POWER`].
fn gains() -> &'static ([u16; 257], [u16; 257]) {
    static GAINS: std::sync::OnceLock<([u16; 257], [u16; 257])> = std::sync::OnceLock::new();
    GAINS.get_or_init(|| {
        let table = |power: f32| {
            std::array::from_fn(|a| {
                let a = a as f32 / 256.0;
                (256.0 * (a * a + (1.0 - a) * (1.0 - a)).sqrt().powf(-power)).round() as u16
            })
        };
        (table(CONTRAST_POWER), table(ANCHOR_CONTRAST_POWER))
    })
}

/// The mean of each pixel's (2 r + 1)^2 window of `f` (clamped at the borders) into `out`: running sums along
/// rows into `sums`, then down the columns into `col`.
fn box_mean(f: &Frame, out: &mut Frame, (sums, col): (&mut Vec<u16>, &mut Vec<u32>), r: usize) {
    let (w, h) = (f.width, f.height);
    out.resize(w, h);
    sums.resize(w * h * 3, 0);
    if w == 0 || h == 0 {
        return;
    }
    let n = 2 * r + 1;
    let at = |x: isize, max: usize| x.clamp(0, max as isize - 1) as usize;
    for (row, sum) in f.data.chunks_exact(w * 3).zip(sums.chunks_exact_mut(w * 3)) {
        // Within the row, one window offset at a time over every value (loops the compiler vectorizes) ...
        if w > 2 * r {
            let inner = (w - 2 * r) * 3;
            let sum_in = &mut sum[r * 3..r * 3 + inner];
            sum_in.fill(0);
            for d in 0..n {
                sum_in.iter_mut().zip(&row[d * 3..d * 3 + inner]).for_each(|(s, &v)| *s += u16::from(v));
            }
        }
        // ... and the pixels within r of either end, clamped.
        for x in (0..r.min(w)).chain(w.saturating_sub(r).max(r.min(w))..w) {
            for c in 0..3 {
                sum[x * 3 + c] = (-(r as isize)..=r as isize).map(|d| u16::from(row[at(x as isize + d, w) * 3 + c])).sum();
            }
        }
    }
    // Down the columns, a whole row at a time (the inner loops run along the row).
    // Divided by the window's area as a multiply and a shift (exact for sums below 2^20 / area: checked in the
    // tests up to r = 3), which vectorizes where a division does not.
    let area = (n * n) as u32;
    let inverse = (1u32 << 20) / area + 1;
    col.clear();
    col.resize(w * 3, 0);
    for dy in -(r as isize)..=r as isize {
        let y = at(dy, h);
        col.iter_mut().zip(&sums[y * w * 3..(y + 1) * w * 3]).for_each(|(c, &s)| *c += u32::from(s));
    }
    for y in 0..h {
        let out_row = &mut out.data[y * w * 3..(y + 1) * w * 3];
        out_row.iter_mut().zip(col.iter()).for_each(|(o, &c)| *o = (((c + area / 2) * inverse) >> 20) as u8);
        let (add, sub) = (at((y + r + 1) as isize, h), at(y as isize - r as isize, h));
        let (add, sub) = (&sums[add * w * 3..(add + 1) * w * 3], &sums[sub * w * 3..(sub + 1) * w * 3]);
        for ((c, &a), &s) in col.iter_mut().zip(add).zip(sub) {
            *c = *c + u32::from(a) - u32::from(s);
        }
    }
}
