//! The training loop (pytorch/examples fast_neural_style `train`, in tch).

use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use stylize_model::JohnsonSpec;
use tch::{nn, Device, Tensor};

use crate::ckpt::{self, RunState};
use crate::data::{self, CropConfig, Loader};
use crate::loss::{self, Perceptual, Terms};
use crate::mixed::{Compute, Precision};
use crate::optim::Adam;
use crate::report::{self, Row};
use crate::schedule::{default_warmup, lr_at, LrScaling};
use crate::transformer::{self, Transformer};
use crate::vgg::{Convention, Vgg};

/// Everything `stylize-train train` takes. The model fields (`styles` .. `stability_noise`, `out`) describe the
/// first model; `more` lists further models trained in the same process on the same content batches.
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
    /// Adam's learning rate at batch 4 (the reference's); see [`lr_at`] for larger batches.
    pub lr: f64,
    pub lr_scaling: LrScaling,
    /// Iterations of linear learning-rate warm-up (None: [`default_warmup`]).
    pub warmup: Option<u64>,
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
    pub precision: Precision,
    pub channels_last: bool,
    /// Show an indicatif bar (else plain log lines every `log_every` iterations).
    pub progress: bool,
    /// Further models trained on the same batches (shared data loading and content features).
    pub more: Vec<ModelConfig>,
}

/// One model of a run: what may differ between the models that share its batches.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Its run folder (checkpoint, metrics.csv, samples/, loss.png).
    pub out: PathBuf,
    #[serde(default = "full_arch")]
    pub arch: String,
    /// Overrides of the arch's spec (`styles` follows the style images).
    #[serde(default)]
    pub widths: Option<[usize; 3]>,
    #[serde(default)]
    pub res_blocks: Option<usize>,
    #[serde(default)]
    pub end_kernel: Option<usize>,
    pub styles: Vec<PathBuf>,
    #[serde(default)]
    pub init: Vec<PathBuf>,
    #[serde(default)]
    pub style_size: Option<u32>,
    #[serde(default)]
    pub style_scale: Option<f64>,
    pub weights: loss::Weights,
    #[serde(default = "default_noise")]
    pub stability_noise: f64,
    /// The exact spec (a [`TrainConfig`]'s own); else `arch` with the overrides.
    #[serde(skip)]
    pub exact_spec: Option<JohnsonSpec>,
}

fn full_arch() -> String {
    "full".into()
}

fn default_noise() -> f64 {
    4.0
}

impl ModelConfig {
    pub fn spec(&self) -> Result<JohnsonSpec> {
        if let Some(s) = &self.exact_spec {
            return Ok(s.clone());
        }
        let mut s = JohnsonSpec::by_name(&self.arch).with_context(|| format!("unknown arch {}: full, half or lite", self.arch))?;
        s.widths = self.widths.unwrap_or(s.widths);
        s.res_blocks = self.res_blocks.unwrap_or(s.res_blocks);
        s.end_kernel = self.end_kernel.unwrap_or(s.end_kernel);
        s.styles = self.styles.len();
        s.validate()?;
        Ok(s)
    }
}

impl TrainConfig {
    /// The first model, from the flat fields.
    fn first(&self) -> ModelConfig {
        ModelConfig {
            out: self.out.clone(),
            arch: self.arch.clone(),
            widths: Some(self.spec.widths),
            res_blocks: Some(self.spec.res_blocks),
            end_kernel: Some(self.spec.end_kernel),
            styles: self.styles.clone(),
            init: self.init.clone(),
            style_size: self.style_size,
            style_scale: self.style_scale,
            weights: self.weights,
            stability_noise: self.stability_noise,
            exact_spec: Some(self.spec.clone()),
        }
    }

    /// Iterations of learning-rate warm-up: `warmup`, or [`default_warmup`].
    pub fn warmup_iters(&self) -> u64 {
        self.warmup.unwrap_or_else(|| default_warmup(self.batch, self.iters))
    }

    /// Every model of the run, the first first.
    pub fn models(&self) -> Vec<ModelConfig> {
        std::iter::once(self.first()).chain(self.more.iter().cloned()).collect()
    }
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

/// One model being trained: its network, loss targets, optimizer and bookkeeping.
struct Model {
    cfg: ModelConfig,
    _vs: nn::VarStore,
    net: Transformer,
    loss: Perceptual,
    opt: Adam,
    state: RunState,
    rows: Vec<Row>,
}

impl Model {
    fn new(run: &TrainConfig, cfg: ModelConfig, vgg: &Rc<Vgg>, files: usize) -> Result<Model> {
        let dev = run.device;
        let spec = cfg.spec()?;
        if cfg.styles.len() != spec.styles {
            bail!("{} style images for a net of {} styles", cfg.styles.len(), spec.styles);
        }
        let style_ts = cfg.styles.iter().map(|p| style_tensor(p, cfg.style_size, cfg.style_scale, dev)).collect::<Result<Vec<_>>>()?;
        let loss = Perceptual::new_multi(Rc::clone(vgg), &style_ts, &run.content_layer, cfg.weights)?;
        // Each model draws its initial weights from the run's seed, so it starts the same alone or beside others.
        tch::manual_seed(run.seed as i64);
        let vs = nn::VarStore::new(dev);
        let mut net = Transformer::new(&vs.root(), &spec)?;
        net.compute = Compute::new(run.precision, run.channels_last);
        transformer::check_names(&vs, &spec)?;
        let inits = cfg
            .init
            .iter()
            .map(|p| {
                let bytes = std::fs::read(p).with_context(|| format!("reading --init {}", p.display()))?;
                let (_, _, w) = stylize_model::onnx::read_johnson(&bytes).with_context(|| format!("--init {}", p.display()))?;
                Ok(w)
            })
            .collect::<Result<Vec<_>>>()?;
        transformer::init_from(&vs, &spec, &inits)?;
        let opt = Adam::new(&vs, run.lr);
        std::fs::create_dir_all(cfg.out.join("samples")).with_context(|| format!("creating {}", cfg.out.display()))?;
        let state = RunState {
            iteration: 0,
            adam_step: 0,
            arch: cfg.arch.clone(),
            spec,
            style: cfg.styles.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(","),
            style_name: style_names(&cfg.styles).join("+"),
            styles: if cfg.styles.len() > 1 { style_names(&cfg.styles) } else { Vec::new() },
            init: cfg.init.iter().map(|p| p.display().to_string()).collect(),
            style_size: cfg.style_size,
            style_scale: cfg.style_scale,
            content: run.content.iter().map(|p| p.display().to_string()).collect(),
            content_images: files,
            vgg: run.vgg.display().to_string(),
            vgg_convention: format!("{:?}", vgg.convention),
            content_layer: run.content_layer.clone(),
            size: run.size,
            batch: run.batch,
            lr: run.lr,
            lr_scaling: Some(run.lr_scaling),
            warmup: Some(run.warmup_iters()),
            precision: Some(run.precision.name().to_string()),
            weights: cfg.weights,
            seed: run.seed,
            device: device_name(dev),
            losses: Terms::default(),
            elapsed_s: 0.0,
            trainer: format!("stylize-train {}", env!("CARGO_PKG_VERSION")),
            updated: crate::io::utc_now(),
        };
        let mut model = Model { cfg, _vs: vs, net, loss, opt, state, rows: Vec::new() };
        if run.resume {
            model.resume()?;
        }
        Ok(model)
    }

    fn resume(&mut self) -> Result<()> {
        let out = &self.cfg.out;
        if !ckpt::checkpoint_path(out).exists() {
            eprintln!("--resume: no checkpoint in {}, starting from scratch", out.display());
            return Ok(());
        }
        let (saved, tensors) = ckpt::load(out)?;
        if saved.spec != self.state.spec {
            bail!("{} was trained with {:?}, not {:?}", out.display(), saved.spec, self.state.spec);
        }
        ckpt::restore(&mut self.opt, &saved, &tensors)?;
        let s = &mut self.state;
        (s.iteration, s.adam_step, s.elapsed_s, s.losses) = (saved.iteration, saved.adam_step, saved.elapsed_s, saved.losses);
        self.rows = report::read_metrics(&out.join("metrics.csv"), s.iteration);
        eprintln!("resuming {} at iteration {}", out.display(), s.iteration);
        Ok(())
    }

    /// Queues one step on batch `x` (content target `fx`); returns its terms (total, content, style, tv,
    /// stability) as one tensor, read later so that a GPU can run ahead.
    fn step(&mut self, x: &Tensor, fx: &Tensor, iteration: u64, lr: f64, seed: u64) -> Tensor {
        // A multi-style net takes its styles in turn, one per batch (Dumoulin et al.).
        let style = (iteration % self.cfg.styles.len() as u64) as usize;
        let y = self.net.forward_style(x, style);
        let (mut total, content, style_t, tv) = self.loss.loss_with(&y, fx, style);
        let w = self.cfg.weights;
        let stab = if w.stability > 0.0 {
            // The noise depends on the seed and the iteration only: the same alone, beside others and on resume.
            tch::manual_seed((seed ^ 0x5851_f42d_4c95_7f2d).wrapping_add(iteration) as i64);
            let sigma = self.cfg.stability_noise;
            let y_noisy = self.net.forward_style(&(x + x.randn_like() * sigma), style);
            let s = loss::stability(&y_noisy, &y, sigma);
            total = &total + &s * w.stability;
            s
        } else {
            Tensor::zeros([], (tch::Kind::Float, x.device()))
        };
        self.opt.lr = lr;
        self.opt.zero_grad();
        total.backward();
        self.opt.step();
        Tensor::stack(&[total, content, style_t, tv, stab].map(|t| t.detach().to_kind(tch::Kind::Float)), 0)
    }

    fn save(&mut self, samples: &[image::RgbImage], dev: Device) -> Result<()> {
        let out = &self.cfg.out;
        self.state.updated = crate::io::utc_now();
        ckpt::save(out, &self.state, &self.opt)?;
        report::write_metrics(&out.join("metrics.csv"), &self.rows)?;
        report::write_samples(&out.join("samples").join(format!("iter_{:06}.png", self.state.iteration)), &self.net, samples, dev)?;
        if let Err(e) = report::write_loss_plot(&out.join("loss.png"), &self.rows, &self.cfg.weights) {
            eprintln!("loss plot: {e:#}");
        }
        Ok(())
    }

    fn name(&self) -> String {
        self.cfg.out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| self.cfg.out.display().to_string())
    }
}

/// What a finished run reports: each model's state, and how the time went.
pub struct Summary {
    pub states: Vec<RunState>,
    pub iterations: u64,
    pub seconds: f64,
    /// Seconds spent waiting for the data loader.
    pub data_wait_s: f64,
    /// Mean time per iteration (all models) after the first few (cuDNN's tuning, allocator warm-up).
    pub steady_ms: Option<f64>,
}

/// Trains (or resumes) a run; returns the first model's final state.
pub fn train(cfg: &TrainConfig) -> Result<RunState> {
    Ok(train_all(cfg)?.states.remove(0))
}

/// Iterations before the steady-state timing starts.
const TIMING_SKIP: u64 = 5;

/// Trains (or resumes) every model of a run on the same batches.
pub fn train_all(cfg: &TrainConfig) -> Result<Summary> {
    let dev = cfg.device;
    if dev.is_cuda() {
        tch::Cuda::cudnn_set_benchmark(true);
    }
    tch::manual_seed(cfg.seed as i64);
    let files = data::list_images(&cfg.content)?;
    let mut vgg = Vgg::load(&cfg.vgg, dev, cfg.vgg_convention.clone())?;
    vgg.set_compute(Compute::new(cfg.precision, cfg.channels_last));
    let vgg = Rc::new(vgg);
    let configs = cfg.models();
    let mut outs: Vec<&PathBuf> = configs.iter().map(|m| &m.out).collect();
    outs.sort();
    if outs.windows(2).any(|w| w[0] == w[1]) {
        bail!("two models of the run write to the same folder");
    }
    let mut models = configs.into_iter().map(|m| Model::new(cfg, m, &vgg, files.len())).collect::<Result<Vec<_>>>()?;
    let start = models[0].state.iteration;
    if let Some(m) = models.iter().find(|m| m.state.iteration != start) {
        bail!(
            "the models of one run share their batches, so they resume together: {} is at iteration {}, {} at {}; train them in separate runs",
            models[0].name(),
            start,
            m.name(),
            m.state.iteration
        );
    }
    let samples = report::sample_inputs(&files, cfg.samples, cfg.sample_size)?;
    let crop = CropConfig { size: cfg.size, max_scale: cfg.max_crop_scale };
    let mut loader = Loader::new(files, crop, cfg.batch, cfg.seed, start, cfg.workers);
    for m in &models {
        std::fs::write(m.cfg.out.join("config.txt"), format!("{cfg:#?}\n"))?;
    }
    let warmup = cfg.warmup_iters();

    let pb = progress_bar(cfg, start);
    let t0 = Instant::now();
    let elapsed0: Vec<f64> = models.iter().map(|m| m.state.elapsed_s).collect();
    let (mut iteration, mut data_wait, mut steady_from) = (start, 0.0, None);
    while iteration < cfg.iters {
        let tw = Instant::now();
        let x = loader.next_batch(dev)?;
        data_wait += tw.elapsed().as_secs_f64();
        let lr = lr_at(cfg.lr, cfg.lr_scaling, cfg.batch, warmup, iteration);
        let fx = models[0].loss.content_features(&x);
        let terms: Vec<Tensor> = models.iter_mut().map(|m| m.step(&x, &fx, iteration, lr, cfg.seed)).collect();
        // One read for all models: the GPU has every model's step queued before the host waits.
        let terms = Vec::<f64>::try_from(Tensor::stack(&terms, 0).to_kind(tch::Kind::Double).to_device(Device::Cpu).view([-1]))?;
        iteration += 1;
        if iteration == start + TIMING_SKIP.min(cfg.iters - start) {
            steady_from = Some((Instant::now(), iteration));
        }
        let out_of_time = cfg.time_limit.is_some_and(|limit| t0.elapsed() >= limit);
        let stopped = stop_signal().is_some();
        let checkpoint = iteration.is_multiple_of(cfg.checkpoint_every) || iteration == cfg.iters || out_of_time || stopped;
        let mut msgs = Vec::new();
        for (k, m) in models.iter_mut().enumerate() {
            let v = &terms[k * 5..k * 5 + 5];
            let t = Terms { total: v[0], content: v[1], style: v[2], tv: v[3], stability: v[4] };
            if !t.total.is_finite() {
                bail!("{}: loss is {} at iteration {iteration}: lower --lr", m.name(), t.total);
            }
            m.state.iteration = iteration;
            m.state.adam_step = m.opt.step;
            m.state.elapsed_s = elapsed0[k] + t0.elapsed().as_secs_f64();
            m.rows.push(Row { iteration, elapsed_s: m.state.elapsed_s, terms: t });
            m.state.losses = mean_terms(&m.rows[m.rows.len().saturating_sub(cfg.log_every as usize)..]);
            msgs.push(format!("loss {:.4} content {:.4} style {:.4} tv {:.5}", t.total, t.content, t.style, t.tv));
            if checkpoint {
                m.save(&samples, dev)?;
            }
        }
        pb.set_position(iteration);
        pb.set_message(if models.len() == 1 { msgs[0].clone() } else { format!("{} models, first: {}", models.len(), msgs[0]) });
        if !cfg.progress && (iteration.is_multiple_of(cfg.log_every) || iteration == cfg.iters) {
            let rate = (iteration - start) as f64 / t0.elapsed().as_secs_f64();
            let eta = (cfg.iters - iteration) as f64 / rate;
            for (m, msg) in models.iter().zip(&msgs) {
                let name = if models.len() > 1 { format!("{}: ", m.name()) } else { String::new() };
                eprintln!("{name}iter {iteration}/{} {:.3} s/it ETA {eta:.0} s {msg}", cfg.iters, 1.0 / rate);
            }
        }
        if out_of_time {
            eprintln!("time limit reached at iteration {iteration}: checkpoint saved, continue with --resume");
            break;
        }
        if stopped {
            break;
        }
    }
    pb.finish();
    let steady_ms = steady_from.filter(|(_, i)| iteration > *i).map(|(t, i)| t.elapsed().as_secs_f64() * 1000.0 / (iteration - i) as f64);
    Ok(Summary { states: models.into_iter().map(|m| m.state).collect(), iterations: iteration - start, seconds: t0.elapsed().as_secs_f64(), data_wait_s: data_wait, steady_ms })
}

/// File stems of the style images.
pub fn style_names(paths: &[PathBuf]) -> Vec<String> {
    paths.iter().map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()).collect()
}

/// A style image as (1, 3, H, W) on 0..255, its long side resized to `size`, or scaled by `scale`, if given.
pub(crate) fn style_tensor(path: &std::path::Path, size: Option<u32>, scale: Option<f64>, dev: Device) -> Result<Tensor> {
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
