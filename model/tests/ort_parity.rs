//! The exported ONNX, run by ONNX Runtime, must match the ndarray reference forward pass.

use std::path::PathBuf;

use ndarray::{Array, Array4};
use ort::session::Session;
use ort::value::Tensor;
use stylize_model::{meta, mix_styles, onnx, random_weights, reference, JohnsonSpec};

/// The ONNX Runtime shared library, or why the test cannot run here.
fn ort_library() -> Result<PathBuf, String> {
    let path = std::env::var_os("ORT_DYLIB_PATH").ok_or("ORT_DYLIB_PATH is not set")?;
    let path = PathBuf::from(path);
    if !path.is_file() {
        return Err(format!("ORT_DYLIB_PATH={} does not exist", path.display()));
    }
    Ok(path)
}

/// ONNX Runtime's environment (one per process, shared by the tests), or None (with a skip message) when its
/// library is not installed here.
fn ort_environment() -> Result<Option<&'static ort::environment::Environment>, Box<dyn std::error::Error>> {
    static ENV: std::sync::OnceLock<Result<ort::environment::Environment, String>> = std::sync::OnceLock::new();
    let lib = match ort_library() {
        Ok(lib) => lib,
        Err(why) => {
            eprintln!("skipping: {why}");
            return Ok(None);
        }
    };
    let env = ENV.get_or_init(|| match ort::init_from(&lib) {
        Ok(builder) => builder.build().map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    });
    Ok(Some(env.as_ref().map_err(|e| e.clone())?))
}

/// Deterministic pseudo-random image on the 0..255 scale.
fn image(h: usize, w: usize, seed: u64) -> Array4<f32> {
    let mut s = seed;
    Array::from_shape_fn((1, 3, h, w), |_| {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 40) as f32 / (1u64 << 24) as f32) * 255.0
    })
}

#[test]
fn onnx_runtime_matches_reference() -> Result<(), Box<dyn std::error::Error>> {
    let Some(env) = ort_environment()? else { return Ok(()) };

    for (name, spec) in [
        ("full", JohnsonSpec::full()),
        ("half", JohnsonSpec::half()),
        ("lite", JohnsonSpec::lite()),
    ] {
        let w = random_weights(&spec, 42);
        let bytes = onnx::johnson_to_onnx(&spec, &w, &meta::standard(&spec, "random"))?;
        let mut session = Session::builder(env)?.commit_from_memory(&bytes)?;

        // Space-to-depth needs even sides; both pad up to the same 40x56 output.
        let (h, wd) = if spec.space_to_depth {
            (38, 54)
        } else {
            (37, 53)
        };
        let x = image(h, wd, 9);
        let want = reference::forward(&spec, &w, x.view())?;

        let outputs = session.run(ort::inputs![onnx::INPUT => Tensor::from_array(x.clone())?])?;
        let got = outputs[onnx::OUTPUT].try_extract_array::<f32>()?;
        assert_eq!(got.shape(), want.shape(), "{name}");
        assert_eq!(got.shape(), [1, 3, 40, 56], "{name}");

        let max_diff = got
            .iter()
            .zip(want.iter())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        let (lo, hi) = want
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        eprintln!("{name}: max |ort - reference| = {max_diff:e}, reference range {lo:.1}..{hi:.1}");
        assert!(max_diff < 1e-3, "{name}: max abs diff {max_diff}");

        // A meaningful comparison: the output is an image, not a constant or the input.
        assert!(
            hi - lo > 10.0,
            "{name}: output nearly constant ({lo}..{hi})"
        );
        let same_region = want.slice(ndarray::s![.., .., ..h, ..wd]);
        let vs_input = (&same_region - &x).mapv(f32::abs).mean().unwrap();
        assert!(vs_input > 1.0, "{name}: output equals the input");
    }
    Ok(())
}

/// A multi-style net mixes each norm's rows by `style_weights` inside the graph; the reference
/// mixes the weights first. Both must agree for pure and blended mixes.
#[test]
fn multi_style_mix_matches_reference() -> Result<(), Box<dyn std::error::Error>> {
    let Some(env) = ort_environment()? else { return Ok(()) };
    let spec = JohnsonSpec::lite().with_styles(3);
    let w = random_weights(&spec, 5);
    let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let bytes = onnx::johnson_to_onnx(&spec, &w, &meta::standard_multi(&spec, &names))?;
    let mut session = Session::builder(env)?.commit_from_memory(&bytes)?;
    assert_eq!(session.inputs().len(), 2);
    let x = image(32, 48, 3);
    let mut outputs_by_mix = Vec::new();
    for mix in [[1.0f32, 0.0, 0.0], [0.0, 0.0, 1.0], [0.3, 0.5, 0.2]] {
        let (single, mw) = mix_styles(&spec, &w, &mix)?;
        let want = reference::forward(&single, &mw, x.view())?;
        let sw = Tensor::from_array(([3usize], mix.to_vec()))?;
        let outputs = session.run(ort::inputs![
            onnx::INPUT => Tensor::from_array(x.clone())?,
            onnx::STYLE_WEIGHTS => sw
        ])?;
        let got = outputs[onnx::OUTPUT].try_extract_array::<f32>()?.to_owned();
        let max_diff = got.iter().zip(want.iter()).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        eprintln!("mix {mix:?}: max |ort - reference| = {max_diff:e}");
        assert!(max_diff < 1e-3, "mix {mix:?}: max abs diff {max_diff}");
        outputs_by_mix.push(want);
    }
    // The styles really differ, so the test would notice a mix that is ignored.
    let d = (&outputs_by_mix[0] - &outputs_by_mix[1]).mapv(f32::abs).mean().unwrap();
    assert!(d > 1.0, "styles 0 and 2 give nearly the same output ({d})");
    Ok(())
}

/// The CPU rewrites onto 2x2 phases (the full nets' 9x9 output convolution, every net's upsampling
/// convolutions) compute the same image.
#[test]
fn phase_rewrites_match_reference() -> Result<(), Box<dyn std::error::Error>> {
    use protobuf::Message;
    let Some(env) = ort_environment()? else { return Ok(()) };
    use stylize_model::rewrite::{phase_split_output_conv, phase_split_upsample_convs};
    for (name, spec, output_conv) in [("full", JohnsonSpec::full(), true), ("half", JohnsonSpec::half(), true), ("lite", JohnsonSpec::lite(), false)] {
        let w = random_weights(&spec, 7);
        let bytes = onnx::johnson_to_onnx(&spec, &w, &meta::standard(&spec, "random"))?;
        let mut model = onnx_protobuf::ModelProto::parse_from_bytes(&bytes)?;
        let graph = model.graph.as_mut().unwrap();
        // The lite net's output conv is 3x3 to 12 channels: on phases it would compute more, so it stays.
        assert_eq!(phase_split_output_conv(graph, onnx::OUTPUT)?, output_conv, "{name}");
        if output_conv {
            let ops: Vec<&str> = graph.node.iter().rev().take(3).map(|n| n.op_type.as_str()).collect();
            assert_eq!(ops, ["DepthToSpace", "Conv", "SpaceToDepth"], "{name}");
        }
        // Every net upsamples twice.
        assert_eq!(phase_split_upsample_convs(graph)?, 2, "{name}");
        let ops: Vec<&str> = graph.node.iter().map(|n| n.op_type.as_str()).collect();
        assert!(!ops.contains(&"Resize"), "{name}: {ops:?}");
        let mut session = Session::builder(env)?.commit_from_memory(&model.write_to_bytes()?)?;
        let x = image(40, 56, 3);
        let want = reference::forward(&spec, &w, x.view())?;
        let outputs = session.run(ort::inputs![onnx::INPUT => Tensor::from_array(x.clone())?])?;
        let got = outputs[onnx::OUTPUT].try_extract_array::<f32>()?;
        assert_eq!(got.shape(), want.shape(), "{name}");
        let max_diff = got.iter().zip(want.iter()).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        eprintln!("{name} on phases: max |ort - reference| = {max_diff:e}");
        let (lo, hi) = want.iter().fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        assert!(hi - lo > 10.0, "{name}: output nearly constant ({lo}..{hi})");
        assert!(max_diff < 1e-3, "{name}: max abs diff {max_diff}");
    }
    Ok(())
}
