//! The VGG16 loss network (convolutions conv1_1 .. conv4_3, torchvision `features.N` names),
//! loaded from safetensors. Frozen: its tensors never require gradients.
//!
//! Input convention, from the file's metadata (or forced with `--vgg-convention`):
//! - `caffe`: RGB on 0..255 minus the per-channel mean (123.68, 116.779, 103.939), no std
//!   (the original VGG16 / Johnson et al.; `../shared/data/vgg16/vgg16_relu4_3.safetensors`).
//! - `torchvision`: RGB on 0..1, minus mean (0.485, 0.456, 0.406), divided by std
//!   (0.229, 0.224, 0.225) (weights converted from torchvision's `vgg16(weights=...)`).
//!
//! Recognised metadata: explicit keys `input_range` (`0-255` / `0-1`), `mean`, `std`
//! (comma-separated, on the input_range scale), or a free-text `input` key mentioning
//! "0..255" or "0..1" (then the numbers in its first parentheses are the mean).

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use tch::{Device, Tensor};

use crate::io::{from_array, read_safetensors};
use crate::mixed::Compute;

/// The torchvision `features` indices of the ten convolutions, and after which a 2x2 max-pool
/// follows (after conv1_2, conv2_2, conv3_3).
const CONVS: [(usize, bool); 10] =
    [(0, false), (2, true), (5, false), (7, true), (10, false), (12, false), (14, true), (17, false), (19, false), (21, false)];
/// After which conv (index into CONVS) each feature is taken: relu1_2, relu2_2, relu3_3, relu4_3.
const TAPS: [usize; 4] = [1, 3, 6, 9];
/// Names of the feature layers, in the order `forward` returns them.
pub const LAYERS: [&str; 4] = ["relu1_2", "relu2_2", "relu3_3", "relu4_3"];

/// How the loss network expects its input.
#[derive(Clone, Debug, PartialEq)]
pub enum Convention {
    /// 0..255 minus mean.
    Caffe { mean: [f64; 3] },
    /// 0..1, minus mean, over std.
    Torchvision { mean: [f64; 3], std: [f64; 3] },
}

impl Convention {
    pub const CAFFE_MEAN: [f64; 3] = [123.68, 116.779, 103.939];
    pub const TV_MEAN: [f64; 3] = [0.485, 0.456, 0.406];
    pub const TV_STD: [f64; 3] = [0.229, 0.224, 0.225];

    pub fn by_name(name: &str) -> Option<Self> {
        match name {
            "caffe" => Some(Self::Caffe { mean: Self::CAFFE_MEAN }),
            "torchvision" => Some(Self::Torchvision { mean: Self::TV_MEAN, std: Self::TV_STD }),
            _ => None,
        }
    }

    /// Reads the convention from safetensors metadata.
    pub fn from_metadata(meta: &HashMap<String, String>) -> Result<Self> {
        let triple = |s: &str| -> Option<[f64; 3]> {
            let v: Vec<f64> = s.split([',', ' ']).filter(|t| !t.is_empty()).filter_map(|t| t.parse().ok()).collect();
            (v.len() == 3).then(|| [v[0], v[1], v[2]])
        };
        if let Some(range) = meta.get("input_range") {
            let mean = meta.get("mean").and_then(|m| triple(m));
            let std = meta.get("std").and_then(|m| triple(m));
            return match range.trim() {
                "0-255" | "0..255" => Ok(Self::Caffe { mean: mean.unwrap_or(Self::CAFFE_MEAN) }),
                "0-1" | "0..1" => Ok(Self::Torchvision { mean: mean.unwrap_or(Self::TV_MEAN), std: std.unwrap_or(Self::TV_STD) }),
                other => bail!("unknown VGG input_range {other:?} in metadata (expected 0-255 or 0-1)"),
            };
        }
        if let Some(text) = meta.get("input") {
            let paren = text.split_once('(').and_then(|(_, r)| r.split_once(')')).and_then(|(inner, _)| triple(inner));
            if text.contains("0..255") || text.contains("0-255") {
                return Ok(Self::Caffe { mean: paren.unwrap_or(Self::CAFFE_MEAN) });
            }
            if text.contains("0..1") || text.contains("0-1") {
                return Ok(Self::Torchvision { mean: Self::TV_MEAN, std: Self::TV_STD });
            }
            bail!("cannot tell the VGG input convention from its metadata input={text:?}; pass --vgg-convention caffe|torchvision");
        }
        bail!("the VGG file has no input-convention metadata; pass --vgg-convention caffe|torchvision")
    }

    /// Per-channel (scale, shift) that maps 0..255 RGB to the network's input.
    fn affine(&self) -> ([f64; 3], [f64; 3]) {
        match self {
            Self::Caffe { mean } => ([1.0; 3], [-mean[0], -mean[1], -mean[2]]),
            Self::Torchvision { mean, std } => {
                let s = |i: usize| 1.0 / (255.0 * std[i]);
                let b = |i: usize| -mean[i] / std[i];
                ([s(0), s(1), s(2)], [b(0), b(1), b(2)])
            }
        }
    }
}

/// The frozen loss network.
#[derive(Debug)]
pub struct Vgg {
    convs: Vec<(Tensor, Tensor)>,
    scale: Tensor,
    shift: Tensor,
    pub convention: Convention,
    compute: Compute,
}

impl Vgg {
    /// Loads `features.{0,2,5,7,10,12,14,17,19,21}.{weight,bias}`; `convention` overrides the metadata.
    pub fn load(path: &Path, device: Device, convention: Option<Convention>) -> Result<Self> {
        if !path.exists() {
            bail!(
                "VGG16 weights not found at {}: pass --vgg <file.safetensors> (the project's data has ../shared/data/vgg16/vgg16_relu4_3.safetensors; \
                 training/convert_torchvision_vgg.py converts torchvision's VGG16)",
                path.display()
            );
        }
        let (tensors, meta) = read_safetensors(path)?;
        let convention = match convention {
            Some(c) => c,
            None => Convention::from_metadata(&meta).with_context(|| format!("VGG file {}", path.display()))?,
        };
        let map: HashMap<_, _> = tensors.into_iter().collect();
        let mut convs = Vec::new();
        for (idx, _) in CONVS {
            let get = |what: &str| {
                let name = format!("features.{idx}.{what}");
                map.get(&name).map(|a| from_array(a, device)).with_context(|| format!("{} lacks {name}", path.display()))
            };
            convs.push((get("weight")?, get("bias")?));
        }
        let (s, b) = convention.affine();
        let to_t = |v: [f64; 3]| Tensor::from_slice(&v.map(|x| x as f32)).view([1, 3, 1, 1]).to_device(device);
        Ok(Self { convs, scale: to_t(s), shift: to_t(b), convention, compute: Compute::default() })
    }

    /// Runs the convolutions in `c`'s precision and layout from now on (the weights are converted once: the
    /// network is frozen). The features come out in that precision; the loss takes them back to fp32.
    pub fn set_compute(&mut self, c: Compute) {
        for (w, b) in &mut self.convs {
            *w = c.cast(w);
            *b = b.to_kind(c.kind);
        }
        self.compute = c;
    }

    /// relu1_2, relu2_2, relu3_3, relu4_3 of a 0..255 RGB NCHW batch (up to `depth` of them).
    pub fn forward(&self, x: &Tensor, depth: usize) -> Vec<Tensor> {
        let mut h = self.compute.cast(&(x * &self.scale + &self.shift));
        let mut out = Vec::with_capacity(4);
        for (i, ((w, b), (_, pool))) in self.convs.iter().zip(CONVS).enumerate() {
            h = h.conv2d(w, Some(b), [1, 1], [1, 1], [1, 1], 1).relu();
            if TAPS.contains(&i) {
                out.push(h.shallow_clone());
                if out.len() >= depth {
                    break;
                }
            }
            if pool {
                h = h.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false);
            }
        }
        out
    }
}

/// Gram matrix per image: (B, C, C) = F F^T / (C H W), in fp32.
pub fn gram(f: &Tensor) -> Tensor {
    let (b, c, h, w) = f.size4().expect("NCHW features");
    let f = f.to_kind(tch::Kind::Float).reshape([b, c, h * w]);
    f.bmm(&f.transpose(1, 2)) / (c * h * w) as f64
}

/// Writes a tiny random VGG-shaped safetensors file (same names, narrow channels) for tests.
pub fn write_fake_vgg(path: &Path, widths: [usize; 4], seed: u64) -> Result<()> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let chans = [3, widths[0], widths[0], widths[1], widths[1], widths[2], widths[2], widths[2], widths[3], widths[3], widths[3]];
    let mut tensors = Vec::new();
    for (i, (idx, _)) in CONVS.iter().enumerate() {
        let (ci, co) = (chans[i], chans[i + 1]);
        let std = (2.0 / (ci * 9) as f64).sqrt() as f32;
        let w: Vec<f32> = (0..co * ci * 9).map(|_| (rng.gen::<f32>() * 2.0 - 1.0) * std * 1.7).collect();
        let b: Vec<f32> = (0..co).map(|_| rng.gen::<f32>() * 0.02).collect();
        tensors.push((format!("features.{idx}.weight"), ndarray::ArrayD::from_shape_vec(vec![co, ci, 3, 3], w)?));
        tensors.push((format!("features.{idx}.bias"), ndarray::ArrayD::from_shape_vec(vec![co], b)?));
    }
    let meta = HashMap::from([
        ("input_range".to_string(), "0-255".to_string()),
        ("mean".to_string(), "123.68,116.779,103.939".to_string()),
        ("architecture".to_string(), "fake VGG16 for tests (random weights)".to_string()),
    ]);
    crate::io::write_atomic(path, &crate::io::safetensors_bytes(&tensors, meta)?)
}
