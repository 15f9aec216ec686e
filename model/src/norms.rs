//! Instance norms with statistics from outside the graph, so that a frame too large for memory can run in
//! tiles and still be normalised as one image (the engine's tiled path).
//!
//! Instance normalisation divides each channel by the mean and deviation of the whole feature map; a tile
//! normalised on its own statistics comes out in its own tone. Two rewrites of a uint8-wrapped graph
//! ([`crate::wrap`]) let the engine use the whole frame's statistics instead:
//!
//! - [`probe_norms`]: the graph unchanged, plus each norm's input mean and variance per channel as outputs
//!   (`{PREFIX}{i}/mean`, `/var`), for a first estimate from a whole frame at reduced resolution.
//! - [`explicit_norms`]: every `InstanceNormalization` becomes `x * a + c` with `a = scale / sqrt(var + eps)`
//!   and `c = bias - mean * a`, where `mean` and `var` are graph inputs (`{PREFIX}{i}/mean`, `/var`); and each
//!   norm reports the moments of its input over the tile's core (the part of the tile that the engine keeps,
//!   given in the tile's pixels by the inputs [`CORE_START`] and [`CORE_END`]): outputs `{PREFIX}{i}/cmean`
//!   (mean of `x`) and `{PREFIX}{i}/cmsq` (mean of `x^2`). Summed over the tiles, weighted by core area, they
//!   give the whole frame's statistics under the statistics fed in.
//!
//! Both take moments with reductions only (`ReduceMean`, `ReduceSumSquare`), so that no extra feature map is
//! alive besides the core's slice: the tile's memory is what bounds the tile size.
//!
//! Norms are numbered in graph order, which is the order they run in.

use onnx_protobuf::{tensor_proto::DataType, tensor_shape_proto, GraphProto, ModelProto, NodeProto, TensorProto};

use crate::onnx::{attr_int, attr_ints, make_node, tensor_value};
use crate::wrap::FRAME_INPUT;
use crate::ModelError;

/// Names of everything these rewrites add start with this.
pub const PREFIX: &str = "stylize_norms/";
/// `[y, x]` of the tile core's first pixel, in the tile's input pixels (int64).
pub const CORE_START: &str = "stylize_norms/core_start";
/// `[y, x]` one past the tile core's last pixel (int64).
pub const CORE_END: &str = "stylize_norms/core_end";

/// The name of a per-norm input or output: `what` is `mean`, `var`, `cmean` or `cmsq`.
pub fn norm_value(i: usize, what: &str) -> String {
    format!("{PREFIX}{i}/{what}")
}

/// PyTorch's and ONNX's default epsilon.
const DEFAULT_EPS: f32 = 1e-5;

/// Which rewrite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// [`probe_norms`]
    Probe,
    /// [`explicit_norms`]
    Explicit,
    /// [`explicit_norms`] without the moments: the render pass's graph.
    Render,
    /// [`explicit_norms`] cut down to what norm `i`'s core moments need ([`keep_only`]): the statistics pass
    /// for that norm runs only the layers before it.
    Moments(usize),
}

/// Parses a (uint8-wrapped) model, rewrites it and writes it back; also returns the number of norms.
pub fn rewrite_bytes(bytes: &[u8], variant: Variant) -> Result<(Vec<u8>, usize), ModelError> {
    use protobuf::Message;
    let mut m = ModelProto::parse_from_bytes(bytes)?;
    let n = match variant {
        Variant::Probe => probe_norms(&mut m)?,
        Variant::Explicit => explicit_norms(&mut m)?,
        Variant::Render => {
            let n = explicit_norms(&mut m)?;
            keep_only(&mut m, &[crate::wrap::FRAME_OUTPUT.to_string()])?;
            n
        }
        Variant::Moments(i) => {
            let n = explicit_norms(&mut m)?;
            if i >= n {
                return Err(ModelError::BadInput(format!("norm {i} of {n}")));
            }
            keep_only(&mut m, &[norm_value(i, "cmean"), norm_value(i, "cmsq")])?;
            n
        }
    };
    Ok((m.write_to_bytes()?, n))
}

/// Adds each norm's statistics as outputs; returns the number of norms.
pub fn probe_norms(model: &mut ModelProto) -> Result<usize, ModelError> {
    let opset = opset(model);
    let g = graph(model)?;
    let norms = norm_positions(g)?;
    let old = std::mem::take(&mut g.node);
    let mut nodes = Vec::with_capacity(old.len() + 10 * norms.len());
    let mut k = 0;
    for (pos, node) in old.into_iter().enumerate() {
        let x = node.input.first().cloned().unwrap_or_default();
        nodes.push(node);
        if norms.get(k) != Some(&pos) {
            continue;
        }
        let i = k;
        k += 1;
        // Right after the norm, so that its input is freed as soon as the norm is done with it.
        let n = |what: &str| format!("{PREFIX}{i}/probe/{what}");
        let flat = flatten(g, &mut nodes, &x, &n("flat"));
        let mean = reduce(g, &mut nodes, opset, "ReduceMean", &flat, &norm_value(i, "mean"), &[0, 2], false);
        let ssq = reduce(g, &mut nodes, opset, "ReduceSumSquare", &flat, &n("ssq"), &[0, 2], false);
        let count = spatial_count(g, &mut nodes, opset, &x, &n("count"));
        let msq = push(&mut nodes, "Div", &[&ssq, &count], &n("msq"), vec![]);
        let mean2 = push(&mut nodes, "Mul", &[&mean, &mean], &n("mean2"), vec![]);
        let var = push(&mut nodes, "Sub", &[&msq, &mean2], &norm_value(i, "var"), vec![]);
        g.output.push(channels_value(&mean, i));
        g.output.push(channels_value(&var, i));
    }
    g.node = nodes;
    Ok(norms.len())
}

/// Replaces every instance norm by one with statistics from the inputs, and adds the core moments as outputs
/// (see the module docs); returns the number of norms.
pub fn explicit_norms(model: &mut ModelProto) -> Result<usize, ModelError> {
    let opset = opset(model);
    if opset < 13 {
        return Err(ModelError::BadInput(format!("opset {opset} is too old for tiling (needs 13 or newer: Slice and ReduceSum with input axes)")));
    }
    let g = graph(model)?;
    if !g.input.iter().any(|v| v.name == FRAME_INPUT) {
        return Err(ModelError::BadInput(format!("explicit_norms needs the uint8-wrapped graph (no input {FRAME_INPUT:?})")));
    }
    let norms = norm_positions(g)?;
    let c = |g: &mut GraphProto, name: &str, v: &[i64]| const_i64(g, &format!("{PREFIX}const/{name}"), v);
    let (hw_nchw, hw_nhwc) = (c(g, "hw_nchw", &[2, 3]), c(g, "hw_nhwc", &[1, 2]));
    // `spatial_count` finds `hw_nchw` there and does not add it again.
    let (axes_hw, to_nc11) = (c(g, "axes_hw", &[2, 3]), c(g, "nc11", &[1, -1, 1, 1]));

    // The frame's height and width, once.
    let mut head = Vec::new();
    let frame_shape = push(&mut head, "Shape", &[FRAME_INPUT], &format!("{PREFIX}frame_shape"), vec![]);
    let frame_hw = push(&mut head, "Gather", &[&frame_shape, &hw_nhwc], &format!("{PREFIX}frame_hw"), vec![attr_int("axis", 0)]);

    let mut nodes = Vec::with_capacity(g.node.len() + 20 * norms.len());
    let old = std::mem::take(&mut g.node);
    let mut k = 0;
    for (pos, node) in old.into_iter().enumerate() {
        if norms.get(k) != Some(&pos) {
            nodes.push(node);
            continue;
        }
        let i = k;
        k += 1;
        let n = |what: &str| format!("{PREFIX}{i}/{what}");
        let (x, scale, bias) = (node.input[0].clone(), node.input[1].clone(), node.input[2].clone());
        let eps = node.attribute.iter().find(|a| a.name == "epsilon").map_or(DEFAULT_EPS, |a| a.f);
        let (mean, var) = (norm_value(i, "mean"), norm_value(i, "var"));
        let eps = const_f32(g, &n("eps"), eps);

        // y = x * a + c, a = scale / sqrt(var + eps), c = bias - mean * a.
        let v = push(&mut nodes, "Add", &[&var, &eps], &n("var_eps"), vec![]);
        let sd = push(&mut nodes, "Sqrt", &[&v], &n("sd"), vec![]);
        let a = push(&mut nodes, "Div", &[&scale, &sd], &n("a"), vec![]);
        let ma = push(&mut nodes, "Mul", &[&mean, &a], &n("ma"), vec![]);
        let cc = push(&mut nodes, "Sub", &[&bias, &ma], &n("c"), vec![]);
        let a4 = push(&mut nodes, "Reshape", &[&a, &to_nc11], &n("a4"), vec![]);
        let c4 = push(&mut nodes, "Reshape", &[&cc, &to_nc11], &n("c4"), vec![]);
        let xa = push(&mut nodes, "Mul", &[&x, &a4], &n("xa"), vec![]);
        nodes.push(make_node("Add", &n("y"), &[&xa, &c4], &node.output[0], vec![]));

        // The core of this feature map: frame coordinates scaled by (its size / the frame's).
        let shape = push(&mut nodes, "Shape", &[&x], &n("shape"), vec![]);
        let hw = push(&mut nodes, "Gather", &[&shape, &hw_nchw], &n("hw"), vec![attr_int("axis", 0)]);
        let s0 = push(&mut nodes, "Mul", &[CORE_START, &hw], &n("s0"), vec![]);
        let start = push(&mut nodes, "Div", &[&s0, &frame_hw], &n("start"), vec![]);
        let e0 = push(&mut nodes, "Mul", &[CORE_END, &hw], &n("e0"), vec![]);
        let end = push(&mut nodes, "Div", &[&e0, &frame_hw], &n("end"), vec![]);
        let core = push(&mut nodes, "Slice", &[&x, &start, &end, &axes_hw], &n("core"), vec![]);
        let flat = flatten(g, &mut nodes, &core, &n("flat"));
        let cmean = reduce(g, &mut nodes, opset, "ReduceMean", &flat, &norm_value(i, "cmean"), &[0, 2], false);
        let ssq = reduce(g, &mut nodes, opset, "ReduceSumSquare", &flat, &n("ssq"), &[0, 2], false);
        let count = spatial_count(g, &mut nodes, opset, &core, &n("count"));
        let cmsq = push(&mut nodes, "Div", &[&ssq, &count], &norm_value(i, "cmsq"), vec![]);
        g.input.push(channels_value(&mean, i));
        g.input.push(channels_value(&var, i));
        g.output.push(channels_value(&cmean, i));
        g.output.push(channels_value(&cmsq, i));
    }
    g.node = head.into_iter().chain(nodes).collect();
    for name in [CORE_START, CORE_END] {
        g.input.push(tensor_value(name, DataType::INT64, vec![fixed(2)]));
    }
    Ok(norms.len())
}

/// Keeps only the graph outputs `outputs`, the nodes they depend on, and the inputs and initializers those
/// nodes read.
pub fn keep_only(model: &mut ModelProto, outputs: &[String]) -> Result<(), ModelError> {
    let g = graph(model)?;
    if let Some(missing) = outputs.iter().find(|o| !g.output.iter().any(|v| &v.name == *o)) {
        return Err(ModelError::BadInput(format!("no output {missing:?}")));
    }
    g.output.retain(|v| outputs.contains(&v.name));
    let mut needed: std::collections::HashSet<String> = outputs.iter().cloned().collect();
    let mut keep = vec![false; g.node.len()];
    // Nodes are in topological order: one backward sweep finds everything the outputs need.
    for (i, n) in g.node.iter().enumerate().rev() {
        if n.output.iter().any(|o| needed.contains(o)) {
            keep[i] = true;
            needed.extend(n.input.iter().filter(|s| !s.is_empty()).cloned());
        }
    }
    let mut k = keep.into_iter();
    g.node.retain(|_| k.next().unwrap_or(false));
    g.input.retain(|v| needed.contains(&v.name));
    g.initializer.retain(|t| needed.contains(&t.name));
    Ok(())
}

fn opset(model: &ModelProto) -> i64 {
    model.opset_import.iter().filter(|o| o.domain.is_empty() || o.domain == "ai.onnx").map(|o| o.version).max().unwrap_or(1)
}

fn graph(model: &mut ModelProto) -> Result<&mut GraphProto, ModelError> {
    model.graph.as_mut().ok_or_else(|| ModelError::BadInput("the model has no graph".into()))
}

/// Positions of the `InstanceNormalization` nodes; an error when there are none (nothing to tile by).
fn norm_positions(g: &GraphProto) -> Result<Vec<usize>, ModelError> {
    let v: Vec<usize> = g.node.iter().enumerate().filter(|(_, n)| n.op_type == "InstanceNormalization" && n.domain.is_empty()).map(|(i, _)| i).collect();
    if v.is_empty() {
        return Err(ModelError::BadInput("the graph has no InstanceNormalization".into()));
    }
    if let Some(n) = v.iter().map(|&i| &g.node[i]).find(|n| n.input.len() < 3) {
        return Err(ModelError::BadInput(format!("instance norm {:?} has {} inputs, expected 3", n.name, n.input.len())));
    }
    Ok(v)
}

/// A reduction over `axes` (as an attribute before opset 18, as an input from it on).
#[allow(clippy::too_many_arguments)]
fn reduce(g: &mut GraphProto, nodes: &mut Vec<NodeProto>, opset: i64, op: &str, x: &str, out: &str, axes: &[i64], keepdims: bool) -> String {
    let keep = attr_int("keepdims", i64::from(keepdims));
    if opset >= 18 {
        let name = format!("{PREFIX}const/axes_{}", axes.iter().map(|a| a.to_string()).collect::<Vec<_>>().join("_"));
        if !g.initializer.iter().any(|t| t.name == name) {
            const_i64(g, &name, axes);
        }
        push(nodes, op, &[x, &name], out, vec![keep])
    } else {
        push(nodes, op, &[x], out, vec![attr_ints("axes", axes), keep])
    }
}

/// `[1, C, H, W]` -> `[1, C, H * W]`: a view, so that reducing over the last axis reads the feature map in place
/// (reducing an NCHW tensor over axes 0, 2 and 3 made ONNX Runtime hold copies of it: measured, the probe graph
/// took 4x the memory of the plain one).
fn flatten(g: &mut GraphProto, nodes: &mut Vec<NodeProto>, x: &str, out: &str) -> String {
    let name = format!("{PREFIX}const/n_c_rest");
    if !g.initializer.iter().any(|t| t.name == name) {
        const_i64(g, &name, &[1, 0, -1]);
    }
    push(nodes, "Reshape", &[x, &name], out, vec![])
}

/// Height times width of the NCHW tensor `x`, as a float scalar.
fn spatial_count(g: &mut GraphProto, nodes: &mut Vec<NodeProto>, opset: i64, x: &str, out: &str) -> String {
    let hw_name = format!("{PREFIX}const/hw_nchw");
    if !g.initializer.iter().any(|t| t.name == hw_name) {
        const_i64(g, &hw_name, &[2, 3]);
    }
    let shape = push(nodes, "Shape", &[x], &format!("{out}/shape"), vec![]);
    let hw = push(nodes, "Gather", &[&shape, &hw_name], &format!("{out}/hw"), vec![attr_int("axis", 0)]);
    let n = reduce(g, nodes, opset, "ReduceProd", &hw, &format!("{out}/n"), &[0], false);
    push(nodes, "Cast", &[&n], out, vec![attr_int("to", DataType::FLOAT as i64)])
}

fn push(nodes: &mut Vec<NodeProto>, op: &str, inputs: &[&str], out: &str, attrs: Vec<onnx_protobuf::AttributeProto>) -> String {
    let name = if out.starts_with(PREFIX) { out.to_string() } else { format!("{PREFIX}{out}") };
    nodes.push(make_node(op, &name, inputs, out, attrs));
    out.to_string()
}

fn const_i64(g: &mut GraphProto, name: &str, values: &[i64]) -> String {
    let mut t = TensorProto::new();
    t.name = name.to_string();
    t.data_type = DataType::INT64 as i32;
    t.dims = vec![values.len() as i64];
    t.raw_data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    g.initializer.push(t);
    name.to_string()
}

fn const_f32(g: &mut GraphProto, name: &str, v: f32) -> String {
    let mut t = TensorProto::new();
    t.name = name.to_string();
    t.data_type = DataType::FLOAT as i32;
    t.raw_data = v.to_le_bytes().to_vec();
    g.initializer.push(t);
    name.to_string()
}

fn fixed(v: i64) -> tensor_shape_proto::Dimension {
    let mut d = tensor_shape_proto::Dimension::new();
    d.value = Some(tensor_shape_proto::dimension::Value::DimValue(v));
    d
}

/// A float `[C_i]` graph input or output.
fn channels_value(name: &str, i: usize) -> onnx_protobuf::ValueInfoProto {
    let mut d = tensor_shape_proto::Dimension::new();
    d.value = Some(tensor_shape_proto::dimension::Value::DimParam(format!("C{i}")));
    tensor_value(name, DataType::FLOAT, vec![d])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wrap::{wrap_frame_io, WrapOptions};
    use crate::{meta, onnx, random_weights, JohnsonSpec};
    use protobuf::Message;

    fn wrapped(spec: &JohnsonSpec) -> Vec<u8> {
        let bytes = onnx::johnson_to_onnx(spec, &random_weights(spec, 3), &meta::standard(spec, "t")).unwrap();
        wrap_frame_io(&bytes, &WrapOptions::default()).unwrap().bytes
    }

    fn names(values: &[onnx_protobuf::ValueInfoProto]) -> Vec<String> {
        values.iter().map(|v| v.name.clone()).collect()
    }

    #[test]
    fn explicit_norms_take_statistics_in_and_give_core_moments_out() {
        let (bytes, n) = rewrite_bytes(&wrapped(&JohnsonSpec::full()), Variant::Explicit).unwrap();
        assert_eq!(n, 15, "3 encoder, 2 x 5 residual, 2 decoder norms");
        let m = ModelProto::parse_from_bytes(&bytes).unwrap();
        let g = m.graph.as_ref().unwrap();
        assert!(!g.node.iter().any(|n| n.op_type == "InstanceNormalization"));
        let (inputs, outputs) = (names(&g.input), names(&g.output));
        for i in 0..n {
            assert!(inputs.contains(&norm_value(i, "mean")) && inputs.contains(&norm_value(i, "var")), "{inputs:?}");
            assert!(outputs.contains(&norm_value(i, "cmean")) && outputs.contains(&norm_value(i, "cmsq")), "{outputs:?}");
        }
        assert!(inputs.contains(&CORE_START.to_string()) && outputs.contains(&crate::wrap::FRAME_OUTPUT.to_string()));
        // Reductions only: no feature-map-sized Sub or Mul of a norm's input besides the affine map itself.
        let mul_of_x = g.node.iter().filter(|n| n.name.starts_with(PREFIX) && n.op_type == "Mul" && n.output[0].ends_with("/xa")).count();
        assert_eq!(mul_of_x, n);
    }

    #[test]
    fn a_moments_graph_runs_only_the_layers_before_its_norm() {
        let spec = JohnsonSpec::lite();
        let w = wrapped(&spec);
        let full = ModelProto::parse_from_bytes(&rewrite_bytes(&w, Variant::Explicit).unwrap().0).unwrap();
        let (bytes, n) = rewrite_bytes(&w, Variant::Moments(3)).unwrap();
        assert_eq!(n, 11);
        let m = ModelProto::parse_from_bytes(&bytes).unwrap();
        let g = m.graph.as_ref().unwrap();
        assert_eq!(names(&g.output), [norm_value(3, "cmean"), norm_value(3, "cmsq")]);
        let inputs = names(&g.input);
        for i in 0..3 {
            assert!(inputs.contains(&norm_value(i, "var")), "norm {i} is needed: {inputs:?}");
        }
        assert!(!inputs.iter().any(|n| n.starts_with(&format!("{PREFIX}3/")) || n.starts_with(&format!("{PREFIX}4/"))), "{inputs:?}");
        assert!(g.node.len() < full.graph.as_ref().unwrap().node.len() / 2, "{} of {} nodes", g.node.len(), full.graph.as_ref().unwrap().node.len());
        let initializers: Vec<&str> = g.initializer.iter().map(|t| t.name.as_str()).collect();
        assert!(!initializers.contains(&"deconv3.conv2d.weight"), "the output conv is not needed");
        assert!(rewrite_bytes(&w, Variant::Moments(11)).is_err());
    }

    #[test]
    fn the_probe_adds_mean_and_variance_outputs() {
        let (bytes, n) = rewrite_bytes(&wrapped(&JohnsonSpec::lite()), Variant::Probe).unwrap();
        let m = ModelProto::parse_from_bytes(&bytes).unwrap();
        let outputs = names(&m.graph.as_ref().unwrap().output);
        assert_eq!(outputs.len(), 1 + 2 * n);
        assert!(outputs.contains(&norm_value(n - 1, "var")));
        // A graph without instance norms has nothing to tile by.
        let mut plain = ModelProto::parse_from_bytes(&bytes).unwrap();
        plain.graph.as_mut().unwrap().node.retain(|n| n.op_type != "InstanceNormalization");
        assert!(probe_norms(&mut plain).is_err());
    }
}
