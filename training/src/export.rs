//! `stylize-train export RUN_DIR -o model.onnx`: the run's transformer through the shared ONNX
//! writer (`stylize_model::onnx`), with metadata. Reads the checkpoint without libtorch.

use std::path::Path;

use anyhow::{Context, Result};
use stylize_model::{check_weights, meta, onnx};

use crate::ckpt;
use crate::io::write_atomic;

/// The metadata written into an exported model: `stylize_model::meta::standard` (range, style,
/// arch, spec) plus `stylize.iterations`, `stylize.content_size`, `stylize.loss_*`, `stylize.date`, ...
pub fn metadata(state: &ckpt::RunState) -> Vec<(String, String)> {
    let names = if state.styles.is_empty() { vec![state.style_name.clone()] } else { state.styles.clone() };
    let mut m = meta::standard_multi(&state.spec, &names);
    let l = state.losses;
    let extra = [
        ("arch_name", state.arch.clone()),
        ("iterations", state.iteration.to_string()),
        ("content_size", state.size.to_string()),
        ("batch", state.batch.to_string()),
        ("loss_total", format!("{:.6}", l.total)),
        ("loss_content", format!("{:.6}", l.content)),
        ("loss_style", format!("{:.6}", l.style)),
        ("loss_tv", format!("{:.6}", l.tv)),
        ("loss_weights", format!(
            "content={} style={} tv={}{}{} (scale-free terms, see training/README.md)",
            state.weights.content,
            state.weights.style,
            state.weights.tv,
            if state.weights.stability > 0.0 { format!(" stability={}", state.weights.stability) } else { String::new() },
            state.weights.style_layers.map_or(String::new(), |l| format!(" style_layers={},{},{},{}", l[0], l[1], l[2], l[3]))
        )),
        ("content_images", state.content_images.to_string()),
        ("style_image", state.style.clone()),
        ("init", state.init.join(",")),
        ("train_seconds", format!("{:.0}", state.elapsed_s)),
        ("train_device", state.device.clone()),
        ("trainer", state.trainer.clone()),
        ("date", crate::io::utc_now()),
    ];
    for (k, v) in extra {
        let k = format!("stylize.{k}");
        if !v.is_empty() && !m.iter().any(|(mk, _)| *mk == k) {
            m.push((k, v));
        }
    }
    m
}

/// Exports the latest checkpoint of `run` to `out` (written atomically).
pub fn export(run: &Path, out: &Path) -> Result<ckpt::RunState> {
    let (state, weights) = ckpt::model_weights(run).with_context(|| format!("reading the checkpoint of {}", run.display()))?;
    check_weights(&state.spec, &weights)?;
    let bytes = onnx::johnson_to_onnx(&state.spec, &weights, &metadata(&state))?;
    write_atomic(out, &bytes)?;
    Ok(state)
}
