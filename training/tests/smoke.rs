//! Smoke training on generated data: a few iterations at 64x64 with a tiny fake VGG (and with
//! the shared VGG16 when ../shared/data is present): the loss goes down, a checkpoint resumes
//! to exactly the state of an uninterrupted run, and the run exports to ONNX.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use image::{Rgb, RgbImage};
use stylize_model::JohnsonSpec;
use stylize_train::mixed::Precision;
use stylize_train::schedule::LrScaling;
use stylize_train::train::{train, train_all, ModelConfig, TrainConfig};
use stylize_train::{ckpt, loss, report, vgg};

/// libtorch's global RNG seeds the init: one training at a time.
static LOCK: Mutex<()> = Mutex::new(());

fn tmp(name: &str) -> PathBuf {
    // Small tensors: one libtorch thread is as fast and does not fight a busy CI machine.
    tch::set_num_threads(1);
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("stylize-train").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Content images: gradients with a few rectangles; the style: diagonal colour stripes.
fn make_data(dir: &Path) -> (PathBuf, PathBuf) {
    let content = dir.join("content");
    std::fs::create_dir_all(&content).unwrap();
    for i in 0..5u32 {
        let img = RgbImage::from_fn(120 + 8 * i, 96, |x, y| {
            let inside = (x / 30 + y / 24 + i) % 3 == 0;
            let base = [(x * 2 + i * 40) as u8, (y * 2) as u8, ((x + y) as u8).wrapping_mul(3)];
            if inside { Rgb([255 - base[0], 200, base[2] / 2]) } else { Rgb(base) }
        });
        img.save(content.join(format!("c{i}.png"))).unwrap();
    }
    let style = dir.join("style.png");
    RgbImage::from_fn(96, 96, |x, y| match ((x + y) / 6) % 3 {
        0 => Rgb([230, 40, 90]),
        1 => Rgb([30, 200, 220]),
        _ => Rgb([250, 220, 30]),
    })
    .save(&style)
    .unwrap();
    (content, style)
}

fn config(dir: &Path, vgg: &Path, iters: u64) -> TrainConfig {
    let (content, style) = make_data(dir);
    TrainConfig {
        styles: vec![style],
        init: Vec::new(),
        style_size: None,
        style_scale: None,
        content: vec![content],
        vgg: vgg.to_path_buf(),
        vgg_convention: None,
        out: dir.join("run"),
        arch: "half".into(),
        spec: JohnsonSpec::half(),
        size: 64,
        max_crop_scale: 1.5,
        batch: 2,
        iters,
        lr: 1e-2,
        // Batch 2 against the reference's 4: these runs use --lr as given.
        lr_scaling: LrScaling::None,
        warmup: None,
        weights: loss::Weights::new(1.0, 10.0, 1.0),
        content_layer: "relu2_2".into(),
        seed: 5,
        resume: false,
        checkpoint_every: 3,
        log_every: 5,
        samples: 2,
        sample_size: 64,
        workers: 2,
        stability_noise: 4.0,
        time_limit: None,
        device: tch::Device::Cpu,
        precision: Precision::Fp32,
        channels_last: false,
        progress: false,
        more: Vec::new(),
    }
}

fn fake_vgg(dir: &Path) -> PathBuf {
    let p = dir.join("fake_vgg.safetensors");
    vgg::write_fake_vgg(&p, [8, 16, 16, 16], 3).unwrap();
    p
}

fn mean_total(rows: &[report::Row]) -> f64 {
    rows.iter().map(|r| r.terms.total).sum::<f64>() / rows.len() as f64
}

#[test]
fn loss_goes_down_and_exports() {
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tmp("loss");
    let cfg = config(&dir, &fake_vgg(&dir), 24);
    let state = train(&cfg).unwrap();
    assert_eq!(state.iteration, 24);
    let rows = report::read_metrics(&cfg.out.join("metrics.csv"), u64::MAX);
    assert_eq!(rows.len(), 24);
    let (first, last) = (mean_total(&rows[..4]), mean_total(&rows[20..]));
    eprintln!("loss: first 4 iterations {first:.4}, last 4 {last:.4}");
    assert!(last < 0.8 * first, "loss did not go down: {first} -> {last}");
    assert!(cfg.out.join("samples/iter_000024.png").exists());
    assert!(cfg.out.join("loss.png").exists());

    let onnx = dir.join("out.onnx");
    stylize_train::export::export(&cfg.out, &onnx).unwrap();
    assert!(std::fs::metadata(&onnx).unwrap().len() > 100_000);
}

#[test]
fn resume_reproduces_the_same_state() {
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tmp("resume");
    let vgg = fake_vgg(&dir);
    let straight = config(&dir.join("a"), &vgg, 6);
    train(&straight).unwrap();

    let mut first = config(&dir.join("b"), &vgg, 3);
    train(&first).unwrap();
    first.iters = 6;
    first.resume = true;
    train(&first).unwrap();

    let (sa, _) = ckpt::load(&straight.out).unwrap();
    let (sb, _) = ckpt::load(&first.out).unwrap();
    assert_eq!((sa.iteration, sa.adam_step), (6, 6));
    assert_eq!((sb.iteration, sb.adam_step), (6, 6));
    let worst = checkpoint_distance(&straight.out, &first.out);
    eprintln!("max |straight - resumed| over model and Adam state: {worst:e}");
    assert!(worst <= 1e-6, "resumed run differs by {worst}");
    let ra = report::read_metrics(&straight.out.join("metrics.csv"), 99);
    let rb = report::read_metrics(&first.out.join("metrics.csv"), 99);
    assert_eq!(ra.len(), 6);
    assert_eq!(rb.len(), 6);
}

#[test]
fn shared_vgg16_loads_with_caffe_convention() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/vgg16/vgg16_relu4_3.safetensors");
    if !p.exists() {
        eprintln!("skipped: {} is absent", p.display());
        return;
    }
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let v = vgg::Vgg::load(&p, tch::Device::Cpu, None).unwrap();
    assert_eq!(v.convention, vgg::Convention::Caffe { mean: vgg::Convention::CAFFE_MEAN });
    let x = tch::Tensor::full([1, 3, 32, 32], 128.0, (tch::Kind::Float, tch::Device::Cpu));
    let f = v.forward(&x, 4);
    assert_eq!(f.iter().map(|t| t.size()[1]).collect::<Vec<_>>(), vec![64, 128, 256, 512]);
    // A few real iterations with it.
    let dir = tmp("real-vgg");
    let cfg = TrainConfig { checkpoint_every: 100, ..config(&dir, &p, 3) };
    let s = train(&cfg).unwrap();
    assert!(s.losses.total.is_finite());
}

#[test]
fn convention_from_metadata() {
    use std::collections::HashMap;
    use vgg::Convention;
    let m = |k: &str, v: &str| HashMap::from([(k.to_string(), v.to_string())]);
    let caffe = m("input", "RGB, values 0..255, minus per-channel mean (123.68, 116.779, 103.939); no division by std");
    assert_eq!(Convention::from_metadata(&caffe).unwrap(), Convention::Caffe { mean: [123.68, 116.779, 103.939] });
    let tv = m("input_range", "0-1");
    assert!(matches!(Convention::from_metadata(&tv).unwrap(), Convention::Torchvision { .. }));
    assert!(Convention::from_metadata(&HashMap::new()).is_err());
}

#[test]
fn stability_term_is_relative_to_the_input_noise_and_is_logged() {
    // A net that passes the noise through unchanged scores 1; one that ignores it scores 0.
    let x = tch::Tensor::rand([2, 3, 32, 32], (tch::Kind::Float, tch::Device::Cpu)) * 255.0;
    let noisy = &x + x.randn_like() * 4.0;
    let passthrough = loss::stability(&noisy, &x, 4.0).double_value(&[]);
    assert!((passthrough - 1.0).abs() < 0.05, "pass-through scored {passthrough}");
    assert_eq!(loss::stability(&x, &x, 4.0).double_value(&[]), 0.0);

    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tmp("stability");
    let mut cfg = config(&dir, &fake_vgg(&dir), 3);
    cfg.weights.stability = 0.5;
    train(&cfg).unwrap();
    let rows = report::read_metrics(&cfg.out.join("metrics.csv"), u64::MAX);
    assert_eq!(rows.len(), 3);
    for r in &rows {
        let t = r.terms;
        assert!(t.stability > 0.0, "{t:?}");
        let sum = t.content * 1.0 + t.style * 10.0 + t.tv * 1.0 + t.stability * 0.5;
        assert!((t.total - sum).abs() < 1e-3 * sum, "total {} is not the weighted sum {sum}", t.total);
    }
}

/// A second style for the multi-style tests: large blue/green checks.
fn second_style(dir: &Path) -> PathBuf {
    let p = dir.join("checks.png");
    RgbImage::from_fn(96, 96, |x, y| if (x / 16 + y / 16) % 2 == 0 { Rgb([20, 60, 240]) } else { Rgb([40, 220, 60]) })
        .save(&p)
        .unwrap();
    p
}

#[test]
fn multi_style_net_learns_distinct_styles_and_starts_from_init() {
    use stylize_model::{mix_styles, onnx, reference};
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tmp("multi");
    let vgg = fake_vgg(&dir);
    // A single-style run to start from.
    let single = config(&dir.join("single"), &vgg, 6);
    train(&single).unwrap();
    let single_onnx = dir.join("single.onnx");
    stylize_train::export::export(&single.out, &single_onnx).unwrap();

    let mut cfg = config(&dir, &vgg, 30);
    cfg.styles.push(second_style(&dir));
    cfg.spec = JohnsonSpec::half().with_styles(2);
    cfg.init = vec![single_onnx.clone()];
    cfg.lr = 1e-12;
    cfg.iters = 1;
    cfg.out = dir.join("init-only");
    train(&cfg).unwrap();
    // With a vanishing step the weights are still those of the init model, norm rows copied per style.
    let (_, w) = ckpt::model_weights(&cfg.out).unwrap();
    let (_, _, w0) = onnx::read_johnson(&std::fs::read(&single_onnx).unwrap()).unwrap();
    let close = |a: ndarray::ArrayViewD<f32>, b: ndarray::ArrayViewD<f32>| a.iter().zip(b.iter()).all(|(x, y)| (x - y).abs() < 1e-5);
    assert!(close(w["conv2.conv2d.weight"].view(), w0["conv2.conv2d.weight"].view()));
    for row in 0..2 {
        assert!(close(w["in3.weight"].index_axis(ndarray::Axis(0), row).into_dyn(), w0["in3.weight"].view()));
    }

    // Trained from scratch, the two styles' norm rows move apart and render differently.
    cfg.init.clear();
    cfg.lr = 1e-2;
    cfg.iters = 30;
    cfg.out = dir.join("run");
    train(&cfg).unwrap();
    let rows = report::read_metrics(&cfg.out.join("metrics.csv"), u64::MAX);
    for style in 0..2 {
        // Iteration i (1-based) trained style (i - 1) % 2.
        let of = |r: &[report::Row]| r.iter().filter(|x| (x.iteration - 1) % 2 == style as u64).map(|x| x.terms.style).sum::<f64>();
        let (first, last) = (of(&rows[..6]), of(&rows[24..]));
        eprintln!("style {style}: style term {first:.4} -> {last:.4} (sum of 3 iterations)");
        assert!(last < first, "style {style} did not improve");
    }
    let out = dir.join("multi.onnx");
    stylize_train::export::export(&cfg.out, &out).unwrap();
    let (spec, names, w) = onnx::read_johnson(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(names, ["style", "checks"]);
    assert_eq!(spec.styles, 2);
    let x = ndarray::Array4::from_shape_fn((1, 3, 48, 48), |(_, c, y, x)| ((x * 5 + y * 3 + c * 70) % 256) as f32);
    let render = |mix: &[f32]| {
        let (s1, w1) = mix_styles(&spec, &w, mix).unwrap();
        reference::forward(&s1, &w1, x.view()).unwrap()
    };
    let d = (&render(&[1.0, 0.0]) - &render(&[0.0, 1.0])).mapv(f32::abs).mean().unwrap();
    eprintln!("mean |style 0 - style 1| = {d:.2} grey levels");
    assert!(d > 1.0, "the two styles render the same ({d})");
}

/// The iteration of a run's checkpoint.
fn checkpoint_iteration(run: &Path) -> u64 {
    ckpt::load(run).unwrap().0.iteration
}

/// Runs `stylize-train train` on the smoke data until its metrics show `iterations` logged (or the checkpoint
/// file appears, with `wait_for_checkpoint`), then sends `signal`; returns the exit status and stderr.
fn train_then_signal(dir: &Path, vgg: &Path, extra: &[&str], signal: &str, wait_for_checkpoint: bool) -> (std::process::ExitStatus, String) {
    use std::process::{Command, Stdio};
    let (content, style) = make_data(dir);
    let run = dir.join("run");
    let args = ["train", "--style", style.to_str().unwrap(), "--content-dir", content.to_str().unwrap(), "--vgg", vgg.to_str().unwrap(), "-o", run.to_str().unwrap()];
    let fixed = ["--arch", "half", "--size", "64", "--batch", "2", "--iters", "100000", "--samples", "1", "--sample-size", "64", "--log-every", "1", "--device", "cpu", "--threads", "1", "--seed", "5"];
    let err_path = dir.join("stderr.txt");
    let mut child = Command::new(env!("CARGO_BIN_EXE_stylize-train"))
        .args(args)
        .args(fixed)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let t = std::time::Instant::now();
    let ready = || {
        let log = std::fs::read_to_string(&err_path).unwrap_or_default();
        if wait_for_checkpoint { ckpt::checkpoint_path(&run).exists() && log.matches("iter ").count() >= 8 } else { log.matches("iter ").count() >= 4 }
    };
    while !ready() {
        assert!(t.elapsed().as_secs() < 120, "training made no progress: {}", std::fs::read_to_string(&err_path).unwrap_or_default());
        assert!(child.try_wait().unwrap().is_none(), "training ended early: {}", std::fs::read_to_string(&err_path).unwrap_or_default());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status().unwrap().success());
    let status = child.wait().unwrap();
    (status, std::fs::read_to_string(&err_path).unwrap())
}

/// The iterations logged in a trainer's stderr (`iter N/M ...` lines).
fn logged_iterations(log: &str) -> u64 {
    log.lines().filter_map(|l| l.strip_prefix("iter ")?.split('/').next()?.parse().ok()).max().unwrap_or(0)
}

#[test]
fn sigterm_and_sighup_stop_training_with_a_checkpoint_that_resumes() {
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    for (signal, code) in [("TERM", 143), ("HUP", 129)] {
        let dir = tmp(&format!("signal-{signal}"));
        let vgg = fake_vgg(&dir);
        // No periodic checkpoint: the one on disk is the one the signal made.
        let (status, log) = train_then_signal(&dir, &vgg, &["--checkpoint-every", "1000000"], signal, false);
        assert_eq!(status.code(), Some(code), "exit status after SIG{signal}: {log}");
        assert!(log.contains("checkpoint saved") && log.contains("--resume"), "{log}");
        let run = dir.join("run");
        let at = checkpoint_iteration(&run);
        assert!(at >= 4 && at >= logged_iterations(&log), "checkpoint at {at}, logged {}: {log}", logged_iterations(&log));
        // --resume continues from there to the end.
        let mut cfg = config(&dir, &vgg, at + 2);
        cfg.resume = true;
        cfg.checkpoint_every = 1000;
        let s = train(&cfg).unwrap();
        assert_eq!(s.iteration, at + 2);
    }
}

#[test]
fn sigkill_loses_at_most_one_checkpoint_interval_and_a_torn_write_is_harmless() {
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tmp("sigkill");
    let vgg = fake_vgg(&dir);
    let every = 3;
    let (status, log) = train_then_signal(&dir, &vgg, &["--checkpoint-every", &every.to_string()], "KILL", true);
    assert!(!status.success());
    let run = dir.join("run");
    let (at, logged) = (checkpoint_iteration(&run), logged_iterations(&log));
    // (The kill may land after a checkpoint is written and before its iteration's log line: then nothing is lost.)
    assert!(at > 0 && at % every == 0 && logged.saturating_sub(at) < every + 1, "checkpoint at {at}, {logged} iterations logged before the kill");
    // A checkpoint write torn half-way (its temporary file) does not spoil the checkpoint before it.
    let whole = std::fs::read(ckpt::checkpoint_path(&run)).unwrap();
    std::fs::write(run.join(".checkpoint.safetensors.99999999.tmp"), &whole[..whole.len() / 2]).unwrap();
    let mut cfg = config(&dir, &vgg, at + 1);
    cfg.resume = true;
    assert_eq!(train(&cfg).unwrap().iteration, at + 1);
}

/// The largest difference between two runs' checkpoints (model and Adam state).
fn checkpoint_distance(a: &Path, b: &Path) -> f32 {
    let (_, ta) = ckpt::load(a).unwrap();
    let (_, tb) = ckpt::load(b).unwrap();
    assert_eq!(ta.len(), tb.len());
    ta.iter().map(|(k, x)| x.iter().zip(tb[k].iter()).map(|(p, q)| (p - q).abs()).fold(0f32, f32::max)).fold(0f32, f32::max)
}

#[test]
fn models_trained_together_get_the_same_losses_as_alone() {
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tmp("together");
    let vgg = fake_vgg(&dir);
    // Two different models: a plain half net, and a lite net with another style and the stability term (its
    // noise must not depend on what else the process trains).
    let a = config(&dir.join("a"), &vgg, 6);
    let mut b = config(&dir.join("b"), &vgg, 6);
    b.styles = vec![second_style(&dir)];
    b.arch = "lite".into();
    b.spec = JohnsonSpec::lite();
    b.weights.stability = 0.5;
    train(&a).unwrap();
    train(&b).unwrap();

    let mut both = config(&dir.join("both"), &vgg, 6);
    both.out = dir.join("both/a");
    both.more = vec![ModelConfig {
        out: dir.join("both/b"),
        arch: b.arch.clone(),
        widths: None,
        res_blocks: None,
        end_kernel: None,
        styles: b.styles.clone(),
        init: Vec::new(),
        style_size: None,
        style_scale: None,
        weights: b.weights,
        stability_noise: b.stability_noise,
        exact_spec: None,
    }];
    let sum = train_all(&both).unwrap();
    assert_eq!(sum.states.len(), 2);
    assert_eq!(sum.states[1].spec, JohnsonSpec::lite());
    for (alone, together) in [(&a.out, dir.join("both/a")), (&b.out, dir.join("both/b"))] {
        let ra = report::read_metrics(&alone.join("metrics.csv"), 99);
        let rt = report::read_metrics(&together.join("metrics.csv"), 99);
        assert_eq!(ra.len(), 6);
        assert_eq!(rt.len(), 6);
        for (x, y) in ra.iter().zip(&rt) {
            let (p, q) = (x.terms, y.terms);
            assert_eq!((p.total, p.content, p.style, p.tv, p.stability), (q.total, q.content, q.style, q.tv, q.stability), "iteration {}", x.iteration);
        }
        let d = checkpoint_distance(alone, &together);
        eprintln!("{}: alone vs together, max checkpoint difference {d:e}", alone.display());
        assert!(d <= 1e-6, "{} trained together differs by {d}", alone.display());
    }
    // The two models did learn different things.
    assert!(report::read_metrics(&a.out.join("metrics.csv"), 99)[5].terms.total != report::read_metrics(&b.out.join("metrics.csv"), 99)[5].terms.total);
}

#[test]
fn bf16_follows_fp32_over_fifty_steps() {
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tmp("bf16");
    let vgg = fake_vgg(&dir);
    // The reference's learning rate: the tests' usual 1e-2 makes these tiny runs chaotic (any rounding
    // difference, bf16 or not, sends them apart after a few steps).
    let fp32 = TrainConfig { checkpoint_every: 1000, lr: 1e-3, ..config(&dir.join("fp32"), &vgg, 50) };
    let bf16 = TrainConfig { precision: Precision::Bf16, ..fp32.clone() };
    let bf16 = TrainConfig { out: dir.join("bf16/run"), ..bf16 };
    train(&fp32).unwrap();
    let state = train(&bf16).unwrap();
    assert_eq!(state.precision.as_deref(), Some("bf16"));
    let rf = report::read_metrics(&fp32.out.join("metrics.csv"), 99);
    let rb = report::read_metrics(&bf16.out.join("metrics.csv"), 99);
    assert_eq!((rf.len(), rb.len()), (50, 50));
    let rel: Vec<f64> = rf.iter().zip(&rb).map(|(f, b)| (b.terms.total - f.terms.total).abs() / f.terms.total).collect();
    let (first, worst) = (rel[0], rel.iter().cloned().fold(0.0, f64::max));
    let (last_f, last_b) = (mean_total(&rf[40..]), mean_total(&rb[40..]));
    let windows: Vec<(f64, f64)> = (0..5).map(|w| (mean_total(&rf[w * 10..w * 10 + 10]), mean_total(&rb[w * 10..w * 10 + 10]))).collect();
    eprintln!("bf16 vs fp32: first step {first:.2e}, worst step {worst:.3}, last 10 steps {last_f:.4} vs {last_b:.4}; windows {windows:?}");
    // bf16 really ran (its rounding shows from the first step) and stays on fp32's curve: every step within 5%
    // of fp32's loss, the last ten steps' mean within 2% (measured: 1.9% and 0.6%).
    assert!(first > 0.0, "the bf16 run computed exactly what fp32 did: it did not run in bf16");
    assert!(worst < 0.05, "a step differs by {worst} of fp32's loss");
    assert!((last_b - last_f).abs() < 0.02 * last_f, "bf16 ends at {last_b}, fp32 at {last_f}");
}

#[test]
fn channels_last_computes_what_nchw_does() {
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tmp("channels-last");
    let vgg = fake_vgg(&dir);
    // The real runs' learning rate (1e-3): the smoke runs' 1e-2 makes rounding differences chaotic within steps.
    let nchw = TrainConfig { lr: 1e-3, ..config(&dir.join("nchw"), &vgg, 4) };
    let nhwc = TrainConfig { channels_last: true, ..TrainConfig { lr: 1e-3, ..config(&dir.join("nhwc"), &vgg, 4) } };
    train(&nchw).unwrap();
    train(&nhwc).unwrap();
    let ra = report::read_metrics(&nchw.out.join("metrics.csv"), 99);
    let rb = report::read_metrics(&nhwc.out.join("metrics.csv"), 99);
    assert_eq!(ra.len(), 4);
    for (x, y) in ra.iter().zip(&rb) {
        // Float sums in another order, amplified by each update (at 1e-2, by 60x a step on an AVX-512 CPU).
        let rel = (x.terms.total - y.terms.total).abs() / x.terms.total;
        eprintln!("iteration {}: channels-last vs NCHW {rel:.1e}", x.iteration);
        assert!(rel < if x.iteration == 1 { 1e-5 } else { 1e-2 }, "iteration {}: {} vs {}", x.iteration, x.terms.total, y.terms.total);
    }
}

#[test]
fn larger_batches_scale_and_warm_up_the_learning_rate() {
    use stylize_train::schedule::{default_warmup, lr_at};
    // The reference's batch: as given, no warm-up (the shipped recipes are unchanged).
    assert_eq!(default_warmup(4, 40_000), 0);
    assert_eq!(lr_at(1e-3, LrScaling::Sqrt, 4, 0, 0), 1e-3);
    // Batch 16: twice the rate (sqrt), reached linearly over the warm-up.
    let w = default_warmup(16, 10_000);
    assert_eq!(w, 200);
    assert_eq!(default_warmup(16, 100), 5);
    assert!((lr_at(1e-3, LrScaling::Sqrt, 16, w, 0) - 2e-3 / 200.0).abs() < 1e-12);
    assert!((lr_at(1e-3, LrScaling::Sqrt, 16, w, 99) - 1e-3).abs() < 1e-12);
    assert!((lr_at(1e-3, LrScaling::Sqrt, 16, w, 5000) - 2e-3).abs() < 1e-12);
    assert!((lr_at(1e-3, LrScaling::Linear, 16, 0, 0) - 4e-3).abs() < 1e-12);
    assert_eq!(lr_at(1e-3, LrScaling::None, 16, 0, 0), 1e-3);
}

#[test]
fn a_plan_trains_its_models_and_rejects_mistakes() {
    use std::process::Command;
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tmp("plan");
    let vgg = fake_vgg(&dir);
    let (content, style) = make_data(&dir);
    let second = second_style(&dir);
    let plan = dir.join("plan.json");
    let write = |text: String| std::fs::write(&plan, text).unwrap();
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_stylize-train"))
            .args(["train", "--plan"])
            .arg(&plan)
            .arg("--content-dir")
            .arg(&content)
            .arg("--vgg")
            .arg(&vgg)
            .args(["--size", "64", "--batch", "8", "--threads", "1", "--device", "cpu", "--samples", "1"])
            .args(if extra.is_empty() { &["--iters", "3"][..] } else { extra })
            .output()
            .unwrap()
    };
    let model = |name: &str, arch: &str, style: &Path| {
        format!(r#"{{"out": "{}", "arch": "{arch}", "styles": ["{}"], "weights": {{"content": 1, "style": 10, "tv": 1}}}}"#, dir.join(name).display(), style.display())
    };
    write(format!(r#"{{"models": [{}, {}]}}"#, model("p1", "half", &style), model("p2", "lite", &second)));
    let out = run(&[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("training 2 model(s)"), "{err}");
    assert!(err.contains("summary: 2 models x 3 iterations of batch 8"), "{err}");
    for (name, arch) in [("p1", "half"), ("p2", "lite")] {
        let (s, _) = ckpt::load(&dir.join(name)).unwrap();
        assert_eq!((s.iteration, s.arch.as_str(), s.batch, s.warmup), (3, arch, 8, Some(1)));
        assert!(dir.join(name).join("samples/iter_000003.png").exists());
    }
    // Mistakes: an unknown key, two models in one folder, models that would resume from different iterations.
    write(r#"{"models": [{"out": "x", "styles": [], "weights": {"content": 1, "style": 1, "tv": 1}, "colour": 1}]}"#.to_string());
    let out = run(&[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown field `colour`"), "{err}");
    assert!(err.trim_end().lines().count() == 1 && err.starts_with("error: --plan "), "one line naming the plan: {err}");
    write(format!(r#"{{"models": [{}, {}]}}"#, model("p1", "half", &style), model("p1", "lite", &second)));
    let out = run(&[]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("same folder"), "{}", String::from_utf8_lossy(&out.stderr));
    write(format!(r#"{{"models": [{}, {}]}}"#, model("p1", "half", &style), model("p3", "lite", &second)));
    let out = run(&["--resume", "--iters", "4"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("resume together"), "{err}");
}

#[test]
fn precision_auto_is_bf16_on_cuda_and_on_cpus_with_native_bf16() {
    use stylize_train::mixed::Precision;
    use tch::Device;
    let (zen4, avx2) = ("flags\t\t: fpu avx2 avx512f avx512_bf16 avx512_vnni", "flags\t\t: fpu sse2 avx2 fma f16c");
    assert_eq!(Precision::auto(Device::Cpu, zen4), Precision::Bf16);
    assert_eq!(Precision::auto(Device::Cpu, "flags : avx2 amx_bf16 amx_tile"), Precision::Bf16);
    assert_eq!(Precision::auto(Device::Cpu, avx2), Precision::Fp32);
    assert_eq!(Precision::auto(Device::Cuda(0), avx2), Precision::Bf16);
    assert_eq!(Precision::parse("fp32", Device::Cuda(0)).unwrap(), Precision::Fp32);
    assert!(Precision::parse("fp16", Device::Cpu).is_err());
}
