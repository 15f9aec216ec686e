//! `stylize-train`: train, export and per-image-optimise Johnson style-transfer networks.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use stylize_train::{calibrate, export, loss, mixed::Precision, optimize, parse_device, schedule::LrScaling, score, train, vgg::Convention};

#[derive(Parser)]
#[command(name = "stylize-train", version, about = "Perceptual-loss training of Johnson style-transfer networks (tch/libtorch), ONNX export")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Train a feed-forward network for one style, or several (resumable; checkpoints into the run folder).
    Train(Box<TrainArgs>),
    /// Export a run's latest checkpoint to ONNX through the runtime's writer.
    Export {
        /// The run folder (`-o` of `train`).
        run_dir: PathBuf,
        /// The ONNX file (default: RUN_NAME.onnx in your models folder, $XDG_DATA_HOME/stylize/models, where
        /// `stylize -m RUN_NAME` finds it from any folder)
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Per-image style transfer by optimising the pixels (Gatys et al.).
    Optimize(OptimizeArgs),
    /// Loss terms of finished stylizations (content image + its stylized version), e.g. on held-out photos, and
    /// each one's style ratio (its style term over the unstylized photo's: lower is more style).
    Score(ScoreArgs),
    /// The style weight that lands a style at a chosen style ratio (e.g. another model's), from per-image
    /// optimisation probes (minutes on a CPU): set it with --style-weight before training.
    Calibrate(CalibrateArgs),
}

#[derive(Args)]
struct LossArgs {
    /// VGG16 loss network (safetensors, torchvision `features.N` names).
    #[arg(long, default_value = "../shared/data/vgg16/vgg16_relu4_3.safetensors")]
    vgg: PathBuf,
    /// Input convention of the VGG weights: auto (from the file's metadata), caffe, torchvision.
    #[arg(long, default_value = "auto")]
    vgg_convention: String,
    /// Weight of the (scale-free) content loss.
    #[arg(long, default_value_t = 1.0)]
    content_weight: f64,
    /// Weight of the (scale-free) style loss.
    #[arg(long, default_value_t = 10.0)]
    style_weight: f64,
    /// Weight of the total-variation loss (0..1 scale).
    #[arg(long, default_value_t = 1.0)]
    tv_weight: f64,
    /// Weight of the temporal-stability term (train only; 0: off): the output under small input noise should
    /// not move more than the input, which keeps video from flickering. Try 0.1-1.
    #[arg(long, default_value_t = 0.0)]
    stability_weight: f64,
    /// Relative weights of the style layers relu1_2,relu2_2,relu3_3,relu4_3 (default: equal), e.g. 4,4,1,0.25
    /// for the fine strokes of the pytorch/examples models (see training/README.md, "Calibration").
    #[arg(long, value_parser = parse_layers)]
    style_layers: Option<[f64; 4]>,
    /// VGG layer of the content loss: relu1_2, relu2_2, relu3_3, relu4_3.
    #[arg(long, default_value = "relu2_2")]
    content_layer: String,
    /// Resize the style image to this long side (default: as is, like pytorch/examples).
    #[arg(long)]
    style_size: Option<u32>,
    /// cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "auto")]
    device: String,
    /// libtorch intra-op threads (default: libtorch's choice, the number of cores).
    #[arg(long)]
    threads: Option<i32>,
}

impl LossArgs {
    fn convention(&self) -> Result<Option<Convention>> {
        match self.vgg_convention.as_str() {
            "auto" => Ok(None),
            s => Convention::by_name(s).map(Some).with_context(|| format!("--vgg-convention {s}: auto, caffe or torchvision")),
        }
    }
    fn weights(&self) -> loss::Weights {
        loss::Weights {
            style_layers: self.style_layers,
            stability: self.stability_weight,
            ..loss::Weights::new(self.content_weight, self.style_weight, self.tv_weight)
        }
    }
}

#[derive(Args)]
struct TrainArgs {
    /// Style image; repeat for a multi-style network (conditional instance norm, one `style_weights` input).
    #[arg(long, required_unless_present = "plan")]
    style: Vec<PathBuf>,
    /// Train several models in this one process on the same content batches (data loading and content
    /// features shared; each its own optimizer, checkpoint and run folder): a JSON file
    /// `{"models": [{"out": "runs/candy", "arch": "full", "styles": ["candy.jpg"], "weights": {"content": 1.5,
    /// "style": 10, "tv": 1, "stability": 0}, "init": [], "style_scale": null}, ...]}`. Replaces --style, -o,
    /// --arch, --init and the loss weights; the other options apply to every model.
    #[arg(long, conflicts_with_all = ["style", "output", "init"])]
    plan: Option<PathBuf>,
    /// Start from trained models (ONNX written by stylize-train): same-shaped weights from the first, a
    /// multi-style net's norm rows from the N-th (repeat, one per --style). Ignored when resuming.
    #[arg(long)]
    init: Vec<PathBuf>,
    /// Folder of content images (recursive); repeat for more folders or single files.
    #[arg(long = "content-dir", required = true)]
    content_dir: Vec<PathBuf>,
    /// Run folder: checkpoint, metrics.csv, samples/, loss.png.
    #[arg(short, long, required_unless_present = "plan")]
    output: Option<PathBuf>,
    /// Network: full (32/64/128 channels), half (16/32/64) or lite (space-to-depth, 16/32/64, 3 blocks); --widths etc. override.
    #[arg(long, default_value = "full")]
    arch: String,
    /// Channel widths, e.g. 16,32,64.
    #[arg(long, value_delimiter = ',')]
    widths: Option<Vec<usize>>,
    #[arg(long)]
    res_blocks: Option<usize>,
    #[arg(long)]
    end_kernel: Option<usize>,
    /// Training crop side.
    #[arg(long, default_value_t = 256)]
    size: u32,
    /// Largest crop before resizing to --size, as a multiple of --size (scale augmentation).
    #[arg(long, default_value_t = 3.0)]
    max_crop_scale: f32,
    /// Crops per step. Above 4 the learning rate is scaled (--lr-scaling) and warmed up (--warmup).
    #[arg(long, default_value_t = 4)]
    batch: usize,
    /// Total iterations (a resumed run continues up to this).
    #[arg(long, default_value_t = 40000)]
    iters: u64,
    /// Adam's learning rate at batch 4 (the reference's 1e-3).
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// How the learning rate follows a batch other than 4: linear (x batch/4; measured closer to batch 4 at the
    /// same image count than sqrt), sqrt (x sqrt(batch/4)), none.
    #[arg(long, default_value = "linear")]
    lr_scaling: String,
    /// Iterations of linear learning-rate warm-up (default: none at batch 4, else 5% of --iters, at most 200).
    #[arg(long)]
    warmup: Option<u64>,
    /// Arithmetic of the convolutions: auto (bf16 on CUDA and on CPUs with native bf16, else fp32), fp32, bf16. Weights, norms and
    /// losses stay fp32.
    #[arg(long, default_value = "auto")]
    precision: String,
    /// Channels-last (NHWC) tensors for the convolutions (often faster with bf16 on a GPU: measure).
    #[arg(long)]
    channels_last: bool,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Continue from the run folder's checkpoint (if any).
    #[arg(long)]
    resume: bool,
    #[arg(long, default_value_t = 500)]
    checkpoint_every: u64,
    /// Plain log line interval when stderr is not a terminal.
    #[arg(long, default_value_t = 10)]
    log_every: u64,
    /// Number of fixed content images in the sample grids.
    #[arg(long, default_value_t = 3)]
    samples: usize,
    #[arg(long, default_value_t = 256)]
    sample_size: u32,
    /// Data loader threads.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Noise (grey levels) of the temporal-stability term (--stability-weight)
    #[arg(long, default_value_t = 4.0)]
    stability_noise: f64,
    /// Scale the style images by this factor (instead of --style-size; keeps their relative sizes).
    #[arg(long, conflicts_with = "style_size")]
    style_scale: Option<f64>,
    /// Stop after this many minutes of training (checkpoint saved; --resume continues).
    #[arg(long)]
    time_limit: Option<f64>,
    #[command(flatten)]
    loss: LossArgs,
}

#[derive(Args)]
struct OptimizeArgs {
    #[arg(long)]
    content: PathBuf,
    #[arg(long)]
    style: PathBuf,
    #[arg(short, long)]
    output: PathBuf,
    /// Long side of the output image.
    #[arg(long, default_value_t = 512)]
    size: u32,
    #[arg(long, default_value_t = 300)]
    iters: u64,
    /// Adam step on the 0..255 pixel scale.
    #[arg(long, default_value_t = 2.0)]
    lr: f64,
    #[command(flatten)]
    loss: LossArgs,
}

#[derive(Args)]
struct ScoreArgs {
    /// The style the stylizations should carry.
    #[arg(long)]
    style: PathBuf,
    /// Content images, in the same order as --stylized.
    #[arg(long, required = true)]
    content: Vec<PathBuf>,
    /// Their stylizations (any size with the same aspect ratio).
    #[arg(long, required = true)]
    stylized: Vec<PathBuf>,
    /// Long side both images are scored at (0: the content image's own size, as a user sees it).
    #[arg(long, default_value_t = 512)]
    size: u32,
    #[command(flatten)]
    loss: LossArgs,
}

#[derive(Args)]
struct CalibrateArgs {
    #[arg(long)]
    style: PathBuf,
    /// Content images the probes stylize (repeat; a few varied photos).
    #[arg(long, required = true)]
    content: Vec<PathBuf>,
    /// The style ratio to land at (style term of the stylization over the photo's; lower is more style).
    #[arg(long, required_unless_present = "reference")]
    target_style_ratio: Option<f64>,
    /// ... or that of this stylization of the first --content image (e.g. a reference model's output).
    #[arg(long, conflicts_with = "target_style_ratio")]
    reference: Option<PathBuf>,
    /// Long side the probes optimise and measure at.
    #[arg(long, default_value_t = 256)]
    size: u32,
    /// Optimisation steps per probe and image.
    #[arg(long, default_value_t = 150)]
    iters: u64,
    #[arg(long, default_value_t = 2.0)]
    lr: f64,
    /// Probes (each one optimisation per content image); the first uses --style-weight.
    #[arg(long, default_value_t = 6)]
    probes: usize,
    #[command(flatten)]
    loss: LossArgs,
}

fn parse_layers(s: &str) -> Result<[f64; 4], String> {
    let v: Vec<f64> = s.split(',').map(|x| x.trim().parse::<f64>().map_err(|e| format!("{x:?}: {e}"))).collect::<Result<_, _>>()?;
    match v[..] {
        [a, b, c, d] if v.iter().all(|x| *x >= 0.0) && v.iter().sum::<f64>() > 0.0 => Ok([a, b, c, d]),
        _ => Err("four weights >= 0, not all 0, for relu1_2,relu2_2,relu3_3,relu4_3, e.g. 4,4,1,0.25".into()),
    }
}

/// `--plan`'s file.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Plan {
    models: Vec<train::ModelConfig>,
}

/// Errors print as one line, the context chain joined (`error: --plan p.json: unknown field ...`), exit 1.
fn main() {
    // `stylize-train score ... | head` ends quietly, as the stylize CLI does (Rust ignores SIGPIPE, and println!
    // would panic). SAFETY: called first, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    if let Err(e) = run() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Train(a) => {
            if let Some(n) = a.loss.threads {
                tch::set_num_threads(n);
            }
            let device = parse_device(&a.loss.device)?;
            let (first, more) = match &a.plan {
                Some(p) => {
                    let text = std::fs::read_to_string(p).with_context(|| format!("reading --plan {}", p.display()))?;
                    let plan: Plan = serde_json::from_str(&text).with_context(|| format!("--plan {}", p.display()))?;
                    let mut models = plan.models.into_iter();
                    let first = models.next().with_context(|| format!("--plan {} lists no models", p.display()))?;
                    (first, models.collect())
                }
                None => {
                    let widths = match a.widths.as_deref() {
                        None => None,
                        Some(&[w0, w1, w2]) => Some([w0, w1, w2]),
                        Some(_) => bail!("--widths needs three numbers, e.g. 16,32,64"),
                    };
                    let m = train::ModelConfig {
                        out: a.output.clone().context("give -o RUN_DIR")?,
                        arch: a.arch.clone(),
                        widths,
                        res_blocks: a.res_blocks,
                        end_kernel: a.end_kernel,
                        styles: a.style.clone(),
                        init: a.init.clone(),
                        style_size: a.loss.style_size,
                        style_scale: a.style_scale,
                        weights: a.loss.weights(),
                        stability_noise: a.stability_noise,
                        exact_spec: None,
                    };
                    (m, Vec::new())
                }
            };
            let cfg = train::TrainConfig {
                styles: first.styles.clone(),
                init: first.init.clone(),
                style_size: first.style_size,
                style_scale: first.style_scale,
                content: a.content_dir.clone(),
                vgg: a.loss.vgg.clone(),
                vgg_convention: a.loss.convention()?,
                out: first.out.clone(),
                arch: first.arch.clone(),
                spec: first.spec()?,
                size: a.size,
                max_crop_scale: a.max_crop_scale,
                batch: a.batch,
                iters: a.iters,
                lr: a.lr,
                lr_scaling: LrScaling::parse(&a.lr_scaling)?,
                warmup: a.warmup,
                weights: first.weights,
                content_layer: a.loss.content_layer.clone(),
                seed: a.seed,
                resume: a.resume,
                checkpoint_every: a.checkpoint_every.max(1),
                log_every: a.log_every.max(1),
                samples: a.samples,
                sample_size: a.sample_size,
                workers: a.workers,
                stability_noise: first.stability_noise,
                time_limit: a.time_limit.map(|m| std::time::Duration::from_secs_f64(m.max(0.0) * 60.0)),
                device,
                precision: Precision::parse(&a.precision, device)?,
                channels_last: a.channels_last,
                progress: std::io::stderr().is_terminal(),
                more,
            };
            eprintln!(
                "training {} model(s) on {} ({} threads, {}{}, batch {})",
                1 + cfg.more.len(),
                train::device_name(cfg.device),
                tch::get_num_threads(),
                cfg.precision.name(),
                if cfg.channels_last { ", channels-last" } else { "" },
                cfg.batch
            );
            train::catch_signals()?;
            let sum = train::train_all(&cfg)?;
            let at = sum.states[0].iteration;
            if let Some(sig) = train::stop_signal() {
                let runs = cfg.models().iter().map(|m| m.out.display().to_string()).collect::<Vec<_>>().join(", ");
                eprintln!("stopped by {} at iteration {at}: checkpoint saved in {runs}, continue with --resume", train::signal_name(sig));
                std::process::exit(128 + sig);
            }
            for (s, m) in sum.states.iter().zip(cfg.models()) {
                eprintln!(
                    "done: {} iterations in {:.0} s; loss {:.4} (content {:.4}, style {:.4}, tv {:.5}); checkpoint in {}",
                    s.iteration, s.elapsed_s, s.losses.total, s.losses.content, s.losses.style, s.losses.tv, m.out.display()
                );
            }
            let images = sum.iterations as f64 * cfg.batch as f64;
            let steady = sum.steady_ms.map_or(String::new(), |ms| {
                format!("; steady {ms:.1} ms/iteration, {:.0} images/s per model", cfg.batch as f64 * 1000.0 / ms)
            });
            eprintln!(
                "summary: {} models x {} iterations of batch {} in {:.1} s ({:.0} images/s per model){steady}; waited {:.1} s ({:.1}%) for data",
                sum.states.len(),
                sum.iterations,
                cfg.batch,
                sum.seconds,
                images / sum.seconds.max(1e-9),
                sum.data_wait_s,
                100.0 * sum.data_wait_s / sum.seconds.max(1e-9)
            );
        }
        Cmd::Export { run_dir, output } => {
            let output = match output {
                Some(o) => o,
                None => {
                    let dir = stylize_model::paths::user_models_dir().context("no HOME or XDG_DATA_HOME to find your models folder: pass -o")?;
                    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
                    let name = std::fs::canonicalize(&run_dir).unwrap_or_else(|_| run_dir.clone()).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into());
                    dir.join(format!("{name}.onnx"))
                }
            };
            let s = export::export(&run_dir, &output)?;
            eprintln!("exported {} ({} iterations, {:?}) to {}", run_dir.display(), s.iteration, s.spec, output.display());
        }
        Cmd::Optimize(a) => {
            if let Some(n) = a.loss.threads {
                tch::set_num_threads(n);
            }
            optimize::optimize(&optimize::OptimizeConfig {
                content: a.content,
                style: a.style,
                vgg: a.loss.vgg.clone(),
                vgg_convention: a.loss.convention()?,
                out: a.output,
                size: a.size,
                style_size: a.loss.style_size,
                iters: a.iters,
                lr: a.lr,
                weights: a.loss.weights(),
                content_layer: a.loss.content_layer.clone(),
                device: parse_device(&a.loss.device)?,
            })?;
        }
        Cmd::Calibrate(a) => {
            if let Some(n) = a.loss.threads {
                tch::set_num_threads(n);
            }
            let cfg = calibrate::CalibrateConfig {
                style: a.style,
                style_size: a.loss.style_size,
                content: a.content,
                target: a.target_style_ratio,
                reference: a.reference,
                size: a.size,
                iters: a.iters,
                lr: a.lr,
                weights: a.loss.weights(),
                probes: a.probes,
                vgg: a.loss.vgg.clone(),
                vgg_convention: a.loss.convention()?,
                content_layer: a.loss.content_layer.clone(),
                device: parse_device(&a.loss.device)?,
            };
            println!("{:>12} {:>12} {:>10}", "style weight", "style ratio", "content");
            let t0 = std::time::Instant::now();
            let c = calibrate::calibrate(&cfg, |p| println!("{:>12.3} {:>12.4} {:>10.4}", p.style_weight, p.style_ratio, p.content))?;
            let how = if c.bracketed { "interpolated between the probes around it" } else { "the nearest probe: the target lies outside the probes, give more --probes" };
            println!(
                "style weight {:.3} for style ratio {:.4} at content weight {} ({how}); {} probes in {:.0} s",
                c.style_weight,
                c.target,
                cfg.weights.content,
                c.probes.len(),
                t0.elapsed().as_secs_f64()
            );
        }
        Cmd::Score(a) => {
            if a.content.len() != a.stylized.len() {
                bail!("give as many --stylized images as --content images ({} vs {})", a.stylized.len(), a.content.len());
            }
            let cfg = score::ScoreConfig {
                style: a.style,
                style_size: a.loss.style_size,
                pairs: a.content.into_iter().zip(a.stylized).collect(),
                size: a.size,
                vgg: a.loss.vgg.clone(),
                vgg_convention: a.loss.convention()?,
                weights: a.loss.weights(),
                content_layer: a.loss.content_layer.clone(),
                device: parse_device(&a.loss.device)?,
            };
            let scored = score::score(&cfg)?;
            // Columns 1-6 stay put for scripts; the per-layer style ratios follow.
            println!("{:<40} {:>10} {:>10} {:>10} {:>10} {:>10} {:>8} {:>8} {:>8} {:>8}", "stylized", "total", "content", "style", "tv", "ratio", "r1_2", "r2_2", "r3_3", "r4_3");
            let row = |name: &str, s: &score::Scored| {
                let (t, l) = (s.terms, s.layer_ratios);
                println!("{name:<40} {:>10.4} {:>10.4} {:>10.4} {:>10.5} {:>10.4} {:>8.3} {:>8.3} {:>8.3} {:>8.3}", t.total, t.content, t.style, t.tv, s.style_ratio, l[0], l[1], l[2], l[3]);
            };
            for ((_, y), s) in cfg.pairs.iter().zip(&scored) {
                row(&y.display().to_string(), s);
            }
            let n = scored.len() as f64;
            let mean = |f: &dyn Fn(&score::Scored) -> f64| scored.iter().map(f).sum::<f64>() / n;
            let terms = loss::Terms {
                total: mean(&|s| s.terms.total),
                content: mean(&|s| s.terms.content),
                style: mean(&|s| s.terms.style),
                tv: mean(&|s| s.terms.tv),
                stability: 0.0,
            };
            let layer_ratios = [0, 1, 2, 3].map(|i| mean(&|s| s.layer_ratios[i]));
            row("mean", &score::Scored { terms, style_ratio: mean(&|s| s.style_ratio), layer_ratios });
        }
    }
    Ok(())
}
