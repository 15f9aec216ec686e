//! `stylize video`: a file, a stream or a batch of files through the pipeline, one model load for all.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Result};
use stylize::args::{EngineArgs, VideoArgs};
use stylize::jobs::batch::style_name;
use stylize::jobs::video::{VideoEngines, VideoJob};
use stylize::jobs::{batch, segment};
use stylize::stop::interrupted;
use stylize::Effects;

/// `stylize video`: one file into `output`, or many files and folders into the folder `output` with the model
/// loaded once (a broken file is reported and the others go on).
pub fn run(model: &str, inputs: &[PathBuf], output: &Path, video: &VideoArgs, effects: Effects, args: &EngineArgs) -> Result<()> {
    let files = batch::expand(inputs, batch::VIDEO_EXTENSIONS)?;
    let is_batch = files.len() > 1 || inputs.iter().any(|p| p.is_dir());
    if video.segment.is_some() && is_batch {
        bail!("--segment takes one input ({} given)", files.len());
    }
    let plan = match video.segment {
        Some((k, n)) => {
            let plan = segment::plan(&files[0], n)?;
            if k >= plan.segments.len() {
                // A job system started N workers; this one has nothing to do, which is not an error.
                println!("segment {k}/{n} is empty: {} cuts into {} segments at its {} keyframes; nothing written", files[0].display(), plan.segments.len(), plan.keyframes);
                return Ok(());
            }
            Some((plan, k))
        }
        None => None,
    };
    if is_batch && !batch::is_folder(output) {
        bail!("{} inputs need an output folder (-o out_dir/), and {} is not one", files.len(), output.display());
    }
    if is_batch && !output.is_dir() {
        bail!("output directory {} does not exist; create it first", output.display());
    }
    let style = style_name(model);
    let job = VideoJob { model, video, effects, engine: args, watch: None };
    let mut engines = VideoEngines::default();
    let mut report = batch::Report::default();
    let start = Instant::now();
    for input in &files {
        if interrupted() {
            return Err(report.stopped(files.len(), "videos").into());
        }
        let dest = if is_batch { batch::output_in(output, input, &style, batch::video_extension(input)) } else { output.to_path_buf() };
        if video.skip_existing && dest.exists() {
            report.skip(input, &dest);
            continue;
        }
        match job.run(input, &dest, &mut engines, plan.as_ref().map(|(p, k)| (p, *k))) {
            Ok(summary) => {
                report.done += 1;
                if !args.quiet {
                    for note in &summary.notes {
                        eprintln!("note: {}: {note}", input.display());
                    }
                }
                println!("{} -> {}: {}", input.display(), summary.output.display(), summary.line());
            }
            Err(e) if !is_batch || interrupted() => return Err(e.into()),
            Err(e) => report.fail(input, format!("{e:#}")),
        }
    }
    if is_batch {
        println!("{} in {:.1} s", report.line("video"), start.elapsed().as_secs_f64());
    }
    Ok(report.result("videos")?)
}
