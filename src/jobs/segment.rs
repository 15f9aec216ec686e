//! Splitting one video into segments that any job system can stylize independently, and joining the results.
//!
//! `plan` reads the input's packets (no decoding) and cuts it at keyframes, so every segment decodes on its
//! own. A frame belongs to the segment whose `[start, end)` holds its presentation timestamp: none is lost or
//! doubled. A segment is stylized by `stylize video --segment K/N` ([`crate::media::decode::VideoSource::set_range`]),
//! keeps the source's timestamps, starts with a keyframe and carries what [`join`] checks in its metadata
//! (`stylize_segment`, ...). `join` copies the segments' packets without re-encoding, in order, and muxes the
//! source's audio, metadata and rotation once.

use std::path::{Path, PathBuf};

use ffmpeg_next as ffmpeg;
use ffmpeg::{codec, encoder, format, media, Packet, Rational};

use crate::error::{Error, Result};
use crate::output::PendingOutput;

/// One segment of a plan: the frames whose timestamps are in `[start, end)` (None: unbounded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    pub index: usize,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub frames: u64,
}

#[derive(Clone, Debug)]
pub struct Plan {
    /// The video stream's time base (segment bounds are in its units).
    pub time_base: Rational,
    pub frames: u64,
    pub keyframes: usize,
    pub requested: usize,
    pub segments: Vec<Segment>,
}

impl Plan {
    fn seconds(&self, pts: Option<i64>) -> Option<f64> {
        pts.map(|p| p as f64 * f64::from(self.time_base))
    }

    /// The plan as a table, or JSON for schedulers.
    pub fn render(&self, json: bool) -> String {
        if json {
            let segs: Vec<String> = self
                .segments
                .iter()
                .map(|s| {
                    let num = |v: Option<f64>| v.map_or("null".to_string(), |x| format!("{x:.6}"));
                    format!(r#"{{"index": {}, "start": {}, "end": {}, "frames": {}}}"#, s.index, num(self.seconds(s.start)), num(self.seconds(s.end)), s.frames)
                })
                .collect();
            return format!(r#"{{"frames": {}, "keyframes": {}, "requested": {}, "segments": [{}]}}"#, self.frames, self.keyframes, self.requested, segs.join(", "));
        }
        let mut out = format!("{} frames, {} keyframes: {} segments\n", self.frames, self.keyframes, self.segments.len());
        for s in &self.segments {
            let t = |v: Option<f64>, none: &str| v.map_or(none.to_string(), |x| format!("{x:.3} s"));
            out.push_str(&format!("segment {}/{}: {} to {}, {} frames\n", s.index, self.segments.len(), t(self.seconds(s.start), "start"), t(self.seconds(s.end), "end"), s.frames));
        }
        out
    }
}

fn not_video(path: &Path, reason: impl ToString) -> Error {
    Error::NotAVideo { path: path.to_path_buf(), reason: reason.to_string() }
}

/// Cuts `path` into at most `n` segments at keyframes, each about `1/n` of the duration. Fewer when the input
/// has fewer keyframes (the caller says so).
pub fn plan(path: &Path, n: usize) -> Result<Plan> {
    crate::media::av::init()?;
    if !path.exists() {
        return Err(Error::InputMissing { path: path.to_path_buf() });
    }
    let mut ictx = format::input(path).map_err(|e| not_video(path, e))?;
    let stream = ictx.streams().best(media::Type::Video).ok_or_else(|| not_video(path, "no video stream"))?;
    let (index, time_base) = (stream.index(), stream.time_base());
    let mut stamps: Vec<i64> = Vec::new();
    let mut keys: Vec<i64> = Vec::new();
    for (s, packet) in ictx.packets() {
        if s.index() != index {
            continue;
        }
        let Some(pts) = packet.pts().or(packet.dts()) else { continue };
        stamps.push(pts);
        if packet.is_key() {
            keys.push(pts);
        }
    }
    if stamps.is_empty() {
        return Err(Error::NoFrames { path: path.to_path_buf() });
    }
    stamps.sort_unstable();
    keys.sort_unstable();
    keys.dedup();
    let bounds = cut_points(&stamps, &keys, n.max(1));
    let mut segments = Vec::with_capacity(bounds.len() + 1);
    let ends: Vec<Option<i64>> = bounds.iter().copied().map(Some).chain(std::iter::once(None)).collect();
    let mut start = None;
    for (i, &end) in ends.iter().enumerate() {
        let frames = stamps.iter().filter(|&&p| start.is_none_or(|s| p >= s) && end.is_none_or(|e| p < e)).count() as u64;
        segments.push(Segment { index: i, start, end, frames });
        start = end;
    }
    Ok(Plan { time_base, frames: stamps.len() as u64, keyframes: keys.len(), requested: n, segments })
}

/// The keyframe timestamps where segments 1..n start: the keyframe nearest to each `i/n` of the duration,
/// none twice and none at the very first frame (segment 0 starts there).
fn cut_points(stamps: &[i64], keys: &[i64], n: usize) -> Vec<i64> {
    let (first, last) = (stamps[0], *stamps.last().expect("not empty"));
    let span = (last - first) as f64;
    let mut cuts: Vec<i64> = Vec::new();
    for i in 1..n {
        let target = first as f64 + span * i as f64 / n as f64;
        let Some(&k) = keys.iter().filter(|&&k| k > first).min_by(|a, b| (**a as f64 - target).abs().total_cmp(&(**b as f64 - target).abs())) else { break };
        if cuts.last().is_none_or(|&c| k > c) {
            cuts.push(k);
        }
    }
    cuts
}

/// Metadata keys a segment carries for `join`.
pub const KEY_SEGMENT: &str = "stylize_segment";
pub const KEY_RANGE: &str = "stylize_range";
pub const KEY_FRAMES: &str = "stylize_frames";
pub const KEY_MODEL: &str = "stylize_model";
pub const KEY_SOURCE: &str = "stylize_source";

/// The metadata of segment `seg` of `plan` of `source`, stylized with `model`.
pub fn segment_metadata(plan: &Plan, seg: &Segment, source: &Path, model: &str) -> Vec<(String, String)> {
    let bound = |v: Option<i64>| v.map_or("-".to_string(), |x| x.to_string());
    vec![
        (KEY_SEGMENT.into(), format!("{}/{}", seg.index, plan.segments.len())),
        (KEY_RANGE.into(), format!("{}:{}", bound(seg.start), bound(seg.end))),
        (KEY_FRAMES.into(), seg.frames.to_string()),
        (KEY_MODEL.into(), model.to_string()),
        (KEY_SOURCE.into(), source.file_name().unwrap_or_default().to_string_lossy().to_string()),
    ]
}

/// A segment file as `join` reads it.
struct Part {
    path: PathBuf,
    ictx: format::context::Input,
    video: usize,
    index: usize,
    count: usize,
    range: String,
    frames: u64,
    model: String,
    source: String,
}

fn open_part(path: &Path) -> Result<Part> {
    let bad = |reason: String| Error::Invalid(format!("segment {}: {reason}", path.display()));
    if !path.exists() {
        return Err(bad("not found; stylize it again (stylize video --segment K/N)".into()));
    }
    let ictx = format::input(path).map_err(|e| bad(format!("unreadable ({e}); stylize it again")))?;
    let meta = ictx.metadata().to_owned();
    let get = |k: &str| meta.get(k).map(str::to_string).ok_or_else(|| bad(format!("has no {k} tag: not a segment written by stylize video --segment")));
    let seg = get(KEY_SEGMENT)?;
    let (index, count) = seg.split_once('/').and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?))).ok_or_else(|| bad(format!("bad {KEY_SEGMENT} tag {seg:?}")))?;
    let frames = get(KEY_FRAMES)?.parse().map_err(|_| bad("bad frame count tag".into()))?;
    let (range, model, source) = (get(KEY_RANGE)?, get(KEY_MODEL)?, get(KEY_SOURCE)?);
    let video = ictx.streams().best(media::Type::Video).ok_or_else(|| bad("has no video".into()))?.index();
    Ok(Part { path: path.to_path_buf(), ictx, video, index, count, range, frames, model, source })
}

/// What `join` wrote.
pub struct Joined {
    pub output: PathBuf,
    pub segments: usize,
    pub frames: u64,
    pub audio_packets: u64,
}

/// Joins `segments` (any order) into `output` without re-encoding, with the audio, metadata and rotation of
/// `source`. Every problem (a missing, doubled, incomplete or foreign segment) is an error naming it; nothing
/// is written then.
pub fn join(segments: &[PathBuf], source: &Path, output: &Path) -> Result<Joined> {
    crate::media::av::init()?;
    let mut parts = segments.iter().map(|p| open_part(p)).collect::<Result<Vec<_>>>()?;
    if parts.is_empty() {
        return Err(Error::Invalid("no segments to join".into()));
    }
    parts.sort_by_key(|p| p.index);
    let count = parts[0].count;
    for p in &parts {
        let other = &parts[0];
        let differs = |what: &str, a: &str, b: &str| Error::Invalid(format!("segment {} was made {what} {a}, segment {} {what} {b}: stylize every segment the same way", p.path.display(), other.path.display()));
        if p.count != count {
            return Err(differs("as one of", &p.count.to_string(), &count.to_string()));
        }
        if p.model != other.model {
            return Err(differs("with model", &p.model, &other.model));
        }
        if p.source != other.source {
            return Err(differs("from", &p.source, &other.source));
        }
        let (a, b) = (p.ictx.stream(p.video).expect("video").parameters(), other.ictx.stream(other.video).expect("video").parameters());
        let shape = |c: &codec::Parameters| unsafe { ((*c.as_ptr()).codec_id, (*c.as_ptr()).width, (*c.as_ptr()).height) };
        if shape(&a) != shape(&b) {
            return Err(Error::Invalid(format!("segment {} has another codec or frame size than {}: stylize every segment the same way", p.path.display(), other.path.display())));
        }
    }
    for pair in parts.windows(2) {
        if pair[0].index == pair[1].index {
            return Err(Error::Invalid(format!("segment {}/{count} is given twice ({} and {})", pair[0].index, pair[0].path.display(), pair[1].path.display())));
        }
    }
    let have: Vec<usize> = parts.iter().map(|p| p.index).collect();
    if let Some(missing) = (0..count).find(|k| !have.contains(k)) {
        return Err(Error::Invalid(format!("segment {missing}/{count} is missing: stylize it (stylize video --segment {missing}/{count} ...) and join again")));
    }
    // Neighbours must meet: one's end is the next one's start.
    for pair in parts.windows(2) {
        let end = pair[0].range.split_once(':').map(|(_, e)| e);
        let start = pair[1].range.split_once(':').map(|(s, _)| s);
        if end != start {
            return Err(Error::Invalid(format!("segments {} and {} do not meet (ranges {} and {}): they come from different plans; stylize them with the same N", pair[0].path.display(), pair[1].path.display(), pair[0].range, pair[1].range)));
        }
    }
    let src_name = source.file_name().unwrap_or_default().to_string_lossy().to_string();
    if parts[0].source != src_name {
        return Err(Error::Invalid(format!("the segments were cut from {}, not {}", parts[0].source, source.display())));
    }

    if !source.exists() {
        return Err(Error::InputMissing { path: source.to_path_buf() });
    }
    let mut src = format::input(source).map_err(|e| not_video(source, e))?;
    let pending = PendingOutput::new(output, &[source])?;
    let mut octx = format::output(pending.path()).map_err(|e| Error::output(output, format!("unsupported container ({e}); use .mp4, .mkv or .mov")))?;
    let in_video = parts[0].ictx.stream(parts[0].video).expect("video");
    let seg_tb = in_video.time_base();
    let src_video = src.streams().best(media::Type::Video).map(|s| s.index());
    {
        let mut ost = octx.add_stream(encoder::find(codec::Id::None)).map_err(|e| Error::output(output, e))?;
        ost.set_parameters(in_video.parameters());
        unsafe { (*(*ost.as_mut_ptr()).codecpar).codec_tag = 0 };
        ost.set_time_base(seg_tb);
        ost.set_avg_frame_rate(in_video.avg_frame_rate());
        if let Some(sv) = src_video.and_then(|i| src.stream(i)) {
            ost.set_metadata(sv.metadata().to_owned());
            crate::media::av::copy_display_matrix(&sv, &mut ost);
        }
    }
    let mut audio_map = vec![None; src.nb_streams() as usize];
    for ist in src.streams() {
        if ist.parameters().medium() != media::Type::Audio {
            continue;
        }
        let mut ost = octx.add_stream(encoder::find(codec::Id::None)).map_err(|e| Error::output(output, e))?;
        ost.set_parameters(ist.parameters());
        unsafe { (*(*ost.as_mut_ptr()).codecpar).codec_tag = 0 };
        ost.set_time_base(ist.time_base());
        ost.set_metadata(ist.metadata().to_owned());
        audio_map[ist.index()] = Some((ost.index(), ist.time_base()));
    }
    octx.set_metadata(src.metadata().to_owned());
    crate::media::encode::write_header(&mut octx, &crate::media::encode::EncodeOptions::default()).map_err(|e| Error::output(output, format!("cannot write the header ({e})")))?;
    let out_video_tb = octx.stream(0).expect("video").time_base();

    // Video packets segment by segment and the source's audio packets, merged by time so the muxer never holds
    // more than a moment of either (a film's worth of video would otherwise wait for its audio).
    let write = |octx: &mut format::context::Output, mut p: Packet, from: Rational, to: Rational, index: usize| -> Result<()> {
        p.rescale_ts(from, to);
        p.set_stream(index);
        p.set_position(-1);
        p.write_interleaved(octx).map_err(|e| crate::media::av::write_err(output, e))
    };
    let secs = |p: &Packet, tb: Rational| p.dts().or(p.pts()).map_or(f64::NEG_INFINITY, |t| t as f64 * f64::from(tb));
    let mut next_audio = || -> Option<(Packet, usize, Rational)> {
        loop {
            let mut p = Packet::empty();
            p.read(&mut src).ok()?;
            if let Some(Some((out, tb))) = audio_map.get(p.stream()).copied() {
                return Some((p, out, tb));
            }
        }
    };
    let mut audio = next_audio();
    let (mut frames, mut audio_packets) = (0u64, 0u64);
    for part in &mut parts {
        let mut got = 0u64;
        let mut p = Packet::empty();
        while p.read(&mut part.ictx).is_ok() {
            if p.stream() != part.video {
                continue;
            }
            let t = secs(&p, seg_tb);
            while let Some((a, out, tb)) = audio.take() {
                if secs(&a, tb) > t {
                    audio = Some((a, out, tb));
                    break;
                }
                let out_tb = octx.stream(out).expect("audio").time_base();
                write(&mut octx, a, tb, out_tb, out)?;
                audio_packets += 1;
                audio = next_audio();
            }
            write(&mut octx, std::mem::replace(&mut p, Packet::empty()), seg_tb, out_video_tb, 0)?;
            got += 1;
        }
        if got != part.frames {
            return Err(Error::Invalid(format!("segment {} is incomplete ({got} of its {} frames): stylize it again", part.path.display(), part.frames)));
        }
        frames += got;
    }
    while let Some((a, out, tb)) = audio.take() {
        let out_tb = octx.stream(out).expect("audio").time_base();
        write(&mut octx, a, tb, out_tb, out)?;
        audio_packets += 1;
        audio = next_audio();
    }
    octx.write_trailer().map_err(|e| crate::media::av::write_err(output, e))?;
    Ok(Joined { output: pending.commit()?, segments: parts.len(), frames, audio_packets })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_fall_on_keyframes_near_equal_shares() {
        let stamps: Vec<i64> = (0..100).collect();
        let keys = [0, 10, 20, 30, 45, 50, 60, 70, 80, 90];
        // Targets 24.75, 49.5 and 74.25: the nearest keyframes are 20, 50 and 70.
        assert_eq!(cut_points(&stamps, &keys, 4), vec![20, 50, 70]);
        // More segments than keyframes: one per keyframe at most.
        assert_eq!(cut_points(&stamps, &[0, 50], 8), vec![50]);
        assert_eq!(cut_points(&stamps, &[0], 3), Vec::<i64>::new());
    }
}
