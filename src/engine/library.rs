//! Finding and loading the runtime libraries stylize ships beside itself (ONNX Runtime here; OpenVINO's search
//! in `ov` uses [`bundled_candidates`] too), and which execution providers the loaded build has.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::ep::{self, ExecutionProvider};

use crate::error::{Error, Result};

static ORT_ENV: OnceLock<std::result::Result<(ort::environment::Environment, PathBuf), Error>> = OnceLock::new();

/// Candidate places for `libonnxruntime.so`, in the order they are tried.
pub fn ort_library_candidates(explicit: Option<&Path>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = explicit {
        out.push(p.to_path_buf());
        return out;
    }
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        out.push(PathBuf::from(p));
    }
    out.extend(bundled_candidates("lib/stylize", "libonnxruntime.so", ".deps/onnxruntime/lib"));
    out
}

/// Where a runtime library that stylize ships is looked for, after any explicit choice: the install prefix's
/// `installed` folder (scripts/setup.sh install, the .deb), `beside` next to the executable and the checkout's
/// `deps` folder when run from target/{debug,release}/, then `deps` from the working folder.
pub(crate) fn bundled_candidates(installed: &str, beside: &str, deps: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(prefix) = crate::models::install_prefix() {
        out.push(prefix.join(installed));
    }
    if let Ok(exe) = std::env::current_exe().and_then(std::fs::canonicalize) {
        for dir in exe.ancestors().skip(1).take(4) {
            out.push(dir.join(beside));
            out.push(dir.join(deps));
        }
    }
    out.push(PathBuf::from(deps));
    out
}

/// The version of the loaded ONNX Runtime `lib`: from its build info (`git-branch=rel-1.31.1`) or, for builds
/// from another branch, from the library's file name (`libonnxruntime.so.1.31.1`).
pub fn ort_version(lib: &Path) -> String {
    let from_info = ort::info().split(['=', ',', ' ']).find_map(|w| w.strip_prefix("rel-")).map(str::to_string);
    let from_name = || std::fs::canonicalize(lib).ok()?.file_name()?.to_str()?.strip_prefix("libonnxruntime.so.").map(str::to_string);
    from_info.or_else(from_name).unwrap_or_else(|| "(version unknown)".into())
}

/// Resolves a candidate (file or folder) to a library file.
fn library_file(candidate: &Path) -> Option<PathBuf> {
    if candidate.is_file() {
        return Some(candidate.to_path_buf());
    }
    let entries = std::fs::read_dir(candidate).ok()?;
    let mut libs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("libonnxruntime.so")))
        .collect();
    libs.sort();
    libs.pop()
}

/// Loads ONNX Runtime once per process; returns the library path it used.
pub fn ort_environment(explicit: Option<&Path>) -> Result<(ort::environment::Environment, PathBuf)> {
    let init = ORT_ENV.get_or_init(|| {
        let candidates = ort_library_candidates(explicit);
        let Some(path) = candidates.iter().find_map(|c| library_file(c)) else {
            let searched = candidates.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
            return Err(Error::OrtLibraryMissing { searched });
        };
        let load = |path: &Path| -> std::result::Result<ort::environment::Environment, String> {
            let builder = ort::init_from(path).map_err(|e| e.to_string())?;
            builder.with_name("stylize").build().map_err(|e| e.to_string())
        };
        load(&path)
            .map(|env| (env, path.clone()))
            .map_err(|reason| Error::OrtLibraryLoad { path, reason })
    });
    // The error as it was (callers, the Python package among them, tell a missing library from a bad one).
    init.clone()
}

/// Whether this ONNX Runtime build has an execution provider at all (before any model is loaded).
pub fn provider_status() -> Vec<(&'static str, std::result::Result<(), String>)> {
    let check = |available: ort::Result<bool>, what: &str| match available {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!("this ONNX Runtime build has no {what} support (scripts/setup.sh --gpu installs one that has)")),
        Err(e) => Err(e.to_string()),
    };
    vec![
        ("tensorrt", check(ep::TensorRT::is_available(), "TensorRT")),
        ("cuda", check(ep::CUDA::is_available(), "CUDA")),
        ("cpu", Ok(())),
    ]
}
