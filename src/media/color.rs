//! Colour of a video: the YUV matrix and range of its frames (from its tags, or guessed the way players guess
//! for untagged files), applied to swscale's YUV<->RGB conversions so the networks see the colours that were
//! meant, and written as the output's tags so players show what was meant.

use std::os::raw::c_int;

use ffmpeg_next as ffmpeg;
use ffmpeg::software::scaling;
use ffmpeg::util::color::{Primaries, Range, Space, TransferCharacteristic};
use ffmpeg::util::format::Pixel;

use crate::frame::Frame;

/// swscale flags for YUV -> RGB: exact rounding and full chroma interpolation. With them a YUV -> RGB -> YUV
/// round trip gives back the same samples; with swscale's fast defaults it came out 1-2 levels darker. They
/// cost ~1.5 ms more per 640x360 frame on one core (measured with ffmpeg -benchmark), a few % of a lite net.
pub const DECODE_FLAGS: scaling::Flags = scaling::Flags::BICUBIC.union(scaling::Flags::ACCURATE_RND).union(scaling::Flags::FULL_CHR_H_INT);

/// swscale flags for scaling YUV planes to 4:4:4 (before the `yuv` crate converts them): exact rounding.
pub const SCALE_FLAGS: scaling::Flags = scaling::Flags::BICUBIC.union(scaling::Flags::ACCURATE_RND);

/// swscale flags for RGB -> YUV (formats the `yuv` crate does not write): exact rounding (full chroma input buys
/// nothing here); 2.8 ms a 1280x720 frame on one core.
pub const ENCODE_FLAGS: scaling::Flags = scaling::Flags::BICUBIC.union(scaling::Flags::ACCURATE_RND);

/// How a video's YUV samples map to RGB, and what its colours are (for the output's tags).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VideoColor {
    /// The YUV matrix (never Unspecified: guessed when the stream does not say).
    pub space: Space,
    /// Limited (MPEG, 16-235) or full (JPEG, 0-255) range (never Unspecified).
    pub range: Range,
    /// Tagged as the input is (Unspecified stays unspecified, unless the matrix was guessed).
    pub primaries: Primaries,
    pub transfer: TransferCharacteristic,
}

impl VideoColor {
    /// The colour of a stream from its tags; what is not tagged is guessed as players do: BT.709 for HD
    /// and larger, BT.601 for SD; limited range unless the pixel format is a full-range ("J") one.
    pub fn from_tags(space: Space, range: Range, primaries: Primaries, transfer: TransferCharacteristic, format: Pixel, width: u32, height: u32) -> (VideoColor, Vec<String>) {
        let mut notes = Vec::new();
        let hd = width >= 1280 || height > 576;
        let guessed = matches!(space, Space::Unspecified | Space::Reserved | Space::RGB);
        let space = match space {
            _ if guessed => {
                if hd { Space::BT709 } else { Space::SMPTE170M }
            }
            Space::BT2020CL => {
                notes.push("BT.2020 constant-luminance input converted as non-constant (swscale has no constant-luminance matrix)".into());
                Space::BT2020NCL
            }
            Space::BT709 | Space::FCC | Space::BT470BG | Space::SMPTE170M | Space::SMPTE240M | Space::BT2020NCL => space,
            other => {
                notes.push(format!("{other:?} colour matrix is not supported; converted as BT.709"));
                Space::BT709
            }
        };
        let full_format = matches!(format, Pixel::YUVJ420P | Pixel::YUVJ422P | Pixel::YUVJ444P | Pixel::YUVJ440P | Pixel::YUVJ411P);
        let range = match range {
            Range::JPEG => Range::JPEG,
            Range::MPEG => Range::MPEG,
            Range::Unspecified if full_format => Range::JPEG,
            Range::Unspecified => Range::MPEG,
        };
        // An untagged file gets the tags that go with the guessed matrix, so that players agree with us.
        let (primaries, transfer) = match (guessed, primaries, transfer) {
            (true, Primaries::Unspecified, TransferCharacteristic::Unspecified) if hd => (Primaries::BT709, TransferCharacteristic::BT709),
            (true, Primaries::Unspecified, TransferCharacteristic::Unspecified) => (Primaries::SMPTE170M, TransferCharacteristic::SMPTE170M),
            _ => (primaries, transfer),
        };
        if let Some(d) = format.descriptor() {
            // SAFETY: a descriptor points at FFmpeg's static table of pixel formats.
            let bits = unsafe { (*d.as_ptr()).comp[0].depth };
            if bits > 8 {
                notes.push(format!("{bits}-bit input: processed and written in 8 bits (the networks work on 8-bit images)"));
            }
        }
        match transfer {
            TransferCharacteristic::SMPTE2084 => notes.push("HDR (PQ) input: processed as 8-bit SDR values without tone mapping; the output keeps the PQ tags".into()),
            TransferCharacteristic::ARIB_STD_B67 => notes.push("HDR (HLG) input: processed as 8-bit SDR values without tone mapping; the output keeps the HLG tags".into()),
            _ => {}
        }
        (VideoColor { space, range, primaries, transfer }, notes)
    }

    /// For frames that come as RGB (cameras, generated frames): what players assume for their size.
    pub fn for_rgb_source(width: u32, height: u32) -> VideoColor {
        Self::from_tags(Space::Unspecified, Range::MPEG, Primaries::Unspecified, TransferCharacteristic::Unspecified, Pixel::YUV420P, width, height).0
    }

    pub fn full_range(&self) -> bool {
        self.range == Range::JPEG
    }

    /// The matrix and range in the words of `ffprobe` (for notes and tests).
    pub fn describe(&self) -> String {
        let space = match self.space {
            Space::BT709 => "BT.709",
            Space::BT470BG | Space::SMPTE170M => "BT.601",
            Space::BT2020NCL => "BT.2020",
            Space::SMPTE240M => "SMPTE 240M",
            Space::FCC => "FCC",
            _ => "other",
        };
        format!("{space} {}", if self.full_range() { "full range" } else { "limited range" })
    }

    /// This colour in the `yuv` crate's words, for the matrices its conversions were checked on (colour bars of each
    /// matrix and range through `tests/color.rs`); None for the others, which swscale converts.
    fn yuv_crate(&self) -> Option<(yuv::YuvRange, yuv::YuvStandardMatrix)> {
        use yuv::YuvStandardMatrix as M;
        let matrix = match self.space {
            Space::BT709 => M::Bt709,
            Space::BT470BG | Space::SMPTE170M => M::Bt601,
            Space::BT2020NCL => M::Bt2020,
            _ => return None,
        };
        Some((if self.full_range() { yuv::YuvRange::Full } else { yuv::YuvRange::Limited }, matrix))
    }

    /// [`Self::yuv_crate`] for YUV -> RGB: the `yuv` crate's BT.2020 came out 2 levels off swscale's on colour bars,
    /// where BT.601 and BT.709 are within 1.
    fn yuv_crate_to_rgb(&self) -> Option<(yuv::YuvRange, yuv::YuvStandardMatrix)> {
        self.yuv_crate().filter(|(_, m)| *m != yuv::YuvStandardMatrix::Bt2020)
    }

    /// Whether [`Self::yuv_to_rgb`] converts frames in this colour.
    pub fn yuv_to_rgb_supported(&self) -> bool {
        self.yuv_crate_to_rgb().is_some()
    }

    /// Converts an 8-bit 4:2:0 or 4:4:4 frame of `rgb`'s size into it (full-range RGB) with the `yuv` crate's SIMD
    /// kernels, 4:2:0 chroma taken per 2x2 block: 0.23 ms for a 1280x720 frame on one core where swscale's exact
    /// path (bicubic, full chroma interpolation) took ~7 ms, for a mean error of 0.95 levels against the RGB picture
    /// the YUV came from instead of 0.78, and no bias (swscale's own fast path is 1.1 levels dark). False, `rgb`
    /// untouched, for any other format, size or matrix: swscale does those.
    pub fn yuv_to_rgb(&self, yuv: &ffmpeg::util::frame::Video, rgb: &mut Frame) -> bool {
        let Some((range, matrix)) = self.yuv_crate_to_rgb() else { return false };
        let convert = match yuv.format() {
            Pixel::YUV420P | Pixel::YUVJ420P => yuv::yuv420_to_rgb,
            Pixel::YUV444P | Pixel::YUVJ444P => yuv::yuv444_to_rgb,
            _ => return false,
        };
        if (yuv.width() as usize, yuv.height() as usize) != (rgb.width, rgb.height) {
            return false;
        }
        let planes = yuv::YuvPlanarImage {
            y_plane: yuv.data(0),
            y_stride: yuv.stride(0) as u32,
            u_plane: yuv.data(1),
            u_stride: yuv.stride(1) as u32,
            v_plane: yuv.data(2),
            v_stride: yuv.stride(2) as u32,
            width: yuv.width(),
            height: yuv.height(),
        };
        convert(&planes, &mut rgb.data, 3 * yuv.width(), range, matrix).is_ok()
    }

    /// Converts `rgb` into `yuv`, a YUV 4:2:0 frame of its size (even sides), with the `yuv` crate at its most exact
    /// (15-bit) setting: 0.41 ms for a 1280x720 frame on one core against swscale's 2.8 (exact rounding), the same
    /// luma on average (within 2 levels at any pixel), chroma within 0.04 levels on average. False, `yuv`
    /// untouched, for any other format, size or matrix.
    pub fn rgb_to_yuv420(&self, rgb: &Frame, yuv: &mut ffmpeg::util::frame::Video) -> bool {
        let Some((range, matrix)) = self.yuv_crate() else { return false };
        let (w, h) = (yuv.width(), yuv.height());
        if !matches!(yuv.format(), Pixel::YUV420P | Pixel::YUVJ420P) || (w as usize, h as usize) != (rgb.width, rgb.height) || w % 2 == 1 || h % 2 == 1 {
            return false;
        }
        let strides = [0, 1, 2].map(|i| yuv.stride(i) as u32);
        // SAFETY: the three planes of a frame are separate buffers; each is borrowed once.
        let [y, u, v] = [0, 1, 2].map(|i| unsafe { std::slice::from_raw_parts_mut(yuv.data_mut(i).as_mut_ptr(), yuv.data(i).len()) });
        let mut planes = yuv::YuvPlanarImageMut {
            y_plane: yuv::BufferStoreMut::Borrowed(y),
            y_stride: strides[0],
            u_plane: yuv::BufferStoreMut::Borrowed(u),
            u_stride: strides[1],
            v_plane: yuv::BufferStoreMut::Borrowed(v),
            v_stride: strides[2],
            width: w,
            height: h,
        };
        yuv::rgb_to_yuv420(&mut planes, &rgb.data, 3 * w, range, matrix, yuv::YuvConversionMode::Professional).is_ok()
    }

    fn coefficients(&self) -> *const c_int {
        // swscale's tables are indexed by AVColorSpace (SWS_CS_* have the same values).
        let space: ffmpeg::ffi::AVColorSpace = self.space.into();
        unsafe { ffmpeg::ffi::sws_getCoefficients(space as c_int) }
    }

    /// Makes `ctx` convert YUV in this colour to full-range RGB.
    pub fn set_yuv_to_rgb(&self, ctx: &mut scaling::Context) {
        self.set(ctx, c_int::from(self.full_range()), 1);
    }

    /// Makes `ctx` convert full-range RGB to YUV in this colour.
    pub fn set_rgb_to_yuv(&self, ctx: &mut scaling::Context) {
        self.set(ctx, 1, c_int::from(self.full_range()));
    }

    fn set(&self, ctx: &mut scaling::Context, src_full: c_int, dst_full: c_int) {
        let table = self.coefficients();
        // Brightness 0, contrast and saturation 1.0 in 16.16 fixed point: swscale's neutral values.
        unsafe {
            ffmpeg::ffi::sws_setColorspaceDetails(ctx.as_mut_ptr(), table, src_full, table, dst_full, 0, 1 << 16, 1 << 16);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn guess(space: Space, range: Range, format: Pixel, w: u32, h: u32) -> VideoColor {
        VideoColor::from_tags(space, range, Primaries::Unspecified, TransferCharacteristic::Unspecified, format, w, h).0
    }

    /// A planar YUV frame of `format` with what real pictures have: smooth ramps, hard edges in luma and colour, noise.
    pub(crate) fn test_yuv(w: u32, h: u32, format: Pixel) -> ffmpeg::util::frame::Video {
        let mut f = ffmpeg::util::frame::Video::new(format, w, h);
        let mut seed = 0x2545_f491_u32;
        let mut noise = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            (seed % 9) as i32 - 4
        };
        for plane in 0..3 {
            let (pw, ph) = (f.plane_width(plane), f.plane_height(plane));
            let stride = f.stride(plane);
            let data = f.data_mut(plane);
            for y in 0..ph as usize {
                for x in 0..pw as usize {
                    // Luma: a ramp with edges every few pixels; chroma: gentler ramps (within the gamut, as pictures
                    // are) with a step every 8 samples.
                    let (x, y, pw, ph) = (x as i32, y as i32, pw as i32, ph as i32);
                    let v = if plane == 0 {
                        40 + 160 * x / pw - if (x / 7 + y / 5) % 3 == 0 { 30 } else { 0 }
                    } else {
                        let along = if plane == 1 { x * 60 / pw } else { y * 60 / ph };
                        98 + along + if (x / 8 + y / 8) % 2 == 0 { 10 } else { 0 }
                    };
                    data[y as usize * stride + x as usize] = (v + noise()).clamp(0, 255) as u8;
                }
            }
        }
        f
    }

    /// What swscale's exact path makes of `yuv` at `w` x `h` in `color`.
    pub(crate) fn swscale_rgb(yuv: &ffmpeg::util::frame::Video, color: &VideoColor, w: u32, h: u32) -> Frame {
        let mut ctx = scaling::Context::get(yuv.format(), yuv.width(), yuv.height(), Pixel::RGB24, w, h, DECODE_FLAGS).unwrap();
        color.set_yuv_to_rgb(&mut ctx);
        let mut rgb = ffmpeg::util::frame::Video::empty();
        ctx.run(yuv, &mut rgb).unwrap();
        let mut out = Frame::new(w as usize, h as usize);
        out.copy_from_strided(rgb.data(0), rgb.stride(0));
        out
    }

    /// Mean absolute and mean signed difference.
    pub(crate) fn diff(a: &[u8], b: &[u8]) -> (f64, f64) {
        let n = a.len() as f64;
        let abs = a.iter().zip(b).map(|(&p, &q)| f64::from(p.abs_diff(q))).sum::<f64>() / n;
        (abs, a.iter().zip(b).map(|(&p, &q)| f64::from(p) - f64::from(q)).sum::<f64>() / n)
    }

    #[test]
    fn the_yuv_crate_converts_as_swscale_does_at_its_most_exact() {
        let (w, h) = (96, 64);
        for (space, range, format) in [(Space::BT709, Range::MPEG, Pixel::YUV420P), (Space::SMPTE170M, Range::MPEG, Pixel::YUV420P), (Space::BT709, Range::JPEG, Pixel::YUVJ420P)] {
            let color = VideoColor { space, range, primaries: Primaries::Unspecified, transfer: TransferCharacteristic::Unspecified };
            let yuv = test_yuv(w, h, format);
            let mut ours = Frame::new(w as usize, h as usize);
            assert!(color.yuv_to_rgb(&yuv, &mut ours), "{space:?} not converted");
            let exact = swscale_rgb(&yuv, &color, w, h);
            // Chroma per 2x2 block where swscale interpolates it (this frame's chroma steps every 8 samples: more
            // edges than pictures have, where the mean is ~0.6), and no bias.
            let close = |other: &Frame| {
                let (abs, bias) = diff(&ours.data, &other.data);
                (abs < 2.5 && bias.abs() < 0.2, format!("mean difference {abs:.2}, bias {bias:.2}"))
            };
            let (ok, how) = close(&exact);
            assert!(ok, "{space:?} {range:?} to RGB: {how}");
            // ... where another matrix or range is not.
            let other = VideoColor { space: if space == Space::BT709 { Space::SMPTE170M } else { Space::BT709 }, ..color };
            let (ok, how) = close(&swscale_rgb(&yuv, &other, w, h));
            assert!(!ok, "{space:?} {range:?}: as close to {:?} ({how})", other.space);
            let (ok, how) = close(&swscale_rgb(&yuv, &VideoColor { range: if range == Range::JPEG { Range::MPEG } else { Range::JPEG }, ..color }, w, h));
            assert!(!ok, "{space:?} {range:?}: as close to the other range ({how})");

            let mut back = ffmpeg::util::frame::Video::new(Pixel::YUV420P, w, h);
            assert!(color.rgb_to_yuv420(&exact, &mut back));
            let mut ctx = scaling::Context::get(Pixel::RGB24, w, h, Pixel::YUV420P, w, h, ENCODE_FLAGS).unwrap();
            color.set_rgb_to_yuv(&mut ctx);
            let mut rgb = ffmpeg::util::frame::Video::new(Pixel::RGB24, w, h);
            let stride = rgb.stride(0);
            exact.copy_to_strided(rgb.data_mut(0), stride);
            let mut theirs = ffmpeg::util::frame::Video::empty();
            ctx.run(&rgb, &mut theirs).unwrap();
            for (plane, (pw, ph)) in [(0, (w, h)), (1, (w / 2, h / 2)), (2, (w / 2, h / 2))] {
                let rows = |f: &ffmpeg::util::frame::Video| (0..ph as usize).flat_map(|y| f.data(plane)[y * f.stride(plane)..][..pw as usize].to_vec()).collect::<Vec<u8>>();
                let (abs, bias) = diff(&rows(&back), &rows(&theirs));
                assert!(abs < 0.5 && bias.abs() < 0.1, "{space:?} {range:?} to YUV, plane {plane}: mean difference {abs:.2}, bias {bias:.2}");
            }
        }
        // BT.2020 to RGB stays with swscale; other formats and sizes too.
        let bt2020 = VideoColor { space: Space::BT2020NCL, range: Range::MPEG, primaries: Primaries::BT2020, transfer: TransferCharacteristic::BT709 };
        assert!(!bt2020.yuv_to_rgb(&test_yuv(w, h, Pixel::YUV420P), &mut Frame::new(w as usize, h as usize)));
        let bt709 = guess(Space::BT709, Range::MPEG, Pixel::YUV420P, w, h);
        assert!(!bt709.yuv_to_rgb(&test_yuv(w, h, Pixel::YUV420P), &mut Frame::new(w as usize / 2, h as usize / 2)));
        assert!(!bt709.yuv_to_rgb(&ffmpeg::util::frame::Video::new(Pixel::YUV422P, w, h), &mut Frame::new(w as usize, h as usize)));
        assert!(!bt709.yuv_to_rgb(&ffmpeg::util::frame::Video::new(Pixel::PAL8, w, h), &mut Frame::new(w as usize, h as usize)));
        assert!(!bt709.rgb_to_yuv420(&Frame::new(w as usize, h as usize), &mut ffmpeg::util::frame::Video::new(Pixel::PAL8, w, h)));
    }

    #[test]
    fn untagged_video_is_guessed_as_players_do() {
        let hd = guess(Space::Unspecified, Range::Unspecified, Pixel::YUV420P, 1280, 720);
        assert_eq!((hd.space, hd.range, hd.primaries), (Space::BT709, Range::MPEG, Primaries::BT709));
        let sd = guess(Space::Unspecified, Range::Unspecified, Pixel::YUV420P, 720, 480);
        assert_eq!((sd.space, sd.range), (Space::SMPTE170M, Range::MPEG));
        assert_eq!(guess(Space::Unspecified, Range::Unspecified, Pixel::YUVJ420P, 640, 480).range, Range::JPEG);
    }

    #[test]
    fn tags_win_over_guesses() {
        let c = guess(Space::BT470BG, Range::JPEG, Pixel::YUV420P, 1920, 1080);
        assert_eq!((c.space, c.range, c.primaries), (Space::BT470BG, Range::JPEG, Primaries::Unspecified));
        assert_eq!(guess(Space::BT2020NCL, Range::MPEG, Pixel::YUV420P10LE, 3840, 2160).space, Space::BT2020NCL);
    }

    #[test]
    fn deep_and_hdr_inputs_get_a_note() {
        let (_, notes) = VideoColor::from_tags(Space::BT2020NCL, Range::MPEG, Primaries::BT2020, TransferCharacteristic::SMPTE2084, Pixel::YUV420P10LE, 3840, 2160);
        assert!(notes.iter().any(|n| n.contains("10-bit")), "{notes:?}");
        assert!(notes.iter().any(|n| n.contains("PQ")), "{notes:?}");
    }
}
