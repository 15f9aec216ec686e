//! Colour of a video: the YUV matrix and range of its frames (from its tags, or guessed the way players guess
//! for untagged files), applied to swscale's YUV<->RGB conversions so the networks see the colours that were
//! meant, and written as the output's tags so players show what was meant.

use std::os::raw::c_int;

use ffmpeg_next as ffmpeg;
use ffmpeg::software::scaling;
use ffmpeg::util::color::{Primaries, Range, Space, TransferCharacteristic};
use ffmpeg::util::format::Pixel;

/// swscale flags for YUV -> RGB: exact rounding and full chroma interpolation. With them a YUV -> RGB -> YUV
/// round trip gives back the same samples; with swscale's fast defaults it came out 1-2 levels darker. They
/// cost ~1.5 ms more per 640x360 frame on one core (measured with ffmpeg -benchmark), a few % of a lite net.
pub const DECODE_FLAGS: scaling::Flags = scaling::Flags::BICUBIC.union(scaling::Flags::ACCURATE_RND).union(scaling::Flags::FULL_CHR_H_INT);

/// swscale flags for RGB -> YUV: exact rounding (full chroma input buys nothing here); ~0.1 ms per 640x360 frame.
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
mod tests {
    use super::*;

    fn guess(space: Space, range: Range, format: Pixel, w: u32, h: u32) -> VideoColor {
        VideoColor::from_tags(space, range, Primaries::Unspecified, TransferCharacteristic::Unspecified, format, w, h).0
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
