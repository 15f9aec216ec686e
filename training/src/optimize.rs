//! `stylize-train optimize`: per-image style transfer (Gatys et al. 2016) with the same VGG
//! loss: the pixels of the output are optimised directly (Adam on the 0..255 image, starting
//! from the content), for one high-quality still and as a reference for the feed-forward nets.

use std::path::PathBuf;

use anyhow::Result;
use tch::{Device, Kind, Tensor};

use crate::data::{load_rgb, to_nchw};
use crate::loss::{self, Perceptual};
use crate::vgg::{Convention, Vgg};

#[derive(Clone, Debug)]
pub struct OptimizeConfig {
    pub content: PathBuf,
    pub style: PathBuf,
    pub vgg: PathBuf,
    pub vgg_convention: Option<Convention>,
    pub out: PathBuf,
    /// Long side of the output (and of the style image).
    pub size: u32,
    pub style_size: Option<u32>,
    pub iters: u64,
    pub lr: f64,
    pub weights: loss::Weights,
    pub content_layer: String,
    pub device: Device,
}

/// An image as (1, 3, H, W) on 0..255, resized to long side `long` (0: as is).
pub(crate) fn load_resized(path: &std::path::Path, long: u32, dev: Device) -> Result<Tensor> {
    let img = load_rgb(path)?;
    let (w, h) = img.dimensions();
    let long = if long == 0 { w.max(h) } else { long };
    let k = long as f64 / w.max(h) as f64;
    let (w, h) = ((w as f64 * k).round().max(16.0) as u32, (h as f64 * k).round().max(16.0) as u32);
    let img = image::imageops::resize(&img, w, h, image::imageops::FilterType::Triangle);
    Ok(Tensor::from_slice(&to_nchw(&[img])).view([1, 3, h as i64, w as i64]).to_device(dev))
}

pub fn optimize(cfg: &OptimizeConfig) -> Result<()> {
    let dev = cfg.device;
    let vgg = Vgg::load(&cfg.vgg, dev, cfg.vgg_convention.clone())?;
    let content = load_resized(&cfg.content, cfg.size, dev)?;
    let style = load_resized(&cfg.style, cfg.style_size.unwrap_or(cfg.size), dev)?;
    let loss = Perceptual::new(vgg, &style, &cfg.content_layer, cfg.weights)?;
    let pb = indicatif::ProgressBar::new(cfg.iters);
    let x = gatys(&loss, &content, cfg.iters, cfg.lr, |step, t| {
        pb.set_position(step);
        pb.set_message(format!("loss {:.4} content {:.4} style {:.4}", t.total, t.content, t.style));
    });
    pb.finish();
    crate::report::save_png(&cfg.out, &crate::report::tensor_to_image(&x)?)
}

/// `iters` steps of Adam (torch defaults, step `lr` on the 0..255 scale) on the pixels of an image that starts
/// as `content` ((1, 3, H, W), 0..255), under `loss`; `on_step` sees each step's terms.
pub fn gatys(loss: &Perceptual, content: &Tensor, iters: u64, lr: f64, mut on_step: impl FnMut(u64, loss::Terms)) -> Tensor {
    // The image is the only parameter: Adam written out on one tensor.
    let mut x = content.copy().to_kind(Kind::Float).set_requires_grad(true);
    let (mut m, mut v) = (x.zeros_like(), x.zeros_like());
    for step in 1..=iters {
        let l = loss.loss(&x, content);
        x.zero_grad();
        l.0.backward();
        tch::no_grad(|| {
            let g = x.grad();
            let _ = m.lerp_(&g, 0.1);
            let _ = v.lerp_(&g.square(), 0.001);
            let denom = (&v / (1.0 - 0.999f64.powi(step as i32))).sqrt() + 1e-8;
            let mut x_ = x.shallow_clone();
            let _ = x_.addcdiv_(&(&m * (-lr / (1.0 - 0.9f64.powi(step as i32)))), &denom);
            let _ = x_.clamp_(0.0, 255.0);
        });
        on_step(step, loss::terms(&l));
    }
    x.detach()
}
