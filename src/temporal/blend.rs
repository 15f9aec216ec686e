//! The temporal stage's full-size work: `alpha x (the previous output, warped along the flow) + (1 - alpha) x the
//! new stylized frame`, row by row, from the small maps the stage computed (alpha, flow, and each small pixel's
//! class). Stretches of columns that are all held are copied, all new left, all still mixed in place; the rest
//! are resampled pixel by pixel, in fixed point.

use super::{FLOW_SIDE, STILL_FLOW};
use crate::frame::Frame;

/// Where a frame's full-size pixels sit on the stage's small maps: the same for every layer the stage blends in.
pub(super) struct Grid {
    /// Full size, the shrink factor and the small size.
    pub(super) size: (usize, usize),
    pub(super) k: usize,
    pub(super) small: (usize, usize),
    /// Per full-size column and row: the small pixel to its left/top and the weight of the next.
    pub(super) cols: Vec<(usize, f32)>,
    pub(super) rows: Vec<(usize, f32)>,
    /// Per small column: the first full-size column whose left neighbour it is (and the width at the end).
    pub(super) spans: Vec<usize>,
}

impl Default for Grid {
    fn default() -> Grid {
        Grid { size: (0, 0), k: 1, small: (0, 0), cols: Vec::new(), rows: Vec::new(), spans: Vec::new() }
    }
}

/// What the blend reads, borrowed from the stage: shared by the threads that blend bands of rows. One layer: the
/// previous output or the anchor, with its small maps.
pub(super) struct Blend<'a> {
    pub(super) grid: &'a Grid,
    pub(super) class: &'a [u8],
    pub(super) alpha: &'a [f32],
    pub(super) flow: &'a [f32],
    pub(super) prev: &'a Frame,
    /// Read the nearest pixel, not a bilinear mix of four, and at any offset (the anchor, read once per pixel: its
    /// strokes stay as sharp as drawn); else offsets below [`STILL_FLOW`] read in place.
    pub(super) nearest: bool,
    /// The new frame's local mean, and per alpha the gain that gives a mixed pixel's difference to it the
    /// contrast of one painting ([`super::CONTRAST_POWER`]); `None` mixes plainly.
    pub(super) mean: Option<&'a Frame>,
    pub(super) gain: &'a [u16; 257],
}

impl Blend<'_> {
    /// Rows `y_start..` of the frame, held in `data`. The pixels between four small pixels of one class are copied
    /// (all held) or left (all new), a stretch of such columns at once; the others are mixed one by one.
    pub(super) fn blend_rows(&self, data: &mut [u8], y_start: usize, sources: &mut [Source]) {
        let (w, _) = self.grid.size;
        let (sw, sh) = self.grid.small;
        let k = self.grid.k as f32;
        // Per small column: alpha and the flow (in full-size pixels), interpolated down to the row being blended.
        let mut along = [[0f32; 3]; FLOW_SIDE];
        for (dy, row) in data.chunks_exact_mut(w * 3).enumerate() {
            let y = y_start + dy;
            let (y0, wy) = self.grid.rows[y];
            let y1 = (y0 + 1).min(sh - 1);
            // What the pixels between small columns sx and sx + 1 on this row need.
            let kind = |sx: usize| {
                let sx1 = (sx + 1).min(sw - 1);
                let c = [y0 * sw + sx, y0 * sw + sx1, y1 * sw + sx, y1 * sw + sx1].map(|i| self.class[i]);
                let (all, any) = (c[0] & c[1] & c[2] & c[3], c[0] | c[1] | c[2] | c[3]);
                if any & CLASS == NEW {
                    Stretch::Leave
                } else if all & CLASS == HELD && any & CLASS == HELD {
                    Stretch::Copy
                } else if all & STILL != 0 {
                    Stretch::MixInPlace
                } else {
                    Stretch::Mix
                }
            };
            let mut sx = 0;
            while sx < sw {
                let first = sx;
                let stretch = kind(sx);
                sx += 1;
                while sx < sw && kind(sx) == stretch {
                    sx += 1;
                }
                let (a, b) = (self.grid.spans[first], self.grid.spans[sx]);
                if stretch == Stretch::Copy {
                    row[a * 3..b * 3].copy_from_slice(&self.prev.data[(y * w + a) * 3..(y * w + b) * 3]);
                } else if stretch != Stretch::Leave {
                    // The stretch's small columns and the one to its right, interpolated down to this row.
                    // (Entry i of a map with n values per small pixel.)
                    let lerp = |v: &[f32], n: usize, i: usize| v[y0 * sw * n + i] + wy * (v[y1 * sw * n + i] - v[y0 * sw * n + i]);
                    for (s, out) in along.iter_mut().enumerate().take((sx + 1).min(sw)).skip(first) {
                        *out = [lerp(self.alpha, 1, s), k * lerp(self.flow, 2, 2 * s), k * lerp(self.flow, 2, 2 * s + 1)];
                    }
                    if stretch == Stretch::MixInPlace {
                        self.mix_in_place(row, y, a..b, &along[..sw]);
                    } else if self.nearest {
                        self.mix_nearest(row, y, a..b, &along[..sw]);
                    } else {
                        self.mix(row, y, a..b, &along[..sw], sources);
                    }
                }
            }
        }
    }

    /// The new frame's local means of pixels `xs` of row `y`, where mixes keep their contrast.
    #[inline]
    fn means(&self, y: usize, xs: &std::ops::Range<usize>) -> Option<&[u8]> {
        let w = self.grid.size.0;
        self.mean.map(|m| &m.data[(y * w + xs.start) * 3..(y * w + xs.end) * 3])
    }

    /// alpha of `along`, interpolated across to full-size column `x`, in 1/256ths.
    #[inline]
    fn alpha_at(&self, along: &[[f32; 3]], x: usize) -> u32 {
        let (s, wx) = self.grid.cols[x];
        let (l, r) = (along[s][0], along[(s + 1).min(along.len() - 1)][0]);
        (((l + wx * (r - l)) * 256.0 + 0.5) as u32).min(256)
    }

    /// Pixels `xs` of row `y` where all four small neighbours are still: alpha x the previous output where it was +
    /// (1 - alpha) x the new one (most mixed pixels of real footage, where the camera and most of the scene
    /// stand still).
    fn mix_in_place(&self, row: &mut [u8], y: usize, xs: std::ops::Range<usize>, along: &[[f32; 3]]) {
        let w = self.grid.size.0;
        let old = &self.prev.data[(y * w + xs.start) * 3..(y * w + xs.end) * 3];
        let row = &mut row[xs.start * 3..xs.end * 3];
        // Two loops, not one that asks per pixel: most mixed pixels are mixed here, and indexing the means per pixel
        // made the stage 2-4% slower.
        match self.means(y, &xs) {
            None => {
                for ((px, o), x) in row.chunks_exact_mut(3).zip(old.chunks_exact(3)).zip(xs) {
                    let a = self.alpha_at(along, x);
                    for c in 0..3 {
                        px[c] = ((a * u32::from(o[c]) + (256 - a) * u32::from(px[c]) + 128) >> 8) as u8;
                    }
                }
            }
            Some(means) => {
                for (((px, o), m), x) in row.chunks_exact_mut(3).zip(old.chunks_exact(3)).zip(means.chunks_exact(3)).zip(xs) {
                    let a = self.alpha_at(along, x);
                    let g = i32::from(self.gain[a as usize]);
                    for c in 0..3 {
                        px[c] = keep_contrast((a * u32::from(o[c]) + (256 - a) * u32::from(px[c]) + 128) >> 8, m[c], g);
                    }
                }
            }
        }
    }

    /// [`Self::mix`] for the anchor: each pixel read from the one nearest its position, in one pass (on a hand-held
    /// clip, where nearly every pixel is read so, the stage took 7.5-7.8 ms a frame so against 8.6-9.1 through the
    /// bilinear mix's two passes).
    fn mix_nearest(&self, row: &mut [u8], y: usize, xs: std::ops::Range<usize>, along: &[[f32; 3]]) {
        let last = along.len() - 1;
        let prev = self.prev;
        let stride = prev.width * 3;
        let (xmax, ymax) = (prev.width as i32 - 1, prev.height as i32 - 1);
        let means = self.means(y, &xs);
        for ((px, x), j) in row[xs.start * 3..xs.end * 3].chunks_exact_mut(3).zip(xs).zip(0..) {
            let (s, wx) = self.grid.cols[x];
            let (l, r) = (along[s], along[(s + 1).min(last)]);
            let a = self.alpha_at(along, x);
            // (Float to int casts saturate, and truncate towards zero: below zero that is the border anyway.)
            let sx = ((x as f32 + l[1] + wx * (r[1] - l[1]) + 0.5) as i32).clamp(0, xmax) as usize;
            let sy = ((y as f32 + l[2] + wx * (r[2] - l[2]) + 0.5) as i32).clamp(0, ymax) as usize;
            let old = &prev.data[sy * stride + sx * 3..sy * stride + sx * 3 + 3];
            let g = i32::from(self.gain[a as usize]);
            for (c, (p, &o)) in px.iter_mut().zip(old).enumerate() {
                let v = (a * u32::from(o) + (256 - a) * u32::from(*p) + 128) >> 8;
                *p = means.map_or(v as u8, |m| keep_contrast(v, m[j * 3 + c], g));
            }
        }
    }

    /// Pixels `xs` of row `y` (held in `row`), one by one: alpha x (the previous output, warped along the flow) +
    /// (1 - alpha) x the new one, with alpha and the flow interpolated across from `along`. In fixed point
    /// (weights and positions in 1/256ths), in two passes (where each pixel reads from, then the mix) whose
    /// iterations are short and independent, so that the CPU overlaps them: the stage's per-pixel work, which as
    /// one loop in floats cost twice as much.
    fn mix(&self, row: &mut [u8], y: usize, xs: std::ops::Range<usize>, along: &[[f32; 3]], at: &mut [Source]) {
        let last = along.len() - 1;
        let prev = self.prev;
        let stride = prev.width * 3;
        // The last sample position in 1/256ths of a pixel: there the fraction is 0, so the next pixel is not read.
        let (xmax, ymax) = ((prev.width as i32 - 1) * 256, (prev.height as i32 - 1) * 256);
        let at = &mut at[xs.clone()];
        for (x, src) in xs.clone().zip(at.iter_mut()) {
            let (s, wx) = self.grid.cols[x];
            let (l, r) = (along[s], along[(s + 1).min(last)]);
            let (fx, fy) = (l[1] + wx * (r[1] - l[1]), l[2] + wx * (r[2] - l[2]));
            // Still pixels read the previous output where they are, not resampled. (Here and below, no branches
            // on what varies from pixel to pixel: in real footage still and moving pixels alternate, and
            // mispredicted branches cost more than the arithmetic.)
            let moving = f32::from(u8::from(fx.abs() >= STILL_FLOW || fy.abs() >= STILL_FLOW));
            let (fx, fy) = (fx * moving, fy * moving);
            // Float to int casts saturate, so far positions clamp to the border.
            *src = Source {
                alpha: self.alpha_at(along, x),
                x: (((x as f32 + fx) * 256.0) as i32).clamp(0, xmax) as u32,
                y: (((y as f32 + fy) * 256.0) as i32).clamp(0, ymax) as u32,
            };
        }
        // (alpha 0 gives the new pixel back exactly, so it needs no branch either.)
        let means = self.means(y, &xs);
        for ((px, src), j) in row[xs.start * 3..xs.end * 3].chunks_exact_mut(3).zip(at.iter()).zip(0..) {
            let a = src.alpha;
            let g = i32::from(self.gain[a as usize]);
            let (ux, uy) = (src.x & 255, src.y & 255);
            let top = ((src.y >> 8) as usize) * stride + ((src.x >> 8) as usize) * 3;
            // The next pixel to the right and below, or this one where the fraction is 0 (at the border).
            let right = 3 * ((ux + 255) >> 8) as usize;
            let down = stride * ((uy + 255) >> 8) as usize;
            let (r0, r1) = (&prev.data[top..top + right + 3], &prev.data[top + down..top + down + right + 3]);
            for c in 0..3 {
                // Bilinear, in 1/256ths of a level (the first terms are never smaller than the subtracted ones).
                let lerp = |p: &[u8]| (u32::from(p[c]) << 8) + ux * u32::from(p[c + right]) - ux * u32::from(p[c]);
                let (t, b) = (lerp(r0), lerp(r1));
                let old = ((t << 8) + uy * b - uy * t) >> 8;
                let v = (a * old + (256 - a) * (u32::from(px[c]) << 8) + (1 << 15)) >> 16;
                px[c] = means.map_or(v as u8, |m| keep_contrast(v, m[j * 3 + c], g));
            }
        }
    }
}

/// `v`, a mix of two paintings, with its difference to their local mean `m` scaled by `gain` (in 1/256ths).
#[inline]
fn keep_contrast(v: u32, m: u8, gain: i32) -> u8 {
    let m = i32::from(m);
    (m + ((gain * (v as i32 - m) + 128) >> 8)).clamp(0, 255) as u8
}

/// Where [`Blend::mix`] reads a pixel of the previous output (in 1/256ths of a pixel) and how much of it it keeps
/// (in 1/256ths).
#[derive(Clone, Copy, Default)]
pub(super) struct Source {
    alpha: u32,
    x: u32,
    y: u32,
}

/// Small pixels whose output is all new, all kept as it was, or anything else (the low bits, [`CLASS`]); and a
/// bit for those whose flow is zero.
pub(super) const NEW: u8 = 0;
pub(super) const HELD: u8 = 1;
pub(super) const MIXED: u8 = 2;
const CLASS: u8 = 3;
pub(super) const STILL: u8 = 4;

/// The class of a small pixel that keeps `alpha` of the previous output (or the anchor): held where it keeps all of
/// it and is `copied` (read where it is, not resampled), with the still bit where its flow is zero (`in_place`).
pub(super) fn class_of(alpha: f32, copied: bool, in_place: bool) -> u8 {
    (match alpha {
        0.0 => NEW,
        1.0 if copied => HELD,
        _ => MIXED,
    }) | if in_place { STILL } else { 0 }
}

/// What [`Blend::blend_rows`] does with a stretch of pixels, from the classes of their small neighbours.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stretch {
    /// All new: the stylized frame as it is.
    Leave,
    /// All held: the previous output as it was.
    Copy,
    /// All still: mixed with the previous output where it was.
    MixInPlace,
    /// Some moving: mixed with the previous output warped along the flow.
    Mix,
}
