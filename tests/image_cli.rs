//! `stylize image`, `info`, `models` and their bad inputs, through the real binary.

mod common;

use std::path::Path;

use common::*;
use stylize_model::onnx::Dim;

fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (*x as f64 - *y as f64).abs()).sum::<f64>() / a.len() as f64
}

#[test]
fn stylizes_images_of_any_size_keeping_their_size() {
    let dir = tempfile::tempdir().unwrap();
    let model = random_model(dir.path(), "half", 7);
    assert_keeps_sizes(dir.path(), &model, &[(1, 1), (37, 53), (64, 48), (3, 4097), (301, 17)]);
}

/// Stylizes a pattern of each size with `model`: the output has the input's size and is not the input.
fn assert_keeps_sizes(dir: &Path, model: &Path, sizes: &[(u32, u32)]) {
    for &(w, h) in sizes {
        let input = dir.join(format!("in-{w}x{h}.png"));
        write_png(&input, w, h);
        let out = dir.join(format!("out-{w}x{h}.png"));
        let o = stylize(&["image", "-q", "-m", model.to_str().unwrap(), input.to_str().unwrap(), "-o", out.to_str().unwrap()]);
        assert!(o.status.success(), "{w}x{h}: {}", stderr(&o));
        let styled = image::open(&out).unwrap().into_rgb8();
        assert_eq!(styled.dimensions(), (w, h), "output size for {w}x{h}");
        if w * h > 100 {
            let original = image::open(&input).unwrap().into_rgb8();
            assert!(mean_abs_diff(original.as_raw(), styled.as_raw()) > 5.0, "{w}x{h}: output looks like the input");
        }
    }
}

#[test]
fn space_to_depth_models_keep_odd_sizes() {
    // Lite nets come back at the same size for multiples of 8 (the engine reads that from the spec in the
    // metadata); 44x36 is a multiple of 4 but not of 8.
    let dir = tempfile::tempdir().unwrap();
    let model = random_model(dir.path(), "lite", 7);
    assert_keeps_sizes(dir.path(), &model, &[(301, 17), (37, 53), (44, 36), (1, 1)]);
    let o = stylize(&["info", "-m", model.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("multiple of 8"), "{}", stdout(&o));
}

#[test]
fn several_inputs_go_to_a_directory_and_formats_follow_extensions() {
    let dir = tempfile::tempdir().unwrap();
    let model = random_model(dir.path(), "half", 1);
    let a = dir.path().join("a.png");
    write_png(&a, 40, 30);
    let b = dir.path().join("b.jpg");
    image::RgbImage::from_pixel(20, 50, image::Rgb([200, 30, 90])).save(&b).unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let o = stylize(&["image", "-q", "-m", model.to_str().unwrap(), a.to_str().unwrap(), b.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(files_in(&out), vec!["a-half-1.png", "b-half-1.jpg"]);
    assert_eq!(image::ImageReader::open(out.join("b-half-1.jpg")).unwrap().with_guessed_format().unwrap().format(), Some(image::ImageFormat::Jpeg));
    assert_eq!(image::open(out.join("b-half-1.jpg")).unwrap().into_rgb8().dimensions(), (20, 50));
}

#[test]
fn alpha_is_dropped_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let model = random_model(dir.path(), "half", 2);
    let input = dir.path().join("rgba.png");
    image::RgbaImage::from_pixel(33, 21, image::Rgba([10, 200, 30, 128])).save(&input).unwrap();
    let out = dir.path().join("out.png");
    let o = stylize(&["image", "-m", model.to_str().unwrap(), input.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("alpha"), "no note about alpha: {}", stderr(&o));
    assert_eq!(image::open(&out).unwrap().color(), image::ColorType::Rgb8);
}

/// The ICC profile a PNG or JPEG carries.
fn icc_profile(path: &Path) -> Option<Vec<u8>> {
    use image::ImageDecoder;
    image::ImageReader::open(path).unwrap().with_guessed_format().unwrap().into_decoder().unwrap().icc_profile().unwrap()
}

#[test]
fn sixteen_bit_images_get_a_note_and_icc_profiles_are_kept() {
    use image::ImageEncoder;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = random_model(d, "half", 6);
    let m = model.to_str().unwrap();
    let deep = d.join("deep.png");
    image::ImageBuffer::<image::Rgb<u16>, _>::from_fn(40, 30, |x, y| image::Rgb([(x * 1600) as u16, (y * 2000) as u16, 30000])).save(&deep).unwrap();
    let o = stylize(&["image", "-m", m, deep.to_str().unwrap(), "-o", d.join("deep-out.png").to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("16-bit image converted to 8 bits"), "no note: {}", stderr(&o));

    // A profile (any bytes: nothing here interprets it) goes through to PNG and JPEG outputs, pixels untouched at strength 0.
    let profile: Vec<u8> = (0..300u32).map(|i| (i * 7 % 251) as u8).collect();
    let tagged = d.join("tagged.png");
    let pixels = image::RgbImage::from_fn(40, 30, |x, y| image::Rgb([(x * 6) as u8, (y * 8) as u8, 90]));
    let mut enc = image::codecs::png::PngEncoder::new(std::fs::File::create(&tagged).unwrap());
    enc.set_icc_profile(profile.clone()).unwrap();
    enc.write_image(pixels.as_raw(), 40, 30, image::ExtendedColorType::Rgb8).unwrap();
    for out in ["tagged-out.png", "tagged-out.jpg"] {
        let out = d.join(out);
        let o = stylize(&["image", "-m", m, tagged.to_str().unwrap(), "-o", out.to_str().unwrap(), "--strength", "0"]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stderr(&o).contains("ICC colour profile"), "no note: {}", stderr(&o));
        assert_eq!(icc_profile(&out).as_deref(), Some(profile.as_slice()), "{} lost the profile", out.display());
    }
    assert_eq!(image::open(d.join("tagged-out.png")).unwrap().to_rgb8().as_raw(), pixels.as_raw());
    // Without a profile in, none out.
    assert_eq!(icc_profile(&d.join("deep-out.png")), None);
}

/// Inserts a minimal EXIF block (APP1, big-endian TIFF, one IFD entry: Orientation) after the JPEG's SOI.
fn with_exif_orientation(jpeg: &[u8], orientation: u8) -> Vec<u8> {
    let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01".to_vec();
    exif.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, orientation, 0, 0, 0, 0, 0, 0]);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&exif);
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[test]
fn exif_orientation_is_applied() {
    let dir = tempfile::tempdir().unwrap();
    let model = random_model(dir.path(), "half", 3);
    let plain = dir.path().join("plain.jpg");
    image::RgbImage::from_pixel(60, 20, image::Rgb([90, 90, 90])).save(&plain).unwrap();
    // Orientation 6 (rotate 90 degrees clockwise to display): stored 60x20, shown 20x60.
    let rotated = dir.path().join("rotated.jpg");
    std::fs::write(&rotated, with_exif_orientation(&std::fs::read(&plain).unwrap(), 6)).unwrap();
    let out = dir.path().join("out.png");
    let o = stylize(&["image", "-m", model.to_str().unwrap(), rotated.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(image::open(&out).unwrap().into_rgb8().dimensions(), (20, 60));
    assert!(stderr(&o).contains("orientation"));
    // the same pixels without the tag keep their stored size
    let o = stylize(&["image", "-q", "-m", model.to_str().unwrap(), plain.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(image::open(&out).unwrap().into_rgb8().dimensions(), (60, 20));
}

#[test]
fn fixed_size_models_without_metadata_are_resized_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("zoo.onnx");
    identity_model(&model, &[Dim::Fixed(1), Dim::Fixed(3), Dim::Fixed(224), Dim::Fixed(224)]);
    let info = stylize(&["info", "-q", "-m", model.to_str().unwrap()]);
    assert!(info.status.success(), "{}", stderr(&info));
    assert!(stdout(&info).contains("fixed input 224x224"), "{}", stdout(&info));
    let input = dir.path().join("in.png");
    image::RgbImage::from_fn(100, 70, |x, _| image::Rgb([(x * 2) as u8, 100, 150])).save(&input).unwrap();
    let out = dir.path().join("out.png");
    let o = stylize(&["image", "-q", "-m", model.to_str().unwrap(), input.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (a, b) = (image::open(&input).unwrap().into_rgb8(), image::open(&out).unwrap().into_rgb8());
    assert_eq!(b.dimensions(), (100, 70));
    // identity through a resize down and back up: close to the input
    assert!(mean_abs_diff(a.as_raw(), b.as_raw()) < 3.0);
}

#[test]
fn info_and_models_describe_models() {
    let dir = tempfile::tempdir().unwrap();
    let model = random_model(dir.path(), "full", 5);
    std::fs::write(dir.path().join("full-5.md"), "# Random\n\nA random full net for tests.\n").unwrap();
    let o = stylize(&["info", "-q", "-m", model.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    for needle in ["ONNX Runtime", "cpu", "input:", "stylize.range = 0-255", "stylize.spec"] {
        assert!(text.contains(needle), "info lacks {needle:?}: {text}");
    }
    let o = stylize(&["models", "--models-dir", dir.path().to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("full-5") && stdout(&o).contains("A random full net for tests."), "{}", stdout(&o));
    // a model named by its name in --models-dir
    let input = dir.path().join("in.png");
    write_png(&input, 16, 16);
    let out = dir.path().join("o.png");
    let o = stylize(&["image", "-q", "--models-dir", dir.path().to_str().unwrap(), "-m", "full-5", input.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn bad_inputs_fail_cleanly_without_output() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = random_model(d, "half", 9);
    let m = model.to_str().unwrap();
    let input = d.join("in.png");
    write_png(&input, 20, 20);
    let i = input.to_str().unwrap();
    let out = d.join("out.png");
    let o_ = out.to_str().unwrap();

    assert_fails_with(&stylize(&["image", "-m", m, "missing.png", "-o", o_]), &["missing.png", "not found"]);
    let text = d.join("text.png");
    std::fs::write(&text, "not an image").unwrap();
    assert_fails_with(&stylize(&["image", "-m", m, text.to_str().unwrap(), "-o", o_]), &["not an image"]);
    assert_fails_with(&stylize(&["image", "-m", "nope.onnx", i, "-o", o_]), &["nope.onnx", "not found"]);
    let garbage = d.join("garbage.onnx");
    std::fs::write(&garbage, b"\x08\x01garbage that is not protobuf").unwrap();
    assert_fails_with(&stylize(&["image", "-m", garbage.to_str().unwrap(), i, "-o", o_]), &["not a usable onnx model"]);
    let gray = d.join("gray.onnx");
    identity_model(&gray, &[Dim::Fixed(1), Dim::Fixed(1), Dim::Named("H"), Dim::Named("W")]);
    assert_fails_with(&stylize(&["image", "-m", gray.to_str().unwrap(), i, "-o", o_]), &["1 channels", "expected 3"]);
    let rank2 = d.join("rank2.onnx");
    identity_model(&rank2, &[Dim::Named("N"), Dim::Fixed(3)]);
    assert_fails_with(&stylize(&["image", "-m", rank2.to_str().unwrap(), i, "-o", o_]), &["rank 2", "expected 4"]);
    assert_fails_with(&stylize(&["image", "-m", m, i, "-o", d.join("no/such/dir/o.png").to_str().unwrap()]), &["does not exist"]);
    assert_fails_with(&stylize(&["image", "-m", m, i, "-o", i]), &["is the input"]);
    assert_fails_with(&stylize(&["image", "-m", m, i, "-o", d.join("o.gif").to_str().unwrap()]), &["unsupported output format"]);
    assert_fails_with(&stylize(&["image", "--ort-lib", "/nonexistent/libonnxruntime.so", "-m", m, i, "-o", o_]), &["onnx runtime library not found", "setup.sh"]);
    assert!(!out.exists());
    assert_eq!(files_in(d), vec!["garbage.onnx", "gray.onnx", "half-9.onnx", "in.png", "rank2.onnx", "text.png"]);
}

#[test]
fn unavailable_gpu_is_a_clear_error_and_auto_falls_back() {
    let info = stylize(&["info"]);
    if stdout(&info).lines().any(|l| l.trim_start().starts_with("cuda") && l.contains(" available")) {
        eprintln!("skipping: this machine has CUDA");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = random_model(dir.path(), "half", 4);
    let input = dir.path().join("in.png");
    write_png(&input, 20, 20);
    let out = dir.path().join("out.png");
    let args = |dev: &'static str| vec!["image", "--device", dev, "-m", model.to_str().unwrap(), input.to_str().unwrap(), "-o", out.to_str().unwrap()].into_iter().map(String::from).collect::<Vec<_>>();
    let run = |a: Vec<String>| stylize(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_fails_with(&run(args("cuda")), &["cuda", "not available", "setup.sh --gpu"]);
    assert!(!out.exists());
    let o = run(args("auto"));
    assert!(o.status.success(), "{}", stderr(&o));
    // The CPU: OpenVINO's when it is installed (.deps/openvino), else ONNX Runtime's.
    let e = stderr(&o);
    assert!((e.contains("on cpu") || e.contains("on openvino")) && e.contains("skipped"), "auto should say why it fell back: {e}");
}

#[test]
fn strength_and_preserve_color() {
    let dir = tempfile::tempdir().unwrap();
    let model = random_model(dir.path(), "half", 21);
    let m = model.to_str().unwrap();
    let input = dir.path().join("in.png");
    write_png(&input, 48, 40);
    let i = input.to_str().unwrap();
    let original = image::open(&input).unwrap().into_rgb8();

    let zero = dir.path().join("zero.png");
    let o = stylize(&["image", "-q", "-m", m, i, "-o", zero.to_str().unwrap(), "--strength", "0"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(image::open(&zero).unwrap().into_rgb8(), original, "strength 0 must return the input");

    let full = dir.path().join("full.png");
    assert!(stylize(&["image", "-q", "-m", m, i, "-o", full.to_str().unwrap()]).status.success());
    let half = dir.path().join("half.png");
    assert!(stylize(&["image", "-q", "-m", m, i, "-o", half.to_str().unwrap(), "--strength", "0.5"]).status.success());
    let (full, half) = (image::open(&full).unwrap().into_rgb8(), image::open(&half).unwrap().into_rgb8());
    let d_full = mean_abs_diff(original.as_raw(), full.as_raw());
    let d_half = mean_abs_diff(original.as_raw(), half.as_raw());
    assert!((d_half - d_full / 2.0).abs() < 2.0, "strength 0.5 halfway: {d_half} vs {d_full}");

    let kept = dir.path().join("kept.png");
    let o = stylize(&["image", "-q", "-m", m, i, "-o", kept.to_str().unwrap(), "--preserve-color"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let kept = image::open(&kept).unwrap().into_rgb8();
    // chroma (R-Y, B-Y) of the output is the input's wherever nothing clipped; luma is the stylized frame's
    let luma = |p: &image::Rgb<u8>| 0.299 * p[0] as f64 + 0.587 * p[1] as f64 + 0.114 * p[2] as f64;
    let (mut chroma_err, mut luma_err, mut n) = (0.0, 0.0, 0);
    for ((o, k), s) in original.pixels().zip(kept.pixels()).zip(full.pixels()) {
        if k.0.iter().any(|&v| v == 0 || v == 255) {
            continue;
        }
        chroma_err += ((k[0] as f64 - luma(k)) - (o[0] as f64 - luma(o))).abs() + ((k[2] as f64 - luma(k)) - (o[2] as f64 - luma(o))).abs();
        luma_err += (luma(k) - luma(s)).abs();
        n += 1;
    }
    assert!(n > 500, "too many clipped pixels");
    assert!(chroma_err / n as f64 <= 1.5, "chroma not kept: {}", chroma_err / n as f64);
    assert!(luma_err / n as f64 <= 1.0, "luma not from the style: {}", luma_err / n as f64);
    let bad = dir.path().join("bad.png");
    assert_fails_with(&stylize(&["image", "-m", m, i, "-o", bad.to_str().unwrap(), "--strength", "1.5"]), &["--strength", "out of range"]);
    assert!(!bad.exists());
}

#[test]
fn process_scale_runs_the_net_smaller_and_keeps_the_size() {
    let dir = tempfile::tempdir().unwrap();
    let model = random_model(dir.path(), "half", 8);
    let input = dir.path().join("in.png");
    write_png(&input, 161, 97);
    let run = |extra: &[&str], name: &str| {
        let out = dir.path().join(name);
        let mut args = vec!["image", "-q", "-m", model.to_str().unwrap(), input.to_str().unwrap(), "-o", out.to_str().unwrap()];
        args.extend_from_slice(extra);
        let o = stylize(&args);
        assert!(o.status.success(), "{extra:?}: {}", stderr(&o));
        image::open(&out).unwrap().into_rgb8()
    };
    let full = run(&[], "full.png");
    let half = run(&["--process-scale", "0.5"], "half.png");
    assert_eq!(half.dimensions(), (161, 97));
    let original = image::open(&input).unwrap().into_rgb8();
    assert!(mean_abs_diff(original.as_raw(), half.as_raw()) > 5.0, "--process-scale output looks like the input");
    assert!(mean_abs_diff(full.as_raw(), half.as_raw()) > 1.0, "--process-scale 0.5 gave the full-size result");
    for bad in ["0", "1.5", "x"] {
        let o = stylize(&["image", "-m", model.to_str().unwrap(), input.to_str().unwrap(), "-o", dir.path().join("bad.png").to_str().unwrap(), "--process-scale", bad]);
        assert_fails_with(&o, &["process-scale", "between 0 and 1"]);
    }
}

#[test]
fn style_mix_blends_the_styles_of_a_multi_style_model() {
    let dir = tempfile::tempdir().unwrap();
    let model = multi_style_model(dir.path(), 3, 4);
    let m = model.to_str().unwrap();
    let input = dir.path().join("in.png");
    write_png(&input, 64, 48);
    let i = input.to_str().unwrap();
    let render = |name: &str, mix: Option<&str>| {
        let out = dir.path().join(format!("{name}.png"));
        let mut args = vec!["image", "-q", "-m", m, i, "-o", out.to_str().unwrap()];
        if let Some(mix) = mix {
            args.extend(["--style-mix", mix]);
        }
        let o = stylize(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        image::open(&out).unwrap().into_rgb8().into_raw()
    };
    let first = render("first", Some("random-0"));
    let last = render("last", Some("random-2=1"));
    let blend = render("blend", Some("random-0=3,random-2=1"));
    let same_blend = render("same-blend", Some("random-0=0.75,2=0.25"));
    let even = render("even", Some("random-0=1,random-1=1,random-2=1"));
    let default = render("default", None);
    assert!(mean_abs_diff(&first, &last) > 1.0, "the styles look the same: {}", mean_abs_diff(&first, &last));
    // Weights are normalised and styles can be named by index.
    assert_eq!(blend, same_blend);
    // A blend is neither end, and nearer the heavier style.
    let (to_first, to_last) = (mean_abs_diff(&blend, &first), mean_abs_diff(&blend, &last));
    assert!(to_first > 0.1 && to_last > 0.1, "{to_first} {to_last}");
    assert!(to_first < to_last, "75% first is nearer the last style: {to_first} vs {to_last}");
    // Without --style-mix all styles count evenly.
    assert_eq!(default, even);

    let bad = dir.path().join("bad.png");
    let run = |mix: &str, model: &str| stylize(&["image", "-m", model, i, "-o", bad.to_str().unwrap(), "--style-mix", mix]);
    assert_fails_with(&run("starry", m), &["no style", "random-0, random-1, random-2"]);
    assert_fails_with(&run("random-0=-1", m), &["0 or more"]);
    let single = random_model(dir.path(), "half", 2);
    assert_fails_with(&run("random-0", single.to_str().unwrap()), &["one style", "multi-style"]);
    assert!(!bad.exists());
    let o = stylize(&["info", "-m", m]);
    assert!(stdout(&o).contains("styles:  random-0, random-1, random-2"), "{}", stdout(&o));
}

#[test]
fn image_folders_go_on_past_a_broken_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = random_model(d, "half", 9);
    let photos = d.join("photos");
    std::fs::create_dir(&photos).unwrap();
    write_png(&photos.join("a.png"), 24, 16);
    write_png(&photos.join("b.png"), 16, 24);
    std::fs::write(photos.join("broken.jpg"), b"not a jpeg").unwrap();
    let out = d.join("out");
    std::fs::create_dir(&out).unwrap();
    let o = stylize(&["image", "-q", "-m", model.to_str().unwrap(), photos.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_fails_with(&o, &["1 of 3 images failed", "broken.jpg"]);
    assert!(stdout(&o).contains("image: 2 done, 1 failed"), "{}", stdout(&o));
    assert_eq!(files_in(&out), vec!["a-half-9.png", "b-half-9.png"]);
    let o = stylize(&["image", "-q", "-m", model.to_str().unwrap(), photos.join("a.png").to_str().unwrap(), photos.join("b.png").to_str().unwrap(), "-o", out.to_str().unwrap(), "--skip-existing"]);
    assert!(o.status.success() && stdout(&o).contains("image: 0 done, 2 skipped"), "{}{}", stdout(&o), stderr(&o));
}
