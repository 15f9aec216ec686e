//! Run directory layout and checkpoints.
//!
//! `RUN_DIR/checkpoint.safetensors` holds, in one file written atomically (tmp + rename):
//! `model/<param>` (the transformer), `adam.m/<param>`, `adam.v/<param>` (Adam moments) and,
//! in its metadata under `state`, the [`RunState`] JSON (iteration, Adam step, spec, settings,
//! last losses). A kill loses at most the iterations since the last checkpoint.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use stylize_model::{JohnsonSpec, Weights};

use crate::io::{read_safetensors, safetensors_bytes, to_array, write_atomic};
use crate::loss;
use crate::optim::Adam;
use crate::schedule::LrScaling;

pub const CHECKPOINT: &str = "checkpoint.safetensors";

pub fn checkpoint_path(run: &Path) -> PathBuf {
    run.join(CHECKPOINT)
}

/// What a run is and how far it got.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunState {
    /// Iterations completed.
    pub iteration: u64,
    pub adam_step: i64,
    pub arch: String,
    pub spec: JohnsonSpec,
    /// Style image path and name (file stem); for a multi-style net the paths joined by `,`
    /// and the names by `+`.
    pub style: String,
    pub style_name: String,
    /// Multi-style nets: the style names in `style_weights` order (empty for one style).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub styles: Vec<String>,
    /// Models the weights started from (`--init`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub init: Vec<String>,
    pub style_size: Option<u32>,
    #[serde(default)]
    pub style_scale: Option<f64>,
    pub content: Vec<String>,
    pub content_images: usize,
    pub vgg: String,
    pub vgg_convention: String,
    pub content_layer: String,
    pub size: u32,
    pub batch: usize,
    /// Adam's learning rate at batch 4; `lr_scaling` and `warmup` say how it was applied (runs from before
    /// them used it as given).
    pub lr: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr_scaling: Option<LrScaling>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup: Option<u64>,
    /// fp32 or bf16 (runs from before it: fp32).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<String>,
    pub weights: loss::Weights,
    pub seed: u64,
    pub device: String,
    /// Mean of the last logged iterations.
    pub losses: loss::Terms,
    /// Training wall time so far, seconds (over all resumes).
    pub elapsed_s: f64,
    pub trainer: String,
    pub updated: String,
}

/// Saves model + Adam state atomically.
pub fn save(run: &Path, state: &RunState, opt: &Adam) -> Result<()> {
    let mut tensors = Vec::with_capacity(opt.slots.len() * 3);
    for (name, p, m, v) in &opt.slots {
        tensors.push((format!("model/{name}"), to_array(p)?));
        tensors.push((format!("adam.m/{name}"), to_array(m)?));
        tensors.push((format!("adam.v/{name}"), to_array(v)?));
    }
    let meta = HashMap::from([("state".to_string(), serde_json::to_string(state)?)]);
    write_atomic(&checkpoint_path(run), &safetensors_bytes(&tensors, meta)?)
}

/// A checkpoint's state and tensors by full name (`model/...`, `adam.m/...`, `adam.v/...`).
pub fn load(run: &Path) -> Result<(RunState, HashMap<String, ndarray::ArrayD<f32>>)> {
    let path = checkpoint_path(run);
    let (tensors, meta) = read_safetensors(&path)?;
    let state = meta.get("state").with_context(|| format!("{} has no `state` metadata", path.display()))?;
    let state: RunState = serde_json::from_str(state).with_context(|| format!("parsing the state of {}", path.display()))?;
    Ok((state, tensors.into_iter().collect()))
}

/// Restores parameters and Adam moments into `opt` (whose slots alias the VarStore).
pub fn restore(opt: &mut Adam, state: &RunState, tensors: &HashMap<String, ndarray::ArrayD<f32>>) -> Result<()> {
    tch::no_grad(|| -> Result<()> {
        for (name, p, m, v) in &mut opt.slots {
            for (prefix, t) in [("model", p), ("adam.m", m), ("adam.v", v)] {
                let key = format!("{prefix}/{name}");
                let a = tensors.get(&key).with_context(|| format!("checkpoint lacks {key}"))?;
                let src = crate::io::from_array(a, t.device());
                if src.size() != t.size() {
                    bail!("checkpoint {key} has shape {:?}, the network {:?}", src.size(), t.size());
                }
                t.copy_(&src);
            }
        }
        Ok(())
    })?;
    opt.step = state.adam_step;
    Ok(())
}

/// The transformer weights of a run (for export), by parameter name.
pub fn model_weights(run: &Path) -> Result<(RunState, Weights)> {
    let (state, tensors) = load(run)?;
    let w: Weights = tensors.into_iter().filter_map(|(k, v)| k.strip_prefix("model/").map(|n| (n.to_string(), v))).collect();
    Ok((state, w))
}
