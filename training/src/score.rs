//! `stylize-train score`: the loss terms of finished stylizations (image files made by any model, e.g. with
//! `stylize image`), so that models can be compared on held-out images with the loss they were trained on.

use std::path::PathBuf;

use anyhow::{bail, Result};
use tch::Device;

use crate::loss::{self, Perceptual, Terms};
use crate::optimize::load_resized;
use crate::vgg::{Convention, Vgg};

#[derive(Clone, Debug)]
pub struct ScoreConfig {
    pub style: PathBuf,
    pub style_size: Option<u32>,
    /// (content image, its stylization) pairs.
    pub pairs: Vec<(PathBuf, PathBuf)>,
    /// Long side both images are scored at.
    pub size: u32,
    pub vgg: PathBuf,
    pub vgg_convention: Option<Convention>,
    pub weights: loss::Weights,
    pub content_layer: String,
    pub device: Device,
}

/// The terms of each pair, in order.
pub fn score(cfg: &ScoreConfig) -> Result<Vec<Terms>> {
    let dev = cfg.device;
    let vgg = Vgg::load(&cfg.vgg, dev, cfg.vgg_convention.clone())?;
    let style = match cfg.style_size {
        Some(s) => load_resized(&cfg.style, s, dev)?,
        None => load_resized(&cfg.style, 0, dev)?,
    };
    let loss = Perceptual::new(vgg, &style, &cfg.content_layer, cfg.weights)?;
    let mut out = Vec::new();
    for (content, stylized) in &cfg.pairs {
        let x = load_resized(content, cfg.size, dev)?;
        let y = load_resized(stylized, cfg.size, dev)?;
        if x.size() != y.size() {
            bail!("{} and {} differ in shape at {} px: {:?} vs {:?}", content.display(), stylized.display(), cfg.size, x.size(), y.size());
        }
        out.push(tch::no_grad(|| loss::terms(&loss.loss(&y, &x))));
    }
    Ok(out)
}
