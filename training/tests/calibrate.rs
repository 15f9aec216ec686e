//! The style ratio (`score`), per-layer style weights and `calibrate`, on generated images with a tiny fake VGG.

use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};
use stylize_train::calibrate::{calibrate, CalibrateConfig};
use stylize_train::loss::{Perceptual, Weights};
use stylize_train::score::{score, ScoreConfig, Scored};
use stylize_train::vgg::{self, Vgg};
use tch::{Device, Tensor};

fn tmp(name: &str) -> PathBuf {
    tch::set_num_threads(1);
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("stylize-train-calibrate").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A photo-like gradient with rectangles, a style of diagonal colour stripes (both 64x64), a fake VGG.
fn setup(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let photo = dir.join("photo.png");
    RgbImage::from_fn(64, 64, |x, y| if (x / 16 + y / 16) % 3 == 0 { Rgb([240, 200, 40]) } else { Rgb([(x * 3) as u8, (y * 3) as u8, 90]) })
        .save(&photo)
        .unwrap();
    let style = dir.join("style.png");
    RgbImage::from_fn(64, 64, |x, y| match ((x + y) / 5) % 3 {
        0 => Rgb([230, 40, 90]),
        1 => Rgb([30, 200, 220]),
        _ => Rgb([250, 220, 30]),
    })
    .save(&style)
    .unwrap();
    let vgg = dir.join("fake_vgg.safetensors");
    vgg::write_fake_vgg(&vgg, [8, 16, 16, 16], 3).unwrap();
    (photo, style, vgg)
}

fn score_cfg(style: &Path, vgg: &Path, pairs: Vec<(PathBuf, PathBuf)>) -> ScoreConfig {
    ScoreConfig {
        style: style.into(),
        style_size: None,
        pairs,
        size: 0,
        vgg: vgg.into(),
        vgg_convention: None,
        weights: Weights::new(1.0, 10.0, 1.0),
        content_layer: "relu2_2".into(),
        device: Device::Cpu,
    }
}

#[test]
fn style_ratio_is_one_for_the_photo_and_near_zero_for_the_style_itself() {
    let dir = tmp("ratio");
    let (photo, style, vgg) = setup(&dir);
    let s = score(&score_cfg(&style, &vgg, vec![(photo.clone(), photo.clone()), (photo.clone(), style.clone())])).unwrap();
    assert!((s[0].style_ratio - 1.0).abs() < 1e-9, "the photo as its own stylization: {}", s[0].style_ratio);
    assert!(s[0].layer_ratios.iter().all(|r| (r - 1.0).abs() < 1e-9), "{:?}", s[0].layer_ratios);
    assert!(s[1].style_ratio < 1e-6, "the style image as the stylization: {}", s[1].style_ratio);
    assert!(s[1].terms.content > 0.1, "and it is far from the photo's content: {}", s[1].terms.content);
}

#[test]
fn style_layer_weights_pick_the_layers_of_the_style_term() {
    let dir = tmp("layers");
    let (photo, style, vgg_path) = setup(&dir);
    let load = |p: &Path| {
        let img = image::open(p).unwrap().to_rgb8();
        Tensor::from_slice(&stylize_train::data::to_nchw(&[img])).view([1, 3, 64, 64])
    };
    let (x, s) = (load(&photo), load(&style));
    let vgg = Vgg::load(&vgg_path, Device::Cpu, None).unwrap();
    let mut loss = Perceptual::new(vgg, &s, "relu2_2", Weights::new(1.0, 1.0, 0.0)).unwrap();
    let layers = loss.style_layers(&loss.features(&x), 0);
    assert!(layers.iter().all(|t| *t > 0.0), "{layers:?}");
    let style_term = |loss: &Perceptual| loss.loss(&x, &x).2.double_value(&[]);
    let equal = style_term(&loss);
    assert!((equal - layers.iter().sum::<f64>() / 4.0).abs() < 1e-5 * equal, "equal weights: the mean of the layers");
    for (k, expect) in layers.iter().enumerate() {
        let mut w = [0.0; 4];
        w[k] = 3.0;
        loss.weights.style_layers = Some(w);
        let got = style_term(&loss);
        assert!((got - expect).abs() < 1e-5 * expect, "layer {k} alone: {got} vs {expect}");
    }
    // The overall ratio follows the same weights: only relu1_2 counted gives relu1_2's ratio.
    loss.weights.style_layers = Some([1.0, 0.0, 0.0, 0.0]);
    let y = (&x * 0.5 + &s * 0.5).round();
    let Scored { style_ratio: overall, layer_ratios: per_layer, .. } = Scored::of(&loss, &y, &x);
    assert!((overall - per_layer[0]).abs() < 1e-9 && overall < 1.0, "{overall} vs {per_layer:?}");
}

#[test]
fn calibrate_brackets_the_target_and_a_probe_at_its_weight_lands_near_it() {
    let dir = tmp("calibrate");
    let (photo, style, vgg) = setup(&dir);
    let cfg = |target: f64, probes: usize, w: f64| CalibrateConfig {
        style: style.clone(),
        style_size: None,
        content: vec![photo.clone()],
        target: Some(target),
        reference: None,
        size: 0,
        iters: 40,
        lr: 4.0,
        weights: Weights::new(1.0, w, 0.0),
        probes,
        vgg: vgg.clone(),
        vgg_convention: None,
        content_layer: "relu2_2".into(),
        device: Device::Cpu,
    };
    let mut seen = Vec::new();
    // Few probes leave a wide bracket: the interpolation has work to do.
    let c = calibrate(&cfg(0.3, 3, 1.0), |p| seen.push(*p)).unwrap();
    assert_eq!(seen.len(), 3);
    assert!(c.bracketed, "{:?}", c.probes);
    // More style weight, less of the photo's style distance left (the search relies on it).
    let mut by_weight = c.probes.clone();
    by_weight.sort_by(|a, b| a.style_weight.total_cmp(&b.style_weight));
    assert!(by_weight.windows(2).all(|p| p[1].style_ratio <= p[0].style_ratio * 1.02), "{by_weight:?}");
    // A single probe at the answer lands near the target.
    let check = calibrate(&cfg(0.3, 1, c.style_weight), |_| {}).unwrap();
    let r = check.probes[0].style_ratio;
    assert!((r / 0.3).ln().abs() < 0.1, "a probe at weight {} reaches {r}, target 0.3; probes {:?}", c.style_weight, c.probes);
    // A target of 1 or more is no stylization at all.
    let err = calibrate(&cfg(1.5, 2, 1.0), |_| {}).unwrap_err().to_string();
    assert!(err.contains("between 0 and 1"), "{err}");
}
