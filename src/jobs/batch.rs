//! Batches: many inputs (files and folders) through one loaded model, each into an output folder. One broken
//! file does not stop the others; the report says what was done and what failed, and why.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Extensions of the images `stylize image` takes from a folder.
pub const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg"];
/// Extensions of the videos `stylize video` takes from a folder.
pub const VIDEO_EXTENSIONS: &[&str] = &["mp4", "mkv", "mov", "m4v", "avi", "webm", "ts", "flv", "gif", "mpg", "mpeg", "wmv"];

/// Whether `output` names a folder: an existing one, or a path ending in `/`.
pub fn is_folder(output: &Path) -> bool {
    output.is_dir() || output.as_os_str().to_string_lossy().ends_with('/')
}

/// The files of `inputs`: files as given, folders replaced by their files with one of `extensions` (sorted,
/// not recursive). A folder without any is an error naming it.
pub fn expand(inputs: &[PathBuf], extensions: &[&str]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for input in inputs {
        if !input.is_dir() {
            out.push(input.clone());
            continue;
        }
        let entries = std::fs::read_dir(input).map_err(|e| Error::InputUnreadable { path: input.clone(), reason: e.to_string() })?;
        let mut files: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file() && p.extension().is_some_and(|e| extensions.contains(&e.to_string_lossy().to_ascii_lowercase().as_str())))
            .collect();
        if files.is_empty() {
            return Err(Error::Invalid(format!("folder {} has no files ending in .{}", input.display(), extensions.join(", ."))));
        }
        files.sort();
        out.extend(files);
    }
    Ok(out)
}

/// `DIR/STEM-STYLE.EXT`: the output of `input` in a batch, with `ext` chosen by the caller.
pub fn output_in(dir: &Path, input: &Path, style: &str, ext: &str) -> PathBuf {
    let stem = input.file_stem().unwrap_or_default().to_string_lossy();
    dir.join(format!("{stem}-{style}.{ext}"))
}

/// The container a batch writes a video into: the input's when our H.264 fits it (MP4, MKV, MOV), else MP4.
pub fn video_extension(input: &Path) -> &'static str {
    match input.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).as_deref() {
        Some("mkv") => "mkv",
        Some("mov") => "mov",
        _ => "mp4",
    }
}

/// What a batch did.
#[derive(Debug, Default)]
pub struct Report {
    pub done: usize,
    pub skipped: usize,
    pub failed: Vec<PathBuf>,
}

impl Report {
    /// Counts an input left out because its output exists (`--skip-existing`), and says so.
    pub fn skip(&mut self, input: &Path, dest: &Path) {
        self.skipped += 1;
        println!("{} -> {} (exists, skipped)", input.display(), dest.display());
    }

    /// Counts an input that failed in a batch, and says why; the batch goes on.
    pub fn fail(&mut self, input: &Path, reason: impl std::fmt::Display) {
        eprintln!("failed: {}: {reason}", input.display());
        self.failed.push(input.to_path_buf());
    }

    /// The error that ends a batch of `total` `what` (e.g. "images") stopped by a signal.
    pub fn stopped(&self, total: usize, what: &str) -> Error {
        let kept = if self.done > 0 { "; the finished ones are kept" } else { "" };
        Error::Interrupted(format!(" after {} of {total} {what}{kept}", self.done))
    }

    /// One line: how many were done, skipped and failed.
    pub fn line(&self, what: &str) -> String {
        let skipped = if self.skipped > 0 { format!(", {} skipped (output exists)", self.skipped) } else { String::new() };
        format!("{what}: {} done{skipped}, {} failed", self.done, self.failed.len())
    }

    /// An error when anything failed, listing what (the caller prints each failure as it happens).
    pub fn result(&self, what: &str) -> Result<()> {
        if self.failed.is_empty() {
            return Ok(());
        }
        let names: Vec<String> = self.failed.iter().map(|p| p.display().to_string()).collect();
        Err(Error::Invalid(format!("{} of {} {what} failed: {}", self.failed.len(), self.done + self.skipped + self.failed.len(), names.join(", "))))
    }
}

/// The style's name in output file names and segment tags: the model's file stem (`candy` for `onnx/candy.onnx`).
pub fn style_name(model: &str) -> String {
    Path::new(model).file_stem().unwrap_or_default().to_string_lossy().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_expand_to_their_matching_files_in_order() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["b.MP4", "a.mkv", "notes.txt", "c.gif"] {
            std::fs::write(dir.path().join(f), b"x").unwrap();
        }
        let files = expand(&[dir.path().to_path_buf(), PathBuf::from("x.mov")], VIDEO_EXTENSIONS).unwrap();
        let names: Vec<String> = files.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["a.mkv", "b.MP4", "c.gif", "x.mov"]);
        let empty = tempfile::tempdir().unwrap();
        assert!(expand(&[empty.path().to_path_buf()], IMAGE_EXTENSIONS).is_err());
    }

    #[test]
    fn batch_outputs_keep_containers_that_hold_h264() {
        assert_eq!(output_in(Path::new("out"), Path::new("in/clip.mkv"), "candy", video_extension(Path::new("clip.mkv"))), Path::new("out/clip-candy.mkv"));
        assert_eq!(video_extension(Path::new("loop.gif")), "mp4");
        assert_eq!(video_extension(Path::new("a.webm")), "mp4");
    }
}
