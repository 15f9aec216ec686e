//! `stylize._stylize`: the native half of the Python package `stylize` (PyO3). The Python half
//! (`python/stylize/__init__.py`) finds the runtimes' libraries in their wheels, turns PIL images into arrays
//! and back, and documents the API; everything else is here, on the same library as the `stylize` binary.
//!
//! One file per job: [`model`] (a model and its calls on frames), [`video`] (`transcode` and `frames`),
//! [`errors`] (the library's errors as Python exceptions). This file is the module and its settings.

use std::path::PathBuf;
use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::PyDict;

mod errors;
mod model;
mod options;
mod video;

/// Where the runtimes' libraries are, as the Python side found them in their wheels (see `configure`).
#[derive(Clone, Default)]
pub(crate) struct Runtimes {
    pub ort_lib: Option<PathBuf>,
    pub openvino_lib: Option<PathBuf>,
}

static RUNTIMES: Mutex<Runtimes> = Mutex::new(Runtimes { ort_lib: None, openvino_lib: None });

pub(crate) fn runtimes() -> Runtimes {
    RUNTIMES.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Sets the runtimes' libraries and the folder of the models that came with the package.
#[pyfunction]
#[pyo3(signature = (ort_lib=None, openvino_lib=None, packaged_models=None))]
fn configure(ort_lib: Option<PathBuf>, openvino_lib: Option<PathBuf>, packaged_models: Option<PathBuf>) {
    *RUNTIMES.lock().unwrap_or_else(|e| e.into_inner()) = Runtimes { ort_lib, openvino_lib };
    if let Some(dir) = packaged_models {
        stylize::models::set_packaged_dir(dir);
    }
}

/// The installed models: one dict each (name, path, summary, int8, broken), in the order they are looked for.
#[pyfunction]
#[pyo3(signature = (models_dir=None))]
fn models<'py>(py: Python<'py>, models_dir: Option<PathBuf>) -> PyResult<Vec<Bound<'py, PyDict>>> {
    stylize::models::list(models_dir.as_deref())
        .into_iter()
        .map(|m| {
            let d = PyDict::new(py);
            d.set_item("name", m.name)?;
            d.set_item("path", m.path)?;
            d.set_item("summary", m.summary)?;
            d.set_item("int8", m.int8)?;
            d.set_item("broken", m.broken)?;
            Ok(d)
        })
        .collect()
}

/// The folders searched for models, in order: (what, folder) pairs, existing or not.
#[pyfunction]
#[pyo3(signature = (models_dir=None))]
fn search_path(models_dir: Option<PathBuf>) -> Vec<(&'static str, PathBuf)> {
    stylize::models::search_path(models_dir.as_deref())
}

#[pymodule]
fn _stylize(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // Python owns SIGINT: Ctrl-C becomes a KeyboardInterrupt, which stops a transcode through its handle.
    stylize::stop::leave_signals_to_host();
    errors::register(m)?;
    m.add_class::<model::Model>()?;
    m.add_class::<video::Frames>()?;
    m.add_function(wrap_pyfunction!(configure, m)?)?;
    m.add_function(wrap_pyfunction!(models, m)?)?;
    m.add_function(wrap_pyfunction!(search_path, m)?)?;
    m.add_function(wrap_pyfunction!(video::transcode, m)?)?;
    m.add_function(wrap_pyfunction!(video::frames, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
