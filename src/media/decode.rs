//! Video decoding: demux a file, decode its video stream to RGB24 frames at the output size, and pass the
//! packets of the streams that are copied unchanged (audio) along in file order.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use ffmpeg_next as ffmpeg;
use ffmpeg::{codec, format, media, software::scaling, util::frame, Dictionary, Packet, Rational};

use crate::media::color::VideoColor;
use crate::error::{Error, Result};
use crate::frame::Frame;
use crate::stop::interrupted;
use crate::media::target;

/// What flows from the decoder through the engine to the encoder.
pub enum Item {
    /// A decoded frame with its presentation timestamp in the video stream's time base.
    Video { frame: Frame, pts: Option<i64> },
    /// A packet of a stream that is copied unchanged (audio), in the input stream's numbering.
    Packet(Packet),
}

/// How big the output frames are.
#[derive(Clone, Copy, Debug, Default)]
pub struct SizeRequest {
    pub scale: Option<f64>,
    pub size: Option<(u32, u32)>,
}

#[derive(Clone, Debug)]
pub struct VideoInfo {
    pub path: PathBuf,
    pub video_index: usize,
    pub width: u32,
    pub height: u32,
    pub out_width: u32,
    pub out_height: u32,
    pub time_base: Rational,
    pub frame_rate: Rational,
    /// Frame count from the container, or estimated from duration and rate.
    pub frames_hint: Option<u64>,
    /// Frame count from the container's index (exact where present, e.g. MP4): fewer decoded means truncated.
    pub frames_in_index: Option<u64>,
    /// Input streams copied unchanged to the output (audio).
    pub copied_streams: Vec<usize>,
    /// The video's YUV matrix, range and colour tags (guessed where untagged).
    pub color: VideoColor,
    /// A live stream (a URL): it may never end; Ctrl-C or `--duration` ends it, and the output is kept.
    pub live: bool,
    /// An animated GIF's loop count (0: forever; None: it plays once, or the input is no GIF).
    pub gif_loops: Option<Option<u16>>,
    pub notes: Vec<String>,
}

/// How the input is read, beyond its path.
#[derive(Clone, Copy, Debug, Default)]
pub struct InputOptions {
    /// The frame rate of an image sequence (FFmpeg's image2 assumes 25).
    pub sequence_fps: Option<f64>,
    /// A file from someone else (an upload to `stylize serve`): read as a local file in a common video
    /// container only, so a playlist or concat list inside it cannot make FFmpeg open other files or URLs.
    pub untrusted: bool,
}

/// The demuxers an untrusted input may use: media containers, none that reads a list of other files or URLs.
const UNTRUSTED_DEMUXERS: &str = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,flv,mpegts,mpeg,ogg,gif,h264,hevc,m4v,mjpeg,asf,wav,mp3,aac";

/// A way to stop one decode from outside and to follow it (a server job), besides Ctrl-C for all.
#[derive(Clone, Debug, Default)]
pub struct Watch {
    /// Set to stop: the run ends with [`Error::Interrupted`], as on Ctrl-C.
    pub cancel: Arc<AtomicBool>,
    /// Frames decoded so far.
    pub frames: Arc<AtomicU64>,
    /// The frames expected, once the input is open (0: not known).
    pub total: Arc<AtomicU64>,
}

/// Decoded frames to RGB at the output's size: 8-bit 4:2:0 and 4:4:4 ones (most files) by the `yuv` crate's SIMD
/// conversion, after swscale has scaled their planes to 4:4:4 where the size changes (chroma interpolated as
/// swscale's exact RGB path does; a fifth of its cost); swscale does the rest (other formats and matrices) in one
/// go. Buffers are kept across frames.
struct ToRgb {
    /// swscale to RGB, and to 4:4:4 at the output's size, each for the (format, width, height) of the input and the
    /// output's size it was made for.
    to_rgb: Option<(scaling::Context, Sizes)>,
    to_size: Option<(scaling::Context, Sizes)>,
    rgb: frame::Video,
    scaled: frame::Video,
}

type Sizes = (format::Pixel, u32, u32, u32, u32);

impl Default for ToRgb {
    fn default() -> ToRgb {
        ToRgb { to_rgb: None, to_size: None, rgb: frame::Video::empty(), scaled: frame::Video::empty() }
    }
}

impl ToRgb {
    /// Fills `out` (sized as the output) from `decoded`; the error says why a frame could not be converted.
    fn convert(&mut self, decoded: &frame::Video, color: &VideoColor, out: &mut Frame) -> std::result::Result<(), String> {
        let (w, h) = (out.width as u32, out.height as u32);
        let key = (decoded.format(), decoded.width(), decoded.height(), w, h);
        if color.yuv_to_rgb(decoded, out) {
            return Ok(());
        }
        // The same range on both sides: only the size (and the chroma's) changes.
        let full = match key.0 {
            format::Pixel::YUV420P | format::Pixel::YUV444P => Some(format::Pixel::YUV444P),
            format::Pixel::YUVJ420P | format::Pixel::YUVJ444P => Some(format::Pixel::YUVJ444P),
            _ => None,
        };
        if let Some(full) = full.filter(|_| color.yuv_to_rgb_supported()) {
            if self.to_size.as_ref().is_none_or(|(_, k)| *k != key) {
                let ctx = scaling::Context::get(key.0, key.1, key.2, full, w, h, crate::media::color::SCALE_FLAGS).map_err(|e| format!("cannot scale {:?} frames: {e}", key.0))?;
                self.to_size = Some((ctx, key));
                self.scaled = frame::Video::empty();
            }
            let (ctx, _) = self.to_size.as_mut().expect("scaler set above");
            ctx.run(decoded, &mut self.scaled).map_err(|e| format!("scaling failed: {e}"))?;
            if color.yuv_to_rgb(&self.scaled, out) {
                return Ok(());
            }
        }
        if self.to_rgb.as_ref().is_none_or(|(_, k)| *k != key) {
            let mut ctx = scaling::Context::get(key.0, key.1, key.2, format::Pixel::RGB24, w, h, crate::media::color::DECODE_FLAGS).map_err(|e| format!("cannot convert {:?} frames to RGB: {e}", key.0))?;
            color.set_yuv_to_rgb(&mut ctx);
            self.to_rgb = Some((ctx, key));
            self.rgb = frame::Video::empty();
        }
        let (ctx, _) = self.to_rgb.as_mut().expect("scaler set above");
        ctx.run(decoded, &mut self.rgb).map_err(|e| format!("colour conversion failed: {e}"))?;
        out.copy_from_strided(self.rgb.data(0), self.rgb.stride(0));
        Ok(())
    }
}

/// `FFmpeg`'s YUV 4:2:0 needs even sides: odd ones are rounded down (one pixel cropped by the scaler).
fn even(n: u32) -> u32 {
    (n & !1).max(2)
}

pub struct VideoSource {
    ictx: format::context::Input,
    decoder: ffmpeg::decoder::Video,
    info: VideoInfo,
    /// A segment: only frames with timestamps in `[start, end)`, and how many there must be.
    range: Option<(Option<i64>, Option<i64>, u64)>,
    watch: Option<Watch>,
}

impl VideoSource {
    pub fn open(path: &Path, size: SizeRequest) -> Result<VideoSource> {
        Self::open_with(path, size, InputOptions::default())
    }

    /// Opens a file, a stream URL (`udp://`, `rtmp://`, `srt://`, `rtsp://`, `http(s)://`, HLS) or an image
    /// sequence (`frames/%05d.png`).
    pub fn open_with(path: &Path, size: SizeRequest, input: InputOptions) -> Result<VideoSource> {
        crate::media::av::init()?;
        let text = path.to_string_lossy();
        let live = target::is_url(&text);
        let sequence = !live && target::is_sequence(path);
        let not_video = |reason: String| Error::NotAVideo { path: path.to_path_buf(), reason };
        let mut opts = Dictionary::new();
        if live {
            target::check_input_url(&text)?;
            // Probing ends as soon as every stream is described (a keyframe of the video has been seen), but
            // a stream joined mid-way may take a keyframe interval to get there; a stream that stops sending
            // for NETWORK_TIMEOUT ends the input.
            opts.set("analyzeduration", "5000000");
            opts.set("probesize", "5000000");
            opts.set("rw_timeout", &target::NETWORK_TIMEOUT.as_micros().to_string());
            if text.starts_with("udp://") && !text.contains("timeout=") {
                opts.set("timeout", &target::NETWORK_TIMEOUT.as_micros().to_string());
            }
        } else if sequence {
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            if !dir.is_dir() {
                return Err(Error::InputMissing { path: dir.to_path_buf() });
            }
            if let Some(fps) = input.sequence_fps {
                opts.set("framerate", &fps.to_string());
            }
        } else if !path.exists() {
            return Err(Error::InputMissing { path: path.to_path_buf() });
        }
        if input.untrusted {
            if live || sequence {
                return Err(not_video("only plain files are accepted here".into()));
            }
            opts.set("protocol_whitelist", "file");
            opts.set("format_whitelist", UNTRUSTED_DEMUXERS);
        }
        let ictx = if sequence {
            open_input_as(path, "image2", opts).map_err(|e| match e {
                ffmpeg::Error::DemuxerNotFound => not_video("FFmpeg has no image2 demuxer".into()),
                e => not_video(format!("no images match the pattern ({e}); numbering starts at 0 or 1")),
            })?
        } else {
            format::input_with_dictionary(path, opts).map_err(|e| not_video(e.to_string()))?
        };
        let stream = ictx.streams().best(media::Type::Video).ok_or_else(|| not_video("no video stream".into()))?;
        let video_index = stream.index();
        let decoder = codec::context::Context::from_parameters(stream.parameters())
            .and_then(|c| c.decoder().video())
            .map_err(|e| not_video(format!("cannot decode its video: {e}")))?;
        let (width, height) = (decoder.width(), decoder.height());
        if width == 0 || height == 0 {
            return Err(not_video("video stream has no frame size".into()));
        }
        let mut notes = Vec::new();
        let (want_w, want_h) = match (size.size, size.scale) {
            (Some((w, h)), _) => (w, h),
            (None, Some(s)) => (((width as f64 * s).round() as u32).max(2), ((height as f64 * s).round() as u32).max(2)),
            (None, None) => (width, height),
        };
        let (out_width, out_height) = (even(want_w), even(want_h));
        if (out_width, out_height) != (want_w, want_h) {
            notes.push(format!("{want_w}x{want_h} has an odd side; writing {out_width}x{out_height} (YUV 4:2:0 needs even sizes)"));
        }
        let frame_rate = [stream.avg_frame_rate(), stream.rate()].into_iter().find(|r| r.numerator() > 0 && r.denominator() > 0).unwrap_or(Rational(25, 1));
        let time_base = stream.time_base();
        let frames_hint = if stream.frames() > 0 {
            Some(stream.frames() as u64)
        } else if ictx.duration() > 0 {
            Some((ictx.duration() as f64 / 1e6 * f64::from(frame_rate)).round() as u64)
        } else {
            None
        };
        let frames_in_index = (stream.frames() > 0).then_some(stream.frames() as u64);
        let (color, color_notes) = VideoColor::from_tags(decoder.color_space(), decoder.color_range(), decoder.color_primaries(), decoder.color_transfer_characteristic(), decoder.format(), width, height);
        notes.extend(color_notes);
        let mut copied_streams = Vec::new();
        for s in ictx.streams() {
            if s.index() == video_index {
                continue;
            }
            match s.parameters().medium() {
                media::Type::Audio => copied_streams.push(s.index()),
                media::Type::Subtitle => notes.push(format!("dropped subtitle stream #{}", s.index())),
                media::Type::Video => notes.push(format!("dropped extra video stream #{} (only the best one is stylized)", s.index())),
                other => notes.push(format!("dropped {other:?} stream #{}", s.index()).to_lowercase()),
            }
        }
        if live {
            notes.push("a live stream: Ctrl-C (or --duration) ends it; the output is kept".into());
        }
        let gif_loops = (ictx.format().name() == "gif").then(|| crate::media::gif::loop_count(path));
        let info = VideoInfo { path: path.to_path_buf(), video_index, width, height, out_width, out_height, time_base, frame_rate, frames_hint, frames_in_index, copied_streams, color, live, gif_loops, notes };
        Ok(VideoSource { ictx, decoder, info, range: None, watch: None })
    }

    /// Decodes only the frames whose timestamps are in `[start, end)` (a segment; the video alone), starting at
    /// the keyframe `start`; `frames` is how many there are (fewer decoded is an error: nothing may be lost).
    pub fn set_range(&mut self, start: Option<i64>, end: Option<i64>, frames: u64) -> Result<()> {
        if let Some(ts) = start {
            // SAFETY: a live format context and one of its stream indices.
            let rc = unsafe { ffmpeg::ffi::av_seek_frame(self.ictx.as_mut_ptr(), self.info.video_index as i32, ts, ffmpeg::ffi::AVSEEK_FLAG_BACKWARD) };
            if rc < 0 {
                return Err(Error::NotAVideo { path: self.info.path.clone(), reason: format!("cannot seek to the segment's start ({})", ffmpeg::Error::from(rc)) });
            }
        }
        self.range = Some((start, end, frames));
        self.info.copied_streams.clear();
        self.info.frames_hint = Some(frames);
        self.info.frames_in_index = None;
        Ok(())
    }

    pub fn info(&self) -> &VideoInfo {
        &self.info
    }

    /// Lets `watch` stop this decode and count its frames (see [`Watch`]).
    pub fn set_watch(&mut self, watch: Watch) {
        watch.total.store(self.info.frames_hint.unwrap_or(0), Ordering::Relaxed);
        self.watch = Some(watch);
    }

    pub fn input(&self) -> &format::context::Input {
        &self.ictx
    }

    /// Decodes everything, sending frames (buffers taken from `pool` when it has any) and copied packets to `out`.
    /// Returns the number of frames and the time spent decoding. Stops early, without error, when `out` closes.
    pub fn run(mut self, out: &Sender<Item>, pool: &Receiver<Frame>) -> Result<(u64, Duration)> {
        // Busy time = wall time minus the time spent waiting for the next stage to take a frame.
        let start = Instant::now();
        let mut blocked = Duration::ZERO;
        let mut decoded = frame::Video::empty();
        let mut to_rgb = ToRgb::default();
        let mut frames = 0u64;
        let video_index = self.info.video_index;
        let corrupt = |frame: u64, reason: String| Error::Corrupt { path: self.info.path.clone(), frame, reason, kept: String::new() };
        // A segment must decode to exactly its frames (none lost at a boundary).
        let short_segment = |frames: u64, want: u64| corrupt(frames, format!("the segment has {frames} of its {want} frames"));
        let mut at_eof = false;
        let cancelled = |w: &Option<Watch>| w.as_ref().is_some_and(|w| w.cancel.load(Ordering::Relaxed));
        loop {
            if cancelled(&self.watch) {
                return Err(Error::Interrupted(String::new()));
            }
            if interrupted() {
                // Ctrl-C is how a live stream ends: what was read so far becomes the output.
                if self.info.live && frames > 0 {
                    return Ok((frames, start.elapsed() - blocked));
                }
                return Err(Error::Interrupted(String::new()));
            }
            // A fresh packet each time: av_read_frame overwrites a packet without releasing the buffer it
            // holds, so reusing one leaked every compressed frame (memory grew with the input's length).
            let mut packet = Packet::empty();
            if !at_eof {
                match packet.read(&mut self.ictx) {
                    Ok(()) => {}
                    Err(ffmpeg::Error::Eof) => {
                        at_eof = true;
                        let _ = self.decoder.send_eof();
                    }
                    // A stream that goes quiet or drops the connection has ended.
                    Err(_) if self.info.live && frames > 0 => {
                        at_eof = true;
                        let _ = self.decoder.send_eof();
                    }
                    Err(e) => return Err(corrupt(frames, format!("reading the file failed: {e}"))),
                }
                if !at_eof && packet.stream() != video_index {
                    if self.info.copied_streams.contains(&packet.stream()) && !timed_send(out, Item::Packet(packet), &mut blocked) {
                        return Ok((frames, start.elapsed() - blocked));
                    }
                    continue;
                }
                if !at_eof {
                    // A stream joined mid-way starts before a keyframe, and UDP loses packets: a live input
                    // skips what it cannot decode; a file with such damage is corrupt.
                    let live = self.info.live;
                    if packet.is_corrupt() && !live {
                        return Err(corrupt(frames, "a video packet is flagged corrupt".into()));
                    }
                    match self.decoder.send_packet(&packet) {
                        Ok(()) => {}
                        Err(ffmpeg::Error::Other { errno }) if errno == ffmpeg::error::EAGAIN => {}
                        Err(_) if live => continue,
                        Err(e) => return Err(corrupt(frames, format!("the video decoder failed: {e}"))),
                    }
                }
            }
            // Drain every frame the decoder has ready.
            loop {
                match self.decoder.receive_frame(&mut decoded) {
                    Ok(()) => {}
                    Err(ffmpeg::Error::Eof) => {
                        if let Some((_, _, want)) = self.range.filter(|r| frames != r.2) {
                            return Err(short_segment(frames, want));
                        }
                        return match self.info.frames_in_index {
                            _ if frames == 0 => Err(Error::NoFrames { path: self.info.path.clone() }),
                            // One frame of slack: some muxers count a frame the decoder drops.
                            Some(n) if frames + 1 < n => Err(corrupt(frames, format!("the file ends after {frames} of its {n} frames"))),
                            _ => Ok((frames, start.elapsed() - blocked)),
                        };
                    }
                    Err(ffmpeg::Error::Other { errno }) if errno == ffmpeg::error::EAGAIN => break,
                    Err(e) => return Err(corrupt(frames, format!("the video decoder failed: {e}"))),
                }
                if let Some((from, to, want)) = self.range {
                    let ts = decoded.timestamp().or(decoded.pts());
                    if let (Some(s), Some(t)) = (from, ts) {
                        if t < s {
                            continue;
                        }
                    }
                    if let (Some(e), Some(t)) = (to, ts) {
                        if t >= e {
                            // Frames come out in timestamp order: the segment is complete.
                            if frames != want {
                                return Err(short_segment(frames, want));
                            }
                            return Ok((frames, start.elapsed() - blocked));
                        }
                    }
                }
                let mut frame = pool.try_recv().unwrap_or_else(|_| Frame::new(0, 0));
                frame.resize(self.info.out_width as usize, self.info.out_height as usize);
                to_rgb.convert(&decoded, &self.info.color, &mut frame).map_err(|reason| corrupt(frames, reason))?;
                let pts = decoded.timestamp().or(decoded.pts());
                frames += 1;
                if let Some(w) = &self.watch {
                    w.frames.store(frames, Ordering::Relaxed);
                }
                if !timed_send(out, Item::Video { frame, pts }, &mut blocked) {
                    return Ok((frames, start.elapsed() - blocked));
                }
            }
        }
    }
}

/// `format::input` with a named demuxer (image2 for sequences, whose names FFmpeg does not guess from `%05d`).
fn open_input_as(path: &Path, demuxer: &str, options: Dictionary) -> std::result::Result<format::context::Input, ffmpeg::Error> {
    let path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| ffmpeg::Error::InvalidData)?;
    let name = std::ffi::CString::new(demuxer).expect("no NUL in a demuxer name");
    unsafe {
        let fmt = ffmpeg::ffi::av_find_input_format(name.as_ptr());
        if fmt.is_null() {
            return Err(ffmpeg::Error::DemuxerNotFound);
        }
        let mut ps = std::ptr::null_mut();
        let mut opts = options.disown();
        let rc = ffmpeg::ffi::avformat_open_input(&mut ps, path.as_ptr(), fmt, &mut opts);
        Dictionary::own(opts);
        if rc < 0 {
            return Err(ffmpeg::Error::from(rc));
        }
        let rc = ffmpeg::ffi::avformat_find_stream_info(ps, std::ptr::null_mut());
        if rc < 0 {
            ffmpeg::ffi::avformat_close_input(&mut ps);
            return Err(ffmpeg::Error::from(rc));
        }
        Ok(format::context::Input::wrap(ps))
    }
}

/// Sends to the next stage, adding the time spent waiting for it to `blocked`; false when it has hung up.
pub(crate) fn timed_send<T>(out: &Sender<T>, item: T, blocked: &mut Duration) -> bool {
    let t = Instant::now();
    let ok = out.send(item).is_ok();
    *blocked += t.elapsed();
    ok
}
/// The video frames of a source, decoded on their own thread (what `stylize flicker` and `bench --input`
/// read): a plain iterator for callers that want frames and nothing else. Ends at the end of the video, at
/// a decoding error or when dropped.
pub struct Frames {
    rx: Option<Receiver<Item>>,
    decoder: Option<std::thread::JoinHandle<Result<(u64, Duration)>>>,
    /// Decoded frames come back here for reuse when the caller hands them back ([`Frames::recycle`]).
    pool: Sender<Frame>,
}

impl VideoSource {
    /// Starts decoding on a thread of its own; frames are read from the returned iterator.
    pub fn frames(self) -> Frames {
        let (tx, rx) = crossbeam_channel::bounded(4);
        let (pool, pool_rx) = crossbeam_channel::bounded(4);
        let decoder = std::thread::spawn(move || self.run(&tx, &pool_rx));
        Frames { rx: Some(rx), decoder: Some(decoder), pool }
    }
}

impl Frames {
    /// After the last frame: how the decoding ended (a corrupt input's error; Ok at the end of the video).
    pub fn finish(&mut self) -> Result<()> {
        self.rx = None;
        match self.decoder.take().map(|d| d.join()) {
            Some(Ok(Err(e))) => Err(e),
            Some(Err(_)) => Err(Error::Invalid("the decoder thread panicked".into())),
            _ => Ok(()),
        }
    }

    /// Gives a frame buffer back for the decoder to reuse.
    pub fn recycle(&self, frame: Frame) {
        let _ = self.pool.try_send(frame);
    }
}

impl Iterator for Frames {
    type Item = Frame;

    fn next(&mut self) -> Option<Frame> {
        loop {
            match self.rx.as_ref()?.recv().ok()? {
                Item::Video { frame, .. } => return Some(frame),
                _ => continue,
            }
        }
    }
}

impl Drop for Frames {
    fn drop(&mut self) {
        // Dropping the receiver ends the decoder at its next send; how it ended is not asked for.
        self.rx = None;
        if let Some(decoder) = self.decoder.take() {
            let _ = decoder.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::color::tests::{diff, swscale_rgb as swscale, test_yuv};
    use ffmpeg::util::color::{Primaries, Range, Space, TransferCharacteristic};

    #[test]
    fn frames_come_out_as_swscale_makes_them_at_any_size() {
        let color = VideoColor { space: Space::BT709, range: Range::MPEG, primaries: Primaries::BT709, transfer: TransferCharacteristic::BT709 };
        let mut to_rgb = ToRgb::default();
        let yuv = test_yuv(128, 96, format::Pixel::YUV420P);
        for (w, h) in [(128, 96), (64, 48), (96, 72), (128, 96)] {
            let mut ours = Frame::new(w as usize, h as usize);
            to_rgb.convert(&yuv, &color, &mut ours).unwrap();
            let (abs, bias) = diff(&ours.data, &swscale(&yuv, &color, w, h).data);
            assert!(abs < 2.5 && bias.abs() < 0.3, "{w}x{h}: mean difference {abs:.2}, bias {bias:.2}");
        }
        // Formats the crate does not take go through swscale as they did.
        let yuv422 = test_yuv(64, 48, format::Pixel::YUV422P);
        let mut ours = Frame::new(64, 48);
        to_rgb.convert(&yuv422, &color, &mut ours).unwrap();
        assert!(ours.data == swscale(&yuv422, &color, 64, 48).data);
    }
}
