//! Outputs and inputs that are not plain files: network streams (`rtmp://`, `srt://`, `udp://`, ...), V4L2
//! loopback devices (a virtual camera) and image sequences (`frames/%05d.png`). This module says what a target
//! string is, checks it before anything starts, and opens it in FFmpeg with the right container.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ffmpeg_next as ffmpeg;
use ffmpeg::{format, Dictionary};

use crate::error::{Error, Result};

/// Where stylized frames go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A video file (MP4, MKV, MOV, GIF, WebP): written to a temporary file and renamed when complete.
    File(PathBuf),
    /// A network stream, written as it is produced: `url` with FFmpeg's `muxer` (FLV for RTMP, MPEG-TS else).
    Network { url: String, muxer: &'static str },
    /// A V4L2 output device (v4l2loopback): other programs see it as a webcam.
    Device(PathBuf),
    /// Numbered images (`frames/%05d.png`), FFmpeg's image2.
    Sequence(PathBuf),
}

/// Network schemes we write, with the container each carries.
const OUTPUT_SCHEMES: [(&str, &str); 5] = [("rtmp", "flv"), ("rtmps", "flv"), ("srt", "mpegts"), ("udp", "mpegts"), ("tcp", "mpegts")];

/// Schemes FFmpeg reads that `video` and `live` accept as inputs.
const INPUT_SCHEMES: [&str; 9] = ["rtsp", "rtsps", "rtmp", "rtmps", "srt", "udp", "tcp", "http", "https"];

/// The scheme of `s` when it looks like a URL (`scheme://...`).
fn scheme(s: &str) -> Option<String> {
    let (scheme, _) = s.split_once("://")?;
    (!scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric() || c == '+')).then(|| scheme.to_ascii_lowercase())
}

/// True for `scheme://...` strings: inputs that are read as streams, not files.
pub fn is_url(s: &str) -> bool {
    scheme(s).is_some()
}

/// A URL input FFmpeg can read; an error naming the schemes otherwise.
pub fn check_input_url(s: &str) -> Result<()> {
    match scheme(s) {
        Some(sc) if INPUT_SCHEMES.contains(&sc.as_str()) => Ok(()),
        Some(sc) => Err(Error::Invalid(format!("cannot read {sc}:// streams; use one of {}", INPUT_SCHEMES.map(|s| format!("{s}://")).join(", ")))),
        None => Ok(()),
    }
}

/// True for a path with a printf-style frame number (`%d`, `%05d`): an image sequence.
pub fn is_sequence(path: &Path) -> bool {
    let s = path.to_string_lossy();
    let mut rest = s.as_ref();
    while let Some(i) = rest.find('%') {
        let after = &rest[i + 1..];
        let digits = after.chars().take_while(char::is_ascii_digit).count();
        if after[digits..].starts_with('d') {
            return true;
        }
        rest = after.strip_prefix('%').unwrap_or(after);
    }
    false
}

/// The file of frame `n` of the sequence `pattern` (`%d` or `%0Nd` replaced, as FFmpeg's image2 does).
pub fn sequence_file(pattern: &Path, n: u64) -> PathBuf {
    let s = pattern.to_string_lossy();
    let mut out = String::with_capacity(s.len() + 8);
    let mut rest = s.as_ref();
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let digits = after.chars().take_while(char::is_ascii_digit).count();
        if after[digits..].starts_with('d') {
            let width: usize = after[..digits].parse().unwrap_or(0);
            out.push_str(&format!("{n:0width$}"));
            rest = &after[digits + 1..];
        } else if let Some(r) = after.strip_prefix('%') {
            out.push('%');
            rest = r;
        } else {
            out.push('%');
            rest = after;
        }
    }
    out.push_str(rest);
    PathBuf::from(out)
}

impl Target {
    /// What `s` names: a URL, a device under /dev, an image sequence or a file.
    pub fn parse(s: &str) -> Result<Target> {
        if let Some(sc) = scheme(s) {
            let Some((_, muxer)) = OUTPUT_SCHEMES.iter().find(|(name, _)| *name == sc) else {
                return Err(Error::Invalid(format!("cannot send to {sc}:// (in {}); stream to rtmp://, rtmps://, srt:// or udp://", redact(s))));
            };
            return Ok(Target::Network { url: s.to_string(), muxer });
        }
        let path = PathBuf::from(s);
        if path.starts_with("/dev") {
            return Ok(Target::Device(path));
        }
        if is_sequence(&path) {
            return Ok(Target::Sequence(path));
        }
        Ok(Target::File(path))
    }

    /// The target as it may be shown (HUD, logs): stream keys and passwords left out.
    pub fn label(&self) -> String {
        match self {
            Target::Network { url, .. } => redact(url),
            Target::File(p) | Target::Device(p) | Target::Sequence(p) => p.display().to_string(),
        }
    }

    pub fn is_network(&self) -> bool {
        matches!(self, Target::Network { .. })
    }
}

/// A URL without what may be secret: user:password@, the query (SRT passphrases, stream ids) and, for RTMP,
/// the stream key (the path after the application name).
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (host, path) = rest.split_once('/').map_or((rest, ""), |(h, p)| (h, p));
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let path = if scheme.starts_with("rtmp") {
        match path.split_once('/') {
            Some((app, key)) if !key.is_empty() => format!("{app}/***"),
            _ => path.to_string(),
        }
    } else {
        path.to_string()
    };
    let query = if url.contains('?') { "?..." } else { "" };
    if path.is_empty() { format!("{scheme}://{host}{query}") } else { format!("{scheme}://{host}/{path}{query}") }
}

/// How long a network read or write may block before it fails (and a sink reconnects).
pub const NETWORK_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens `target` for writing with its container. Network targets connect here, so a refused connection or an
/// unknown host is an error now, not after the first frame.
pub fn open_output(target: &Target) -> Result<format::context::Output> {
    crate::media::av::init()?;
    let fail = |e: ffmpeg::Error| stream_err(target, e);
    match target {
        Target::Network { url, muxer } => {
            // A server that goes away must be a write error to handle (report, reconnect), not a signal that
            // ends the process (main restores SIGPIPE's default so that `stylize ... | head` ends quietly).
            // SAFETY: setting a signal's disposition to SIG_IGN has no other effect.
            unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
            let mut opts = Dictionary::new();
            opts.set("rw_timeout", &NETWORK_TIMEOUT.as_micros().to_string());
            format::output_as_with(url.as_str(), muxer, opts).map_err(fail)
        }
        Target::Device(path) => {
            check_v4l2_output(path)?;
            // The v4l2 output device opens the file itself (AVFMT_NOFILE): no AVIO context here.
            open_nofile(path, "v4l2").map_err(fail)
        }
        // image2 opens each image itself (AVFMT_NOFILE): no AVIO context, or the pattern would become a file.
        Target::Sequence(path) => {
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            if !dir.is_dir() {
                return Err(Error::output(path, format!("directory {} does not exist; create it first", dir.display())));
            }
            open_nofile(path, "image2").map_err(fail)
        }
        Target::File(path) => format::output(path).map_err(fail),
    }
}

/// An output context for a format that does its own I/O (devices, image sequences).
fn open_nofile(path: &Path, format: &str) -> std::result::Result<format::context::Output, ffmpeg::Error> {
    let path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| ffmpeg::Error::InvalidData)?;
    let format = std::ffi::CString::new(format).expect("no NUL in a format name");
    unsafe {
        let mut ps = std::ptr::null_mut();
        match ffmpeg::ffi::avformat_alloc_output_context2(&mut ps, std::ptr::null_mut(), format.as_ptr(), path.as_ptr()) {
            0 => Ok(format::context::Output::wrap(ps)),
            e => Err(ffmpeg::Error::from(e)),
        }
    }
}

/// A failed open or write of a stream or device, in words a user can act on.
pub fn stream_err(target: &Target, e: ffmpeg::Error) -> Error {
    let label = target.label();
    let errno = match e {
        ffmpeg::Error::Other { errno } => Some(errno),
        _ => None,
    };
    let reason = match (target, errno) {
        (Target::Network { .. }, Some(libc::ECONNREFUSED)) => "connection refused: is the server running and listening on that port?".to_string(),
        (Target::Network { .. }, Some(libc::ETIMEDOUT)) => "timed out: the server does not answer".to_string(),
        (Target::Network { .. }, Some(libc::EPIPE | libc::ECONNRESET)) => "the server closed the connection".to_string(),
        (Target::Network { .. }, _) if e.to_string().contains("resolve") || e.to_string().contains("not known") => format!("unknown host ({e})"),
        (_, Some(errno)) if errno == ffmpeg::error::ENOSPC => "the disk is full (no space left on device); free some space or write to another folder".into(),
        _ => e.to_string(),
    };
    Error::Output { path: PathBuf::from(label), reason }
}

/// `VIDIOC_QUERYCAP` and the capability bits we read (linux/videodev2.h).
const VIDIOC_QUERYCAP: libc::c_ulong = 0x8068_5600;
const V4L2_CAP_VIDEO_OUTPUT: u32 = 0x0000_0002;
const V4L2_CAP_DEVICE_CAPS: u32 = 0x8000_0000;

/// `struct v4l2_capability`.
#[repr(C)]
struct V4l2Capability {
    driver: [u8; 16],
    card: [u8; 32],
    bus_info: [u8; 32],
    version: u32,
    capabilities: u32,
    device_caps: u32,
    reserved: [u32; 3],
}

/// What `modprobe` line makes `/dev/videoN`.
fn modprobe_hint(path: &Path) -> String {
    let n = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_prefix("video")).and_then(|n| n.parse::<u32>().ok()).unwrap_or(10);
    format!("sudo modprobe v4l2loopback video_nr={n} card_label=stylize exclusive_caps=1")
}

/// A V4L2 device that takes frames (a v4l2loopback device): checked with VIDIOC_QUERYCAP before anything
/// starts, so a wrong path is one clear line.
pub fn check_v4l2_output(path: &Path) -> Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let err = |reason: String| Error::Output { path: path.to_path_buf(), reason };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(err(format!("no such device; create a virtual camera first: {}", modprobe_hint(path))));
        }
        Err(e) => return Err(err(e.to_string())),
    };
    if !meta.file_type().is_char_device() {
        return Err(err("is not a device; a virtual camera is a v4l2loopback device such as /dev/video10".into()));
    }
    let file = std::fs::OpenOptions::new().read(true).write(true).open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::PermissionDenied => err("permission denied; add yourself to the video group (sudo usermod -aG video $USER, then log in again)".into()),
        _ => err(format!("cannot open it: {e}")),
    })?;
    let mut cap: V4l2Capability = unsafe { std::mem::zeroed() };
    // SAFETY: VIDIOC_QUERYCAP fills a struct v4l2_capability, which `cap` is (repr(C), the kernel's layout).
    let rc = unsafe { libc::ioctl(std::os::fd::AsRawFd::as_raw_fd(&file), VIDIOC_QUERYCAP as _, &mut cap) };
    if rc != 0 {
        return Err(err(format!("is not a V4L2 video device; a virtual camera is a v4l2loopback device ({})", modprobe_hint(path))));
    }
    let caps = if cap.capabilities & V4L2_CAP_DEVICE_CAPS != 0 { cap.device_caps } else { cap.capabilities };
    if caps & V4L2_CAP_VIDEO_OUTPUT == 0 {
        let card = String::from_utf8_lossy(&cap.card);
        return Err(err(format!("is a camera ({}), not a video output; use a v4l2loopback device ({})", card.trim_end_matches('\0'), modprobe_hint(path))));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_told_apart() {
        assert_eq!(Target::parse("rtmp://127.0.0.1:1935/live/key").unwrap(), Target::Network { url: "rtmp://127.0.0.1:1935/live/key".into(), muxer: "flv" });
        assert!(matches!(Target::parse("srt://127.0.0.1:9000?mode=caller").unwrap(), Target::Network { muxer: "mpegts", .. }));
        assert!(matches!(Target::parse("UDP://127.0.0.1:9000").unwrap(), Target::Network { muxer: "mpegts", .. }));
        assert_eq!(Target::parse("/dev/video10").unwrap(), Target::Device("/dev/video10".into()));
        assert_eq!(Target::parse("out/%05d.png").unwrap(), Target::Sequence("out/%05d.png".into()));
        assert_eq!(Target::parse("out.mp4").unwrap(), Target::File("out.mp4".into()));
        assert_eq!(Target::parse("100%.mp4").unwrap(), Target::File("100%.mp4".into()));
        let e = Target::parse("rtsp://127.0.0.1/x").unwrap_err().to_string();
        assert!(e.contains("rtsp://") && e.contains("rtmp://"), "{e}");
    }

    #[test]
    fn sequences_need_a_frame_number() {
        assert!(is_sequence(Path::new("f/%d.png")));
        assert!(is_sequence(Path::new("f/img_%04d.jpg")));
        assert!(!is_sequence(Path::new("f/%%d.png")));
        assert!(!is_sequence(Path::new("f/50%.png")));
    }

    #[test]
    fn sequence_files_are_numbered_like_image2() {
        assert_eq!(sequence_file(Path::new("f/%05d.png"), 7), PathBuf::from("f/00007.png"));
        assert_eq!(sequence_file(Path::new("f/img%d_%%.png"), 12), PathBuf::from("f/img12_%.png"));
    }

    #[test]
    fn labels_hide_stream_keys_and_passwords() {
        assert_eq!(redact("rtmp://live.example.com/app/sk_live_123"), "rtmp://live.example.com/app/***");
        assert_eq!(redact("rtmps://u:pw@host:443/live2/key?x=1"), "rtmps://host:443/live2/***?...");
        assert_eq!(redact("srt://127.0.0.1:9000?passphrase=secret"), "srt://127.0.0.1:9000?...");
        assert_eq!(redact("udp://127.0.0.1:1234"), "udp://127.0.0.1:1234");
        assert_eq!(Target::parse("rtmp://h/live/k").unwrap().label(), "rtmp://h/live/***");
    }

    #[test]
    fn only_v4l2_outputs_pass_the_device_check() {
        let e = check_v4l2_output(Path::new("/dev/video77")).unwrap_err().to_string();
        assert!(e.contains("modprobe v4l2loopback video_nr=77"), "{e}");
        let e = check_v4l2_output(Path::new("/dev/null")).unwrap_err().to_string();
        assert!(e.contains("not a V4L2 video device"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let e = check_v4l2_output(dir.path()).unwrap_err().to_string();
        assert!(e.contains("is not a device"), "{e}");
    }
}
