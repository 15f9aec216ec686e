//! The wrapper's tests: graphs it rewrites and what they look like after.

use super::*;
use crate::onnx::{model_proto, Dim, GraphBuilder};
use crate::Weights;

/// input -> Pad(reflect) -> Conv(1x1, w, b) -> Mul(s) -> output, plus an extra input `gain` added in.
fn tiny(range: &str) -> ModelProto {
    let mut w = Weights::new();
    w.insert("conv.weight".into(), ndarray::ArrayD::from_elem(vec![3, 3, 1, 1], 0.5));
    w.insert("conv.bias".into(), ndarray::ArrayD::from_elem(vec![3], 1.0));
    let mut g = GraphBuilder::new("tiny", &w);
    let x = g.input("input", &[Dim::Named("N"), Dim::Fixed(3), Dim::Named("H"), Dim::Named("W")]);
    let gain = g.input("gain", &[Dim::Fixed(1)]);
    let p = g.reflection_pad(&x, "pad", 1, 1);
    let wt = g.param("conv.weight").unwrap();
    let b = g.param("conv.bias").unwrap();
    let c = g.node("Conv", "conv", &[&p, &wt, &b], vec![]);
    let s = g.const_f32("scale", &[2.0]);
    let m = g.node("Mul", "mul", &[&c, &s], vec![]);
    let y = g.add(&m, &gain, "add");
    g.output(&y, "output", &[Dim::Named("N"), Dim::Fixed(3), Dim::Named("H2"), Dim::Named("W2")]);
    let mut graph = g.finish();
    // A declared intermediate float value, as exporters write them.
    graph.value_info.push(tensor_value("conv", DataType::FLOAT, vec![]));
    model_proto(graph, &[(meta::RANGE.into(), range.into())])
}

/// input -> SpaceToDepth(2) -> Conv(1x1) -> DepthToSpace(2) -> output, as in the lite nets; with
/// `also_read`, the input also feeds an Add into the output, so it has two readers.
fn shuffled(also_read: bool) -> ModelProto {
    let mut w = Weights::new();
    w.insert("conv.weight".into(), ndarray::ArrayD::from_elem(vec![12, 12, 1, 1], 0.1));
    let mut g = GraphBuilder::new("shuffled", &w);
    let x = g.input("input", &[Dim::Fixed(1), Dim::Fixed(3), Dim::Named("H"), Dim::Named("W")]);
    let s = g.node("SpaceToDepth", "s2d", &[&x], vec![attr_int("blocksize", 2)]);
    let wt = g.param("conv.weight").unwrap();
    let c = g.node("Conv", "conv", &[&s, &wt], vec![]);
    let mut y = g.node("DepthToSpace", "d2s", &[&c], vec![attr_int("blocksize", 2)]);
    if also_read {
        y = g.add(&y, &x, "skip");
    }
    g.output(&y, "output", &[Dim::Fixed(1), Dim::Fixed(3), Dim::Named("H"), Dim::Named("W")]);
    model_proto(g.finish(), &[])
}

#[test]
fn space_depth_shuffles_at_the_ends_move_bytes() {
    let bytes = shuffled(false).write_to_bytes().unwrap();
    let opts = WrapOptions { shuffle_bytes: true, ..Default::default() };
    let m = ModelProto::parse_from_bytes(&wrap_frame_io(&bytes, &opts).unwrap().bytes).unwrap();
    let g = m.graph.as_ref().unwrap();
    assert_eq!(
        ops(g),
        ["Transpose", "SpaceToDepth", "Cast", "Conv", "Clip", "Add", "Cast", "DepthToSpace", "Transpose"]
    );
    let blocksize = |n: &NodeProto| n.attribute.iter().find(|a| a.name == "blocksize").unwrap().i;
    assert_eq!((blocksize(&g.node[1]), blocksize(&g.node[7])), (2, 2));
    // the conv reads what the shuffle made, through the cast; the clip reads the conv
    assert_eq!(g.node[2].output, g.node[3].input[..1]);
    assert_eq!(g.node[4].input[0], g.node[3].output[0]);
    assert_eq!(g.node.last().unwrap().output, [FRAME_OUTPUT]);

    // without the option (CUDA), and for an input read twice and an output the shuffle does not make,
    // the graph stays as it was
    let unmoved = ["Transpose", "Cast", "SpaceToDepth", "Conv", "DepthToSpace", "Clip", "Add", "Cast", "Transpose"];
    let m = ModelProto::parse_from_bytes(&wrap_frame_io(&bytes, &WrapOptions::default()).unwrap().bytes).unwrap();
    assert_eq!(ops(m.graph.as_ref().unwrap()), unmoved);
    let bytes = shuffled(true).write_to_bytes().unwrap();
    let m = ModelProto::parse_from_bytes(&wrap_frame_io(&bytes, &opts).unwrap().bytes).unwrap();
    let g = m.graph.as_ref().unwrap();
    assert_eq!(
        ops(g),
        ["Transpose", "Cast", "SpaceToDepth", "Conv", "DepthToSpace", "Add", "Clip", "Add", "Cast", "Transpose"]
    );
}

#[test]
fn a_reflection_pad_of_the_image_can_move_bytes() {
    let opts = WrapOptions { pad_bytes: true, ..Default::default() };
    for (range, head) in [("0-255", &["Transpose", "Pad", "Cast", "Conv"][..]), ("0-1", &["Transpose", "Pad", "Cast", "Mul", "Conv"])] {
        let m = ModelProto::parse_from_bytes(&wrap_frame_io(&tiny(range).write_to_bytes().unwrap(), &opts).unwrap().bytes).unwrap();
        let g = m.graph.as_ref().unwrap();
        assert_eq!(&ops(g)[..head.len()], head, "{range}");
        let (pad, cast, conv) = (&g.node[1], &g.node[2], &g.node[head.len() - 1]);
        assert_eq!((pad.input[0].as_str(), cast.input[0].as_str()), (g.node[0].output[0].as_str(), pad.output[0].as_str()));
        assert_eq!(conv.input[0], g.node[head.len() - 2].output[0], "{range}: the conv reads the cast pixels");
        assert!(pad.input.get(2).is_none_or(|v| v.is_empty()), "no float constant on a uint8 pad");
    }
    // A constant pad (its value would need a uint8 type) and the default options leave the pad where it was.
    let mut constant = tiny("0-255");
    let g = constant.graph.as_mut().unwrap();
    g.node.iter_mut().find(|n| n.op_type == "Pad").unwrap().attribute.retain(|a| a.name != "mode");
    for (model, opts) in [(constant, opts.clone()), (tiny("0-255"), WrapOptions::default())] {
        let m = ModelProto::parse_from_bytes(&wrap_frame_io(&model.write_to_bytes().unwrap(), &opts).unwrap().bytes).unwrap();
        assert_eq!(&ops(m.graph.as_ref().unwrap())[..3], ["Transpose", "Cast", "Pad"]);
    }
}

#[test]
fn space_depth_shuffles_at_the_ends_can_be_left_to_the_host() {
    let bytes = shuffled(false).write_to_bytes().unwrap();
    let opts = WrapOptions { phases_on_host: true, ..Default::default() };
    let w = wrap_frame_io(&bytes, &opts).unwrap();
    assert_eq!(w.info.phases, 2);
    let m = ModelProto::parse_from_bytes(&w.bytes).unwrap();
    let g = m.graph.as_ref().unwrap();
    assert_eq!(ops(g), ["Transpose", "Cast", "Conv", "Clip", "Add", "Cast", "Transpose"]);
    let u8t = DataType::UINT8 as i32;
    let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(io(&g.input), vec![(FRAME_INPUT.into(), u8t, s(&["1", "H_phases", "W_phases", "12"]))]);
    assert_eq!(io(&g.output), vec![(FRAME_OUTPUT.into(), u8t, s(&["1", "H_out_phases", "W_out_phases", "12"]))]);
    assert_eq!(g.node[1].output[0], g.node[2].input[0], "the conv reads the phases, cast");

    // An input read twice keeps its frame as it is (and the graph its shuffles).
    let bytes = shuffled(true).write_to_bytes().unwrap();
    let w = wrap_frame_io(&bytes, &opts).unwrap();
    assert_eq!(w.info.phases, 1);
    let m = ModelProto::parse_from_bytes(&w.bytes).unwrap();
    let g = m.graph.as_ref().unwrap();
    assert_eq!(io(&g.input)[0].2, s(&["1", "H", "W", "3"]));
    assert_eq!(ops(g).iter().filter(|o| o.ends_with("Space") || o.starts_with("SpaceTo")).count(), 2);
}

fn ops(g: &GraphProto) -> Vec<&str> {
    g.node.iter().map(|n| n.op_type.as_str()).collect()
}

fn io(v: &[ValueInfoProto]) -> Vec<(String, i32, Vec<String>)> {
    v.iter()
        .map(|v| {
            let dims = dims_of(v)
                .unwrap_or_default()
                .iter()
                .map(|d| match &d.value {
                    Some(DimValue::DimValue(x)) => x.to_string(),
                    Some(DimValue::DimParam(s)) => s.clone(),
                    _ => "?".into(),
                })
                .collect();
            (v.name.clone(), elem_type(v).unwrap(), dims)
        })
        .collect()
}

#[test]
fn wraps_uint8_frames_around_the_graph() {
    let bytes = tiny("0-255").write_to_bytes().unwrap();
    let w = wrap_frame_io(&bytes, &WrapOptions::default()).unwrap();
    assert_eq!((w.info.input.as_str(), w.info.output.as_str(), w.info.range_max), ("input", "output", 255.0));
    assert_eq!(w.info.fixed_size, None);
    let m = ModelProto::parse_from_bytes(&w.bytes).unwrap();
    let g = m.graph.as_ref().unwrap();
    let u8t = DataType::UINT8 as i32;
    let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    // frame replaces input in place; the extra input stays as it is
    assert_eq!(
        io(&g.input),
        vec![
            (FRAME_INPUT.into(), u8t, s(&["1", "H", "W", "3"])),
            ("gain".into(), DataType::FLOAT as i32, s(&["1"]))
        ]
    );
    assert_eq!(io(&g.output), vec![(FRAME_OUTPUT.into(), u8t, s(&["1", "H2", "W2", "3"]))]);
    assert_eq!(
        ops(g),
        ["Transpose", "Cast", "Pad", "Conv", "Mul", "Add", "Clip", "Add", "Cast", "Transpose"]
    );
    assert_eq!(g.node[1].output, ["input"]);
    assert_eq!(g.node[6].input[0], "output");
    assert_eq!(g.node.last().unwrap().output, [FRAME_OUTPUT]);
    // metadata kept; wrapping twice is refused
    assert_eq!(m.metadata_props[0].value, "0-255");
    assert!(wrap_frame_io(&w.bytes, &WrapOptions::default()).is_err());
}

#[test]
fn zero_one_models_are_scaled_and_errors_are_clear() {
    let bytes = tiny("0-1").write_to_bytes().unwrap();
    let w = wrap_frame_io(&bytes, &WrapOptions::default()).unwrap();
    assert_eq!(w.info.range_max, 1.0);
    let m = ModelProto::parse_from_bytes(&w.bytes).unwrap();
    let g = m.graph.as_ref().unwrap();
    assert_eq!(&ops(g)[..3], ["Transpose", "Cast", "Mul"]);
    assert_eq!(&ops(g)[g.node.len() - 6..], ["Add", "Mul", "Clip", "Add", "Cast", "Transpose"]);

    let e = wrap_frame_io(&bytes, &WrapOptions { input: Some("nope".into()), ..Default::default() }).unwrap_err();
    assert!(e.to_string().contains("no input \"nope\""), "{e}");
    let e = wrap_frame_io(&bytes, &WrapOptions { input: Some("gain".into()), ..Default::default() }).unwrap_err();
    assert!(e.to_string().contains("rank 1"), "{e}");
}

#[test]
fn fp16_converts_weights_and_casts_float_inputs() {
    let bytes = tiny("0-255").write_to_bytes().unwrap();
    let w = wrap_frame_io(&bytes, &WrapOptions { fp16: true, ..Default::default() }).unwrap();
    // conv weight, conv bias, the Mul scale; the pads stay int64
    assert_eq!((w.info.fp16_tensors, w.info.fp16_casts), (3, 1));
    let m = ModelProto::parse_from_bytes(&w.bytes).unwrap();
    let g = m.graph.as_ref().unwrap();
    assert_eq!(
        ops(g),
        ["Transpose", "Cast", "Pad", "Conv", "Mul", "Cast", "Add", "Cast", "Clip", "Add", "Cast", "Transpose"]
    );
    let f16 = DataType::FLOAT16 as i32;
    let to = |n: &NodeProto| n.attribute.iter().find(|a| a.name == "to").unwrap().i as i32;
    assert_eq!(to(&g.node[1]), f16);
    // the extra input is cast right before its use, and still a float32 graph input
    assert_eq!(g.node[5].input, ["gain"]);
    assert_eq!(to(&g.node[5]), f16);
    assert_eq!(g.node[6].input[1], g.node[5].output[0]);
    assert_eq!(to(&g.node[7]), DataType::FLOAT as i32);
    let init = |name: &str| g.initializer.iter().find(|t| t.name == name);
    let weight = init("stylize_wrap/fp16/conv.weight").unwrap();
    assert_eq!((weight.data_type, weight.dims.as_slice()), (f16, &[3i64, 3, 1, 1][..]));
    assert_eq!(half::f16::from_le_bytes([weight.raw_data[0], weight.raw_data[1]]).to_f32(), 0.5);
    assert!(init("conv.weight").is_none(), "unused float32 original left behind");
    assert_eq!(init("const.pads_1_1").unwrap().data_type, DataType::INT64 as i32);
    assert!(g.value_info.is_empty(), "float value_info kept");
    assert_eq!(io(&g.input)[1].1, DataType::FLOAT as i32);
}
