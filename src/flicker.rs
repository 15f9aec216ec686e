//! Temporal instability of a stylized video: how much the output changes between consecutive frames where
//! the input barely changed (static background, slow motion). A stable stylizer changes little there; a
//! flickering one flips its textures from frame to frame.

use crate::frame::Frame;
use crate::temporal::warp::{sample, sample_rgb, shrink_luma, small_pos, small_size};

/// An input pixel counts as still when its largest channel change is at most this many grey levels.
pub const STILL_THRESHOLD: u8 = 6;

/// Running totals over consecutive (input, output) pairs.
#[derive(Default)]
pub struct FlickerMeter {
    prev_input: Frame,
    prev_output: Frame,
    pairs: u64,
    still_pixels: u64,
    all_pixels: u64,
    output_change: f64,
    input_change: f64,
}

/// What the meter found.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Flicker {
    /// Mean absolute change of the output in still pixels, grey levels per channel.
    pub output_change: f64,
    /// The same for the input (small by construction): the output's change is relative to it.
    pub input_change: f64,
    /// Share of pixels that were still.
    pub still_share: f64,
    /// Frame pairs measured.
    pub pairs: u64,
}

impl FlickerMeter {
    /// Adds the next frame: `input` as decoded, `output` its stylization (same size).
    pub fn push(&mut self, input: &Frame, output: &Frame) {
        assert_eq!((input.width, input.height), (output.width, output.height), "input and output sizes differ");
        if (self.prev_input.width, self.prev_input.height) == (input.width, input.height) {
            self.pairs += 1;
            let pixels = self.prev_input.data.chunks_exact(3).zip(input.data.chunks_exact(3));
            let outputs = self.prev_output.data.chunks_exact(3).zip(output.data.chunks_exact(3));
            for ((a, b), (p, q)) in pixels.zip(outputs) {
                self.all_pixels += 1;
                let din = (0..3).map(|c| a[c].abs_diff(b[c])).max().unwrap_or(0);
                if din <= STILL_THRESHOLD {
                    self.still_pixels += 1;
                    self.input_change += channel_diff(a, b);
                    self.output_change += channel_diff(p, q);
                }
            }
        }
        // Copies into the kept buffers (no allocation once they have the frame size).
        for (kept, new) in [(&mut self.prev_input, input), (&mut self.prev_output, output)] {
            kept.resize(new.width, new.height);
            kept.data.copy_from_slice(&new.data);
        }
    }

    pub fn result(&self) -> Flicker {
        let still = self.still_pixels.max(1) as f64;
        Flicker {
            output_change: self.output_change / still,
            input_change: self.input_change / still,
            still_share: self.still_pixels as f64 / self.all_pixels.max(1) as f64,
            pairs: self.pairs,
        }
    }
}

/// An input pixel counts as still for [`Coherence::still_change`] when each channel changes by less than this.
pub const STILL_NOISE_THRESHOLD: u8 = 3;
/// Still pixels whose optical flow is below this many pixels are static (see [`Coherence::static_change`]).
pub const STATIC_FLOW: f32 = 0.5;
/// Pixels whose input, warped along the flow, still differs by more than this (luma, grey levels) are
/// occluded or uncovered: the warping error leaves them out.
pub const OCCLUSION_LEVEL: f32 = 12.0;
/// The measuring flow is computed with the long side shrunk to at most this many pixels.
const MEASURE_SIDE: usize = 480;

/// Temporal coherence of several outputs of the same input (e.g. per frame and with the temporal stage),
/// measured on the same flow: the output change on still pixels, and the warping error of Lai et al. (2018):
/// the mean difference between an output frame and the previous output warped to it along the input's optical
/// flow, over the pixels the flow explains.
pub struct CoherenceMeter {
    dis: crate::temporal::Dis,
    prev_input: Frame,
    prev_outputs: Vec<Frame>,
    grey: (Vec<u8>, Vec<u8>),
    flow: Vec<f32>,
    pairs: u64,
    still_pixels: u64,
    all_pixels: u64,
    input_still_change: f64,
    /// Per output: change on still pixels, on static pixels, warping error sum.
    still_change: Vec<f64>,
    static_pixels: u64,
    input_static_change: f64,
    static_change: Vec<f64>,
    warp_error: Vec<f64>,
    input_warp_error: f64,
    warp_pixels: u64,
}

/// What [`CoherenceMeter`] found, per output in the order they were pushed.
#[derive(Clone, Debug, PartialEq)]
pub struct Coherence {
    /// Mean absolute change (grey levels per channel) on pixels where the input changed by less than
    /// [`STILL_NOISE_THRESHOLD`]: the input's own, and each output's.
    pub input_still_change: f64,
    pub still_change: Vec<f64>,
    pub still_share: f64,
    /// The same on the still pixels whose flow is also below [`STATIC_FLOW`] (the scene itself stood still there).
    pub input_static_change: f64,
    pub static_change: Vec<f64>,
    pub static_share: f64,
    /// The warping error (mean absolute, grey levels per channel) of the input itself and of each output.
    pub input_warp_error: f64,
    pub warp_error: Vec<f64>,
    /// Share of pixels the flow explains (not occluded, inside the frame).
    pub warp_share: f64,
    pub pairs: u64,
}

impl CoherenceMeter {
    pub fn new(outputs: usize) -> crate::error::Result<CoherenceMeter> {
        Ok(CoherenceMeter {
            dis: crate::temporal::Dis::new(crate::temporal::Preset::Medium)?,
            prev_input: Frame::new(0, 0),
            prev_outputs: vec![Frame::new(0, 0); outputs],
            grey: (Vec::new(), Vec::new()),
            flow: Vec::new(),
            pairs: 0,
            still_pixels: 0,
            all_pixels: 0,
            input_still_change: 0.0,
            still_change: vec![0.0; outputs],
            static_pixels: 0,
            input_static_change: 0.0,
            static_change: vec![0.0; outputs],
            warp_error: vec![0.0; outputs],
            input_warp_error: 0.0,
            warp_pixels: 0,
        })
    }

    /// Adds the next frame: `input` as decoded and its `outputs` (same size, as many as [`Self::new`] said).
    pub fn push(&mut self, input: &Frame, outputs: &[&Frame]) -> crate::error::Result<()> {
        assert_eq!(outputs.len(), self.prev_outputs.len(), "outputs per frame");
        let (w, h) = (input.width, input.height);
        let (k, sw, sh) = small_size(w, h, MEASURE_SIDE);
        shrink_luma(input, k, sw, sh, &mut self.grey.0);
        if (self.prev_input.width, self.prev_input.height) == (w, h) {
            self.pairs += 1;
            self.flow.resize(sw * sh * 2, 0.0);
            self.dis.calc(&self.grey.0, &self.grey.1, sw, sh, &mut self.flow)?;
            self.measure(input, outputs, k, sw, sh);
        }
        self.prev_input.resize(w, h);
        self.prev_input.data.copy_from_slice(&input.data);
        for (kept, new) in self.prev_outputs.iter_mut().zip(outputs) {
            kept.resize(w, h);
            kept.data.copy_from_slice(&new.data);
        }
        std::mem::swap(&mut self.grey.0, &mut self.grey.1);
        Ok(())
    }

    fn measure(&mut self, input: &Frame, outputs: &[&Frame], k: usize, sw: usize, sh: usize) {
        let (w, h) = (input.width, input.height);
        let prev = &self.prev_input;
        for y in 0..h {
            let sy = small_pos(y, k, sh);
            for x in 0..w {
                let o = (y * w + x) * 3;
                self.all_pixels += 1;
                let (a, b) = (&prev.data[o..o + 3], &input.data[o..o + 3]);
                // Where was this pixel a frame ago?
                let sx = small_pos(x, k, sw);
                let (fx, fy) = (sample(&self.flow, sw, 2, 0, sx, sy) * k as f32, sample(&self.flow, sw, 2, 1, sx, sy) * k as f32);
                if (0..3).all(|c| a[c].abs_diff(b[c]) < STILL_NOISE_THRESHOLD) {
                    self.still_pixels += 1;
                    self.input_still_change += channel_diff(a, b);
                    for (sum, (p, q)) in self.still_change.iter_mut().zip(self.prev_outputs.iter().zip(outputs)) {
                        *sum += channel_diff(&p.data[o..o + 3], &q.data[o..o + 3]);
                    }
                    // Still and not moving: smooth surfaces that move look still pixel by pixel, while the strokes
                    // on them rightly move along.
                    if fx.abs() < STATIC_FLOW && fy.abs() < STATIC_FLOW {
                        self.static_pixels += 1;
                        self.input_static_change += channel_diff(a, b);
                        for (sum, (p, q)) in self.static_change.iter_mut().zip(self.prev_outputs.iter().zip(outputs)) {
                            *sum += channel_diff(&p.data[o..o + 3], &q.data[o..o + 3]);
                        }
                    }
                }
                let (mut px, mut py) = (x as f32 + fx, y as f32 + fy);
                if px < 0.0 || py < 0.0 || px > (w - 1) as f32 || py > (h - 1) as f32 {
                    continue;
                }
                // Warped from where it is if that explains the input as well as the flow does: in flat, noisy
                // parts the flow is a guess, and warping a still output along it counted as an error what is none.
                let luma = |p: [f32; 3]| 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
                let rgb = |p: &[u8]| [p[0], p[1], p[2]].map(f32::from);
                if (luma(rgb(a)) - luma(rgb(b))).abs() <= (luma(sample_rgb(prev, px, py)) - luma(rgb(b))).abs() {
                    (px, py) = (x as f32, y as f32);
                }
                let warped_in = sample_rgb(prev, px, py);
                if (luma(warped_in) - luma(rgb(b))).abs() > OCCLUSION_LEVEL {
                    continue;
                }
                self.warp_pixels += 1;
                self.input_warp_error += (0..3).map(|c| (warped_in[c] - f32::from(b[c])).abs() as f64).sum::<f64>() / 3.0;
                for (sum, (p, q)) in self.warp_error.iter_mut().zip(self.prev_outputs.iter().zip(outputs)) {
                    let warped = sample_rgb(p, px, py);
                    *sum += (0..3).map(|c| (warped[c] - f32::from(q.data[o + c])).abs() as f64).sum::<f64>() / 3.0;
                }
            }
        }
    }

    pub fn result(&self) -> Coherence {
        let still = self.still_pixels.max(1) as f64;
        let fixed = self.static_pixels.max(1) as f64;
        let warped = self.warp_pixels.max(1) as f64;
        Coherence {
            input_still_change: self.input_still_change / still,
            still_change: self.still_change.iter().map(|s| s / still).collect(),
            still_share: self.still_pixels as f64 / self.all_pixels.max(1) as f64,
            input_static_change: self.input_static_change / fixed,
            static_change: self.static_change.iter().map(|s| s / fixed).collect(),
            static_share: self.static_pixels as f64 / self.all_pixels.max(1) as f64,
            input_warp_error: self.input_warp_error / warped,
            warp_error: self.warp_error.iter().map(|s| s / warped).collect(),
            warp_share: self.warp_pixels as f64 / self.all_pixels.max(1) as f64,
            pairs: self.pairs,
        }
    }
}

fn channel_diff(a: &[u8], b: &[u8]) -> f64 {
    (0..3).map(|c| f64::from(a[c].abs_diff(b[c]))).sum::<f64>() / 3.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(seed: u8) -> Frame {
        let mut f = Frame::new(8, 4);
        for (i, v) in f.data.iter_mut().enumerate() {
            *v = (i as u8).wrapping_mul(37).wrapping_add(seed);
        }
        f
    }

    #[test]
    fn a_stable_output_has_no_flicker_and_a_changing_one_has() {
        let (still, other) = (frame(0), frame(100));
        let mut stable = FlickerMeter::default();
        let mut flickering = FlickerMeter::default();
        for i in 0..4 {
            stable.push(&still, &other);
            flickering.push(&still, if i % 2 == 0 { &still } else { &other });
        }
        let (s, f) = (stable.result(), flickering.result());
        assert_eq!((s.pairs, s.still_share, s.output_change), (3, 1.0, 0.0));
        assert!(f.output_change > 50.0, "{f:?}");
    }

    #[test]
    fn moving_pixels_are_not_counted() {
        let mut m = FlickerMeter::default();
        m.push(&frame(0), &frame(0));
        m.push(&frame(100), &frame(200));
        let r = m.result();
        assert_eq!(r.still_share, 0.0);
        assert_eq!(r.output_change, 0.0);
    }
}
