//! Exact graph rewrites that make ONNX Runtime's CPU provider faster; the wrapper applies them for the CPU
//! ([`crate::wrap::WrapOptions::phase_convs`]).
//!
//! [`phase_split_output_conv`]: the classic Johnson net ends in a 9x9 convolution from 32 channels to 3 at full
//! resolution. The CPU provider convolves in blocks of 8 output channels, so it computes 8 to keep 3: that one
//! layer ran at 15% of the CPU's peak and took 128 of the full net's 642 ms per 640x360 frame, while the other
//! convolutions ran at 85-95%. The same sums on the image's 2x2 phases (SpaceToDepth, a 5x5 convolution from
//! 4x32 to 4x3 channels, DepthToSpace) keep 12 of 16 computed outputs: the full net takes 513-525 ms instead of
//! 602-604 ms (python onnxruntime 1.31.1, 2 threads), and the output differs by at most one grey level (the
//! order of the float sums).
//!
//! [`phase_split_upsample_convs`]: nearest 2x upsampling, reflection padding and a 3x3 convolution (the
//! decoder of every Johnson net) equal, on each of the output's 2x2 phases, a 2x2 convolution of the
//! edge-padded low-resolution input: 16 instead of 36 multiply-adds per low-resolution pixel and channel
//! pair, and no full-resolution Resize or Pad. One 2x2 convolution computes all four phases; Slices pick each
//! phase's window and DepthToSpace interleaves them. Full net 468-476 ms instead of 503-513 ms, lite net
//! 26.6-27.1 ms instead of 28.6 ms (same setting), at most one grey level apart.

use onnx_protobuf::{tensor_proto::DataType, GraphProto, NodeProto, TensorProto};

use crate::onnx::{attr_int, attr_ints, attr_string, f32_tensor, f32_values, make_node};
use crate::ModelError;

/// Names of the values and weights this module adds.
const PREFIX: &str = "stylize_rewrite/";

/// Rewrites the convolution that makes `output` to run on 2x2 phases when that computes clearly fewer outputs
/// (see the module docs): a stride-1, ungrouped, undilated, unpadded (a Pad node before it is fine) odd k x k
/// convolution with float32 initializer weights, of fewer than 8 output channels, becomes
/// `SpaceToDepth(2) -> Conv((k+1)/2, 4 Cin -> 4 Cout) -> DepthToSpace(2, DCR)`.
/// Its input must have even sides at run time. Returns whether it rewrote.
pub fn phase_split_output_conv(g: &mut GraphProto, output: &str) -> Result<bool, ModelError> {
    let Some(i) = g.node.iter().position(|n| n.output.iter().any(|o| o == output)) else { return Ok(false) };
    let conv = &g.node[i];
    if conv.op_type != "Conv" || !conv.domain.is_empty() || !plain_conv(conv) {
        return Ok(false);
    }
    let init = |name: &str| g.initializer.iter().find(|t| t.name == name);
    let Some(w) = conv.input.get(1).and_then(|n| init(n)) else { return Ok(false) };
    let &[co, ci, kh, kw] = w.dims.as_slice() else { return Ok(false) };
    if w.data_type != DataType::FLOAT as i32 || kh != kw || kh % 2 == 0 || !w.external_data.is_empty() {
        return Ok(false);
    }
    let (co, ci, k) = (co as usize, ci as usize, kh as usize);
    let kp = k.div_ceil(2);
    // Outputs computed per input channel and output pixel, in blocks of 8 channels: k*k*ceil8(co) now,
    // kp*kp*ceil8(4 co) on phases. Worth it only when clearly fewer.
    let blocks = |c: usize| c.div_ceil(8) * 8;
    if 4 * kp * kp * blocks(4 * co) >= 3 * k * k * blocks(co) {
        return Ok(false);
    }
    let weights = f32_values(w);
    let bias = match conv.input.get(2).filter(|n| !n.is_empty()) {
        Some(name) => match init(name) {
            Some(b) if b.data_type == DataType::FLOAT as i32 && b.external_data.is_empty() => f32_values(b),
            _ => return Ok(false),
        },
        None => vec![0.0; co],
    };
    if weights.len() != co * ci * k * k || bias.len() != co {
        return Ok(false);
    }

    // Output phase (a, b) at low-resolution pixel (y, x) is full-resolution pixel (2y + a, 2x + b); it reads
    // input phase (p, q) of low-resolution row y + r through original tap 2r + p - a (and likewise columns).
    let mut phased = vec![0f32; 4 * co * 4 * ci * kp * kp];
    for (a, b, p, q) in (0..16).map(|n| (n >> 3 & 1, n >> 2 & 1, n >> 1 & 1, n & 1)) {
        for r in 0..kp {
            let Some(t) = (2 * r + p).checked_sub(a).filter(|&t| t < k) else { continue };
            for c in 0..kp {
                let Some(u) = (2 * c + q).checked_sub(b).filter(|&u| u < k) else { continue };
                for o in 0..co {
                    for j in 0..ci {
                        let to = (((a * 2 + b) * co + o) * 4 * ci + (p * 2 + q) * ci + j) * kp * kp + r * kp + c;
                        phased[to] = weights[((o * ci + j) * k + t) * k + u];
                    }
                }
            }
        }
    }
    let phased_bias: Vec<f32> = (0..4).flat_map(|_| bias.iter().copied()).collect();

    let name = |s: &str| format!("{PREFIX}{}/{s}", conv.name);
    let (w_name, b_name, split, convolved) = (name("weight"), name("bias"), name("phases"), name("phase_conv"));
    let input = conv.input[0].clone();
    let nodes = [
        node("SpaceToDepth", &[&input], &split, vec![attr_int("blocksize", 2)]),
        node("Conv", &[&split, &w_name, &b_name], &convolved, vec![attr_ints("kernel_shape", &[kp as i64, kp as i64])]),
        node("DepthToSpace", &[&convolved], output, vec![attr_int("blocksize", 2), attr_string("mode", "DCR")]),
    ];
    let old: Vec<NodeProto> = g.node.splice(i..=i, nodes).collect();
    g.initializer.push(f32_tensor(&w_name, &[4 * co, 4 * ci, kp, kp], &phased));
    g.initializer.push(f32_tensor(&b_name, &[4 * co], &phased_bias));
    drop_unused_initializers(g, &old);
    Ok(true)
}

/// Rewrites every `Resize(nearest 2x) -> Pad(reflect 1) -> Conv(3x3)` chain, each node the only reader of the
/// one before, into `Pad(edge 1) -> Conv(2x2, Cout -> 4 Cout) -> 4 Slices -> Concat -> DepthToSpace(2, DCR)`
/// (see the module docs). Returns how many it rewrote.
pub fn phase_split_upsample_convs(g: &mut GraphProto) -> Result<usize, ModelError> {
    let mut done = 0;
    while let Some(UpsampleConv { resize, pad, conv, co, ci, w, bias }) = (0..g.node.len()).find_map(|c| upsample_conv_at(g, c)) {
        let (r, p, c) = (g.node[resize].clone(), g.node[pad].clone(), g.node[conv].clone());

        // Phase a of the upsampled, reflection-padded rows reads edge-padded low-resolution rows y + a and
        // y + a + 1 (y = the output's low-resolution row) with these sums of the 3x3 kernel's rows.
        const TAPS: [[[f32; 3]; 2]; 2] = [[[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]], [[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]];
        let mut phased = vec![0f32; 4 * co * ci * 4];
        for (a, b) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
            for o in 0..co {
                for j in 0..ci {
                    for (t, u) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                        let mut sum = 0.0;
                        for (s, v) in (0..9).map(|n| (n / 3, n % 3)) {
                            sum += TAPS[a][t][s] * TAPS[b][u][v] * w[((o * ci + j) * 3 + s) * 3 + v];
                        }
                        phased[(((a * 2 + b) * co + o) * ci + j) * 4 + t * 2 + u] = sum;
                    }
                }
            }
        }
        let phased_bias: Vec<f32> = (0..4).flat_map(|_| bias.iter().copied()).collect();

        let name = |s: &str| format!("{PREFIX}{}/{s}", c.name);
        let mut inits = vec![
            i64_tensor(&name("edge_pads"), &[0, 0, 1, 1, 0, 0, 1, 1]),
            f32_tensor(&name("weight"), &[4 * co, ci, 2, 2], &phased),
            f32_tensor(&name("bias"), &[4 * co], &phased_bias),
            i64_tensor(&name("axes"), &[1, 2, 3]),
        ];
        let mut nodes = vec![
            node("Pad", &[&r.input[0], &name("edge_pads")], &name("padded"), vec![attr_string("mode", "edge")]),
            node("Conv", &[&name("padded"), &name("weight"), &name("bias")], &name("phases"), vec![attr_ints("kernel_shape", &[2, 2])]),
        ];
        let mut windows = Vec::new();
        for (a, b) in [(0i64, 0i64), (0, 1), (1, 0), (1, 1)] {
            let (k, co) = (a * 2 + b, co as i64);
            // Phase 0 drops the last row (or column) of the 2x2 conv's output, phase 1 the first.
            let end = |phase: i64| if phase == 0 { -1 } else { i64::MAX };
            let tag = format!("{a}{b}");
            inits.push(i64_tensor(&name(&format!("starts{tag}")), &[k * co, a, b]));
            inits.push(i64_tensor(&name(&format!("ends{tag}")), &[(k + 1) * co, end(a), end(b)]));
            let inputs = [name("phases"), name(&format!("starts{tag}")), name(&format!("ends{tag}")), name("axes")];
            nodes.push(node("Slice", &inputs.iter().map(String::as_str).collect::<Vec<_>>(), &name(&format!("phase{tag}")), vec![]));
            windows.push(name(&format!("phase{tag}")));
        }
        nodes.push(node("Concat", &windows.iter().map(String::as_str).collect::<Vec<_>>(), &name("concat"), vec![attr_int("axis", 1)]));
        nodes.push(node("DepthToSpace", &[&name("concat")], &c.output[0], vec![attr_int("blocksize", 2), attr_string("mode", "DCR")]));

        // The chain's nodes go; the new ones take the conv's place (its inputs are all made by then).
        let mut gone = [resize, pad, conv];
        gone.sort_unstable();
        let at = conv - gone.iter().filter(|&&i| i < conv).count();
        for &i in gone.iter().rev() {
            g.node.remove(i);
        }
        g.node.splice(at..at, nodes);
        g.initializer.extend(inits);
        drop_unused_initializers(g, &[r, p, c]);
        done += 1;
    }
    Ok(done)
}

/// A rewritable upsampling chain: its node indices and the conv's weights.
struct UpsampleConv {
    resize: usize,
    pad: usize,
    conv: usize,
    co: usize,
    ci: usize,
    /// `[co, ci, 3, 3]`, row-major.
    w: Vec<f32>,
    bias: Vec<f32>,
}

/// The chain whose 3x3 conv is node `c`, if it can be rewritten.
fn upsample_conv_at(g: &GraphProto, c: usize) -> Option<UpsampleConv> {
    let conv = &g.node[c];
    if conv.op_type != "Conv" || !conv.domain.is_empty() || !plain_conv(conv) {
        return None;
    }
    let wt = initializer(g, conv.input.get(1)?)?;
    if wt.data_type != DataType::FLOAT as i32 || wt.dims.len() != 4 || wt.dims[2..] != [3, 3] || !wt.external_data.is_empty() {
        return None;
    }
    let (co, ci) = (usize::try_from(wt.dims[0]).ok()?, usize::try_from(wt.dims[1]).ok()?);
    let w = f32_values(wt);
    let bias = match conv.input.get(2).filter(|n| !n.is_empty()) {
        Some(b) => f32_values(initializer(g, b).filter(|b| b.data_type == DataType::FLOAT as i32 && b.external_data.is_empty())?),
        None => vec![0.0; co],
    };
    if w.len() != co * ci * 9 || bias.len() != co {
        return None;
    }
    let p = sole_producer(g, &conv.input[0])?;
    let pad = &g.node[p];
    let pads_ok = pad.input.len() == 2 && initializer(g, &pad.input[1]).map(i64_values) == Some(vec![0, 0, 1, 1, 0, 0, 1, 1]);
    if pad.op_type != "Pad" || !pad.domain.is_empty() || attr_s(pad, "mode") != Some(b"reflect") || !pads_ok {
        return None;
    }
    let r = sole_producer(g, &pad.input[0])?;
    let resize = &g.node[r];
    // out[i] = in[floor(i / 2)]: asymmetric coordinates, nearest rounding down (round_prefer_floor, the
    // default, rounds i / 2 the same way).
    let nearest = attr_s(resize, "mode") == Some(b"nearest")
        && attr_s(resize, "coordinate_transformation_mode") == Some(b"asymmetric")
        && matches!(attr_s(resize, "nearest_mode"), None | Some(b"floor") | Some(b"round_prefer_floor"));
    let scales = resize.input.get(2).and_then(|s| initializer(g, s)).filter(|t| t.data_type == DataType::FLOAT as i32).map(f32_values);
    let no_sizes = resize.input.get(3).is_none_or(|s| s.is_empty());
    if resize.op_type != "Resize" || !resize.domain.is_empty() || !nearest || scales != Some(vec![1.0, 1.0, 2.0, 2.0]) || !no_sizes {
        return None;
    }
    Some(UpsampleConv { resize: r, pad: p, conv: c, co, ci, w, bias })
}

/// The node that makes `value`, if `value` has no other reader than one node and is not a graph output.
fn sole_producer(g: &GraphProto, value: &str) -> Option<usize> {
    let readers = g.node.iter().filter(|n| n.input.iter().any(|i| i == value)).count();
    let is_output = g.output.iter().any(|o| o.name == value);
    if readers != 1 || is_output {
        return None;
    }
    g.node.iter().position(|n| n.output.iter().any(|o| o == value))
}

fn initializer<'g>(g: &'g GraphProto, name: &str) -> Option<&'g TensorProto> {
    g.initializer.iter().find(|t| t.name == name)
}

fn attr_s<'n>(n: &'n NodeProto, name: &str) -> Option<&'n [u8]> {
    n.attribute.iter().find(|a| a.name == name).map(|a| a.s.as_slice())
}

fn i64_values(t: &TensorProto) -> Vec<i64> {
    if t.data_type != DataType::INT64 as i32 {
        return Vec::new();
    }
    if t.raw_data.is_empty() {
        t.int64_data.clone()
    } else {
        t.raw_data.chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes"))).collect()
    }
}

fn i64_tensor(name: &str, values: &[i64]) -> TensorProto {
    let mut t = TensorProto::new();
    t.name = name.to_string();
    t.data_type = DataType::INT64 as i32;
    t.dims = vec![values.len() as i64];
    t.raw_data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    t
}

/// Drops the initializers the removed nodes read unless another node still reads them (ONNX Runtime warns
/// about unused initializers).
fn drop_unused_initializers(g: &mut GraphProto, removed: &[NodeProto]) {
    for name in removed.iter().flat_map(|n| n.input.iter()) {
        if !g.node.iter().any(|n| n.input.contains(name)) {
            g.initializer.retain(|t| &t.name != name);
        }
    }
}

/// Stride 1, no dilation, one group, no padding of its own.
fn plain_conv(n: &NodeProto) -> bool {
    n.attribute.iter().all(|a| match a.name.as_str() {
        "strides" | "dilations" => a.ints.iter().all(|&v| v == 1),
        "group" => a.i == 1,
        "pads" => a.ints.iter().all(|&v| v == 0),
        "auto_pad" => a.s.is_empty() || a.s == b"NOTSET" || a.s == b"VALID",
        "kernel_shape" => true,
        _ => false,
    })
}

fn node(op: &str, inputs: &[&str], output: &str, attrs: Vec<onnx_protobuf::AttributeProto>) -> NodeProto {
    make_node(op, &format!("{PREFIX}{output}"), inputs, output, attrs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::{Dim, GraphBuilder};
    use crate::Weights;

    /// input -> Resize 2x -> Pad(reflect 1) -> Conv 3x3 (2 -> 3 channels) -> Pad(reflect 4) -> Conv 9x9 (3 -> 3) -> output
    fn decoder() -> GraphProto {
        let mut w = Weights::new();
        w.insert("up.weight".into(), ndarray::ArrayD::from_elem(vec![3, 2, 3, 3], 0.1));
        w.insert("up.bias".into(), ndarray::ArrayD::from_elem(vec![3], 0.5));
        w.insert("out.weight".into(), ndarray::ArrayD::from_elem(vec![3, 3, 9, 9], 0.01));
        let mut g = GraphBuilder::new("decoder", &w);
        let x = g.input("input", &[Dim::Fixed(1), Dim::Fixed(2), Dim::Named("H"), Dim::Named("W")]);
        let u = g.upsample2x(&x, "up.resize");
        let p = g.reflection_pad(&u, "up.pad", 1, 1);
        let (wt, b) = (g.param("up.weight").unwrap(), g.param("up.bias").unwrap());
        let y = g.node("Conv", "up.conv", &[&p, &wt, &b], vec![]);
        let p = g.reflection_pad(&y, "out.pad", 4, 4);
        let wt = g.param("out.weight").unwrap();
        let y = g.node("Conv", "out.conv", &[&p, &wt], vec![]);
        g.output(&y, "output", &[Dim::Fixed(1), Dim::Fixed(3), Dim::Named("H2"), Dim::Named("W2")]);
        g.finish()
    }

    fn ops(g: &GraphProto) -> Vec<&str> {
        g.node.iter().map(|n| n.op_type.as_str()).collect()
    }

    #[test]
    fn rewrites_the_decoder_and_drops_the_old_weights() {
        let mut g = decoder();
        assert!(phase_split_output_conv(&mut g, "output").unwrap());
        assert_eq!(phase_split_upsample_convs(&mut g).unwrap(), 1);
        assert_eq!(
            ops(&g),
            ["Pad", "Conv", "Slice", "Slice", "Slice", "Slice", "Concat", "DepthToSpace", "Pad", "SpaceToDepth", "Conv", "DepthToSpace"]
        );
        let weight = |name: &str| g.initializer.iter().find(|t| t.name.ends_with(name)).map(|t| t.dims.clone());
        assert_eq!(weight("up.conv/weight"), Some(vec![12, 2, 2, 2]));
        assert_eq!(weight("out.conv/weight"), Some(vec![12, 12, 5, 5]));
        assert!(g.initializer.iter().all(|t| !t.name.ends_with(".weight")), "old weights left behind");
        // nothing left to rewrite
        assert_eq!(phase_split_upsample_convs(&mut g).unwrap(), 0);
    }

    #[test]
    fn malformed_or_unsuitable_convs_are_left_alone() {
        // weights shorter than their shape says: no rewrite, no panic
        let mut g = decoder();
        for t in g.initializer.iter_mut().filter(|t| t.name.ends_with(".weight")) {
            t.raw_data.truncate(8);
        }
        let before = g.clone();
        assert!(!phase_split_output_conv(&mut g, "output").unwrap());
        assert_eq!(phase_split_upsample_convs(&mut g).unwrap(), 0);
        assert_eq!(g, before);
        // a strided output conv, and a Resize that is not nearest, are not what the rewrites compute
        let mut g = decoder();
        let conv = g.node.iter_mut().find(|n| n.name == "out.conv").unwrap();
        conv.attribute.push(attr_ints("strides", &[2, 2]));
        let resize = g.node.iter_mut().find(|n| n.op_type == "Resize").unwrap();
        resize.attribute.iter_mut().find(|a| a.name == "mode").unwrap().s = b"linear".to_vec();
        let before = g.clone();
        assert!(!phase_split_output_conv(&mut g, "output").unwrap());
        assert_eq!(phase_split_upsample_convs(&mut g).unwrap(), 0);
        assert_eq!(g, before);
    }
}
