//! The library's errors as Python exceptions: `stylize.Error` and one subclass per kind of problem, each with
//! the CLI's one-line message.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use stylize::Error as E;

create_exception!(stylize, Error, PyException, "Anything stylize cannot do; the message says what and what to do.");
create_exception!(stylize, ModelError, Error, "A model that is missing, unreadable or not a style network.");
create_exception!(stylize, RuntimeLibraryError, Error, "ONNX Runtime or OpenVINO missing or unloadable.");
create_exception!(stylize, DeviceError, Error, "The device asked for is not available (no GPU, no driver).");
create_exception!(stylize, InputError, Error, "A frame, image or video that cannot be used (wrong type, shape, corrupt, missing).");
create_exception!(stylize, OutputError, Error, "An output that cannot be written.");
create_exception!(stylize, InferenceError, Error, "The network failed on a frame.");

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("Error", py.get_type::<Error>())?;
    m.add("ModelError", py.get_type::<ModelError>())?;
    m.add("RuntimeLibraryError", py.get_type::<RuntimeLibraryError>())?;
    m.add("DeviceError", py.get_type::<DeviceError>())?;
    m.add("InputError", py.get_type::<InputError>())?;
    m.add("OutputError", py.get_type::<OutputError>())?;
    m.add("InferenceError", py.get_type::<InferenceError>())?;
    Ok(())
}

/// The exception for a library error, its message the CLI's.
pub fn to_py(e: E) -> PyErr {
    let msg = e.to_string();
    match e {
        E::ModelMissing { .. } | E::ModelInvalid { .. } | E::ModelContract { .. } => ModelError::new_err(msg),
        // In Python the runtimes are the package's dependencies: pip is the fix, not setup.sh.
        E::OrtLibraryMissing { .. } | E::OrtLibraryLoad { .. } => RuntimeLibraryError::new_err(format!("{msg} (in Python: pip install onnxruntime==1.31.1, or set ORT_DYLIB_PATH)")),
        E::OpenVinoMissing { .. } | E::OpenVinoLoad { .. } => RuntimeLibraryError::new_err(format!("{msg} (in Python: pip install openvino==2026.4.1)")),
        E::DeviceUnavailable { .. } => DeviceError::new_err(msg),
        E::Inference { .. } => InferenceError::new_err(msg),
        E::InputMissing { .. } | E::InputUnreadable { .. } | E::NotAnImage { .. } | E::NotAVideo { .. } | E::NoFrames { .. } | E::Corrupt { .. } | E::Invalid(_) => InputError::new_err(msg),
        E::Output { .. } | E::OutputIsInput { .. } | E::OutputFormat { .. } | E::Encoder(_) => OutputError::new_err(msg),
        E::Interrupted(_) | E::Camera(_) | E::Display { .. } => Error::new_err(msg),
    }
}

/// A bad argument from Python (a frame of the wrong type or shape, an unknown option).
pub fn input(msg: impl Into<String>) -> PyErr {
    InputError::new_err(msg.into())
}
