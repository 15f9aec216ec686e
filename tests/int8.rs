//! INT8 models: the shipped INT8 versions stay within their quality check of the float models when the engine
//! runs them, `--precision auto` takes them only where it should, forced precisions that cannot be met are
//! one-line errors, and `scripts/quantize.sh` makes a model that passes its check and refuses one that fails.
//! Skipped, with a message, where OpenVINO (scripts/setup.sh) or the quantizer (scripts/quantize.sh --setup)
//! is not installed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use stylize::{Device, Engine, EngineOptions, Frame, Precision};

fn vnni() -> bool {
    stylize::engine::int8::has_vnni(&stylize::engine::ov::cpu_flags())
}

/// A real picture (amber.jpg when ../shared is there, else a shipped style painting) at 320 px wide.
fn picture() -> Frame {
    let amber = root().join("../shared/data/content/amber.jpg");
    let path = if amber.is_file() { amber } else { root().join("onnx/cards/candy-style.jpg") };
    let img = image::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).to_rgb8();
    let h = 320 * img.height() / img.width();
    let img = image::imageops::resize(&img, 320, h, image::imageops::FilterType::Triangle);
    let mut f = Frame::new(320, h as usize);
    f.data.copy_from_slice(img.as_raw());
    f
}

fn stylized(model: &Path, precision: Precision, frame: &Frame) -> (Frame, Engine) {
    let opts = EngineOptions { device: Device::OpenVino(stylize::OvTarget::Cpu), precision, threads: Some(2), ..Default::default() };
    let mut engine = Engine::load(model, &opts).unwrap_or_else(|e| panic!("{}: {e}", model.display()));
    let mut out = frame.clone();
    engine.stylize(&mut out).unwrap();
    (out, engine)
}

#[test]
fn shipped_int8_models_stay_within_their_check() {
    if !openvino_installed() {
        return;
    }
    let frame = picture();
    let mut checked = 0;
    for entry in std::fs::read_dir(root().join("onnx")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let Some(float_name) = name.strip_suffix("-int8.onnx") else { continue };
        let float = root().join("onnx").join(format!("{float_name}.onnx"));
        let (a, fe) = stylized(&float, Precision::Fp32, &frame);
        let (b, qe) = stylized(&float, Precision::Int8, &frame);
        assert_eq!((fe.precision(), qe.precision()), (Precision::Fp32, Precision::Int8));
        assert!(qe.info().path.ends_with(&name), "{}", qe.info().path.display());
        let (_, mean, _) = diff(&a, &b);
        eprintln!("{float_name}: INT8 against fp32 on one picture: mean {mean:.2} grey levels");
        // The check allows 1.5 on average over 27 held-out images; one picture may be worse (the worst image
        // of any shipped model was under 4), but not by more.
        assert!(mean < 4.0, "{float_name}: INT8 differs from fp32 by {mean:.2} on average");
        // ... and it is not the float model run again.
        assert!(mean > 0.05, "{float_name}: INT8 output equals fp32 ({mean:.3}): was the INT8 model run?");
        // Each passed its check with the first convolution in int8 (7-9% of a lite net's frame on one core).
        let recipe = std::fs::read(&path).unwrap();
        assert!(recipe.windows(39).any(|w| w == b"first convolution int8 on exact pixels;"), "{name}: first convolution float");
        checked += 1;
    }
    assert!(checked > 0, "no INT8 models in onnx/");
}

#[test]
fn auto_takes_int8_for_frame_streams_only_with_vnni() {
    if !openvino_installed() || !root().join("onnx/candy-lite-int8.onnx").is_file() {
        return;
    }
    let o = stylize(&["bench", "-m", "candy-lite", "--sizes", "64x64", "--frames", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let load = stderr(&o).lines().find(|l| l.starts_with("model ")).unwrap_or_default().to_string();
    assert_eq!(load.contains("candy-lite-int8.onnx"), vnni(), "VNNI {}: {load}", vnni());
    // A single photo keeps the float model, with or without VNNI.
    let dir = tempfile::tempdir().unwrap();
    write_png(&dir.path().join("in.png"), 64, 48);
    let o = stylize(&["image", "-m", "candy-lite", dir.path().join("in.png").to_str().unwrap(), "-o", dir.path().join("out.png").to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("int8"), "{}", stderr(&o));
    // Forcing a float precision keeps the float model on OpenVINO too.
    let o = stylize(&["bench", "-m", "candy-lite", "--device", "openvino", "--precision", "bf16", "--sizes", "64x64", "--frames", "1"]);
    assert!(o.status.success() && !stderr(&o).contains("candy-lite-int8"), "{}", stderr(&o));
}

#[test]
fn impossible_precisions_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let float = dir.path().join("lonely.onnx");
    std::fs::copy(root().join("onnx/candy-lite.onnx"), &float).unwrap();
    write_png(&dir.path().join("in.png"), 32, 32);
    let (input, out) = (dir.path().join("in.png"), dir.path().join("out.png"));
    let o = stylize(&["image", "-m", float.to_str().unwrap(), "--precision", "int8", input.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_fails_with(&o, &["no INT8 model", "lonely-int8.onnx", "scripts/quantize.sh"]);
    assert!(!out.exists());
    if root().join("onnx/candy-lite-int8.onnx").is_file() {
        let int8 = root().join("onnx/candy-lite-int8.onnx");
        let o = stylize(&["image", "-m", int8.to_str().unwrap(), "--precision", "fp32", input.to_str().unwrap(), "-o", out.to_str().unwrap()]);
        assert_fails_with(&o, &["is an INT8 model", "--precision fp32"]);
        assert!(!out.exists());
    }
}

/// scripts/quantize.sh's Python, if `scripts/quantize.sh --setup` (run by `scripts/setup.sh test`) made it.
fn quantizer() -> Option<PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from).or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    let python = cache.join("stylize/quant/bin/python");
    let ok = Command::new(&python).args(["-c", "import nncf, openvino, onnx, onnxruntime, PIL"]).output().is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("skipping: the quantizer is not set up (scripts/quantize.sh --setup)");
    }
    ok.then_some(python)
}

#[test]
fn quantize_script_checks_what_it_writes() {
    if quantizer().is_none() || skip_without_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = d.join("m.onnx");
    std::fs::copy(root().join("onnx/candy-lite.onnx"), &model).unwrap();
    // Calibration and held-out frames from FFmpeg's test patterns (different ones, so nothing is shared).
    std::fs::create_dir_all(d.join("calib")).unwrap();
    std::fs::create_dir_all(d.join("held")).unwrap();
    ffmpeg(&["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=2", "-frames:v", "6", d.join("calib/%02d.png").to_str().unwrap()]);
    ffmpeg(&["-f", "lavfi", "-i", "mandelbrot=size=320x180:rate=2", "-frames:v", "2", d.join("held/%02d.png").to_str().unwrap()]);
    let script = root().join("scripts/quantize.sh");
    let run = |extra: &[&str]| {
        let mut c = Command::new(&script);
        c.arg(&model).args(["--calibration", d.join("calib").to_str().unwrap(), "--held-out", d.join("held").to_str().unwrap(), "--size", "160x96"]);
        c.args(extra).output().unwrap()
    };
    // A check nothing can pass: exit 1, nothing written.
    let o = run(&["--max-mean", "0"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("not written") && stdout(&o).contains("FAILS the check"), "{}{}", stdout(&o), stderr(&o));
    assert!(!d.join("m-int8.onnx").exists());
    // A check it passes (FFmpeg's synthetic patterns quantize worse than photos: 2.2 grey levels here against
    // 0.7-1.6 for the shipped models on real pictures): written beside the model, tagged INT8, and the engine
    // runs it as such.
    let o = run(&["--max-mean", "8"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    // The first convolution reads the pixels, which uint8 holds exactly: it goes int8 where the check allows.
    assert!(stdout(&o).contains("first convolution int8 on exact pixels; float: deconv3.conv2d"), "{}", stdout(&o));
    let bytes = std::fs::read(d.join("m-int8.onnx")).expect("m-int8.onnx written");
    assert!(stylize_model::onnx::is_quantized(&bytes).unwrap());
    assert!(!stylize_model::onnx::is_quantized(&std::fs::read(&model).unwrap()).unwrap());
    assert!(!d.join("m-int8.onnx.part").exists());
    if openvino_installed() {
        let (a, _) = stylized(&model, Precision::Fp32, &picture());
        let (b, e) = stylized(&model, Precision::Int8, &picture());
        assert_eq!(e.precision(), Precision::Int8);
        let (_, mean, _) = diff(&a, &b);
        assert!(mean > 0.05 && mean < 10.0, "{mean}");
    }
    // Bad input: one line, exit 2.
    let o = Command::new(&script).args([d.join("missing.onnx").to_str().unwrap(), "--calibration", d.join("calib").to_str().unwrap()]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("missing.onnx does not exist"), "{}", stderr(&o));
    let o = Command::new(&script).args([d.join("m-int8.onnx").to_str().unwrap(), "--calibration", d.join("calib").to_str().unwrap()]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("already quantized"), "{}", stderr(&o));
}
