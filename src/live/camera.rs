//! Webcams through `nokhwa` (V4L2 on Linux): list devices and their modes, open one in the mode closest to
//! the request, and decode its frames (MJPEG, YUYV, NV12, ...) to RGB24. Kept thin: no real webcam exists on
//! CI machines, so everything else in live mode is exercised through the other sources.

use nokhwa::pixel_format::RgbFormat;
use nokhwa::utils::{ApiBackend, CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType};
use nokhwa::{Camera, FormatDecoder};

use crate::error::{Error, Result};
use crate::frame::Frame;

/// What the user asked for; the device's closest mode is used.
#[derive(Clone, Debug)]
pub struct CameraRequest {
    pub index: u32,
    /// Wanted resolution; `None`: 640x480.
    pub size: Option<(u32, u32)>,
    pub fps: u32,
    /// `mjpeg`, `yuyv`, `nv12`, ...; `None` takes any mode stylize can decode.
    pub format: Option<String>,
}

/// A device and the modes it offers.
#[derive(Clone, Debug)]
pub struct CameraDesc {
    pub index: u32,
    pub name: String,
    pub modes: Vec<String>,
}

/// Devices found by the native backend (empty when there are none).
pub fn list() -> Vec<(u32, String)> {
    let Ok(found) = nokhwa::query(ApiBackend::Auto) else { return Vec::new() };
    found.iter().filter_map(|c| c.index().as_index().ok().map(|i| (i, c.human_name()))).collect()
}

/// Devices with their modes (each device is opened briefly to ask).
pub fn describe_all() -> Vec<CameraDesc> {
    list()
        .into_iter()
        .map(|(index, name)| {
            let modes = match open_any(index) {
                Ok(mut cam) => cam.compatible_camera_formats().map(|m| sorted_modes(&m)).unwrap_or_else(|e| vec![format!("(cannot list modes: {e})")]),
                Err(e) => vec![format!("(cannot open: {e})")],
            };
            CameraDesc { index, name, modes }
        })
        .collect()
}

/// "0: Name, 1: Name" or a hint when there is no camera at all.
fn available() -> String {
    let cams = list();
    if cams.is_empty() {
        return "no cameras found (plug in a webcam, or use --input FILE or --input test)".into();
    }
    let names: Vec<String> = cams.iter().map(|(i, n)| format!("{i}: {n}")).collect();
    format!("available cameras: {} (`stylize live --list-cameras` lists their modes)", names.join(", "))
}

fn open_any(index: u32) -> std::result::Result<Camera, nokhwa::NokhwaError> {
    Camera::new(CameraIndex::Index(index), RequestedFormat::new::<RgbFormat>(RequestedFormatType::None))
}

fn mode_name(m: &CameraFormat) -> String {
    format!("{} {}x{}@{}", m.format(), m.width(), m.height(), m.frame_rate())
}

fn sorted_modes(modes: &[CameraFormat]) -> Vec<String> {
    let mut modes = modes.to_vec();
    modes.sort_by_key(|m| (m.format(), std::cmp::Reverse(m.width() * m.height()), std::cmp::Reverse(m.frame_rate())));
    modes.dedup();
    modes.iter().map(mode_name).collect()
}

/// An open camera with its stream running. Not `Send` (backend handles): open it on the thread that reads it.
pub struct Webcam {
    camera: Camera,
    pub index: u32,
    pub mode: CameraFormat,
}

impl Webcam {
    pub fn open(req: &CameraRequest) -> Result<Webcam> {
        let index = req.index;
        if !list().iter().any(|(i, _)| *i == index) {
            return Err(Error::Camera(format!("camera {index} not found; {}", available())));
        }
        let mut camera = open_any(index).map_err(|e| Error::Camera(format!("camera {index} cannot be opened ({e}; busy in another program?); {}", available())))?;
        let modes: Vec<CameraFormat> = camera
            .compatible_camera_formats()
            .map_err(|e| Error::Camera(format!("camera {index} does not list its modes ({e})")))?
            .into_iter()
            .filter(|m| RgbFormat::FORMATS.contains(&m.format()))
            .collect();
        let wanted = match &req.format {
            Some(name) => Some(name.to_ascii_uppercase().parse::<FrameFormat>().map_err(|_| Error::Camera(format!("unknown camera format {name:?}; use mjpeg, yuyv, nv12, rawrgb or rawbgr")))?),
            None => None,
        };
        let mode = pick_mode(&modes, req, wanted).ok_or_else(|| {
            let what = wanted.map(|f| format!("{f} mode")).unwrap_or_else(|| "mode stylize can decode".into());
            Error::Camera(format!("camera {index} has no {what}; its modes: {}", sorted_modes(&modes).join(", ")))
        })?;
        if camera.camera_format() != mode {
            camera.set_camera_requset(RequestedFormat::with_formats(RequestedFormatType::Exact(mode), &[mode.format()])).map_err(|e| Error::Camera(format!("camera {index} refused mode {} ({e}); its modes: {}", mode_name(&mode), sorted_modes(&modes).join(", "))))?;
        }
        camera.open_stream().map_err(|e| Error::Camera(format!("camera {index} cannot start streaming ({e}; busy in another program?)")))?;
        let mode = camera.camera_format();
        Ok(Webcam { camera, index, mode })
    }

    /// "MJPEG 640x480@30 (Integrated Camera)"
    pub fn describe(&self) -> String {
        format!("camera {} {} ({})", self.index, mode_name(&self.mode), self.camera.info().human_name())
    }

    /// Blocks for the next frame and decodes it into `frame` (resized to the camera's resolution).
    pub fn read(&mut self, frame: &mut Frame) -> Result<()> {
        let gone = |e: nokhwa::NokhwaError| Error::Camera(format!("camera {} stopped delivering frames ({e}); was it unplugged?", self.index));
        let buffer = self.camera.frame().map_err(gone)?;
        let res = buffer.resolution();
        frame.resize(res.width() as usize, res.height() as usize);
        buffer.decode_image_to_buffer::<RgbFormat>(&mut frame.data).map_err(gone)
    }
}

impl Drop for Webcam {
    fn drop(&mut self) {
        let _ = self.camera.stop_stream();
    }
}

/// The mode closest to the request: the wanted format, the nearest size, the nearest fps, then MJPEG over
/// the rest (the same size and rate in less USB bandwidth).
fn pick_mode(modes: &[CameraFormat], req: &CameraRequest, wanted: Option<FrameFormat>) -> Option<CameraFormat> {
    let (w, h) = req.size.unwrap_or((640, 480));
    let (w, h) = (i64::from(w), i64::from(h));
    modes
        .iter()
        .filter(|m| wanted.is_none_or(|f| m.format() == f))
        .min_by_key(|m| {
            let size = (i64::from(m.width()) - w).abs() + (i64::from(m.height()) - h).abs();
            let fps = (i64::from(m.frame_rate()) - i64::from(req.fps)).abs();
            (size, fps, m.format() != FrameFormat::MJPEG)
        })
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use nokhwa::utils::Resolution;

    #[test]
    fn picks_the_closest_mode() {
        let m = |f, w, h, fps| CameraFormat::new(Resolution::new(w, h), f, fps);
        let modes = [m(FrameFormat::YUYV, 640, 480, 30), m(FrameFormat::MJPEG, 1280, 720, 30), m(FrameFormat::MJPEG, 640, 480, 15), m(FrameFormat::MJPEG, 640, 480, 30)];
        let req = CameraRequest { index: 0, size: Some((640, 480)), fps: 30, format: None };
        assert_eq!(pick_mode(&modes, &req, None), Some(modes[3]));
        assert_eq!(pick_mode(&modes, &req, Some(FrameFormat::YUYV)), Some(modes[0]));
        assert_eq!(pick_mode(&modes, &req, Some(FrameFormat::NV12)), None);
    }
}
