//! The model contract (onnx/README.md): what the engine reads from a model's graph and metadata
//! ([`ModelInfo`]), the checks with their messages, and the model wrapped for uint8 frames.

use std::path::{Path, PathBuf};

use ort::session::{builder::GraphOptimizationLevel, Session};
use stylize_model::onnx::STYLE_WEIGHTS;
use stylize_model::wrap::{self, WrapOptions, FRAME_INPUT, FRAME_OUTPUT};

use super::Precision;
use crate::error::{Error, Result};

/// What the engine learned about a model from its graph and metadata.
#[derive(Clone, Debug)]
pub struct ModelInfo {
    pub path: PathBuf,
    pub input: String,
    pub output: String,
    /// The pixel value that means white: 255 for `0-255` models, 1 for `0-1`.
    pub range_max: f32,
    /// Height and width when the model's input size is fixed (e.g. ONNX model zoo nets at 224x224).
    pub fixed_size: Option<(usize, usize)>,
    /// Inputs besides the image (e.g. `style_weights` of a multi-style net), with their shapes.
    pub extra_inputs: Vec<(String, Vec<i64>)>,
    pub metadata: Vec<(String, String)>,
}

impl ModelInfo {
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// How frames of another size are fed to this model, in words (`stylize info` prints it).
    pub fn size_policy(&self) -> String {
        match self.fixed_size {
            Some((h, w)) => format!("fixed input {w}x{h}: each frame is resized to it and the result back to the frame size"),
            None => {
                let (multiple, min_side) = self.pad_rule();
                format!("any size: frames are padded to a multiple of {multiple} (at least {min_side} px) and cropped back")
            }
        }
    }

    /// The styles of a multi-style model (one with a `style_weights` input), in its order: from the
    /// `stylize.styles` metadata, else numbered. Empty for a one-style model.
    pub fn style_names(&self) -> Vec<String> {
        let Some((_, shape)) = self.extra_inputs.iter().find(|(n, _)| n == STYLE_WEIGHTS) else { return Vec::new() };
        let n = shape.iter().map(|&d| d.max(1)).product::<i64>() as usize;
        let named = self.metadata.iter().find(|(k, _)| k == stylize_model::meta::STYLES).map(|(_, v)| stylize_model::meta::parse_styles(v));
        match named {
            Some(names) if names.len() == n => names,
            _ => (0..n).map(|i| i.to_string()).collect(),
        }
    }

    /// Padded sides are multiples of `.0` and at least `.1`: from the network spec in the metadata when there is
    /// one (space-to-depth nets halve once more: multiples of 8), else the Johnson defaults.
    pub fn pad_rule(&self) -> (usize, usize) {
        match self.meta(stylize_model::meta::SPEC).map(stylize_model::meta::parse_spec) {
            Some(Ok(spec)) => (spec.size_multiple(), spec.min_size().max(MIN_SIDE)),
            _ => (SIZE_MULTIPLE, MIN_SIDE),
        }
    }
}

/// Johnson nets halve the size twice and double it twice: sides that are multiples of 4 come back unchanged.
/// Models whose metadata has a spec use its own multiple ([`ModelInfo::pad_rule`]).
const SIZE_MULTIPLE: usize = 4;
/// Reflection padding needs sides larger than the pad (4 for 9x9 kernels), also after both downsamplings.
const MIN_SIDE: usize = 32;

/// A model wrapped for uint8 frames, or why it cannot be.
pub(super) type WrapResult = std::result::Result<(ModelInfo, wrap::Wrapped), String>;

/// Inspects the model as it is (a plain CPU session, not optimized: the contract checks and messages of
/// [`inspect`]) and wraps it for uint8 frames. The outer error: the model is unusable; the inner one: it is
/// fine but cannot be wrapped (the float32 path can still run it).
/// `rewrites`: the backend's rewrites ([`WrapOptions::phase_convs`], [`WrapOptions::shuffle_bytes`],
/// [`WrapOptions::phases_on_host`]); the rest of the options come from the model and `precision`.
pub(super) fn wrap_for_frames(env: &ort::environment::Environment, bytes: &[u8], path: &Path, precision: Precision, rewrites: &WrapOptions) -> Result<WrapResult> {
    let session = (|| Session::builder(env)?.with_optimization_level(GraphOptimizationLevel::Disable)?.with_intra_threads(1)?.commit_from_memory(bytes))()
        .map_err(|e| invalid(path, e))?;
    let info = inspect(&session, path)?;
    drop(session);
    let opts = WrapOptions {
        input: Some(info.input.clone()),
        output: Some(info.output.clone()),
        range_max: Some(info.range_max),
        fp16: precision == Precision::Fp16,
        ..rewrites.clone()
    };
    Ok(match wrap::wrap_frame_io(bytes, &opts) {
        Ok(w) => Ok((info, w)),
        Err(e) => Err(format!("cannot wrap the graph for uint8 frames: {e}")),
    })
}

/// The wrapped session has the uint8 frame input and output, and the model's extra inputs.
pub(super) fn check_wrapped(session: &Session, info: &ModelInfo) -> Result<()> {
    let bad = |reason: String| Error::ModelInvalid { path: info.path.clone(), reason: format!("the uint8-wrapped graph: {reason}") };
    let input = session.inputs().iter().find(|i| i.name() == FRAME_INPUT).ok_or_else(|| bad(format!("no input {FRAME_INPUT:?}")))?;
    if input.dtype().tensor_type() != Some(ort::value::TensorElementType::Uint8) {
        return Err(bad(format!("input {FRAME_INPUT:?} is not uint8")));
    }
    if !session.outputs().iter().any(|o| o.name() == FRAME_OUTPUT) {
        return Err(bad(format!("no output {FRAME_OUTPUT:?}")));
    }
    let extras = session.inputs().iter().filter(|i| i.name() != FRAME_INPUT).count();
    if extras != info.extra_inputs.len() {
        return Err(bad(format!("{extras} extra inputs, the model has {}", info.extra_inputs.len())));
    }
    Ok(())
}

pub(super) fn invalid(path: &Path, e: impl ToString) -> Error {
    Error::ModelInvalid { path: path.to_path_buf(), reason: first_line(&e.to_string()) }
}

pub(super) fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_string()
}

/// Checks the model against the contract and reads its metadata.
pub(super) fn inspect(session: &Session, path: &Path) -> Result<ModelInfo> {
    let contract = |reason: String| Error::ModelContract { path: path.to_path_buf(), reason };
    let image_input = session
        .inputs()
        .iter()
        .find(|i| i.name() == "input")
        .or_else(|| session.inputs().iter().find(|i| i.dtype().tensor_shape().is_some_and(|s| s.len() == 4)))
        .ok_or_else(|| contract("no 4-D image input (expected `input`, float32 1x3xHxW)".into()))?;
    let shape: Vec<i64> = image_input.dtype().tensor_shape().map(|s| s.to_vec()).unwrap_or_default();
    if shape.len() != 4 {
        return Err(contract(format!("input {:?} has rank {}, expected 4 (1x3xHxW)", image_input.name(), shape.len())));
    }
    if shape[1] >= 0 && shape[1] != 3 {
        return Err(contract(format!("input {:?} has {} channels, expected 3 (RGB)", image_input.name(), shape[1])));
    }
    if image_input.dtype().tensor_type() != Some(ort::value::TensorElementType::Float32) {
        return Err(contract(format!("input {:?} is not float32", image_input.name())));
    }
    let output = session
        .outputs()
        .iter()
        .find(|o| o.name() == "output")
        .or_else(|| session.outputs().first())
        .ok_or_else(|| contract("the model has no output".into()))?;
    let out_shape: Vec<i64> = output.dtype().tensor_shape().map(|s| s.to_vec()).unwrap_or_default();
    if out_shape.len() != 4 || (out_shape[1] >= 0 && out_shape[1] != 3) {
        return Err(contract(format!("output {:?} has shape {out_shape:?}, expected 1x3xHxW", output.name())));
    }
    let fixed_size = (shape[2] > 0 && shape[3] > 0).then_some((shape[2] as usize, shape[3] as usize));
    let extra_inputs = session
        .inputs()
        .iter()
        .filter(|i| i.name() != image_input.name())
        .map(|i| (i.name().to_string(), i.dtype().tensor_shape().map(|s| s.to_vec()).unwrap_or_default()))
        .collect();
    let mut metadata = Vec::new();
    if let Ok(meta) = session.metadata() {
        for key in meta.custom_keys().unwrap_or_default() {
            if let Some(v) = meta.custom(&key) {
                metadata.push((key, v));
            }
        }
    }
    metadata.sort();
    let range = metadata.iter().find(|(k, _)| k == stylize_model::meta::RANGE).map(|(_, v)| v.as_str());
    let range_max = match range {
        None | Some("0-255") => 255.0,
        Some("0-1") => 1.0,
        Some(other) => return Err(contract(format!("unknown value range {other:?} in {} (expected 0-255 or 0-1)", stylize_model::meta::RANGE))),
    };
    Ok(ModelInfo { path: path.to_path_buf(), input: image_input.name().to_string(), output: output.name().to_string(), range_max, fixed_size, extra_inputs, metadata })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pad_rule_follows_the_spec_in_the_metadata() {
        let info = |metadata: Vec<(String, String)>| ModelInfo { path: "m.onnx".into(), input: "input".into(), output: "output".into(), range_max: 255.0, fixed_size: None, extra_inputs: Vec::new(), metadata };
        let spec = |s: &stylize_model::JohnsonSpec| stylize_model::meta::standard(s, "test");
        assert_eq!(info(Vec::new()).pad_rule(), (4, 32));
        assert_eq!(info(spec(&stylize_model::JohnsonSpec::full())).pad_rule(), (4, 32));
        assert_eq!(info(spec(&stylize_model::JohnsonSpec::lite())).pad_rule(), (8, 32));
        assert!(info(spec(&stylize_model::JohnsonSpec::lite())).size_policy().contains("multiple of 8"));
    }
}
