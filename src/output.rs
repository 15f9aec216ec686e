//! Outputs appear only when complete: everything is written to a temporary file beside the destination and
//! renamed at the end, so an error or Ctrl-C never leaves a half-written file under the user's name.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

use crate::error::{Error, Result};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static HANDLER: Once = Once::new();

/// Installs the Ctrl-C handler (once): long jobs poll [`interrupted`] and stop cleanly.
pub fn catch_ctrl_c() {
    HANDLER.call_once(|| {
        let _ = ctrlc::set_handler(|| {
            if INTERRUPTED.swap(true, Ordering::SeqCst) {
                // A second Ctrl-C means "now".
                std::process::exit(130);
            }
        });
    });
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

/// A temporary file that becomes `dest` on [`PendingOutput::commit`] and is removed if dropped before.
pub struct PendingOutput {
    dest: PathBuf,
    tmp: PathBuf,
    committed: bool,
}

impl PendingOutput {
    /// Checks that `dest` can be written (and is none of `inputs`) and picks the temporary name.
    pub fn new(dest: &Path, inputs: &[&Path]) -> Result<Self> {
        check_not_input(dest, inputs)?;
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !dir.is_dir() {
            return Err(Error::output(dest, format!("directory {} does not exist; create it first", dir.display())));
        }
        let name = dest.file_name().ok_or_else(|| Error::output(dest, "not a file name"))?.to_string_lossy().to_string();
        // Keep the extension last: FFmpeg picks the container from it.
        let ext = dest.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
        let tmp = dir.join(format!(".{name}.partial-{}{ext}", std::process::id()));
        std::fs::File::create(&tmp).map_err(|e| Error::output(dest, format!("cannot write in {}: {e}", dir.display())))?;
        Ok(PendingOutput { dest: dest.to_path_buf(), tmp, committed: false })
    }

    /// Where to write now.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    pub fn dest(&self) -> &Path {
        &self.dest
    }

    pub fn commit(mut self) -> Result<PathBuf> {
        std::fs::rename(&self.tmp, &self.dest).map_err(|e| Error::output(&self.dest, e))?;
        self.committed = true;
        Ok(self.dest.clone())
    }

    /// Keeps what was written so far under `<dest>.partial<ext>` (for `--keep-partial`).
    pub fn keep_partial(mut self) -> Result<PathBuf> {
        let stem = self.dest.file_stem().unwrap_or_default().to_string_lossy().to_string();
        let ext = self.dest.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
        let kept = self.dest.with_file_name(format!("{stem}.partial{ext}"));
        std::fs::rename(&self.tmp, &kept).map_err(|e| Error::output(&kept, e))?;
        self.committed = true;
        Ok(kept)
    }
}

impl Drop for PendingOutput {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Refuses to overwrite an input with its own output.
pub fn check_not_input(dest: &Path, inputs: &[&Path]) -> Result<()> {
    let canon = |p: &Path| std::fs::canonicalize(p).ok();
    if let Some(d) = canon(dest) {
        if inputs.iter().any(|i| canon(i).as_deref() == Some(d.as_path())) {
            return Err(Error::OutputIsInput { path: dest.to_path_buf() });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_output_leaves_nothing_and_commit_renames() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.mp4");
        let pending = PendingOutput::new(&dest, &[]).unwrap();
        std::fs::write(pending.path(), b"half").unwrap();
        assert!(pending.path().extension().unwrap() == "mp4");
        drop(pending);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

        let pending = PendingOutput::new(&dest, &[]).unwrap();
        std::fs::write(pending.path(), b"whole").unwrap();
        pending.commit().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"whole");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn refuses_missing_dir_and_input_as_output() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(PendingOutput::new(&dir.path().join("nope/out.png"), &[]), Err(Error::Output { .. })));
        let input = dir.path().join("in.png");
        std::fs::write(&input, b"x").unwrap();
        assert!(matches!(PendingOutput::new(&input, &[&input]), Err(Error::OutputIsInput { .. })));
    }
}
