//! The perceptual loss of Johnson et al. (2016) on VGG16 features, made scale-free.
//!
//! Each term is divided by its target's energy, so that the weights do not depend on the loss
//! network's convention (Caffe 0..255 vs torchvision 0..1 features differ by orders of
//! magnitude), on the feature layer or on the image size:
//! - content = MSE(φ_c(y), φ_c(x)) / mean(φ_c(x)²), φ_c = relu2_2 by default;
//! - style   = mean over relu1_2, relu2_2, relu3_3, relu4_3 of MSE(G(y), G_s) / mean(G_s²),
//!   with G the Gram matrix F Fᵀ / (C H W) and G_s that of the style image (a weighted mean when
//!   `style_layers` is set: the low layers carry colour and fine strokes, relu4_3 large shapes);
//! - tv      = mean squared difference of neighbouring pixels, on the 0..1 scale.
//!
//! total = content_weight·content + style_weight·style + tv_weight·tv. With content 1, style
//! 10 and tv 1 a full net carries the style strongly after ~1000 iterations of batch 4 (see
//! the notes in training/README.md).

use std::rc::Rc;

use anyhow::{bail, Result};
use tch::{Kind, Tensor};

use crate::vgg::{gram, Vgg, LAYERS};

/// Loss weights.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub struct Weights {
    pub content: f64,
    pub style: f64,
    pub tv: f64,
    /// Temporal stability (0: off); see [`stability`].
    #[serde(default)]
    pub stability: f64,
    /// Relative weights of the style layers relu1_2, relu2_2, relu3_3, relu4_3 (None: equal). The style term
    /// is their weighted mean, so scaling them all changes nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style_layers: Option<[f64; 4]>,
}

impl Weights {
    pub fn new(content: f64, style: f64, tv: f64) -> Self {
        Self { content, style, tv, stability: 0.0, style_layers: None }
    }

    /// Each style layer's share of the style term (summing to 1).
    pub fn layer_shares(&self) -> [f64; 4] {
        let w = self.style_layers.unwrap_or([1.0; 4]);
        let sum: f64 = w.iter().sum();
        w.map(|x| x / sum)
    }
}

/// One evaluation's terms (unweighted) and the weighted total.
#[derive(Clone, Copy, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Terms {
    pub total: f64,
    pub content: f64,
    pub style: f64,
    pub tv: f64,
    #[serde(default)]
    pub stability: f64,
}

pub struct Perceptual {
    /// Shared by the models that one process trains on the same batches.
    pub vgg: Rc<Vgg>,
    /// Index into LAYERS of the content layer.
    pub content_layer: usize,
    /// Per style image: its Gram matrices, (1, C, C) per layer, and their energies.
    style_grams: Vec<Vec<Tensor>>,
    style_energy: Vec<Vec<Tensor>>,
    pub weights: Weights,
}

impl Perceptual {
    /// `style` is the style image, (1, 3, H, W) on 0..255, on the VGG's device.
    pub fn new(vgg: Vgg, style: &Tensor, content_layer: &str, weights: Weights) -> Result<Self> {
        Self::new_multi(Rc::new(vgg), std::slice::from_ref(style), content_layer, weights)
    }

    /// Several style images (a multi-style net); [`Self::loss_for`] picks one by index.
    pub fn new_multi(vgg: Rc<Vgg>, styles: &[Tensor], content_layer: &str, weights: Weights) -> Result<Self> {
        let Some(content_layer) = LAYERS.iter().position(|l| *l == content_layer) else {
            bail!("unknown content layer {content_layer}; one of {LAYERS:?}")
        };
        let style_grams: Vec<Vec<Tensor>> =
            styles.iter().map(|s| tch::no_grad(|| vgg.forward(s, 4).iter().map(gram).collect())).collect();
        let style_energy = style_grams.iter().map(|gs| gs.iter().map(|g| g.square().mean(None)).collect()).collect();
        Ok(Self { vgg, content_layer, style_grams, style_energy, weights })
    }

    /// Loss of stylized `y` against content `x` (both (B, 3, H, W), 0..255), first style.
    pub fn loss(&self, y: &Tensor, x: &Tensor) -> (Tensor, Tensor, Tensor, Tensor) {
        self.loss_for(y, x, 0)
    }

    /// Loss of `y` against content `x` and style image `style`.
    pub fn loss_for(&self, y: &Tensor, x: &Tensor, style: usize) -> (Tensor, Tensor, Tensor, Tensor) {
        self.loss_with(y, &self.content_features(x), style)
    }

    /// The content target of `x` (fp32): models trained on the same batch share it.
    pub fn content_features(&self, x: &Tensor) -> Tensor {
        tch::no_grad(|| self.vgg.forward(x, self.content_layer + 1).pop().expect("content feature").to_kind(Kind::Float))
    }

    /// Loss of `y` against the content target `fx` ([`Self::content_features`]) and style image `style`.
    pub fn loss_with(&self, y: &Tensor, fx: &Tensor, style: usize) -> (Tensor, Tensor, Tensor, Tensor) {
        self.loss_of(&self.vgg.forward(y, 4), y, fx, style)
    }

    /// [`Self::loss_with`] from `y`'s features `fy` (relu1_2..relu4_3), already computed.
    fn loss_of(&self, fy: &[Tensor], y: &Tensor, fx: &Tensor, style: usize) -> (Tensor, Tensor, Tensor, Tensor) {
        let c = self.content_layer;
        let content = (fy[c].to_kind(Kind::Float) - fx).square().mean(None) / fx.square().mean(None);
        let style = self.style_by_layer(fy, style)
            .zip(self.weights.layer_shares())
            .map(|(t, share)| t * share)
            .fold(Tensor::from(0f32).to_device(y.device()), |a, b| a + b);
        let tv = tv_loss(y);
        let w = self.weights;
        let total = &content * w.content + &style * w.style + &tv * w.tv;
        (total, content, style, tv)
    }

    /// Each style layer's term, MSE(G(y), G_s) / mean(G_s²), from the features `fy` of the stylized image.
    fn style_by_layer<'a>(&'a self, fy: &'a [Tensor], style: usize) -> impl Iterator<Item = Tensor> + 'a {
        fy.iter().zip(self.style_grams[style].iter().zip(&self.style_energy[style])).map(|(f, (gs, e))| (gram(f) - gs).square().mean(None) / e)
    }

    /// The features of image `x` at relu1_2..relu4_3, without gradient: a photo's side of [`Self::evaluate`].
    pub fn features(&self, x: &Tensor) -> Vec<Tensor> {
        tch::no_grad(|| self.vgg.forward(x, 4))
    }

    /// Each style layer's term of the image whose features are `f` ([`Self::features`]): with those of the
    /// photo, where a stylization moved towards the style (fine strokes and colour low, large shapes high).
    pub fn style_layers(&self, f: &[Tensor], style: usize) -> [f64; 4] {
        let mut out = [0.0; 4];
        tch::no_grad(|| {
            for (o, t) in out.iter_mut().zip(self.style_by_layer(f, style)) {
                *o = t.double_value(&[]);
            }
        });
        out
    }

    /// The terms of stylization `y` of the photo whose features are `fx`, and each style layer's term, from
    /// one VGG pass over `y` (no gradient).
    pub fn evaluate(&self, y: &Tensor, fx: &[Tensor], style: usize) -> (Terms, [f64; 4]) {
        tch::no_grad(|| {
            let fy = self.vgg.forward(y, 4);
            let t = terms(&self.loss_of(&fy, y, &fx[self.content_layer].to_kind(Kind::Float), style));
            (t, self.style_layers(&fy, style))
        })
    }
}

/// Temporal stability (Gupta et al. 2017): how much the output `y_noisy` of the input plus Gaussian noise of
/// `sigma` grey levels differs from the clean output `y`, relative to the input's own change (sigma²). Video
/// frames differ by such small changes where nothing moves; a stylizer that amplifies them flickers.
pub fn stability(y_noisy: &Tensor, y: &Tensor, sigma: f64) -> Tensor {
    (y_noisy - y).square().mean(None) / (sigma * sigma)
}

/// Mean squared neighbour difference on the 0..1 scale.
pub fn tv_loss(y: &Tensor) -> Tensor {
    let (_, _, h, w) = y.size4().expect("NCHW");
    let dy = y.narrow(2, 1, h - 1) - y.narrow(2, 0, h - 1);
    let dx = y.narrow(3, 1, w - 1) - y.narrow(3, 0, w - 1);
    (dy.square().mean(None) + dx.square().mean(None)) / (255.0 * 255.0)
}

pub fn terms(t: &(Tensor, Tensor, Tensor, Tensor)) -> Terms {
    let f = |x: &Tensor| x.double_value(&[]);
    Terms { total: f(&t.0), content: f(&t.1), style: f(&t.2), tv: f(&t.3), stability: 0.0 }
}
