//! Animated GIF output: stylized RGB frames through FFmpeg's palettegen/paletteuse filters, FFmpeg's GIF
//! encoder and muxer; frame delays follow the timestamps, and the file loops as the input GIF did (forever for
//! other inputs).
//!
//! One palette for the whole GIF, made from its first frames (up to ~2 s, at most ~64 MB of them held while it
//! is made): a style paints every frame in the same colours, so they stand for the rest, and memory stays
//! bounded however long the input (a palette from all frames would hold them all). Ordered (Bayer) dithering:
//! it does not crawl from frame to frame as error diffusion does, and was 2.6x faster (docs/benchmarks.md).

use std::path::{Path, PathBuf};

use ffmpeg_next as ffmpeg;
use ffmpeg::{codec, encoder, filter, format, util::frame, Dictionary, Packet, Rational};

use crate::media::av::{write_err, Timestamps};
use crate::error::{Error, Result};
use crate::frame::Frame;

/// The loop count of an animated GIF: `Some(0)` loops forever, `Some(n)` repeats n times, None plays once
/// (no NETSCAPE2.0 application extension). FFmpeg's GIF demuxer reads but does not export it.
pub fn loop_count(path: &Path) -> Option<u16> {
    use std::io::Read;
    // The extension comes before the first image, right after the global colour table (at most 768 bytes).
    let mut head = Vec::with_capacity(4096);
    std::fs::File::open(path).ok()?.take(4096).read_to_end(&mut head).ok()?;
    let tag = b"NETSCAPE2.0\x03\x01";
    let at = head.windows(tag.len()).position(|w| w == tag)? + tag.len();
    Some(u16::from_le_bytes([*head.get(at)?, *head.get(at + 1)?]))
}

/// The GIF/WebP muxers' `loop` option for an output whose input had `gif_loops` (see
/// [`crate::media::decode::VideoInfo::gif_loops`]): the input GIF's count, or forever for other inputs.
pub fn muxer_loop(gif_loops: Option<Option<u16>>) -> i32 {
    match gif_loops {
        None => 0,
        Some(None) => -1,
        Some(Some(n)) => i32::from(n),
    }
}

/// The filter graph moves with the sink to the encoder thread.
struct Graph(filter::Graph);
// SAFETY: the graph is used by one thread at a time (it moves with the sink and is never shared).
unsafe impl Send for Graph {}

pub struct GifSink {
    octx: format::context::Output,
    encoder: encoder::Video,
    graph: Graph,
    rgb: frame::Video,
    filtered: frame::Video,
    packet: Packet,
    time_base: Rational,
    pts: Timestamps,
    /// The user's name for the output, for errors (the sink writes a temporary file).
    dest: PathBuf,
}

fn gif_err(e: impl std::fmt::Display) -> Error {
    Error::Encoder(format!("GIF: {e}"))
}

impl GifSink {
    /// Opens `path` (a temporary `.gif`) for `width`x`height` frames with timestamps in `time_base`; `loops` is
    /// the GIF muxer's loop option ([`muxer_loop`]).
    pub fn create(path: &Path, dest: &Path, width: u32, height: u32, time_base: Rational, frame_rate: Rational, loops: i32) -> Result<GifSink> {
        crate::media::av::init()?;
        let mut octx = format::output(path).map_err(|e| Error::output(dest, format!("cannot write a GIF ({e})")))?;
        let mut graph = filter::Graph::new();
        let args = format!("video_size={width}x{height}:pix_fmt=rgb24:time_base={}/{}:pixel_aspect=1/1", time_base.numerator(), time_base.denominator());
        let find = |name: &str| filter::find(name).ok_or_else(|| gif_err(format!("FFmpeg has no {name} filter")));
        graph.add(&find("buffer")?, "in", &args).map_err(gif_err)?;
        graph.add(&find("buffersink")?, "out", "").map_err(gif_err)?;
        let frame_bytes = (width as usize * height as usize * 3).max(1);
        let palette_frames = ((2.0 * f64::from(frame_rate)).round() as usize).min((64 << 20) / frame_bytes).clamp(2, 60);
        let spec = format!("split[a][b];[a]trim=end_frame={palette_frames},palettegen=reserve_transparent=0[p];[b][p]paletteuse=dither=bayer:bayer_scale=2");
        graph.output("in", 0).and_then(|p| p.input("out", 0)).and_then(|p| p.parse(&spec)).map_err(gif_err)?;
        graph.validate().map_err(gif_err)?;

        let codec = encoder::find_by_name("gif").ok_or_else(|| gif_err("FFmpeg has no GIF encoder"))?;
        let mut enc = codec::context::Context::new_with_codec(codec).encoder().video().map_err(gif_err)?;
        enc.set_width(width);
        enc.set_height(height);
        enc.set_format(format::Pixel::PAL8);
        enc.set_time_base(time_base);
        enc.set_frame_rate(Some(frame_rate));
        let encoder = enc.open_with(Dictionary::new()).map_err(gif_err)?;
        let mut ost = octx.add_stream(codec).map_err(gif_err)?;
        ost.set_parameters(&encoder);
        ost.set_time_base(Rational(1, 100));
        let mut opts = Dictionary::new();
        opts.set("loop", &loops.to_string());
        octx.write_header_with(opts).map_err(|e| Error::output(dest, format!("cannot write the GIF header ({e})")))?;
        Ok(GifSink {
            octx,
            encoder,
            graph: Graph(graph),
            rgb: frame::Video::new(format::Pixel::RGB24, width, height),
            filtered: frame::Video::empty(),
            packet: Packet::empty(),
            time_base,
            pts: Timestamps::new(time_base, frame_rate),
            dest: dest.to_path_buf(),
        })
    }

    pub fn push_frame(&mut self, frame: &Frame, pts: Option<i64>) -> Result<()> {
        use ffmpeg::ffi;
        // The filters may still hold the previous frame (paletteuse waits for its palette): then this gives the
        // frame a new buffer instead of writing into theirs; otherwise it keeps the one it has.
        // SAFETY: the frame was allocated with a format and size (frame::Video::new).
        if unsafe { ffi::av_frame_make_writable(self.rgb.as_mut_ptr()) } < 0 {
            return Err(gif_err("out of memory"));
        }
        let stride = self.rgb.stride(0);
        frame.copy_to_strided(self.rgb.data_mut(0), stride);
        self.rgb.set_pts(Some(self.pts.stamp(pts)));
        let mut source = self.graph.0.get("in").expect("source exists");
        // KEEP_REF: the graph takes a reference and our frame stays ours (plain add_frame would empty it).
        // SAFETY: both pointers are live; the flag makes FFmpeg add a reference, not take ours.
        let added = unsafe { ffi::av_buffersrc_add_frame_flags(source.as_mut_ptr(), self.rgb.as_mut_ptr(), ffi::AV_BUFFERSRC_FLAG_KEEP_REF as std::os::raw::c_int) };
        if added < 0 {
            return Err(gif_err(ffmpeg::Error::from(added)));
        }
        self.drain()
    }

    /// Encodes every frame the filters have ready and writes the packets.
    fn drain(&mut self) -> Result<()> {
        while self.graph.0.get("out").expect("sink exists").sink().frame(&mut self.filtered).is_ok() {
            self.encoder.send_frame(&self.filtered).map_err(gif_err)?;
            self.write_encoded()?;
        }
        Ok(())
    }

    fn write_encoded(&mut self) -> Result<()> {
        let out_tb = self.octx.stream(0).expect("GIF stream exists").time_base();
        while self.encoder.receive_packet(&mut self.packet).is_ok() {
            self.packet.set_stream(0);
            self.packet.rescale_ts(self.time_base, out_tb);
            self.packet.write_interleaved(&mut self.octx).map_err(|e| write_err(&self.dest, e))?;
        }
        Ok(())
    }

    /// Flushes the filters and the encoder and writes the trailer: the file is complete after this.
    pub fn finish(mut self) -> Result<()> {
        self.graph.0.get("in").expect("source exists").source().flush().map_err(gif_err)?;
        self.drain()?;
        self.encoder.send_eof().map_err(gif_err)?;
        self.write_encoded()?;
        self.octx.write_trailer().map_err(|e| write_err(&self.dest, e))
    }
}
