//! The model contract of `stylize`: the Johnson et al. (2016) feed-forward style-transfer
//! network exactly as pytorch/examples `fast_neural_style` builds it (`TransformerNet`), so
//! that its `state_dict` names are our parameter names.
//!
//! Shared by the runtime (which never links libtorch) and the trainer:
//! - [`JohnsonSpec`]: widths, residual blocks, end kernel; parameter names and shapes.
//! - [`Weights`]: tensors by parameter name; [`random_weights`], [`check_weights`].
//! - [`onnx::johnson_to_onnx`]: a pure-Rust ONNX writer (opset 17).
//! - [`reference::forward`]: a plain ndarray forward pass to check ONNX Runtime against.
//! - [`wrap::wrap_frame_io`]: rewrites any contract model for uint8 frames in and out (and optionally float16).
//! - [`norms`]: instance norms with statistics from outside the graph, for tiled inference.
//! - [`paths`]: where a user's own models live (the trainer exports there, the runtime looks there).

pub mod error;
mod fp16;
pub mod meta;
pub mod onnx;
pub mod paths;
pub mod reference;
pub mod norms;
pub mod rewrite;
pub mod spec;
pub mod weights;
pub mod wrap;

pub use error::ModelError;
pub use spec::{JohnsonSpec, ParamInfo};
pub use weights::{check_weights, mix_styles, random_weights, Weights};
