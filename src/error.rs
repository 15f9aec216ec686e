//! Library errors: each names the problem and, where there is one, what to do about it.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Clone, Debug, thiserror::Error)]
pub enum Error {
    #[error("ONNX Runtime library not found (looked in: {searched}); run scripts/setup.sh, or set ORT_DYLIB_PATH / --ort-lib to libonnxruntime.so")]
    OrtLibraryMissing { searched: String },
    #[error("could not load the ONNX Runtime library {path}: {reason}; run scripts/setup.sh to fetch a working one")]
    OrtLibraryLoad { path: PathBuf, reason: String },
    #[error("OpenVINO library libopenvino_c.so not found (looked in: {searched}); run scripts/setup.sh to install it into .deps/openvino, or set OPENVINO_INSTALL_DIR / --openvino-lib")]
    OpenVinoMissing { searched: String },
    #[error("could not load the OpenVINO library {path}: {reason}; run scripts/setup.sh to fetch a working one (rm -rf .deps/openvino first)")]
    OpenVinoLoad { path: PathBuf, reason: String },
    #[error("model {path} not found; `stylize models` lists the installed ones")]
    ModelMissing { path: PathBuf },
    #[error("{path} is not a usable ONNX model: {reason}")]
    ModelInvalid { path: PathBuf, reason: String },
    #[error("model {path} does not fit the stylize contract: {reason} (see onnx/README.md)")]
    ModelContract { path: PathBuf, reason: String },
    #[error("device {wanted} is not available: {reason}; use --device auto or cpu{hint}")]
    DeviceUnavailable { wanted: String, reason: String, hint: &'static str },
    #[error("inference failed on a {width}x{height} frame: {reason}{hint}")]
    Inference { width: usize, height: usize, reason: String, hint: &'static str },
    #[error("input {path} not found")]
    InputMissing { path: PathBuf },
    #[error("cannot read {path}: {reason}")]
    InputUnreadable { path: PathBuf, reason: String },
    #[error("{path} is not an image stylize can read ({reason}); use PNG or JPEG")]
    NotAnImage { path: PathBuf, reason: String },
    #[error("{path} is not a video file FFmpeg can read ({reason})")]
    NotAVideo { path: PathBuf, reason: String },
    #[error("{path} has no video frames")]
    NoFrames { path: PathBuf },
    #[error("{path} is corrupt or truncated at frame {frame}: {reason}{kept}")]
    Corrupt { path: PathBuf, frame: u64, reason: String, kept: String },
    #[error("output {path}: {reason}")]
    Output { path: PathBuf, reason: String },
    #[error("output {path} is the input file; choose another output path")]
    OutputIsInput { path: PathBuf },
    #[error("unsupported output format {ext:?} for {path}; use .png or .jpg/.jpeg")]
    OutputFormat { path: PathBuf, ext: String },
    #[error("video encoder: {0}")]
    Encoder(String),
    #[error("interrupted ({}){}", crate::stop::received_name(), .0)]
    Interrupted(String),
    /// A webcam problem; the message lists the devices or modes there are.
    #[error("{0}")]
    Camera(String),
    #[error("cannot open the live window: {reason}; run with --no-window to stylize headless")]
    Display { reason: String },
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    pub(crate) fn output(path: impl Into<PathBuf>, reason: impl ToString) -> Self {
        Error::Output { path: path.into(), reason: reason.to_string() }
    }
}
