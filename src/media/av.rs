//! FFmpeg plumbing that decoding, encoding, GIF output, stream targets and segment joins share: the library's
//! initialisation, frame timestamps, write errors named by the user's path, and the rotation side data. It
//! imports nothing of `media` itself, so every file there may use it.

use std::path::Path;

use ffmpeg_next as ffmpeg;
use ffmpeg::{codec, format, Rational};

use crate::error::{Error, Result};

/// Initialises FFmpeg (once is enough; later calls are cheap) and quietens its log.
pub fn init() -> Result<()> {
    ffmpeg::init().map_err(|e| Error::Invalid(format!("FFmpeg failed to initialise: {e}")))?;
    ffmpeg::util::log::set_level(ffmpeg::util::log::Level::Fatal);
    Ok(())
}

/// Timestamps for frames: their own, or one frame after the last for frames that arrive without one.
pub(crate) struct Timestamps {
    next: i64,
    step: i64,
    last: Option<i64>,
}

impl Timestamps {
    /// For timestamps in `time_base` units at `frame_rate`.
    pub(crate) fn new(time_base: Rational, frame_rate: Rational) -> Timestamps {
        Timestamps { next: 0, step: (f64::from(time_base.invert()) / f64::from(frame_rate)).round().max(1.0) as i64, last: None }
    }

    /// Always after the previous one: a stream that loses packets or restarts its clock can send a timestamp
    /// that goes back, which the muxer would refuse.
    pub(crate) fn stamp(&mut self, pts: Option<i64>) -> i64 {
        let pts = pts.unwrap_or(self.next).max(self.last.map_or(i64::MIN, |l| l + 1));
        self.last = Some(pts);
        self.next = pts + self.step;
        pts
    }
}

/// A failed write of the output file, named by the user's path, with what to do when the disk is full.
pub(crate) fn write_err(dest: &Path, e: ffmpeg::Error) -> Error {
    match e {
        ffmpeg::Error::Other { errno } if errno == ffmpeg::error::ENOSPC => Error::output(dest, "the disk is full (no space left on device); free some space or write to another folder"),
        ffmpeg::Error::Other { errno } if errno == libc::EPIPE || errno == libc::ECONNRESET => Error::output(dest, "the server closed the connection"),
        e => Error::output(dest, format!("writing failed: {e}")),
    }
}

/// Rotation lives in the stream's display matrix: copying it keeps phone videos upright.
pub(crate) fn copy_display_matrix(ist: &format::stream::Stream, ost: &mut format::stream::StreamMut) {
    for side in ist.side_data() {
        if side.kind() == codec::packet::side_data::Type::DisplayMatrix {
            let data = side.data();
            unsafe {
                let dst = ffmpeg::ffi::av_stream_new_side_data(ost.as_mut_ptr(), ffmpeg::ffi::AVPacketSideDataType::AV_PKT_DATA_DISPLAYMATRIX, data.len() as _);
                if !dst.is_null() {
                    std::ptr::copy_nonoverlapping(data.as_ptr(), dst, data.len());
                }
            }
        }
    }
}
