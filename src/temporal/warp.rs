//! The pixel work that the temporal stage and the coherence meter share: frames shrunk to grey, and bilinear
//! samples of flow maps and RGB frames at fractional positions (inside the map; callers clamp).

use crate::frame::Frame;

/// `frame` shrunk by `k` (area average of k x k blocks, which also averages sensor noise away) to `sw` x `sh`
/// grey (BT.601 luma weights), into `out` (resized to fit). Row by row, a block of small columns at a time, so
/// that the inner loop runs along the frame's memory.
pub fn shrink_luma(frame: &Frame, k: usize, sw: usize, sh: usize, out: &mut Vec<u8>) {
    const BLOCK: usize = 64;
    out.clear();
    out.resize(sw * sh, 0);
    let w = frame.width;
    let norm = 1.0 / (256 * k * k) as f32;
    for (sy, out_row) in out.chunks_exact_mut(sw).enumerate() {
        for (b, out_block) in out_row.chunks_mut(BLOCK).enumerate() {
            let mut sums = [0u32; BLOCK];
            let x0 = b * BLOCK * k;
            for y in sy * k..sy * k + k {
                let row = &frame.data[(y * w + x0) * 3..(y * w + x0 + out_block.len() * k) * 3];
                for (sum, block) in sums.iter_mut().zip(row.chunks_exact(3 * k)) {
                    for p in block.chunks_exact(3) {
                        *sum += 77 * u32::from(p[0]) + 150 * u32::from(p[1]) + 29 * u32::from(p[2]);
                    }
                }
            }
            for (o, &sum) in out_block.iter_mut().zip(&sums) {
                *o = (sum as f32 * norm + 0.5).min(255.0) as u8;
            }
        }
    }
}

/// The small size and shrink factor for a `w` x `h` frame whose long side should be at most `side`.
pub fn small_size(w: usize, h: usize, side: usize) -> (usize, usize, usize) {
    let k = w.max(h).div_ceil(side).max(1);
    (k, (w / k).max(1), (h / k).max(1))
}

/// Bilinear sample of channel `c` of a `w`-wide map with `n` interleaved channels, at (`x`, `y`) inside it.
#[inline]
pub fn sample(v: &[f32], w: usize, n: usize, c: usize, x: f32, y: f32) -> f32 {
    let h = v.len() / (w * n);
    let (x0, y0) = (x as usize, y as usize);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let g = |xx: usize, yy: usize| v[(yy * w + xx) * n + c];
    let top = g(x0, y0) + fx * (g(x1, y0) - g(x0, y0));
    let bottom = g(x0, y1) + fx * (g(x1, y1) - g(x0, y1));
    top + fy * (bottom - top)
}

/// Bilinear sample of an RGB frame at (`x`, `y`) inside it (the blend's per-pixel work: the four neighbours are
/// sliced once, so there is one bounds check per neighbour, not per channel).
#[inline]
pub fn sample_rgb(f: &Frame, x: f32, y: f32) -> [f32; 3] {
    // x, y >= 0 (callers clamp), where truncation is floor: `floor` is a libm call on the baseline x86-64 target.
    let (x0, y0) = (x as usize, y as usize);
    let (x1, y1) = ((x0 + 1).min(f.width - 1), (y0 + 1).min(f.height - 1));
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let stride = f.width * 3;
    let px = |xx: usize, yy: usize| -> [f32; 3] {
        let p = &f.data[yy * stride + xx * 3..yy * stride + xx * 3 + 3];
        [f32::from(p[0]), f32::from(p[1]), f32::from(p[2])]
    };
    let (p00, p01, p10, p11) = (px(x0, y0), px(x1, y0), px(x0, y1), px(x1, y1));
    // (A loop, not array::from_fn: that closure is not inlined, which doubles the cost.)
    let mut out = [0f32; 3];
    for (c, o) in out.iter_mut().enumerate() {
        let top = p00[c] + fx * (p01[c] - p00[c]);
        let bottom = p10[c] + fx * (p11[c] - p10[c]);
        *o = top + fy * (bottom - top);
    }
    out
}

/// The position in a map shrunk by `k` (of `small` samples) that lines up with the centre of full-size pixel `i`.
pub fn small_pos(i: usize, k: usize, small: usize) -> f32 {
    ((i as f32 + 0.5) / k as f32 - 0.5).clamp(0.0, (small - 1) as f32)
}
