//! A mapped video frame to and from the engine's packed RGB: RGB rows copied past their stride, RGBx/BGRx
//! repacked per pixel, I420 through GStreamer's own converter into an RGB buffer kept for the stream.

use gst::glib;
use gst_video::prelude::*;
use gst_video::{VideoConverter, VideoConverterConfig, VideoDitherMethod, VideoFormat, VideoFrameRef, VideoInfo, VideoResamplerMethod};
use stylize::Frame;

/// The formats the element takes: the engine's RGB, the two 32-bit layouts cameras and compositors hand out,
/// and the decoders' I420.
pub const FORMATS: [VideoFormat; 4] = [VideoFormat::Rgb, VideoFormat::Rgbx, VideoFormat::Bgrx, VideoFormat::I420];

/// I420 <-> RGB for one stream's size and colours, with the RGB buffer reused from frame to frame.
pub struct Yuv {
    to_rgb: VideoConverter,
    from_rgb: VideoConverter,
    rgb: VideoInfo,
    buffer: gst::Buffer,
}

impl Yuv {
    pub fn new(info: &VideoInfo) -> Result<Yuv, glib::BoolError> {
        let rgb = VideoInfo::builder(VideoFormat::Rgb, info.width(), info.height()).fps(info.fps()).par(info.par()).interlace_mode(info.interlace_mode()).build()?;
        // As the command converts (swscale, bilinear chroma), on every core: it runs between inferences.
        let config = || {
            let mut c = VideoConverterConfig::new();
            c.set_chroma_resampler_method(VideoResamplerMethod::Linear);
            c.set_dither_method(VideoDitherMethod::None);
            c.set_threads(stylize::cores() as u32);
            c
        };
        Ok(Yuv {
            to_rgb: VideoConverter::new(info, &rgb, Some(config()))?,
            from_rgb: VideoConverter::new(&rgb, info, Some(config()))?,
            buffer: gst::Buffer::with_size(rgb.size())?,
            rgb,
        })
    }
}

type Mapped<'a> = VideoFrameRef<&'a mut gst::BufferRef>;

/// Copies `frame` into `out` as packed RGB.
pub fn read(frame: &Mapped<'_>, yuv: Option<&mut Yuv>, out: &mut Frame) -> Result<(), glib::BoolError> {
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    out.resize(w, h);
    let stride = frame.plane_stride()[0] as usize;
    match frame.format() {
        VideoFormat::Rgb => out.copy_from_strided(frame.plane_data(0)?, stride),
        f @ (VideoFormat::Rgbx | VideoFormat::Bgrx) => {
            let data = frame.plane_data(0)?;
            for (y, row) in out.data.chunks_exact_mut(w * 3).enumerate() {
                let src = &data[y * stride..y * stride + w * 4];
                for (d, s) in row.chunks_exact_mut(3).zip(src.chunks_exact(4)) {
                    match f {
                        VideoFormat::Bgrx => d.copy_from_slice(&[s[2], s[1], s[0]]),
                        _ => d.copy_from_slice(&s[..3]),
                    }
                }
            }
        }
        VideoFormat::I420 => {
            let yuv = yuv.ok_or_else(|| glib::bool_error!("I420 without its converter"))?;
            let buffer = yuv.buffer.get_mut().ok_or_else(|| glib::bool_error!("the RGB buffer is shared"))?;
            let mut rgb = VideoFrameRef::from_buffer_ref_writable(buffer, &yuv.rgb)?;
            yuv.to_rgb.frame_ref(frame, &mut rgb);
            out.copy_from_strided(rgb.plane_data(0)?, rgb.plane_stride()[0] as usize);
        }
        other => return Err(glib::bool_error!("unsupported format {other:?}")),
    }
    Ok(())
}

/// Writes the packed RGB `styled` back into `frame`.
pub fn write(frame: &mut Mapped<'_>, yuv: Option<&mut Yuv>, styled: &Frame) -> Result<(), glib::BoolError> {
    let w = styled.width;
    let stride = frame.plane_stride()[0] as usize;
    match frame.format() {
        VideoFormat::Rgb => styled.copy_to_strided(frame.plane_data_mut(0)?, stride),
        f @ (VideoFormat::Rgbx | VideoFormat::Bgrx) => {
            let data = frame.plane_data_mut(0)?;
            for (y, row) in styled.data.chunks_exact(w * 3).enumerate() {
                let dst = &mut data[y * stride..y * stride + w * 4];
                for (d, s) in dst.chunks_exact_mut(4).zip(row.chunks_exact(3)) {
                    match f {
                        VideoFormat::Bgrx => d[..3].copy_from_slice(&[s[2], s[1], s[0]]),
                        _ => d[..3].copy_from_slice(s),
                    }
                }
            }
        }
        VideoFormat::I420 => {
            let yuv = yuv.ok_or_else(|| glib::bool_error!("I420 without its converter"))?;
            let buffer = yuv.buffer.get_mut().ok_or_else(|| glib::bool_error!("the RGB buffer is shared"))?;
            let mut rgb = VideoFrameRef::from_buffer_ref_writable(buffer, &yuv.rgb)?;
            let rgb_stride = rgb.plane_stride()[0] as usize;
            styled.copy_to_strided(rgb.plane_data_mut(0)?, rgb_stride);
            yuv.from_rgb.frame_ref(&rgb, frame);
        }
        other => return Err(glib::bool_error!("unsupported format {other:?}")),
    }
    Ok(())
}
