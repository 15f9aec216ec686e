//! The uint8 frame path (the model's graph wrapped to take and give uint8 RGB) against the float32 path, on the
//! CPU provider: 0-255 and 0-1 models, odd sizes, fixed-size models with an extra input, float16, and
//! `bench --resident`.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use protobuf::Message;
use stylize::engine::Residence;
use stylize::{Engine, EngineOptions, FrameIo, Precision};
use stylize_model::onnx::proto::{tensor_proto::DataType, GraphProto, NodeProto, TensorProto};
use stylize_model::onnx::{johnson_graph, model_proto, Dim, GraphBuilder};
use stylize_model::{meta, random_weights, JohnsonSpec, Weights};

fn pattern(w: usize, h: usize, seed: usize) -> stylize::Frame {
    let mut f = stylize::Frame::new(w, h);
    for (i, v) in f.data.iter_mut().enumerate() {
        let (x, y) = ((i / 3) % w, (i / 3) / w);
        *v = ((x * 7 + y * 3 + (i % 3) * 50 + seed * 17) % 256) as u8;
    }
    f
}

fn engine(model: &Path, io: FrameIo, precision: Precision) -> Engine {
    let opts = EngineOptions { threads: Some(1), frame_io: io, precision, ..Default::default() };
    Engine::load(model, &opts).unwrap_or_else(|e| panic!("{}: {e}", model.display()))
}

fn stylized(engine: &mut Engine, input: &stylize::Frame) -> stylize::Frame {
    let mut f = input.clone();
    engine.stylize(&mut f).expect("stylize");
    f
}

/// (largest, mean) absolute difference in grey levels.
fn diff(a: &stylize::Frame, b: &stylize::Frame) -> (u8, f64) {
    assert_eq!((a.width, a.height), (b.width, b.height));
    let d = a.data.iter().zip(&b.data).map(|(x, y)| x.abs_diff(*y));
    let max = d.clone().max().unwrap_or(0);
    (max, d.map(f64::from).sum::<f64>() / a.data.len() as f64)
}

fn scalar(name: &str, v: f32) -> TensorProto {
    let mut t = TensorProto::new();
    t.name = name.to_string();
    t.data_type = DataType::FLOAT as i32;
    t.float_data = vec![v];
    t
}

fn mul(a: &str, b: &str, out: &str) -> NodeProto {
    let mut n = NodeProto::new();
    n.op_type = "Mul".into();
    n.name = out.into();
    n.input = vec![a.into(), b.into()];
    n.output = vec![out.into()];
    n
}

/// A random half net on the 0-1 scale: the 0-255 net between `x * 255` and `y / 255`, metadata `0-1`.
fn zero_one_model(dir: &Path, seed: u64) -> PathBuf {
    let spec = JohnsonSpec::half();
    let mut g: GraphProto = johnson_graph(&spec, &random_weights(&spec, seed)).unwrap();
    for n in g.node.iter_mut() {
        for v in n.input.iter_mut().filter(|v| *v == "input") {
            *v = "input255".into();
        }
        for v in n.output.iter_mut().filter(|v| *v == "output") {
            *v = "output255".into();
        }
    }
    g.initializer.push(scalar("c255", 255.0));
    g.initializer.push(scalar("c1_255", 1.0 / 255.0));
    g.node.insert(0, mul("input", "c255", "input255"));
    g.node.push(mul("output255", "c1_255", "output"));
    let mut metadata = meta::standard(&spec, "zero-one");
    metadata.iter_mut().find(|(k, _)| k == meta::RANGE).unwrap().1 = "0-1".into();
    let path = dir.join("zero-one.onnx");
    std::fs::write(&path, model_proto(g, &metadata).write_to_bytes().unwrap()).unwrap();
    path
}

/// A zoo-like model: fixed 1x3x64x48 input, no metadata, and an extra input `style_weights` [2]:
/// `output = input * 0.5 + 100 * (w0 - w1) + 30` (no clamping below 255 for shifts up to +65).
fn fixed_model_with_extra_input(dir: &Path) -> PathBuf {
    let weights = Weights::new();
    let mut g = GraphBuilder::new("zoo", &weights);
    let dims = [Dim::Fixed(1), Dim::Fixed(3), Dim::Fixed(64), Dim::Fixed(48)];
    let x = g.input("input", &dims);
    let sw = g.input("style_weights", &[Dim::Fixed(2)]);
    let k = g.const_f32("k", &[100.0, -100.0]);
    let kw = g.node("Mul", "kw", &[&sw, &k], vec![]);
    let s = g.node("ReduceSum", "s", &[&kw], vec![stylize_model::onnx::attr_int("keepdims", 1)]);
    let half = g.const_f32("half", &[0.5]);
    let xs = g.node("Mul", "xs", &[&x, &half], vec![]);
    let y = g.node("Add", "y", &[&xs, &s], vec![]);
    let thirty = g.const_f32("thirty", &[30.0]);
    let y = g.node("Add", "y30", &[&y, &thirty], vec![]);
    g.output(&y, "output", &dims);
    let path = dir.join("zoo-extra.onnx");
    std::fs::write(&path, model_proto(g.finish(), &[]).write_to_bytes().unwrap()).unwrap();
    path
}

#[test]
fn uint8_path_matches_the_float_path_within_one_grey_level() {
    let dir = tempfile::tempdir().unwrap();
    // lite: its space-to-depth shuffles run on the bytes in the wrapped graph
    let models = [random_model(dir.path(), "half", 41), zero_one_model(dir.path(), 42), random_model(dir.path(), "lite", 43)];
    for model in &models {
        let mut u8e = engine(model, FrameIo::U8, Precision::Fp32);
        let mut f32e = engine(model, FrameIo::F32, Precision::Fp32);
        assert_eq!((u8e.frame_io(), f32e.frame_io()), (FrameIo::U8, FrameIo::F32));
        assert!(u8e.io_line().starts_with("io: uint8 frames (graph-wrapped"), "{}", u8e.io_line());
        let range = if model.ends_with("zero-one.onnx") { 1.0 } else { 255.0 };
        assert_eq!(u8e.wrap_info().unwrap().range_max, range);
        assert_eq!(u8e.info().range_max, range);
        // odd sizes (padded, cropped), a size the net takes as it is, and odd again after it (buffers rebuilt)
        for (i, (w, h)) in [(37, 53), (64, 48), (301, 17)].into_iter().enumerate() {
            let input = pattern(w, h, i);
            let (a, b) = (stylized(&mut u8e, &input), stylized(&mut f32e, &input));
            let (max, mean) = diff(&a, &b);
            assert!(max <= 1, "{}: {w}x{h}: uint8 path differs by up to {max} (mean {mean})", model.display());
            assert!(diff(&a, &input).1 > 5.0, "{}: {w}x{h}: output looks like the input", model.display());
            // a second frame of the same size goes through the reused, re-bound buffers
            let other = pattern(w, h, i + 7);
            assert!(diff(&stylized(&mut u8e, &other), &stylized(&mut f32e, &other)).0 <= 1);
            assert_ne!(stylized(&mut u8e, &other), a);
        }
    }
}

#[test]
fn fixed_size_models_keep_their_extra_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let model = fixed_model_with_extra_input(dir.path());
    let mut u8e = engine(&model, FrameIo::U8, Precision::Fp32);
    let mut f32e = engine(&model, FrameIo::F32, Precision::Fp32);
    assert_eq!(u8e.info().fixed_size, Some((64, 48)));
    assert_eq!(u8e.info().extra_inputs, vec![("style_weights".to_string(), vec![2])]);
    let input = pattern(37, 53, 3);
    // default even mix: w0 - w1 = 0
    let (a, b) = (stylized(&mut u8e, &input), stylized(&mut f32e, &input));
    assert!(diff(&a, &b).0 <= 1);
    // w0 - w1 = 0.5: +50 grey levels in both paths
    for e in [&mut u8e, &mut f32e] {
        e.set_extra_input("style_weights", &[0.75, 0.25]).unwrap();
    }
    let (c, d) = (stylized(&mut u8e, &input), stylized(&mut f32e, &input));
    assert!(diff(&c, &d).0 <= 1);
    let shift = c.data.iter().zip(&a.data).map(|(x, y)| *x as f64 - *y as f64).sum::<f64>() / c.data.len() as f64;
    assert!((shift - 50.0).abs() < 2.0, "extra input not applied: shift {shift}");
    // float16: the float32 extra input meets the float16 image through a cast the wrapper adds
    let opts = EngineOptions { threads: Some(1), precision: Precision::Fp16, ..Default::default() };
    if let Ok(mut h) = Engine::load(&model, &opts) {
        assert!(h.wrap_info().unwrap().fp16_casts >= 1);
        h.set_extra_input("style_weights", &[0.75, 0.25]).unwrap();
        assert!(diff(&stylized(&mut h, &input), &d).0 <= 2);
    }
}

#[test]
fn float16_runs_close_to_float32_where_the_cpu_provider_runs_it() {
    let dir = tempfile::tempdir().unwrap();
    let model = random_model(dir.path(), "half", 43);
    let opts = EngineOptions { threads: Some(1), precision: Precision::Fp16, ..Default::default() };
    let mut half = match Engine::load(&model, &opts) {
        Ok(e) => e,
        Err(e) => {
            // Not every ONNX Runtime CPU build runs float16 graphs; then the error must say what to do.
            assert!(e.to_string().contains("--precision fp32"), "{e}");
            eprintln!("skipping the comparison: {e}");
            return;
        }
    };
    assert_eq!(half.frame_io(), FrameIo::U8);
    assert!(half.io_line().ends_with("precision fp16"), "{}", half.io_line());
    assert!(half.wrap_info().unwrap().fp16_tensors > 30);
    let mut full = engine(&model, FrameIo::F32, Precision::Fp32);
    let input = pattern(41, 33, 5);
    let (max, mean) = diff(&stylized(&mut half, &input), &stylized(&mut full, &input));
    assert!(max <= 4 && mean < 0.5, "fp16 differs by up to {max}, mean {mean}");
    // fp16 needs the wrapped graph
    let Err(e) = Engine::load(&model, &EngineOptions { frame_io: FrameIo::F32, ..opts }) else { panic!("fp16 with f32 frames loaded") };
    assert!(e.to_string().contains("--frame-io"), "{e}");
}

#[test]
fn resident_runs_bind_once_and_leave_stylize_working() {
    let dir = tempfile::tempdir().unwrap();
    let model = random_model(dir.path(), "half", 44);
    for io in [FrameIo::U8, FrameIo::F32] {
        let mut e = engine(&model, io, Precision::Fp32);
        let input = pattern(45, 39, 1);
        let before = stylized(&mut e, &input);
        assert_eq!(e.bind_resident(&input, None).unwrap(), Residence::Host);
        for _ in 0..3 {
            e.run_resident().unwrap();
        }
        // CUDA memory on a CPU-only ONNX Runtime: a clear error, no panic
        let err = e.bind_resident(&input, Some(Residence::Cuda)).expect_err("no CUDA here");
        assert!(err.to_string().contains("CUDA"), "{err}");
        assert_eq!(stylized(&mut e, &input), before, "{io:?}: stylize after resident runs");
    }
}

#[test]
fn cli_flags_and_the_io_line() {
    let dir = tempfile::tempdir().unwrap();
    let model = random_model(dir.path(), "half", 45);
    let m = model.to_str().unwrap();
    let o = stylize(&["info", "-q", "-m", m, "--frame-io", "u8"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // On the CPU the half net's two upsampling convs and its 9x9 output conv run on phases; the lite net's
    // 3x3 output conv stays as it is.
    assert!(stdout(&o).contains("io: uint8 frames (graph-wrapped; 3 convs on 2x2 phases), precision fp32"), "{}", stdout(&o));
    let lite = random_model(dir.path(), "lite", 46);
    let o = stylize(&["info", "-q", "-m", lite.to_str().unwrap()]);
    assert!(stdout(&o).contains("io: uint8 frames (graph-wrapped; 2 convs on 2x2 phases), precision fp32"), "{}", stdout(&o));
    let o = stylize(&["info", "-q", "-m", m, "--frame-io", "f32"]);
    assert!(stdout(&o).contains("io: float32 planar frames"), "{}", stdout(&o));
    let o = stylize(&["bench", "-q", "-m", m, "--sizes", "40x36", "--frames", "2", "--resident"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("resident") && stdout(&o).contains("host memory") && stdout(&o).contains("io: "), "{}", stdout(&o));
    let o = stylize(&["bench", "-q", "-m", m, "--sizes", "40x36", "--frames", "2", "--json", "--frame-io", "f32"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("\"frame_io\":\"f32\"") && stdout(&o).contains("\"precision\":\"fp32\""), "{}", stdout(&o));
    assert_fails_with(&stylize(&["info", "-m", m, "--frame-io", "u16"]), &["u16"]);
    assert_fails_with(&stylize(&["info", "-m", m, "--precision", "fp16", "--frame-io", "f32"]), &["--frame-io"]);
}
