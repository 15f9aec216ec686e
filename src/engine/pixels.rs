//! Pixel loops around the network: padding frames to the net's size rule, cropping the result back, the
//! float32 planar conversions of the `--frame-io f32` path, and SIMD resizing. Shared by every backend.

use fast_image_resize as fir;

use crate::error::{Error, Result};
use crate::frame::Frame;

/// RGB24 frame -> padded RGB24 (`ph x pw`), repeating the last row and column as the float path does.
pub(crate) fn pad_rgb(frame: &Frame, dst: &mut [u8], ph: usize, pw: usize) {
    let (h, w) = (frame.height, frame.width);
    if (ph, pw) == (h, w) {
        dst.copy_from_slice(&frame.data);
        return;
    }
    let (src_row, dst_row) = (w * 3, pw * 3);
    for (y, out) in dst.chunks_exact_mut(dst_row).enumerate() {
        let src = &frame.data[y.min(h - 1) * src_row..][..src_row];
        let (body, pad) = out.split_at_mut(src_row);
        body.copy_from_slice(src);
        let last = &src[src_row - 3..];
        for px in pad.chunks_exact_mut(3) {
            px.copy_from_slice(last);
        }
    }
}

/// Padded RGB24 rows of width `ow` -> the frame, cropped to its size.
pub(crate) fn crop_rgb(src: &[u8], ow: usize, frame: &mut Frame) {
    let row = frame.width * 3;
    if ow == frame.width {
        let n = frame.data.len();
        frame.data.copy_from_slice(&src[..n]);
        return;
    }
    for (y, dst) in frame.data.chunks_exact_mut(row).enumerate() {
        dst.copy_from_slice(&src[y * ow * 3..][..row]);
    }
}

/// RGB24 frame -> padded (`ph x pw`, both even) and given as its 2x2 phases: `[ph/2][pw/2][12]`, byte
/// `(2 x row + column) x 3 + colour` of each 2x2 block (ONNX `SpaceToDepth`, DCR; [`stylize_model::wrap::WrapOptions::phases_on_host`]).
/// Each block row's two pixels are contiguous in both layouts: six bytes move at a time.
pub(crate) fn pad_rgb_phases(frame: &Frame, dst: &mut [u8], ph: usize, pw: usize) {
    let (h, w) = (frame.height, frame.width);
    let pairs = w / 2; // whole pairs of pixels inside the frame
    for (yy, out) in dst.chunks_exact_mut(pw / 2 * 12).enumerate().take(ph / 2) {
        for by in 0..2 {
            let src = &frame.data[(2 * yy + by).min(h - 1) * w * 3..][..w * 3];
            let mut blocks = out.chunks_exact_mut(12);
            // (The source first: zip takes from its first iterator before it finds the second empty.)
            for (pair, block) in src.chunks_exact(6).zip(blocks.by_ref()) {
                block[by * 6..by * 6 + 6].copy_from_slice(pair);
            }
            // Past the whole pairs: each pixel repeats the row's last one.
            for (xx, block) in blocks.enumerate() {
                for bx in 0..2 {
                    let x = (2 * (pairs + xx) + bx).min(w - 1);
                    block[by * 6 + bx * 3..][..3].copy_from_slice(&src[x * 3..x * 3 + 3]);
                }
            }
        }
    }
}

/// The inverse of [`pad_rgb_phases`] for an output of `ow` padded columns: its 2x2 phases -> the frame, cropped.
pub(crate) fn crop_rgb_phases(src: &[u8], ow: usize, frame: &mut Frame) {
    let w = frame.width;
    let row = ow / 2 * 12;
    for (y, dst) in frame.data.chunks_exact_mut(w * 3).enumerate() {
        let blocks = &src[y / 2 * row..][..row];
        let by = y % 2;
        let mut pixels = dst.chunks_exact_mut(6);
        for (pair, block) in pixels.by_ref().zip(blocks.chunks_exact(12)) {
            pair.copy_from_slice(&block[by * 6..by * 6 + 6]);
        }
        // An odd width's last pixel: the first column of its block.
        let last = pixels.into_remainder();
        if !last.is_empty() {
            last.copy_from_slice(&blocks[w / 2 * 12 + by * 6..][..3]);
        }
    }
}

pub(crate) fn pad_side(n: usize, (multiple, min_side): (usize, usize)) -> usize {
    n.max(min_side).div_ceil(multiple) * multiple
}

/// Packed RGB u8 -> planar float (NCHW) scaled to the model's range; the padding repeats the last row/column.
pub(crate) fn rgb_to_planar(frame: &Frame, dst: &mut [f32], ph: usize, pw: usize, scale: f32) {
    let (h, w) = (frame.height, frame.width);
    let plane = ph * pw;
    let (r, rest) = dst.split_at_mut(plane);
    let (g, b) = rest.split_at_mut(plane);
    for y in 0..ph {
        let src = &frame.data[y.min(h - 1) * w * 3..][..w * 3];
        let row = y * pw;
        let (rr, gg, bb) = (&mut r[row..row + pw], &mut g[row..row + pw], &mut b[row..row + pw]);
        for (x, px) in src.chunks_exact(3).enumerate() {
            rr[x] = px[0] as f32 * scale;
            gg[x] = px[1] as f32 * scale;
            bb[x] = px[2] as f32 * scale;
        }
        for x in w..pw {
            rr[x] = rr[w - 1];
            gg[x] = gg[w - 1];
            bb[x] = bb[w - 1];
        }
    }
}

/// Planar float -> packed RGB u8, cropping to the frame's size, clamped and rounded.
pub(crate) fn planar_to_rgb(src: &[f32], oh: usize, ow: usize, frame: &mut Frame, unscale: f32) {
    let plane = oh * ow;
    let w = frame.width;
    let to_u8 = |v: f32| (v * unscale).clamp(0.0, 255.0).round() as u8;
    for (y, dst) in frame.data.chunks_exact_mut(w * 3).enumerate() {
        let row = y * ow;
        let (r, g, b) = (&src[row..row + w], &src[plane + row..plane + row + w], &src[2 * plane + row..2 * plane + row + w]);
        for (x, px) in dst.chunks_exact_mut(3).enumerate() {
            px[0] = to_u8(r[x]);
            px[1] = to_u8(g[x]);
            px[2] = to_u8(b[x]);
        }
    }
}

/// Bilinear resize between frames (fast_image_resize, SIMD).
pub fn resize_into(resizer: &mut fir::Resizer, src: &Frame, dst: &mut Frame) -> Result<()> {
    let err = |e: &dyn std::fmt::Display| Error::Invalid(format!("resize failed: {e}"));
    let src_img = fir::images::ImageRef::new(src.width as u32, src.height as u32, &src.data, fir::PixelType::U8x3).map_err(|e| err(&e))?;
    let mut dst_img = fir::images::Image::from_slice_u8(dst.width as u32, dst.height as u32, &mut dst.data, fir::PixelType::U8x3).map_err(|e| err(&e))?;
    let options = fir::ResizeOptions::new().resize_alg(fir::ResizeAlg::Convolution(fir::FilterType::Bilinear));
    resizer.resize(&src_img, &mut dst_img, &options).map_err(|e| err(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pad_sides_are_multiples_of_four_and_not_tiny() {
        let johnson = (4, 32);
        assert_eq!(pad_side(1, johnson), 32);
        assert_eq!(pad_side(33, johnson), 36);
        assert_eq!(pad_side(360, johnson), 360);
        assert_eq!(pad_side(4097, johnson), 4100);
        // Space-to-depth nets (spec.size_multiple() 8).
        assert_eq!(pad_side(17, (8, 32)), 32);
        assert_eq!(pad_side(301, (8, 32)), 304);
        assert_eq!(pad_side(360, (8, 32)), 360);
    }

    #[test]
    fn phases_are_space_to_depth_of_the_padded_frame_and_crop_back() {
        for (w, h, pw, ph) in [(5, 3, 8, 4), (6, 4, 6, 4), (7, 7, 8, 8), (1, 1, 2, 2)] {
            let mut frame = Frame::new(w, h);
            for (i, v) in frame.data.iter_mut().enumerate() {
                *v = (i * 37 % 251) as u8;
            }
            let mut padded = vec![0; ph * pw * 3];
            pad_rgb(&frame, &mut padded, ph, pw);
            let mut phases = vec![0; ph * pw * 3];
            pad_rgb_phases(&frame, &mut phases, ph, pw);
            // ONNX SpaceToDepth (DCR) of the padded frame, written out from its definition.
            for (y, x, c) in (0..ph).flat_map(|y| (0..pw).flat_map(move |x| (0..3).map(move |c| (y, x, c)))) {
                let i = ((y / 2) * (pw / 2) + x / 2) * 12 + ((y % 2) * 2 + x % 2) * 3 + c;
                assert_eq!(phases[i], padded[(y * pw + x) * 3 + c], "{w}x{h} in {pw}x{ph}: pixel {x},{y} colour {c}");
            }
            let mut back = Frame::new(w, h);
            crop_rgb_phases(&phases, pw, &mut back);
            assert_eq!(back, frame, "{w}x{h} in {pw}x{ph}");
        }
    }

    #[test]
    fn planar_round_trip_keeps_pixels_and_replicates_edges() {
        let mut frame = Frame::new(3, 2);
        for (i, v) in frame.data.iter_mut().enumerate() {
            *v = (i * 13 % 256) as u8;
        }
        let (ph, pw) = (4, 5);
        let mut planar = vec![0.0; 3 * ph * pw];
        rgb_to_planar(&frame, &mut planar, ph, pw, 1.0);
        // padding column repeats the last pixel of the row, padding rows repeat the last row
        assert_eq!(planar[4], planar[2]);
        assert_eq!(planar[3 * pw], planar[pw]);
        let mut back = Frame::new(3, 2);
        planar_to_rgb(&planar, ph, pw, &mut back, 1.0);
        assert_eq!(back, frame);
    }

    #[test]
    fn uint8_padding_matches_the_float_padding_and_crops_back() {
        let mut frame = Frame::new(3, 2);
        for (i, v) in frame.data.iter_mut().enumerate() {
            *v = (i * 29 % 256) as u8;
        }
        let (ph, pw) = (4, 5);
        let mut planar = vec![0.0; 3 * ph * pw];
        rgb_to_planar(&frame, &mut planar, ph, pw, 1.0);
        let mut packed = vec![0u8; ph * pw * 3];
        pad_rgb(&frame, &mut packed, ph, pw);
        for (i, px) in packed.chunks_exact(3).enumerate() {
            for c in 0..3 {
                assert_eq!(px[c] as f32, planar[c * ph * pw + i], "pixel {i} channel {c}");
            }
        }
        let mut back = Frame::new(3, 2);
        crop_rgb(&packed, pw, &mut back);
        assert_eq!(back, frame);
        // a frame of the padded size is copied straight in and out
        let mut same = vec![0u8; 2 * 3 * 3];
        pad_rgb(&frame, &mut same, 2, 3);
        assert_eq!(same, frame.data);
    }
}
