//! Video encoding and muxing: RGB24 frames become H.264 (libx264 when FFmpeg has it), the input's audio
//! packets are copied unchanged, and frame rate, time base, rotation and container metadata are kept.

use std::path::{Path, PathBuf};

use ffmpeg_next as ffmpeg;
use ffmpeg::{codec, encoder, format, software::scaling, util::frame, Dictionary, Packet, Rational};

use crate::media::color::VideoColor;
use crate::media::decode::VideoSource;
use crate::error::{Error, Result};
use crate::frame::Frame;
use crate::media::av::{copy_display_matrix, write_err, Timestamps};
use crate::media::target::Target;

#[derive(Clone, Debug)]
pub struct EncodeOptions {
    /// FFmpeg encoder name; default libx264, else mpeg4.
    pub codec: Option<String>,
    /// Constant rate factor for x264/x265 (lower is better; 18 is visually lossless).
    pub crf: u8,
    /// x264 preset, or [`AUTO_PRESET`] (resolved by the caller with [`auto_preset`]; veryfast if it is not).
    pub preset: String,
    /// MP4/MOV: the index (moov) before the media data, so browsers can play the file while it loads.
    pub faststart: bool,
    /// Streams: a bit rate (kbit/s, also the ceiling and the buffer) instead of a quality (CRF).
    pub bitrate_kbps: Option<u32>,
    /// Streams: x264's tune (`zerolatency`: no lookahead, no B-frames: one frame in, one packet out).
    pub tune: Option<String>,
    /// Frames between keyframes (a viewer who joins, or a reconnect, waits at most this long).
    pub keyint: Option<u32>,
    /// Animated WebP: the muxer's loop option (0: forever; see [`crate::media::gif::muxer_loop`]).
    pub animation_loop: i32,
    /// Container metadata added to the input's (segments carry what `stylize join` checks).
    pub metadata: Vec<(String, String)>,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions { codec: None, crf: 18, preset: AUTO_PRESET.into(), faststart: true, bitrate_kbps: None, tune: None, keyint: None, animation_loop: 0, metadata: Vec::new() }
    }
}

/// How a live stream is encoded (`--bitrate`, `--keyframe-seconds`).
#[derive(Clone, Copy, Debug)]
pub struct StreamOptions {
    /// kbit/s; None: [`StreamOptions::bitrate_for`] picks one from the frame size and rate.
    pub bitrate_kbps: Option<u32>,
    pub keyframe_seconds: f32,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions { bitrate_kbps: None, keyframe_seconds: 2.0 }
    }
}

impl StreamOptions {
    /// The bit rate: the user's, or 0.15 bits per pixel per frame (about 1 Mbit/s at 640x360 30 fps, 4 at
    /// 1280x720): stylized frames have more fine texture than camera video, so a little over the usual.
    pub fn bitrate_for(&self, width: u32, height: u32, frame_rate: Rational) -> u32 {
        self.bitrate_kbps.unwrap_or_else(|| ((f64::from(width * height) * f64::from(frame_rate) * 0.15 / 1000.0).round() as u32).max(200))
    }

    /// The encoder settings of a live stream: x264 ultrafast (the stylizer has the CPU), zerolatency.
    pub fn encode_options(&self, width: u32, height: u32, frame_rate: Rational) -> EncodeOptions {
        EncodeOptions {
            preset: "ultrafast".into(),
            faststart: false,
            bitrate_kbps: Some(self.bitrate_for(width, height, frame_rate)),
            tune: Some("zerolatency".into()),
            keyint: Some((f64::from(frame_rate) * f64::from(self.keyframe_seconds)).round().max(1.0) as u32),
            ..EncodeOptions::default()
        }
    }
}

/// `--preset auto`: the preset that keeps the encoder from slowing the stylizer ([`auto_preset`]).
pub const AUTO_PRESET: &str = "auto";

/// x264's CPU time per megapixel of frame for the presets `auto` picks from, slowest (smallest files) first.
/// Measured with `ffmpeg -threads 1 -crf 18` on a stylized 640x360 clip on this project's 2-core EPYC
/// (docs/benchmarks.md): ultrafast files were 1.44x and superfast 1.04x the size of veryfast's. x264 and the
/// engine both scale with the CPU, so the ratios carry over to other machines.
const PRESET_CPU_MS_PER_MP: [(&str, f64); 3] = [("veryfast", 41.0), ("superfast", 24.0), ("ultrafast", 13.0)];

/// The slowest x264 preset the encoder can afford beside an engine that takes `engine_ms` per frame of
/// `megapixels`, keeping `engine_cores` of the machine's `cores` busy (none on a GPU). Every encoder cycle on a
/// core the engine uses is taken from the engine, so those lend the encoder 5% of their time; free cores lend
/// half of theirs (x264 does not scale perfectly). Ultrafast when even that is too slow.
pub fn auto_preset(engine_ms: f64, megapixels: f64, engine_cores: usize, cores: usize) -> &'static str {
    let busy = engine_cores.min(cores) as f64;
    let free = cores.saturating_sub(engine_cores) as f64;
    let budget_ms = engine_ms * (0.05 * busy + 0.5 * free);
    PRESET_CPU_MS_PER_MP.iter().find(|(_, ms)| ms * megapixels <= budget_ms).map_or("ultrafast", |(preset, _)| preset)
}

/// swscale contexts hold no thread-bound state; the sink is built on one thread and runs on another.
struct Scaler(scaling::Context);
// SAFETY: the context is used by one thread at a time (it moves with the sink and is never shared).
unsafe impl Send for Scaler {}

pub struct VideoSink {
    octx: format::context::Output,
    /// The user's name for the output, for errors (the sink writes a temporary file).
    dest: PathBuf,
    encoder: encoder::Video,
    video_out: usize,
    enc_time_base: Rational,
    /// For each input stream: its output index and time base, when it is copied.
    stream_map: Vec<Option<(usize, Rational)>>,
    scaler: Option<Scaler>,
    rgb: frame::Video,
    yuv: frame::Video,
    packet: Packet,
    /// The YUV matrix and range the frames are encoded in (and tagged with).
    color: VideoColor,
    pts: Timestamps,
    /// The last decoding timestamp written to each output stream (copied packets that go back are dropped).
    last_dts: Vec<Option<i64>>,
    /// The encoder's pixel format: YUV 4:2:0 for video, RGB24 for PNG/TIFF sequences (no conversion).
    pixel: format::Pixel,
    pub codec_name: String,
}

fn enc_err(e: impl std::fmt::Display) -> Error {
    Error::Encoder(e.to_string())
}

impl VideoSink {
    /// Opens `path` (a temporary file whose extension names the container) for the video of `src`. An animated
    /// WebP gets the video only (libwebp_anim; it has no audio).
    pub fn create(path: &Path, dest: &Path, src: &VideoSource, opts: &EncodeOptions) -> Result<VideoSink> {
        let octx = open_output(path, dest)?;
        if octx.format().name() == "webp" {
            let info = src.info();
            let opts = EncodeOptions { codec: Some("libwebp_anim".into()), ..opts.clone() };
            return Self::create_video_only(octx, dest, info.out_width, info.out_height, info.frame_rate, info.time_base, &opts);
        }
        Self::create_from(octx, dest, src, opts)
    }

    /// A stream (`rtmp://`, `srt://`, `udp://`) of the video of `src` with its audio, written as it comes.
    pub fn create_stream(target: &Target, src: &VideoSource, opts: &EncodeOptions) -> Result<VideoSink> {
        let octx = crate::media::target::open_output(target)?;
        Self::create_from(octx, Path::new(&target.label()), src, opts)
    }

    fn create_from(mut octx: format::context::Output, dest: &Path, src: &VideoSource, opts: &EncodeOptions) -> Result<VideoSink> {
        let info = src.info();
        let ictx = src.input();
        let in_video = ictx.stream(info.video_index).expect("video stream exists");
        let time_base = info.time_base;
        let (encoder, video_out, codec_name) = add_video_stream(&mut octx, info.out_width, info.out_height, time_base, info.frame_rate, info.color, opts)?;
        {
            let mut ost = octx.stream_mut(video_out).expect("video stream just added");
            ost.set_metadata(in_video.metadata().to_owned());
            copy_display_matrix(&in_video, &mut ost);
        }

        let mut stream_map = vec![None; ictx.nb_streams() as usize];
        for &index in &info.copied_streams {
            let ist = ictx.stream(index).expect("copied stream exists");
            let mut ost = octx.add_stream(encoder::find(codec::Id::None)).map_err(enc_err)?;
            ost.set_parameters(ist.parameters());
            // The input container's codec tag may mean something else in the output container.
            unsafe { (*(*ost.as_mut_ptr()).codecpar).codec_tag = 0 };
            ost.set_time_base(ist.time_base());
            ost.set_metadata(ist.metadata().to_owned());
            stream_map[index] = Some((ost.index(), ist.time_base()));
        }
        let mut metadata = ictx.metadata().to_owned();
        for (k, v) in &opts.metadata {
            metadata.set(k, v);
        }
        octx.set_metadata(metadata);
        write_header(&mut octx, opts).map_err(|e| Error::output(dest, format!("cannot write the container header ({e}); the audio codec may not fit this container, try .mkv")))?;
        Ok(Self::assemble(octx, dest, encoder, video_out, time_base, stream_map, (info.out_width, info.out_height), info.frame_rate, info.color, codec_name))
    }

    /// A video-only sink without an input to copy from (live recording): `width`x`height` frames (even sides),
    /// timestamps in `time_base` units, `frame_rate` the nominal rate.
    pub fn create_plain(path: &Path, dest: &Path, width: u32, height: u32, frame_rate: Rational, time_base: Rational, opts: &EncodeOptions) -> Result<VideoSink> {
        crate::media::av::init()?;
        let octx = open_output(path, dest)?;
        Self::create_video_only(octx, dest, width, height, frame_rate, time_base, opts)
    }

    /// A video-only sink on a stream, device or image sequence ([`Target`]), written as frames come: H.264 for
    /// the network ([`StreamOptions::encode_options`]), raw YUV 4:2:0 for a V4L2 device, PNG/TIFF/JPEG images.
    /// Network targets connect here.
    pub fn create_target(target: &Target, width: u32, height: u32, frame_rate: Rational, time_base: Rational, stream: &StreamOptions) -> Result<VideoSink> {
        let octx = crate::media::target::open_output(target)?;
        let opts = match target {
            Target::Network { .. } => stream.encode_options(width, height, frame_rate),
            Target::Device(_) => EncodeOptions { codec: Some("rawvideo".into()), ..EncodeOptions::default() },
            Target::Sequence(path) => EncodeOptions { codec: Some(sequence_codec(path)?.into()), ..EncodeOptions::default() },
            Target::File(_) => EncodeOptions::default(),
        };
        Self::create_video_only(octx, Path::new(&target.label()), width, height, frame_rate, time_base, &opts)
    }

    fn create_video_only(mut octx: format::context::Output, dest: &Path, width: u32, height: u32, frame_rate: Rational, time_base: Rational, opts: &EncodeOptions) -> Result<VideoSink> {
        let color = VideoColor::for_rgb_source(width, height);
        let (encoder, video_out, codec_name) = add_video_stream(&mut octx, width, height, time_base, frame_rate, color, opts)?;
        write_header(&mut octx, opts).map_err(|e| Error::output(dest, format!("cannot write the container header ({e})")))?;
        Ok(Self::assemble(octx, dest, encoder, video_out, time_base, Vec::new(), (width, height), frame_rate, color, codec_name))
    }

    #[allow(clippy::too_many_arguments)]
    fn assemble(
        octx: format::context::Output,
        dest: &Path,
        encoder: encoder::Video,
        video_out: usize,
        time_base: Rational,
        stream_map: Vec<Option<(usize, Rational)>>,
        (width, height): (u32, u32),
        frame_rate: Rational,
        color: VideoColor,
        codec_name: String,
    ) -> VideoSink {
        let streams = octx.nb_streams() as usize;
        VideoSink {
            octx,
            dest: dest.to_path_buf(),
            encoder,
            video_out,
            enc_time_base: time_base,
            stream_map,
            scaler: None,
            rgb: frame::Video::new(format::Pixel::RGB24, width, height),
            yuv: frame::Video::empty(),
            packet: Packet::empty(),
            color,
            pts: Timestamps::new(time_base, frame_rate),
            last_dts: vec![None; streams],
            pixel: encoder_pixel(&codec_name),
            codec_name,
        }
    }

    pub fn push_frame(&mut self, frame: &Frame, pts: Option<i64>) -> Result<()> {
        let (w, h) = (self.rgb.width(), self.rgb.height());
        let pts = Some(self.pts.stamp(pts));
        if self.pixel == format::Pixel::RGB24 {
            let stride = self.rgb.stride(0);
            frame.copy_to_strided(self.rgb.data_mut(0), stride);
            self.rgb.set_pts(pts);
            self.encoder.send_frame(&self.rgb).map_err(enc_err)?;
            return self.write_encoded();
        }
        if self.yuv.format() != self.pixel {
            self.yuv = frame::Video::new(self.pixel, w, h);
        }
        // An encoder may still hold the last frame's buffers: then this one gets fresh ones.
        // SAFETY: the frame is allocated (above) and owned here.
        if unsafe { ffmpeg::ffi::av_frame_make_writable(self.yuv.as_mut_ptr()) } < 0 {
            return Err(enc_err("out of memory for a video frame"));
        }
        // 4:2:0 (most codecs) straight from the frame; swscale does the rest.
        if !self.color.rgb_to_yuv420(frame, &mut self.yuv) {
            let stride = self.rgb.stride(0);
            frame.copy_to_strided(self.rgb.data_mut(0), stride);
            if self.scaler.is_none() {
                let mut ctx = scaling::Context::get(format::Pixel::RGB24, w, h, self.pixel, w, h, crate::media::color::ENCODE_FLAGS).map_err(enc_err)?;
                self.color.set_rgb_to_yuv(&mut ctx);
                self.scaler = Some(Scaler(ctx));
            }
            let scaler = self.scaler.as_mut().expect("scaler set above");
            scaler.0.run(&self.rgb, &mut self.yuv).map_err(enc_err)?;
        }
        self.yuv.set_pts(pts);
        self.encoder.send_frame(&self.yuv).map_err(enc_err)?;
        self.write_encoded()
    }

    /// Writes a copied packet (audio) into its output stream.
    pub fn push_packet(&mut self, mut packet: Packet) -> Result<()> {
        let Some(Some((out, in_tb))) = self.stream_map.get(packet.stream()).copied() else { return Ok(()) };
        let out_tb = self.octx.stream(out).expect("output stream exists").time_base();
        packet.rescale_ts(in_tb, out_tb);
        // A live stream that lost packets can send audio whose timestamps go back; the muxer would refuse
        // them (EINVAL) and end the job, so such a packet is dropped instead.
        if let (Some(dts), Some(last)) = (packet.dts(), self.last_dts[out]) {
            if dts <= last {
                return Ok(());
            }
        }
        self.last_dts[out] = packet.dts().or(self.last_dts[out]);
        packet.set_stream(out);
        packet.set_position(-1);
        packet.write_interleaved(&mut self.octx).map_err(|e| write_err(&self.dest, e))
    }

    fn write_encoded(&mut self) -> Result<()> {
        let out_tb = self.octx.stream(self.video_out).expect("video stream exists").time_base();
        while self.encoder.receive_packet(&mut self.packet).is_ok() {
            self.packet.set_stream(self.video_out);
            self.packet.rescale_ts(self.enc_time_base, out_tb);
            self.packet.write_interleaved(&mut self.octx).map_err(|e| write_err(&self.dest, e))?;
        }
        Ok(())
    }

    /// Flushes the encoder and writes the trailer: the file is complete after this.
    pub fn finish(mut self) -> Result<()> {
        self.encoder.send_eof().map_err(enc_err)?;
        self.write_encoded()?;
        self.octx.write_trailer().map_err(|e| write_err(&self.dest, e))
    }
}

/// Writes the container header; MP4 and MOV get FFmpeg's faststart (index first) unless told otherwise.
pub(crate) fn write_header(octx: &mut format::context::Output, opts: &EncodeOptions) -> std::result::Result<(), ffmpeg::Error> {
    let name = octx.format().name().to_string();
    if name == "webp" {
        let mut dict = Dictionary::new();
        dict.set("loop", &opts.animation_loop.to_string());
        octx.write_header_with(dict).map(|_| ())
    } else if name.split(',').any(|n| matches!(n, "mp4" | "mov" | "ipod" | "ismv")) && (opts.faststart || !opts.metadata.is_empty()) {
        // Our own tags (segments) need use_metadata_tags: MP4 otherwise keeps only the keys it knows.
        let flags = [(opts.faststart, "+faststart"), (!opts.metadata.is_empty(), "+use_metadata_tags")];
        let mut dict = Dictionary::new();
        dict.set("movflags", &flags.iter().filter(|(on, _)| *on).map(|(_, f)| *f).collect::<String>());
        octx.write_header_with(dict).map(|_| ())
    } else {
        octx.write_header().map(|_| ())
    }
}

fn open_output(path: &Path, dest: &Path) -> Result<format::context::Output> {
    format::output(path).map_err(|e| Error::output(dest, format!("unsupported container ({e}); use .mp4, .mkv or .mov")))
}

/// The encoder of an image sequence, by the pattern's extension.
fn sequence_codec(path: &Path) -> Result<&'static str> {
    let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "png" => Ok("png"),
        "tif" | "tiff" => Ok("tiff"),
        "jpg" | "jpeg" => Ok("mjpeg"),
        _ => Err(Error::output(path, "image sequences are written as .png, .tif or .jpg (e.g. frames/%05d.png)")),
    }
}

/// The pixel format an encoder gets: RGB for lossless image codecs, full-range YUV for JPEG, else YUV 4:2:0.
fn encoder_pixel(codec_name: &str) -> format::Pixel {
    match codec_name {
        "png" | "tiff" => format::Pixel::RGB24,
        "mjpeg" => format::Pixel::YUVJ420P,
        _ => format::Pixel::YUV420P,
    }
}

/// Adds the encoded video stream (libx264 when FFmpeg has it, else mpeg4): the encoder, its stream index and
/// name (with the preset, for x264/x265).
fn add_video_stream(octx: &mut format::context::Output, width: u32, height: u32, time_base: Rational, frame_rate: Rational, color: VideoColor, opts: &EncodeOptions) -> Result<(encoder::Video, usize, String)> {
    let global_header = octx.format().flags().contains(format::Flags::GLOBAL_HEADER);
    let codec = match &opts.codec {
        Some(name) => encoder::find_by_name(name).ok_or_else(|| Error::Encoder(format!("FFmpeg has no encoder {name:?}; try libx264 or mpeg4")))?,
        None => encoder::find_by_name("libx264").or_else(|| encoder::find(codec::Id::MPEG4)).ok_or_else(|| Error::Encoder("FFmpeg has neither libx264 nor mpeg4".into()))?,
    };
    let codec_name = codec.name().to_string();
    let mut enc = codec::context::Context::new_with_codec(codec).encoder().video().map_err(enc_err)?;
    enc.set_width(width);
    enc.set_height(height);
    enc.set_format(encoder_pixel(&codec_name));
    enc.set_time_base(time_base);
    enc.set_frame_rate(Some(frame_rate));
    // The output's tags: the input's matrix, range, primaries and transfer (players convert by them).
    enc.set_colorspace(color.space);
    enc.set_color_range(color.range);
    enc.set_color_primaries(color.primaries);
    enc.set_color_transfer_characteristic(color.transfer);
    if global_header {
        enc.set_flags(codec::Flags::GLOBAL_HEADER);
    }
    let mut dict = Dictionary::new();
    let mut described = codec_name.clone();
    if let Some(keyint) = opts.keyint {
        dict.set("g", &keyint.to_string());
    }
    if codec_name.starts_with("libx26") {
        let preset = if opts.preset == AUTO_PRESET { "veryfast" } else { &opts.preset };
        match opts.bitrate_kbps {
            Some(kbps) => {
                // A constant ceiling with a one-second buffer: what streaming servers expect.
                for key in ["b", "maxrate", "bufsize"] {
                    dict.set(key, &format!("{kbps}k"));
                }
                described = format!("{codec_name} {preset} {kbps} kbit/s");
            }
            None => {
                dict.set("crf", &opts.crf.to_string());
                described = format!("{codec_name} {preset}");
            }
        }
        dict.set("preset", preset);
        if let Some(tune) = &opts.tune {
            dict.set("tune", tune);
            described.push_str(&format!(" {tune}"));
        }
    } else if matches!(codec_name.as_str(), "png" | "tiff" | "rawvideo") {
        // Lossless: nothing to set.
    } else if codec_name.starts_with("libwebp") {
        // Lossy WebP at quality 85: small files, strokes intact.
        dict.set("quality", "85");
    } else if codec_name == "mjpeg" {
        // JPEG quality 2 of 31 (like `ffmpeg -q:v 2`): the default bit rate would smear the strokes.
        enc.set_flags(codec::Flags::QSCALE);
        enc.set_global_quality(2 * ffmpeg::ffi::FF_QP2LAMBDA);
    } else {
        // Codecs without CRF: a generous bit rate (about 0.2 bits per pixel per frame).
        let bps = f64::from(width * height) * f64::from(frame_rate) * 0.2;
        enc.set_bit_rate(bps as usize);
    }
    let encoder = enc.open_with(dict).map_err(|e| Error::Encoder(format!("cannot open {codec_name}: {e}")))?;

    let mut ost = octx.add_stream(codec).map_err(enc_err)?;
    let video_out = ost.index();
    ost.set_parameters(&encoder);
    ost.set_time_base(time_base);
    ost.set_avg_frame_rate(frame_rate);
    ost.set_rate(frame_rate);
    Ok((encoder, video_out, described))
}

#[cfg(test)]
mod tests {
    use super::auto_preset;

    #[test]
    fn auto_preset_spares_a_fast_engine_on_the_cpu_and_spends_a_slow_one() {
        let mp = 640.0 * 360.0 / 1e6;
        // The lite net on 2 cores (30 ms a frame): even superfast would take 9% of its CPU.
        assert_eq!(auto_preset(30.0, mp, 2, 2), "ultrafast");
        // The half-width net (230 ms) and the full net (700 ms) leave room for veryfast.
        assert_eq!(auto_preset(230.0, mp, 2, 2), "veryfast");
        assert_eq!(auto_preset(700.0, mp, 2, 2), "veryfast");
        // In between, superfast.
        assert_eq!(auto_preset(70.0, mp, 2, 2), "superfast");
        // An engine on one of two cores leaves the encoder the other.
        assert_eq!(auto_preset(30.0, mp, 1, 2), "veryfast");
    }

    #[test]
    fn auto_preset_keeps_up_with_a_gpu() {
        let mp = 1920.0 * 1080.0 / 1e6;
        // The lite net on a GPU at 1080p (5 ms a frame) with 16 free cores: only ultrafast keeps up.
        assert_eq!(auto_preset(5.0, mp, 0, 16), "ultrafast");
        // The full net (21 ms): veryfast keeps up.
        assert_eq!(auto_preset(21.0, mp, 0, 16), "veryfast");
    }
}
