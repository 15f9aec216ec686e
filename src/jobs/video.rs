//! One video job: a file, stream or image sequence through the pipeline into an output, with the options of
//! `stylize video` ([`VideoArgs`]); a segment of it when a plan says so. The engines are loaded on first use
//! and kept for the next file of a batch.

use std::path::Path;

use crate::args::{EngineArgs, VideoArgs};
use crate::effects::Effects;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::jobs::batch::style_name;
use crate::jobs::pipeline::{transcode, Summary, TranscodeOptions};
use crate::jobs::segment::{self, Plan};
use crate::media::decode::{InputOptions, SizeRequest, VideoSource, Watch};
use crate::media::encode::{EncodeOptions, StreamOptions, AUTO_PRESET};
use crate::media::target;

/// The engines of a batch: one set for frames up to 1080p (several frames at once) and one for larger frames
/// (one at a time), each loaded when a file first needs it.
#[derive(Default)]
pub struct VideoEngines {
    sets: [Option<Vec<Engine>>; 2],
}

/// What a video job stylizes: the model and how, for the files of one command.
pub struct VideoJob<'a> {
    pub model: &'a str,
    pub video: &'a VideoArgs,
    pub effects: Effects,
    pub engine: &'a EngineArgs,
    /// Stops the job and counts its frames from outside (the Python package's transcode).
    pub watch: Option<Watch>,
}

impl VideoJob<'_> {
    /// Stylizes `input` into `output`, or only segment `k` of `plan`.
    pub fn run(&self, input: &Path, output: &Path, engines: &mut VideoEngines, segment: Option<(&Plan, usize)>) -> Result<Summary> {
        let video = self.video;
        let plain_file = |p: &Path| !target::is_url(&p.to_string_lossy()) && !target::is_sequence(p);
        if plain_file(input) && !input.exists() {
            return Err(Error::InputMissing { path: input.to_path_buf() });
        }
        if plain_file(input) && plain_file(output) {
            crate::output::check_not_input(output, &[input])?;
        }
        let mut source = VideoSource::open_with(input, SizeRequest { scale: video.scale, size: video.size }, InputOptions { sequence_fps: video.fps, ..Default::default() })?;
        if let Some(watch) = &self.watch {
            source.set_watch(watch.clone());
        }
        let mut metadata = Vec::new();
        let mut preset = video.preset.clone();
        if let Some((plan, k)) = segment {
            let seg = &plan.segments[k];
            source.set_range(seg.start, seg.end, seg.frames)?;
            metadata = segment::segment_metadata(plan, seg, input, &style_name(self.model));
            // Segments stylized on different machines must be encoded alike to be joined without re-encoding.
            if preset == AUTO_PRESET {
                preset = "veryfast".into();
            }
        }
        let by_duration = video.duration.map(|d| (d * f64::from(source.info().frame_rate)).ceil().max(1.0) as u64);
        let max_frames = match (video.frames, by_duration) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        // Each frame stylized at once holds its own activations (the full net: ~1.8 GB at 1920x1080), so frames
        // larger than 1080p go one at a time unless asked otherwise.
        let (width, height) = (source.info().out_width, source.info().out_height);
        let big = u64::from(width) * u64::from(height) > 1920 * 1088 && video.parallel_frames.is_none();
        let set = &mut engines.sets[usize::from(big)];
        let engines = match set {
            Some(loaded) => loaded,
            None => set.insert(self.engine.load_stylizers(self.model, video.parallel_frames.or(big.then_some(1)))?),
        };
        let opts = TranscodeOptions {
            encode: EncodeOptions { codec: video.codec.clone(), crf: video.crf, preset, faststart: !video.no_faststart, metadata, ..EncodeOptions::default() },
            keep_partial: video.keep_partial,
            quiet: self.engine.quiet,
            max_frames,
            effects: self.effects,
            stream: StreamOptions { bitrate_kbps: video.bitrate, keyframe_seconds: video.keyframe_seconds },
            temporal: video.temporal,
        };
        transcode(engines, source, output, &opts)
    }
}
