//! One image job: a photo through the engine into an output file, with its colour profile kept.

use std::path::Path;
use std::time::Instant;

use crate::effects::Effects;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::media::images;

/// Stylizes `input` into `dest`; returns the line to print (`a.jpg -> b.png (WxH, N ms)`). Notes on the input
/// (a 16-bit PNG made 8-bit, ...) go to standard error unless `quiet`.
pub fn stylize_image(engine: &mut Engine, input: &Path, dest: &Path, effects: Effects, quiet: bool) -> Result<String> {
    let loaded = images::load(input)?;
    let original = loaded.frame;
    let mut frame = original.clone();
    let t = Instant::now();
    engine.stylize(&mut frame).map_err(|e| Error::Invalid(format!("stylizing {}: {e}", input.display())))?;
    if crate::stop::interrupted() {
        return Err(Error::Interrupted(String::new()));
    }
    effects.apply(&original, &mut frame);
    let took = t.elapsed();
    images::save_with_profile(&frame, dest, &[input], loaded.icc_profile.as_deref())?;
    if !quiet {
        for note in &loaded.notes {
            eprintln!("note: {}: {note}", input.display());
        }
    }
    let tiled = engine.tiling_note().map(|t| format!("; {t}")).unwrap_or_default();
    Ok(format!("{} -> {} ({}x{}, {:.0} ms{tiled})", input.display(), dest.display(), frame.width, frame.height, took.as_secs_f64() * 1e3))
}
