//! The training loop (pytorch/examples fast_neural_style `train`, in tch).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use stylize_model::JohnsonSpec;
use tch::{nn, Device, Tensor};

use crate::ckpt::{self, RunState};
use crate::data::{self, CropConfig, Loader};
use crate::loss::{self, Perceptual, Terms};
use crate::optim::Adam;
use crate::report::{self, Row};
use crate::transformer::{self, Transformer};
use crate::vgg::{Convention, Vgg};

/// Everything `stylize-train train` takes.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    /// Style images; more than one trains a multi-style net (the spec's `styles` must match).
    pub styles: Vec<PathBuf>,
    /// Trained models to start from (see `transformer::init_from`); ignored when resuming.
    pub init: Vec<PathBuf>,
    /// Resize the style image so its long side is this (None: as is, like pytorch/examples).
    pub style_size: Option<u32>,
    /// Or scale every style image by this factor (keeps their relative sizes; 0.5 at 128 px
    /// crops gives the strokes the size they have at 256 px crops with the images as they are).
    pub style_scale: Option<f64>,
    pub content: Vec<PathBuf>,
    pub vgg: PathBuf,
    pub vgg_convention: Option<Convention>,
    pub out: PathBuf,
    pub arch: String,
    pub spec: JohnsonSpec,
    pub size: u32,
    pub max_crop_scale: f32,
    pub batch: usize,
    pub iters: u64,
    pub lr: f64,
    pub weights: loss::Weights,
    pub content_layer: String,
    pub seed: u64,
    pub resume: bool,
    pub checkpoint_every: u64,
    pub log_every: u64,
    pub samples: usize,
    pub sample_size: u32,
    pub workers: usize,
    /// Noise of the stability term, grey levels (used when `weights.stability` > 0).
    pub stability_noise: f64,
    /// Stop (with a checkpoint) once this run has trained this long; `--resume` continues.
    pub time_limit: Option<std::time::Duration>,
    pub device: Device,
    /// Show an indicatif bar (else plain log lines every `log_every` iterations).
    pub progress: bool,
}

pub fn device_name(d: Device) -> String {
    match d {
        Device::Cpu => "cpu".into(),
        Device::Cuda(i) => format!("cuda:{i}"),
        other => format!("{other:?}"),
    }
}

/// The stop signal received (0: none). SIGINT, SIGTERM (schedulers, `docker stop`) and SIGHUP (a closed
/// terminal) end training at the end of the current iteration with a checkpoint, so `--resume` continues.
static STOP: std::sync::OnceLock<Arc<AtomicUsize>> = std::sync::OnceLock::new();

/// Installs the stop handlers (once). A second signal exits at once with 128 + its number: the checkpoint on
/// disk is still whole (it is written to a temporary file and renamed).
pub fn catch_signals() -> Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    if STOP.get().is_some() {
        return Ok(());
    }
    let (stop, once) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicBool::new(false)));
    for sig in [SIGINT, SIGTERM, SIGHUP] {
        // Registered before the flag is set, so it sees the flag of an earlier signal only.
        signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, Arc::clone(&once))?;
        signal_hook::flag::register(sig, Arc::clone(&once))?;
        signal_hook::flag::register_usize(sig, Arc::clone(&stop), sig as usize)?;
    }
    let _ = STOP.set(stop);
    Ok(())
}

/// How a stop signal is named to the user.
pub fn signal_name(sig: i32) -> &'static str {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    match sig {
        SIGINT => "Ctrl-C",
        SIGTERM => "SIGTERM",
        SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}

/// The stop signal received, if any.
pub fn stop_signal() -> Option<i32> {
    STOP.get().map(|s| s.load(Ordering::Relaxed) as i32).filter(|&s| s != 0)
}

/// Trains (or resumes) a run; returns its final state.
pub fn train(cfg: &TrainConfig) -> Result<RunState> {
    let dev = cfg.device;
    tch::manual_seed(cfg.seed as i64);
    let files = data::list_images(&cfg.content)?;
    let vgg = Vgg::load(&cfg.vgg, dev, cfg.vgg_convention.clone())?;
    let convention = format!("{:?}", vgg.convention);
    if cfg.styles.len() != cfg.spec.styles {
        bail!("{} style images for a net of {} styles", cfg.styles.len(), cfg.spec.styles);
    }
    let style_ts = cfg.styles.iter().map(|p| style_tensor(p, cfg.style_size, cfg.style_scale, dev)).collect::<Result<Vec<_>>>()?;
    let loss = Perceptual::new_multi(vgg, &style_ts, &cfg.content_layer, cfg.weights)?;

    let vs = nn::VarStore::new(dev);
    let net = Transformer::new(&vs.root(), &cfg.spec)?;
    transformer::check_names(&vs, &cfg.spec)?;
    let inits = cfg
        .init
        .iter()
        .map(|p| {
            let bytes = std::fs::read(p).with_context(|| format!("reading --init {}", p.display()))?;
            let (_, _, w) = stylize_model::onnx::read_johnson(&bytes).with_context(|| format!("--init {}", p.display()))?;
            Ok(w)
        })
        .collect::<Result<Vec<_>>>()?;
    transformer::init_from(&vs, &cfg.spec, &inits)?;
    let mut opt = Adam::new(&vs, cfg.lr);
    std::fs::create_dir_all(cfg.out.join("samples")).with_context(|| format!("creating {}", cfg.out.display()))?;

    let mut state = RunState {
        iteration: 0,
        adam_step: 0,
        arch: cfg.arch.clone(),
        spec: cfg.spec.clone(),
        style: cfg.styles.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(","),
        style_name: style_names(&cfg.styles).join("+"),
        styles: if cfg.styles.len() > 1 { style_names(&cfg.styles) } else { Vec::new() },
        init: cfg.init.iter().map(|p| p.display().to_string()).collect(),
        style_size: cfg.style_size,
        style_scale: cfg.style_scale,
        content: cfg.content.iter().map(|p| p.display().to_string()).collect(),
        content_images: files.len(),
        vgg: cfg.vgg.display().to_string(),
        vgg_convention: convention,
        content_layer: cfg.content_layer.clone(),
        size: cfg.size,
        batch: cfg.batch,
        lr: cfg.lr,
        weights: cfg.weights,
        seed: cfg.seed,
        device: device_name(dev),
        losses: Terms::default(),
        elapsed_s: 0.0,
        trainer: format!("stylize-train {}", env!("CARGO_PKG_VERSION")),
        updated: crate::io::utc_now(),
    };
    if cfg.resume && ckpt::checkpoint_path(&cfg.out).exists() {
        let (saved, tensors) = ckpt::load(&cfg.out)?;
        if saved.spec != cfg.spec {
            bail!("{} was trained with {:?}, not {:?}", cfg.out.display(), saved.spec, cfg.spec);
        }
        ckpt::restore(&mut opt, &saved, &tensors)?;
        (state.iteration, state.adam_step, state.elapsed_s, state.losses) = (saved.iteration, saved.adam_step, saved.elapsed_s, saved.losses);
        eprintln!("resuming {} at iteration {}", cfg.out.display(), state.iteration);
    } else if cfg.resume {
        eprintln!("--resume: no checkpoint in {}, starting from scratch", cfg.out.display());
    }
    let metrics_path = cfg.out.join("metrics.csv");
    let mut rows = if state.iteration > 0 { report::read_metrics(&metrics_path, state.iteration) } else { Vec::new() };
    let samples = report::sample_inputs(&files, cfg.samples, cfg.sample_size)?;
    let crop = CropConfig { size: cfg.size, max_scale: cfg.max_crop_scale };
    let mut loader = Loader::new(files, crop, cfg.batch, cfg.seed, state.iteration, cfg.workers);
    std::fs::write(cfg.out.join("config.txt"), format!("{cfg:#?}\n"))?;

    let pb = progress_bar(cfg, state.iteration);
    let (t0, elapsed0, start) = (Instant::now(), state.elapsed_s, state.iteration);
    while state.iteration < cfg.iters {
        let x = loader.next_batch()?.to_device(dev);
        // A multi-style net takes its styles in turn, one per batch (Dumoulin et al.).
        let style = (state.iteration % cfg.styles.len() as u64) as usize;
        let y = net.forward_style(&x, style);
        let mut l = loss.loss_for(&y, &x, style);
        let stab = (cfg.weights.stability > 0.0).then(|| {
            let y_noisy = net.forward_style(&(&x + x.randn_like() * cfg.stability_noise), style);
            loss::stability(&y_noisy, &y, cfg.stability_noise)
        });
        if let Some(s) = &stab {
            l.0 = &l.0 + s * cfg.weights.stability;
        }
        opt.zero_grad();
        l.0.backward();
        opt.step();
        state.iteration += 1;
        state.adam_step = opt.step;
        state.elapsed_s = elapsed0 + t0.elapsed().as_secs_f64();
        let t = loss::Terms { stability: stab.map_or(0.0, |s| s.double_value(&[])), ..loss::terms(&l) };
        if !t.total.is_finite() {
            bail!("loss is {} at iteration {}: lower --lr", t.total, state.iteration);
        }
        rows.push(Row { iteration: state.iteration, elapsed_s: state.elapsed_s, terms: t });
        state.losses = mean_terms(&rows[rows.len().saturating_sub(cfg.log_every as usize)..]);
        let msg = format!("loss {:.4} content {:.4} style {:.4} tv {:.5}", t.total, t.content, t.style, t.tv);
        pb.set_position(state.iteration);
        pb.set_message(msg.clone());
        if !cfg.progress && (state.iteration.is_multiple_of(cfg.log_every) || state.iteration == cfg.iters) {
            let rate = (state.iteration - start) as f64 / t0.elapsed().as_secs_f64();
            let eta = (cfg.iters - state.iteration) as f64 / rate;
            eprintln!("iter {}/{} {:.3} s/it ETA {:.0} s {msg}", state.iteration, cfg.iters, 1.0 / rate, eta);
        }
        let out_of_time = cfg.time_limit.is_some_and(|limit| t0.elapsed() >= limit);
        let stopped = stop_signal().is_some();
        if state.iteration.is_multiple_of(cfg.checkpoint_every) || state.iteration == cfg.iters || out_of_time || stopped {
            state.updated = crate::io::utc_now();
            ckpt::save(&cfg.out, &state, &opt)?;
            report::write_metrics(&metrics_path, &rows)?;
            report::write_samples(&cfg.out.join("samples").join(format!("iter_{:06}.png", state.iteration)), &net, &samples, dev)?;
            if let Err(e) = report::write_loss_plot(&cfg.out.join("loss.png"), &rows, &cfg.weights) {
                eprintln!("loss plot: {e:#}");
            }
        }
        if out_of_time {
            eprintln!("time limit reached at iteration {}: checkpoint saved, continue with --resume", state.iteration);
            break;
        }
        if stopped {
            break;
        }
    }
    pb.finish();
    Ok(state)
}

/// File stems of the style images.
pub fn style_names(paths: &[PathBuf]) -> Vec<String> {
    paths.iter().map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()).collect()
}

/// A style image as (1, 3, H, W) on 0..255, its long side resized to `size`, or scaled by `scale`, if given.
fn style_tensor(path: &std::path::Path, size: Option<u32>, scale: Option<f64>, dev: Device) -> Result<Tensor> {
    let mut img = data::load_rgb(path)?;
    let (w, h) = img.dimensions();
    let k = match (size, scale) {
        (Some(s), _) => Some(s as f64 / w.max(h) as f64),
        (None, k) => k,
    };
    if let Some(k) = k {
        let (w, h) = ((w as f64 * k).round().max(1.0) as u32, (h as f64 * k).round().max(1.0) as u32);
        img = image::imageops::resize(&img, w, h, image::imageops::FilterType::Triangle);
    }
    let (w, h) = img.dimensions();
    Ok(Tensor::from_slice(&data::to_nchw(&[img])).view([1, 3, h as i64, w as i64]).to_device(dev))
}

fn mean_terms(rows: &[Row]) -> Terms {
    let n = rows.len().max(1) as f64;
    rows.iter().fold(Terms::default(), |a, r| Terms {
        total: a.total + r.terms.total / n,
        content: a.content + r.terms.content / n,
        style: a.style + r.terms.style / n,
        tv: a.tv + r.terms.tv / n,
        stability: a.stability + r.terms.stability / n,
    })
}

fn progress_bar(cfg: &TrainConfig, pos: u64) -> indicatif::ProgressBar {
    if !cfg.progress {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new(cfg.iters);
    pb.set_style(
        indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {per_sec} ETA {eta} {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    pb.set_position(pos);
    pb.reset_eta();
    pb
}
