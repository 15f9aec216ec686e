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
use crate::train::style_tensor;
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

impl Scored {
    /// The score of stylization `y` of photo `x` (both (1, 3, H, W) on 0..255) under `loss`: one VGG pass over
    /// each. The style ratio weighs the layers as the loss does.
    pub fn of(loss: &Perceptual, y: &Tensor, x: &Tensor) -> Self {
        let fx = loss.features(x);
        let (terms, styled) = loss.evaluate(y, &fx, 0);
        Self::from_layers(terms, &styled, &loss.style_layers(&fx, 0), loss.weights.layer_shares())
    }

    /// From the per-layer style terms of the stylization and of the photo, and the loss's layer shares.
    pub fn from_layers(terms: Terms, styled: &[f64; 4], photo: &[f64; 4], shares: [f64; 4]) -> Self {
        let weighted = |l: &[f64; 4]| l.iter().zip(&shares).map(|(t, s)| t * s).sum::<f64>();
        let mut layer_ratios = [0.0; 4];
        for (r, (a, b)) in layer_ratios.iter_mut().zip(styled.iter().zip(photo)) {
            *r = a / b.max(1e-12);
        }
        Self { terms, style_ratio: weighted(styled) / weighted(photo).max(1e-12), layer_ratios }
    }
}

/// The terms of each pair, in order.
pub fn score(cfg: &ScoreConfig) -> Result<Vec<Scored>> {
    let dev = cfg.device;
    let vgg = Vgg::load(&cfg.vgg, dev, cfg.vgg_convention.clone())?;
    let style = style_tensor(&cfg.style, cfg.style_size, None, dev)?;
    let loss = Perceptual::new(vgg, &style, &cfg.content_layer, cfg.weights)?;
    let mut out = Vec::new();
    for (content, stylized) in &cfg.pairs {
        let x = load_resized(content, cfg.size, dev)?;
        let y = load_resized(stylized, cfg.size, dev)?;
        if x.size() != y.size() {
            bail!("{} and {} differ in shape at {} px: {:?} vs {:?}", content.display(), stylized.display(), cfg.size, x.size(), y.size());
        }
        out.push(Scored::of(&loss, &y, &x));
    }
    Ok(out)
}
