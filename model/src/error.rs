//! Errors of the model contract.

/// Everything that can go wrong when checking weights, writing ONNX or running the reference.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("invalid network spec: {0}")]
    InvalidSpec(String),

    #[error("missing weight tensor `{0}`")]
    MissingParam(String),

    #[error("unexpected weight tensor `{0}` (not a parameter of this network spec)")]
    UnexpectedParam(String),

    #[error("weight tensor `{name}` has shape {got:?}, expected {expected:?}")]
    ShapeMismatch {
        name: String,
        expected: Vec<usize>,
        got: Vec<usize>,
    },

    #[error("bad input: {0}")]
    BadInput(String),

    #[error("bad metadata: {0}")]
    BadMetadata(String),

    #[error("protobuf: {0}")]
    Protobuf(#[from] protobuf::Error),
}
