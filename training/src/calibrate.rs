//! `stylize-train calibrate`: the style weight that lands a style at a chosen style ratio (how much of the photo's
//! distance to the style a stylization removes; see [`crate::score`]), found with cheap probes before any training.
//!
//! A probe optimises the pixels of each content image under the loss (Gatys et al., [`crate::optimize::gatys`])
//! with one style weight, and measures the style ratio and content term of the result. The ratio falls as the
//! weight grows, so the search steps the weight by 4x until the target is bracketed, then halves the bracket
//! geometrically; the answer interpolates log(weight) against log(ratio) between the bracket's ends. A
//! feed-forward net trained with a weight reaches a weaker ratio than the probe's (it paints every picture with
//! one set of weights): the probe is the ceiling the loss sets, the gap to it is training.

use std::path::PathBuf;

use anyhow::{bail, Result};
use tch::{Device, Tensor};

use crate::loss::{self, Perceptual};
use crate::optimize::{gatys, load_resized};
use crate::score::Scored;
use crate::train::style_tensor;
use crate::vgg::{Convention, Vgg};

#[derive(Clone, Debug)]
pub struct CalibrateConfig {
    pub style: PathBuf,
    pub style_size: Option<u32>,
    pub content: Vec<PathBuf>,
    /// The ratio to land at, or `None` to take it from `reference`.
    pub target: Option<f64>,
    /// A stylization of the first content image whose style ratio is the target (e.g. another project's model).
    pub reference: Option<PathBuf>,
    /// Long side the probes optimise and measure at.
    pub size: u32,
    pub iters: u64,
    pub lr: f64,
    /// The first probe's weights; the search changes only the style weight.
    pub weights: loss::Weights,
    pub probes: usize,
    pub vgg: PathBuf,
    pub vgg_convention: Option<Convention>,
    pub content_layer: String,
    pub device: Device,
}

/// One probe: the style weight tried and what the optimised images reached (means over the content images).
#[derive(Clone, Copy, Debug)]
pub struct Probe {
    pub style_weight: f64,
    pub style_ratio: f64,
    pub content: f64,
}

#[derive(Clone, Debug)]
pub struct Calibration {
    pub target: f64,
    pub probes: Vec<Probe>,
    /// The interpolated style weight for the target (the nearest probe's when the target was not bracketed).
    pub style_weight: f64,
    pub bracketed: bool,
}

pub fn calibrate(cfg: &CalibrateConfig, mut on_probe: impl FnMut(&Probe)) -> Result<Calibration> {
    if cfg.content.is_empty() {
        bail!("give at least one --content image");
    }
    let dev = cfg.device;
    let vgg = Vgg::load(&cfg.vgg, dev, cfg.vgg_convention.clone())?;
    let style = style_tensor(&cfg.style, cfg.style_size, None, dev)?;
    let mut loss = Perceptual::new(vgg, &style, &cfg.content_layer, cfg.weights)?;
    let contents = cfg.content.iter().map(|p| load_resized(p, cfg.size, dev)).collect::<Result<Vec<Tensor>>>()?;
    let target = match (cfg.target, &cfg.reference) {
        (Some(t), _) => t,
        (None, Some(r)) => {
            let y = load_resized(r, cfg.size, dev)?;
            if y.size() != contents[0].size() {
                bail!("--reference {} is not a stylization of {} (shapes {:?} and {:?} at {} px)", r.display(), cfg.content[0].display(), y.size(), contents[0].size(), cfg.size);
            }
            Scored::of(&loss, &y, &contents[0]).style_ratio
        }
        (None, None) => bail!("give --target-style-ratio R or --reference STYLIZED"),
    };
    if !(target > 0.0 && target < 1.0) {
        bail!("the target style ratio must lie between 0 and 1 (got {target:.4}): 1 is the photo itself");
    }
    // The photos' side of each score: their features and style terms do not change from probe to probe.
    let photos: Vec<(Vec<Tensor>, [f64; 4])> = contents.iter().map(|x| {
        let f = loss.features(x);
        let layers = loss.style_layers(&f, 0);
        (f, layers)
    }).collect();
    let shares = loss.weights.layer_shares();
    let mut probe = |w: f64| -> Probe {
        loss.weights.style = w;
        let (mut ratio, mut content) = (0.0, 0.0);
        for (x, (fx, photo)) in contents.iter().zip(&photos) {
            let y = gatys(&loss, x, cfg.iters, cfg.lr, |_, _| {}).round();
            let (terms, styled) = loss.evaluate(&y, fx, 0);
            ratio += Scored::from_layers(terms, &styled, photo, shares).style_ratio;
            content += terms.content;
        }
        let n = contents.len() as f64;
        let p = Probe { style_weight: w, style_ratio: ratio / n, content: content / n };
        on_probe(&p);
        p
    };
    let mut probes = vec![probe(cfg.weights.style)];
    // Step by 4x until the target lies between two probes, then halve the bracket (geometrically).
    let (mut lo, mut hi): (Option<Probe>, Option<Probe>) = (None, None); // lo: too little style; hi: enough
    let place = |p: Probe, lo: &mut Option<Probe>, hi: &mut Option<Probe>| {
        if p.style_ratio > target { *lo = Some(p) } else { *hi = Some(p) }
    };
    place(probes[0], &mut lo, &mut hi);
    while probes.len() < cfg.probes.max(2) {
        let w = match (lo, hi) {
            (Some(l), Some(h)) => (l.style_weight * h.style_weight).sqrt(),
            (Some(l), None) => l.style_weight * 4.0,
            (None, Some(h)) => h.style_weight / 4.0,
            (None, None) => unreachable!("the first probe is placed"),
        };
        let p = probe(w);
        probes.push(p);
        place(p, &mut lo, &mut hi);
    }
    let (style_weight, bracketed) = match (lo, hi) {
        (Some(l), Some(h)) => {
            let t = (target.ln() - l.style_ratio.ln()) / (h.style_ratio.ln() - l.style_ratio.ln());
            ((l.style_weight.ln() + t.clamp(0.0, 1.0) * (h.style_weight.ln() - l.style_weight.ln())).exp(), true)
        }
        (Some(p), None) | (None, Some(p)) => (p.style_weight, false),
        (None, None) => unreachable!("probes were placed"),
    };
    Ok(Calibration { target, probes, style_weight, bracketed })
}
