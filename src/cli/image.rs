//! `stylize image`: photos, one or a batch, through one engine.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use stylize::args::EngineArgs;
use stylize::jobs::batch::{self, style_name};
use stylize::jobs::image::stylize_image;
use stylize::media::images;
use stylize::stop::interrupted;
use stylize::Effects;

/// `stylize image`: one image into `output`, or many files and folders into the folder `output`.
pub fn run(model: &str, inputs: &[PathBuf], output: Option<&Path>, skip_existing: bool, effects: Effects, args: &EngineArgs) -> Result<()> {
    let files = batch::expand(inputs, batch::IMAGE_EXTENSIONS)?;
    let is_batch = files.len() > 1 || inputs.iter().any(|p| p.is_dir());
    // Fail on a bad output before the (slow) model load.
    let out_is_dir = output.is_some_and(batch::is_folder);
    if let Some(o) = output.filter(|_| is_batch && !out_is_dir) {
        bail!("{} inputs need an output directory, and {} is not one", files.len(), o.display());
    }
    if let Some(o) = output.filter(|_| !out_is_dir) {
        images::output_format(o)?;
    }
    if let Some(o) = output.filter(|_| out_is_dir) {
        if !o.is_dir() {
            bail!("output directory {} does not exist; create it first", o.display());
        }
    }
    let mut engine = args.load(model)?;
    let style = style_name(model);
    let mut report = batch::Report::default();
    for input in &files {
        if interrupted() {
            return Err(report.stopped(files.len(), "images").into());
        }
        let dest = match output {
            Some(o) if !out_is_dir => o.to_path_buf(),
            dir => {
                let ext = match input.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).as_deref() {
                    Some("jpg" | "jpeg") => "jpg",
                    _ => "png",
                };
                batch::output_in(dir.unwrap_or(Path::new(".")), input, &style, ext)
            }
        };
        if skip_existing && dest.exists() {
            report.skip(input, &dest);
            continue;
        }
        match stylize_image(&mut engine, input, &dest, effects, args.quiet) {
            Ok(line) => {
                report.done += 1;
                println!("{line}");
            }
            Err(_) if interrupted() => return Err(report.stopped(files.len(), "images").into()),
            Err(e) if !is_batch => return Err(e.into()),
            Err(e) => report.fail(input, format!("{e:#}")),
        }
    }
    if is_batch {
        println!("{}", report.line("image"));
    }
    Ok(report.result("images")?)
}
