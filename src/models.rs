//! Finding models: the `onnx/` folder of the checkout (or `--models-dir`), names or paths, model cards.

use std::path::{Path, PathBuf};

/// The model `stylize demo` uses.
pub const DEFAULT_MODEL: &str = "candy";

/// One model file and the summary line of its model card (`<name>.md` beside it).
#[derive(Debug, Clone)]
pub struct ModelEntry {
    pub name: String,
    pub path: PathBuf,
    pub summary: Option<String>,
}

/// The folders searched for models: `extra` first, then `onnx/` in the working directory and the checkout.
pub fn model_dirs(extra: Option<&Path>) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = extra.into_iter().map(Path::to_path_buf).collect();
    dirs.push(PathBuf::from("onnx"));
    if let Ok(exe) = std::env::current_exe() {
        // target/{debug,release}/stylize -> the checkout's onnx/
        dirs.extend(exe.ancestors().skip(1).take(3).map(|d| d.join("onnx")));
    }
    let mut seen = Vec::new();
    dirs.retain(|d| {
        let key = std::fs::canonicalize(d).unwrap_or_else(|_| d.clone());
        let new = d.is_dir() && !seen.contains(&key);
        seen.push(key);
        new
    });
    dirs
}

/// A `-m` argument: a path to an `.onnx` file, or the name of a model in the model folders.
pub fn resolve(arg: &str, extra: Option<&Path>) -> PathBuf {
    let path = PathBuf::from(arg);
    if path.exists() || arg.contains('/') || arg.ends_with(".onnx") {
        return path;
    }
    model_dirs(extra).into_iter().map(|d| d.join(format!("{arg}.onnx"))).find(|p| p.is_file()).unwrap_or(path)
}

pub fn list(extra: Option<&Path>) -> Vec<ModelEntry> {
    let mut out = Vec::new();
    for dir in model_dirs(extra) {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == "onnx")).collect();
        files.sort();
        for path in files {
            let name = path.file_stem().unwrap_or_default().to_string_lossy().to_string();
            let summary = std::fs::read_to_string(path.with_extension("md")).ok().and_then(|card| card_summary(&card));
            out.push(ModelEntry { name, path, summary });
        }
    }
    out
}

/// The first line of prose in a model card (headings, images and tables skipped).
pub fn card_summary(card: &str) -> Option<String> {
    card.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!') && !l.starts_with('|') && !l.starts_with("<"))
        .map(|l| l.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_is_first_prose_line() {
        let card = "# Candy\n\n![style](x.jpg)\n\nBright candy colours, full Johnson net.\n\nMore.";
        assert_eq!(card_summary(card).as_deref(), Some("Bright candy colours, full Johnson net."));
        assert_eq!(card_summary("# Only a title\n"), None);
    }
}
