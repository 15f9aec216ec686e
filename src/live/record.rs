//! Recording to a file (`--record`, R): an MP4 whose timestamps are capture times.

use super::*;

/// An MP4 being recorded: timestamps are capture times (milliseconds), so dropped frames keep real time.
pub(super) struct Recorder {
    pub(super) pending: PendingOutput,
    pub(super) sink: VideoSink,
    pub(super) start: Option<Instant>,
    pub(super) last_pts: i64,
    pub(super) frames: u64,
}

impl Recorder {
    pub(super) fn start(dest: &Path, info: &SourceInfo) -> Result<Recorder> {
        let pending = PendingOutput::new(dest, &[])?;
        // Recording happens beside a stylizer that is already using the CPU in real time: the cheapest preset.
        let opts = EncodeOptions { preset: "ultrafast".into(), ..EncodeOptions::default() };
        let sink = VideoSink::create_plain(pending.path(), dest, info.width as u32, info.height as u32, info.rate, Rational(1, 1000), &opts)?;
        Ok(Recorder { pending, sink, start: None, last_pts: -1, frames: 0 })
    }

    pub(super) fn push(&mut self, frame: &Frame, at: Instant) -> Result<()> {
        let start = *self.start.get_or_insert(at);
        let pts = (at.saturating_duration_since(start).as_millis() as i64).max(self.last_pts + 1);
        self.last_pts = pts;
        self.frames += 1;
        self.sink.push_frame(frame, Some(pts))
    }

    /// Writes the trailer and moves the file into place.
    pub(super) fn finish(self) -> Result<(PathBuf, u64)> {
        let frames = self.frames;
        self.sink.finish()?;
        Ok((self.pending.commit()?, frames))
    }
}

/// Where the next recording goes: `--record` first, then numbered variants of it, or one in the snapshot folder.
pub(super) fn recording_path(args: &LiveArgs, n: u32) -> PathBuf {
    match &args.record {
        Some(p) if n == 1 => p.clone(),
        Some(p) => {
            let stem = p.file_stem().unwrap_or_default().to_string_lossy();
            let ext = p.extension().map_or("mp4".into(), |e| e.to_string_lossy());
            p.with_file_name(format!("{stem}-{n}.{ext}"))
        }
        None => args.snapshot_dir.join(format!("stylize-{}.mp4", unix_millis())),
    }
}

pub(super) fn unix_millis() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or_default()
}
