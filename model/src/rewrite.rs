//! Exact graph rewrites that make ONNX Runtime's CPU provider faster; the wrapper applies them for the CPU
//! ([`crate::wrap::WrapOptions::cpu`]).
//!
//! [`phase_split_output_conv`]: the classic Johnson net ends in a 9x9 convolution from 32 channels to 3 at full
//! resolution. The CPU provider convolves in blocks of 8 output channels, so it computes 8 to keep 3: that one
//! layer ran at 15% of the CPU's peak and took 128 of the full net's 642 ms per 640x360 frame, while the other
//! convolutions ran at 85-95%. The same sums on the image's 2x2 phases (SpaceToDepth, a 5x5 convolution from
//! 4x32 to 4x3 channels, DepthToSpace) keep 12 of 16 computed outputs: the full net takes 513-525 ms instead of
//! 602-604 ms (python onnxruntime 1.31.1, 2 threads), and the output differs by at most one grey level (the
//! order of the float sums).

use onnx_protobuf::{tensor_proto::DataType, GraphProto, NodeProto};

use crate::onnx::{attr_int, attr_ints, attr_string, f32_tensor, f32_values};
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
    let old = g.node.splice(i..=i, nodes).next().expect("the replaced conv");
    g.initializer.push(f32_tensor(&w_name, &[4 * co, 4 * ci, kp, kp], &phased));
    g.initializer.push(f32_tensor(&b_name, &[4 * co], &phased_bias));
    // Drop the old weights unless something else reads them (ONNX Runtime warns about unused initializers).
    for old_input in old.input.iter().skip(1) {
        if !g.node.iter().any(|n| n.input.contains(old_input)) {
            g.initializer.retain(|t| &t.name != old_input);
        }
    }
    Ok(true)
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
    let mut n = NodeProto::new();
    n.op_type = op.to_string();
    n.name = format!("{PREFIX}{output}");
    n.input = inputs.iter().map(|s| s.to_string()).collect();
    n.output = vec![output.to_string()];
    n.attribute = attrs;
    n
}
