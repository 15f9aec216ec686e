//! Finding models: `--models-dir`, the models installed beside the binary (`PREFIX/share/stylize/models` for
//! `PREFIX/bin/stylize`), the user's own (`$XDG_DATA_HOME/stylize/models`) and a checkout's `onnx/`; names or
//! paths; model cards.

use std::path::{Path, PathBuf};

/// The model `stylize demo` (and live, serve, flicker without -m) uses: of the shipped models, the one that
/// keeps the demo clip most recognisable at 640x360 while clearly painted (candy turns the rabbit into red blobs).
pub const DEFAULT_MODEL: &str = "mosaic";

/// One model file, the summary line of its model card (`<name>.md` beside it), and why it is unusable, if it is.
#[derive(Debug, Clone)]
pub struct ModelEntry {
    pub name: String,
    pub path: PathBuf,
    pub summary: Option<String>,
    pub broken: Option<String>,
    /// Its INT8 version (`NAME-int8.onnx` beside it), listed with it rather than as a model of its own.
    pub int8: Option<PathBuf>,
}

/// Models that come with a package of the library (the Python wheel's), looked in last.
static PACKAGED: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Sets the folder of models that came with the package embedding the library (once; later calls are ignored).
pub fn set_packaged_dir(dir: PathBuf) {
    let _ = PACKAGED.set(dir);
}

/// Every folder where models are looked for, in order, with what it is: `extra` (`--models-dir`), the
/// installed models beside the binary, the user's models, then `onnx/` in the working directory and in the
/// checkout the binary was built in, then the package's ([`set_packaged_dir`]). Folders that do not exist are
/// included (to say where we looked).
pub fn search_path(extra: Option<&Path>) -> Vec<(&'static str, PathBuf)> {
    let mut dirs: Vec<(&'static str, PathBuf)> = extra.into_iter().map(|p| ("--models-dir", p.to_path_buf())).collect();
    if let Some(prefix) = install_prefix() {
        dirs.push(("installed", prefix.join("share/stylize/models")));
    }
    if let Some(user) = stylize_model::paths::user_models_dir() {
        dirs.push(("yours", user));
    }
    dirs.push(("working folder", PathBuf::from("onnx")));
    if let Some(exe) = std::env::current_exe().ok().and_then(|e| std::fs::canonicalize(e).ok()) {
        // CHECKOUT/target/{debug,release}/stylize -> CHECKOUT/onnx/
        let checkout = exe.ancestors().skip(1).take(3).find(|d| d.join("Cargo.toml").is_file());
        dirs.extend(checkout.map(|d| ("checkout", d.join("onnx"))));
    }
    dirs.extend(PACKAGED.get().map(|d| ("package", d.clone())));
    let mut seen = Vec::new();
    dirs.retain(|(_, d)| {
        let key = std::fs::canonicalize(d).unwrap_or_else(|_| d.clone());
        let new = !seen.contains(&key);
        seen.push(key);
        new
    });
    dirs
}

/// The folders searched for models that exist, in order.
pub fn model_dirs(extra: Option<&Path>) -> Vec<PathBuf> {
    search_path(extra).into_iter().map(|(_, d)| d).filter(|d| d.is_dir()).collect()
}

/// `PREFIX` for a binary installed as `PREFIX/bin/stylize` (links followed): where its library (`lib/stylize`),
/// models and demo clip (`share/stylize`) are.
pub fn install_prefix() -> Option<PathBuf> {
    let exe = std::fs::canonicalize(std::env::current_exe().ok()?).ok()?;
    Some(exe.parent()?.parent()?.to_path_buf())
}

/// A file installed beside the binary (`PREFIX/share/stylize/NAME`), if it is there.
pub fn installed_file(name: &str) -> Option<PathBuf> {
    Some(install_prefix()?.join("share/stylize").join(name)).filter(|p| p.is_file())
}

/// The `.onnx` files in `dir`, sorted.
pub fn model_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == "onnx")).collect();
    files.sort();
    Ok(files)
}

/// Where `scripts/quantize.sh` puts the INT8 version of `model`: `NAME-int8.onnx` beside `NAME.onnx`.
pub fn int8_sibling(model: &Path) -> PathBuf {
    let stem = model.file_stem().unwrap_or_default().to_string_lossy();
    model.with_file_name(format!("{stem}-int8.onnx"))
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
        let Ok(files) = model_files(&dir) else { continue };
        for path in &files {
            let name = path.file_stem().unwrap_or_default().to_string_lossy().to_string();
            if name.strip_suffix("-int8").is_some_and(|float| files.contains(&dir.join(format!("{float}.onnx")))) {
                continue;
            }
            let path = path.clone();
            let int8 = Some(int8_sibling(&path)).filter(|p| files.contains(p));
            let summary = std::fs::read_to_string(path.with_extension("md")).ok().and_then(|card| card_summary(&card));
            let broken = match std::fs::read(&path) {
                Ok(bytes) => stylize_model::onnx::check_model_file(&bytes).err().map(|e| e.to_string()),
                Err(e) => Some(e.to_string()),
            };
            out.push(ModelEntry { name, path, summary, broken, int8 });
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

    #[test]
    fn int8_sibling_sits_beside_the_float_model() {
        assert_eq!(int8_sibling(Path::new("onnx/candy-lite.onnx")), PathBuf::from("onnx/candy-lite-int8.onnx"));
        assert_eq!(int8_sibling(Path::new("m.onnx")), PathBuf::from("m-int8.onnx"));
    }

    #[test]
    fn int8_versions_are_listed_with_their_float_model() {
        let dir = std::env::temp_dir().join(format!("stylize-models-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["a.onnx", "a-int8.onnx", "b-int8.onnx"] {
            std::fs::write(dir.join(f), b"not a model").unwrap();
        }
        let ours: Vec<ModelEntry> = list(Some(&dir)).into_iter().filter(|m| m.path.starts_with(&dir)).collect();
        std::fs::remove_dir_all(&dir).unwrap();
        let names: Vec<&str> = ours.iter().map(|m| m.name.as_str()).collect();
        // An INT8 file without its float model is a model of its own.
        assert_eq!(names, ["a", "b-int8"]);
        assert_eq!(ours[0].int8.as_deref(), Some(dir.join("a-int8.onnx").as_path()));
        assert_eq!(ours[1].int8, None);
    }
}
