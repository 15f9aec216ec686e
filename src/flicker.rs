//! Temporal instability of a stylized video: how much the output changes between consecutive frames where
//! the input barely changed (static background, slow motion). A stable stylizer changes little there; a
//! flickering one flips its textures from frame to frame.

use crate::frame::Frame;

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
                    self.input_change += (0..3).map(|c| a[c].abs_diff(b[c]) as f64).sum::<f64>() / 3.0;
                    self.output_change += (0..3).map(|c| p[c].abs_diff(q[c]) as f64).sum::<f64>() / 3.0;
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
