//! Outputs appear only when complete: everything is written to a hidden temporary file beside the destination
//! (`.NAME.partial-PID-HOST.EXT`) and renamed at the end, so an error, Ctrl-C, SIGTERM or SIGHUP never leaves a
//! half-written file under the user's name. What a SIGKILL or a power cut leaves behind is removed by the next
//! run that writes into the same folder, if the process that wrote it is gone.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::stop;

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
        remove_stale_partials(&dir);
        let tmp = dir.join(format!(".{name}{PARTIAL}{}-{}{ext}", std::process::id(), host()));
        std::fs::File::create(&tmp).map_err(|e| Error::output(dest, format!("cannot write in {}: {e}", dir.display())))?;
        stop::unfinished(&tmp);
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
        stop::finished(&self.tmp);
        self.committed = true;
        Ok(self.dest.clone())
    }

    /// Keeps what was written so far under `<dest>.partial<ext>` (for `--keep-partial`).
    pub fn keep_partial(mut self) -> Result<PathBuf> {
        let stem = self.dest.file_stem().unwrap_or_default().to_string_lossy().to_string();
        let ext = self.dest.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
        let kept = self.dest.with_file_name(format!("{stem}.partial{ext}"));
        std::fs::rename(&self.tmp, &kept).map_err(|e| Error::output(&kept, e))?;
        stop::finished(&self.tmp);
        self.committed = true;
        Ok(kept)
    }
}

impl Drop for PendingOutput {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
            stop::finished(&self.tmp);
        }
    }
}

/// What marks a temporary output's name, before the writer's process id and host.
const PARTIAL: &str = ".partial-";

/// This machine's name as it goes into temporary names (letters, digits and '-'): on a folder shared between
/// machines, only the partial files of this machine's dead processes are removed.
fn host() -> &'static str {
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(|| {
        let raw = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        let clean: String = raw.trim().chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(40).collect();
        if clean.is_empty() { "host".into() } else { clean }
    })
}

/// The process id in a temporary name of this host (`.NAME.partial-PID-HOST.EXT`).
fn partial_pid(file_name: &str) -> Option<u32> {
    let rest = &file_name[file_name.rfind(PARTIAL)? + PARTIAL.len()..];
    let (pid, rest) = rest.split_once('-')?;
    let host_part = rest.split('.').next()?;
    (file_name.starts_with('.') && host_part == host()).then(|| pid.parse().ok()).flatten()
}

/// Removes the temporary outputs in `dir` left by processes of this host that no longer run (killed with
/// SIGKILL, or the machine lost power), and only those. Once per folder and process: a batch writing thousands
/// of files into one folder reads it once, not once per file.
fn remove_stale_partials(dir: &Path) {
    static CLEANED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    {
        let mut cleaned = CLEANED.lock().unwrap_or_else(|e| e.into_inner());
        let key = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        if cleaned.contains(&key) {
            return;
        }
        cleaned.push(key);
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = partial_pid(&name.to_string_lossy()) else { continue };
        if pid != std::process::id() && !process_alive(pid) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn process_alive(pid: u32) -> bool {
    // Without /proc (not Linux) every process counts as alive: nothing is removed.
    !Path::new("/proc/self").exists() || Path::new(&format!("/proc/{pid}")).exists()
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

    #[test]
    fn stale_partials_of_dead_processes_of_this_host_are_removed_and_only_those() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // A pid far above Linux's pid_max (4194304) is never alive.
        let dead = format!(".old.mp4{PARTIAL}99999999-{}.mp4", host());
        let alive = format!(".live.mp4{PARTIAL}{}-{}.mp4", std::process::id(), host());
        let other_host = format!(".remote.mp4{PARTIAL}99999999-{}x.mp4", host());
        let not_ours = "notes.partial-99999999-x.txt".to_string();
        for name in [&dead, &alive, &other_host, &not_ours] {
            std::fs::write(d.join(name), b"x").unwrap();
        }
        assert_eq!(partial_pid(&dead), Some(99999999));
        assert_eq!(partial_pid(&other_host), None);
        let pending = PendingOutput::new(&d.join("new.png"), &[]).unwrap();
        let mut left: Vec<String> = std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        left.sort();
        let mut want = vec![alive, other_host, not_ours, pending.path().file_name().unwrap().to_string_lossy().into_owned()];
        want.sort();
        assert_eq!(left, want);
    }
}
