//! The heads-up display: lines of 8x8 bitmap text (font8x8) drawn straight into a 0RGB frame buffer, each on
//! a darkened band so it stays readable over any picture.

use font8x8::legacy::BASIC_LEGACY;

/// A 0RGB pixel buffer (as minifb shows it), row-major without padding.
pub struct Canvas<'a> {
    pub pixels: &'a mut [u32],
    pub width: usize,
    pub height: usize,
}

pub const WHITE: u32 = 0x00ff_ffff;
pub const YELLOW: u32 = 0x00ff_d84a;
pub const RED: u32 = 0x00ff_5a5a;
pub const GREY: u32 = 0x00c8_c8c8;

/// Side of a glyph in source pixels.
const GLYPH: usize = 8;

impl Canvas<'_> {
    /// Glyph scale for this canvas: 2x on wide windows, so the text stays legible.
    pub fn text_scale(&self) -> usize {
        if self.width >= 1600 {
            2
        } else {
            1
        }
    }

    /// Characters that fit on one line.
    pub fn columns(&self) -> usize {
        (self.width / (GLYPH * self.text_scale())).saturating_sub(1).max(1)
    }

    /// Height of one text line including its padding.
    pub fn line_height(&self) -> usize {
        (GLYPH + 4) * self.text_scale()
    }

    /// Halves the brightness of a rectangle (clipped to the canvas).
    pub fn darken(&mut self, x: usize, y: usize, w: usize, h: usize) {
        for row in y.min(self.height)..(y + h).min(self.height) {
            let line = &mut self.pixels[row * self.width..][..self.width];
            for px in &mut line[x.min(self.width)..(x + w).min(self.width)] {
                *px = (*px >> 1) & 0x007f_7f7f;
            }
        }
    }

    /// Draws `text` with its top-left corner at (x, y); characters outside ASCII become '?'. Returns the width.
    pub fn text(&mut self, x: usize, y: usize, text: &str, color: u32) -> usize {
        let s = self.text_scale();
        let mut cx = x;
        for ch in text.chars() {
            let glyph = BASIC_LEGACY.get(ch as usize).unwrap_or(&BASIC_LEGACY[b'?' as usize]);
            for (gy, bits) in glyph.iter().enumerate() {
                for gx in 0..GLYPH {
                    if (bits >> gx) & 1 == 1 {
                        self.fill(cx + gx * s, y + gy * s, s, s, color);
                    }
                }
            }
            cx += GLYPH * s;
        }
        cx - x
    }

    fn fill(&mut self, x: usize, y: usize, w: usize, h: usize, color: u32) {
        for row in y..(y + h).min(self.height) {
            for col in x..(x + w).min(self.width) {
                self.pixels[row * self.width + col] = color;
            }
        }
    }

    /// One HUD line on a darkened band: `index` counts lines from the top, or from the bottom when `from_bottom`.
    pub fn line(&mut self, index: usize, from_bottom: bool, text: &str, color: u32) {
        let lh = self.line_height();
        let y = if from_bottom { self.height.saturating_sub((index + 1) * lh) } else { index * lh };
        let width = (text.chars().count() * GLYPH + 8) * self.text_scale();
        self.darken(0, y, width, lh);
        let pad = 2 * self.text_scale();
        self.text(4 * self.text_scale(), y + pad, text, color);
    }
}

/// Splits `text` into lines of at most `cols` characters, at spaces where there is one.
pub fn wrap(text: &str, cols: usize) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let Some((cut, _)) = rest.char_indices().nth(cols) else {
            lines.push(rest);
            break;
        };
        let at = rest[..cut].rfind(' ').filter(|&i| i > 0).unwrap_or(cut);
        lines.push(rest[..at].trim_end());
        rest = rest[at..].trim_start();
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_spaces() {
        assert_eq!(wrap("model 2 failed to load", 10), vec!["model 2", "failed to", "load"]);
        assert_eq!(wrap("abcdefghijkl", 5), vec!["abcde", "fghij", "kl"]);
        assert_eq!(wrap("short", 10), vec!["short"]);
        assert!(wrap("", 10).is_empty());
    }

    #[test]
    fn text_sets_pixels_and_clips() {
        let mut px = vec![0u32; 40 * 10];
        let mut c = Canvas { pixels: &mut px, width: 40, height: 10 };
        assert_eq!(c.text(0, 0, "HI", WHITE), 16);
        // Off the edge: clipped, no panic.
        c.text(36, 6, "HUD", WHITE);
        c.line(3, true, "a line longer than the canvas", WHITE);
        assert!(px.contains(&WHITE));
        let mut px = vec![0x00ff_ffffu32; 4];
        Canvas { pixels: &mut px, width: 2, height: 2 }.darken(0, 0, 5, 5);
        assert!(px.iter().all(|&p| p == 0x007f_7f7f));
    }
}
