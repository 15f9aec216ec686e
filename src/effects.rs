//! What happens to a stylized frame after the network: keep the input's colours, blend with the input.

use crate::frame::Frame;

/// Post-processing of a stylized frame against the frame it came from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Effects {
    /// 0 = the input unchanged, 1 = fully stylized.
    pub strength: f32,
    /// Keep the input's chrominance and take only the luminance (the brush strokes) from the style.
    pub preserve_color: bool,
}

impl Default for Effects {
    fn default() -> Self {
        Effects { strength: 1.0, preserve_color: false }
    }
}

impl Effects {
    /// Whether `apply` changes anything (so callers can skip keeping a copy of the input).
    pub fn is_identity(&self) -> bool {
        self.strength >= 1.0 && !self.preserve_color
    }

    /// Writes `styled` with the effects applied into `out` (resized to match), leaving the inputs as they are.
    pub fn render(&self, original: &Frame, styled: &Frame, out: &mut Frame) {
        out.resize(styled.width, styled.height);
        out.data.copy_from_slice(&styled.data);
        self.apply(original, out);
    }

    /// Applies the effects to `styled` in place; `original` is the frame before stylization (same size).
    pub fn apply(&self, original: &Frame, styled: &mut Frame) {
        if self.is_identity() {
            return;
        }
        debug_assert_eq!(original.data.len(), styled.data.len());
        let s = self.strength.clamp(0.0, 1.0);
        for (o, y) in original.data.chunks_exact(3).zip(styled.data.chunks_exact_mut(3)) {
            let (o, mut v) = ([o[0] as f32, o[1] as f32, o[2] as f32], [y[0] as f32, y[1] as f32, y[2] as f32]);
            if self.preserve_color {
                // With the chroma (R-Y, B-Y) of the input, each channel is the input's plus the luma change.
                let dy = luma(v) - luma(o);
                v = [o[0] + dy, o[1] + dy, o[2] + dy];
            }
            for c in 0..3 {
                y[c] = (o[c] + s * (v[c] - o[c])).round().clamp(0.0, 255.0) as u8;
            }
        }
    }
}

/// BT.601 luma of an RGB triple.
pub fn luma(p: [f32; 3]) -> f32 {
    0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames() -> (Frame, Frame) {
        let mut a = Frame::new(16, 8);
        let mut b = Frame::new(16, 8);
        for (i, (x, y)) in a.data.iter_mut().zip(b.data.iter_mut()).enumerate() {
            *x = (i * 7 % 200 + 20) as u8;
            *y = (i * 13 % 256) as u8;
        }
        (a, b)
    }

    #[test]
    fn strength_zero_is_the_input_and_one_is_the_stylized_frame() {
        let (a, b) = frames();
        let mut out = b.clone();
        Effects { strength: 0.0, preserve_color: false }.apply(&a, &mut out);
        assert_eq!(out, a);
        let mut out = b.clone();
        Effects::default().apply(&a, &mut out);
        assert_eq!(out, b);
        let mut half = b.clone();
        Effects { strength: 0.5, preserve_color: false }.apply(&a, &mut half);
        assert!(half != a && half != b);
    }

    #[test]
    fn preserve_color_keeps_chroma_and_takes_luma() {
        let (a, b) = frames();
        let mut out = b.clone();
        Effects { strength: 1.0, preserve_color: true }.apply(&a, &mut out);
        let px = |f: &Frame, i: usize| [f.data[3 * i] as f32, f.data[3 * i + 1] as f32, f.data[3 * i + 2] as f32];
        let mut checked = 0;
        for i in 0..a.width * a.height {
            let (o, s, r) = (px(&a, i), px(&b, i), px(&out, i));
            if r.iter().any(|&v| v == 0.0 || v == 255.0) {
                continue; // clamped: chroma cannot be kept exactly there
            }
            assert!((luma(r) - luma(s)).abs() <= 1.0, "luma from the stylized frame");
            assert!(((r[0] - luma(r)) - (o[0] - luma(o))).abs() <= 1.0, "R-Y from the input");
            assert!(((r[2] - luma(r)) - (o[2] - luma(o))).abs() <= 1.0, "B-Y from the input");
            checked += 1;
        }
        assert!(checked > 20);
    }
}
