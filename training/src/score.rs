//! `stylize-train score`: the loss terms of finished stylizations (image files made by any model, e.g. with
//! `stylize image`), so that models can be compared on held-out images with the loss they were trained on.
//!
//! Besides the terms, each pair gets its **style ratio**: the style term of the stylization relative to that of
//! the unstylized photo (1: no style at all, lower: more style). Unlike the style term alone it does not depend
//! on how far the photo happens to be from the style, so it compares models across pictures and with other
//! projects' outputs (the pytorch/examples models on amber.jpg sit at 0.13-0.37, scored at its own size).

use std::path::PathBuf;

use anyhow::{bail, Result};
use tch::{Device, Tensor};

use crate::loss::{self, Perceptual, Terms};
use crate::optimize::load_resized;
use crate::vgg::{Convention, Vgg};

#[derive(Clone, Debug)]
pub struct ScoreConfig {
    pub style: PathBuf,
    pub style_size: Option<u32>,
    /// (content image, its stylization) pairs.
    pub pairs: Vec<(PathBuf, PathBuf)>,
    /// Long side both images are scored at (0: the content image's own size).
    pub size: u32,
    pub vgg: PathBuf,
    pub vgg_convention: Option<Convention>,
    pub weights: loss::Weights,
    pub content_layer: String,
    pub device: Device,
}

/// One pair's terms and style ratios.
#[derive(Clone, Copy, Debug)]
pub struct Scored {
    pub terms: Terms,
    pub style_ratio: f64,
    /// The ratio of each style layer alone (relu1_2, relu2_2, relu3_3, relu4_3).
    pub layer_ratios: [f64; 4],
}

/// The style ratio of stylization `y` of photo `x` (both (1, 3, H, W) on 0..255) under `loss` (its layers
/// weighted as the loss weighs them), and each layer's.
pub fn style_ratios(loss: &Perceptual, y: &Tensor, x: &Tensor) -> (f64, [f64; 4]) {
    let (ly, lx) = (loss.style_layers(y, 0), loss.style_layers(x, 0));
    let shares = loss.weights.layer_shares();
    let weighted = |l: &[f64; 4]| l.iter().zip(&shares).map(|(t, s)| t * s).sum::<f64>();
    let mut per_layer = [0.0; 4];
    for (r, (a, b)) in per_layer.iter_mut().zip(ly.iter().zip(&lx)) {
        *r = a / b.max(1e-12);
    }
    (weighted(&ly) / weighted(&lx).max(1e-12), per_layer)
}

/// The style image at `style_size` (its own size when `None`), as the loss wants it.
pub fn load_style(path: &std::path::Path, style_size: Option<u32>, dev: Device) -> Result<Tensor> {
    load_resized(path, style_size.unwrap_or(0), dev)
}

/// The terms of each pair, in order.
pub fn score(cfg: &ScoreConfig) -> Result<Vec<Scored>> {
    let dev = cfg.device;
    let vgg = Vgg::load(&cfg.vgg, dev, cfg.vgg_convention.clone())?;
    let style = load_style(&cfg.style, cfg.style_size, dev)?;
    let loss = Perceptual::new(vgg, &style, &cfg.content_layer, cfg.weights)?;
    let mut out = Vec::new();
    for (content, stylized) in &cfg.pairs {
        let x = load_resized(content, cfg.size, dev)?;
        let y = load_resized(stylized, cfg.size, dev)?;
        if x.size() != y.size() {
            bail!("{} and {} differ in shape at {} px: {:?} vs {:?}", content.display(), stylized.display(), cfg.size, x.size(), y.size());
        }
        let terms = tch::no_grad(|| loss::terms(&loss.loss(&y, &x)));
        let (style_ratio, layer_ratios) = style_ratios(&loss, &y, &x);
        out.push(Scored { terms, style_ratio, layer_ratios });
    }
    Ok(out)
}
