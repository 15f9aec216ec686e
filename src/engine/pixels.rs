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
