//! Where the runtimes' libraries and the models are, seen from the plugin file: GStreamer loads the plugin
//! into any program (gst-launch-1.0, a Python app, OBS), so the program's own location says nothing.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

static PLUGIN: OnceLock<PathBuf> = OnceLock::new();

pub fn remember_plugin(file: PathBuf) {
    let file = std::fs::canonicalize(&file).unwrap_or(file);
    if let Some(models) = models_near(&file) {
        stylize::models::set_packaged_dir(models);
    }
    let _ = PLUGIN.set(file);
}

/// The first existing path of `relative` in the folders above the plugin (an install prefix, a checkout).
fn near(relative: &[&str]) -> Option<PathBuf> {
    let plugin = PLUGIN.get()?;
    plugin.ancestors().skip(1).take(5).flat_map(|dir| relative.iter().map(move |r| dir.join(r))).find(|p| p.exists())
}

/// `libonnxruntime.so` shipped with the install (`PREFIX/lib/stylize/`) or set up in the checkout (`.deps/`).
pub fn ort_lib() -> Option<PathBuf> {
    let dir = near(&["lib/stylize", ".deps/onnxruntime/lib"])?;
    let mut libs: Vec<PathBuf> = std::fs::read_dir(&dir).ok()?.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("libonnxruntime.so"))).collect();
    libs.sort();
    libs.into_iter().next()
}

/// OpenVINO's folder shipped with the install or set up in the checkout.
pub fn openvino_lib() -> Option<PathBuf> {
    near(&["lib/stylize/openvino", ".deps/openvino/lib"])
}

fn models_near(plugin: &Path) -> Option<PathBuf> {
    plugin.ancestors().skip(1).take(5).flat_map(|dir| [dir.join("share/stylize/models"), dir.join("onnx")]).find(|p| p.is_dir())
}
