//! The network in float16 (`--precision fp16`, [`crate::wrap::WrapOptions::fp16`]): the values that flow from
//! the image become float16, and so does every float tensor they meet at a position that must share their
//! type; initializers and `Constant`s are converted, other float values pass through a `Cast`.

use std::collections::{BTreeMap, HashMap, HashSet};

use onnx_protobuf::{
    tensor_proto::{DataLocation, DataType},
    GraphProto, NodeProto, TensorProto,
};

use crate::onnx::{attr_int, elem_type, make_node};
use crate::ModelError;

/// Inputs of `op` that must have the type of its data input(s); `None`: all of them.
fn same_type_inputs(op: &str) -> Option<&'static [usize]> {
    Some(match op {
        // Shapes, pads, axes, indices, scales, roi, ratios: their own types.
        "Reshape" | "Resize" | "Upsample" | "Slice" | "Gather" | "GatherElements" | "GatherND" | "Expand"
        | "Tile" | "Squeeze" | "Unsqueeze" | "TopK" | "Split" | "Dropout" | "ReduceMean" | "ReduceSum"
        | "ReduceMax" | "ReduceMin" | "ReduceProd" | "ReduceL2" | "ReduceL1" | "ReduceSumSquare"
        | "ReduceLogSumExp" | "Cast" | "CastLike" | "Shape" | "Size" | "Trilu" | "CumSum" | "Compress"
        | "ScatterElements" | "ScatterND" | "ConstantOfShape" => &[0],
        "Pad" => &[0, 2],
        "Where" => &[1, 2],
        _ => return None,
    })
}

/// Outputs of `op` that have the type of its data input; `None`: all of them.
fn same_type_outputs(op: &str) -> Option<&'static [usize]> {
    Some(match op {
        "Shape" | "Size" | "Cast" | "CastLike" | "NonZero" | "ArgMax" | "ArgMin" | "Equal" | "Greater"
        | "GreaterOrEqual" | "Less" | "LessOrEqual" | "Not" | "And" | "Or" | "Xor" | "IsNaN" | "IsInf" => &[],
        "MaxPool" | "TopK" | "Dropout" => &[0],
        _ => return None,
    })
}

/// Converts the network to float16 (see the module docs); returns (tensors converted, casts added).
pub(crate) fn to_fp16(g: &mut GraphProto, image: &str, prefix: &str) -> Result<(usize, usize), ModelError> {
    // Values that become float16: the image and everything computed from it.
    let mut half: HashSet<String> = HashSet::from([image.to_string()]);
    // Other values that a float16 node needs in float16: name -> [(node, input position)].
    let mut wanted: BTreeMap<String, Vec<(usize, usize)>> = BTreeMap::new();
    for (ni, n) in g.node.iter().enumerate() {
        if !n.input.iter().any(|i| half.contains(i)) {
            continue;
        }
        if !(n.domain.is_empty() || n.domain == "ai.onnx") {
            return Err(ModelError::BadInput(format!(
                "fp16: node {:?} of domain {:?} cannot be converted",
                n.name, n.domain
            )));
        }
        let same_in = same_type_inputs(&n.op_type);
        for (pos, name) in n.input.iter().enumerate() {
            let typed = same_in.is_none_or(|s| s.contains(&pos));
            if typed && !name.is_empty() && !half.contains(name) {
                wanted.entry(name.clone()).or_default().push((ni, pos));
            }
        }
        let same_out = same_type_outputs(&n.op_type);
        for (pos, name) in n.output.iter().enumerate() {
            if !name.is_empty() && same_out.is_none_or(|s| s.contains(&pos)) {
                half.insert(name.clone());
            }
        }
    }

    let init_pos: HashMap<String, usize> = g.initializer.iter().enumerate().map(|(i, t)| (t.name.clone(), i)).collect();
    let constants: HashMap<String, usize> = g
        .node
        .iter()
        .enumerate()
        .filter(|(_, n)| n.op_type == "Constant" && n.output.len() == 1)
        .map(|(i, n)| (n.output[0].clone(), i))
        .collect();

    let (mut tensors, mut casts) = (0, 0);
    let mut new_inits = Vec::new();
    // Casts go right before their first consumer: (node index, cast).
    let mut new_casts: Vec<(usize, NodeProto)> = Vec::new();
    for (name, uses) in &wanted {
        let source = if let Some(&i) = init_pos.get(name) {
            Some(g.initializer[i].clone())
        } else if let Some(&i) = constants.get(name) {
            constant_tensor(&g.node[i])
        } else {
            None
        };
        let new_name = format!("{prefix}fp16/{name}");
        match source {
            Some(t) if t.data_type == DataType::FLOAT as i32 => {
                let mut h = to_f16_tensor(&t)?;
                h.name = new_name.clone();
                new_inits.push(h);
                tensors += 1;
            }
            // Already float16, or an integer tensor where the op allows one: leave it.
            Some(_) => continue,
            // A float graph input or a computed float value: cast it.
            None => {
                let first = uses.iter().map(|&(ni, _)| ni).min().expect("at least one use");
                new_casts.push((first, make_node("Cast", &new_name, &[name], &new_name, vec![attr_int("to", DataType::FLOAT16 as i64)])));
                casts += 1;
            }
        }
        for &(ni, pos) in uses {
            g.node[ni].input[pos] = new_name.clone();
        }
    }

    // Drop the float32 originals nothing uses any more.
    let used: HashSet<String> = g
        .node
        .iter()
        .flat_map(|n| n.input.iter().cloned())
        .chain(g.output.iter().map(|v| v.name.clone()))
        .chain(new_casts.iter().flat_map(|(_, n)| n.input.iter().cloned()))
        .collect();
    let dropped: HashSet<String> = wanted
        .keys()
        .filter(|n| !used.contains(*n) && (init_pos.contains_key(*n) || constants.contains_key(*n)))
        .cloned()
        .collect();
    g.initializer.retain(|t| !dropped.contains(&t.name));
    g.initializer.extend(new_inits);
    g.input.retain(|v| !dropped.contains(&v.name));
    let mut nodes = Vec::with_capacity(g.node.len() + new_casts.len());
    new_casts.sort_by_key(|(i, _)| *i);
    let mut casts_iter = new_casts.into_iter().peekable();
    for (i, n) in std::mem::take(&mut g.node).into_iter().enumerate() {
        while let Some((_, c)) = casts_iter.next_if(|(at, _)| *at == i) {
            nodes.push(c);
        }
        if n.op_type == "Constant" && n.output.len() == 1 && dropped.contains(&n.output[0]) {
            continue;
        }
        nodes.push(n);
    }
    g.node = nodes;
    // Declared float types inside the graph are stale now; ONNX Runtime infers them.
    g.value_info.retain(|v| elem_type(v) != Some(DataType::FLOAT as i32));
    Ok((tensors, casts))
}

/// The tensor of a `Constant` node (`value`, `value_float`, `value_floats`), if it has one of those.
fn constant_tensor(n: &NodeProto) -> Option<TensorProto> {
    let a = n.attribute.first()?;
    let mut t = match a.name.as_str() {
        "value" => a.t.as_ref()?.clone(),
        "value_float" => {
            let mut t = TensorProto::new();
            t.data_type = DataType::FLOAT as i32;
            t.float_data = vec![a.f];
            t
        }
        "value_floats" => {
            let mut t = TensorProto::new();
            t.data_type = DataType::FLOAT as i32;
            t.dims = vec![a.floats.len() as i64];
            t.float_data = a.floats.clone();
            t
        }
        _ => return None,
    };
    t.name = n.output[0].clone();
    Some(t)
}

/// A float32 tensor's float16 copy (round to nearest even), same name and shape.
fn to_f16_tensor(t: &TensorProto) -> Result<TensorProto, ModelError> {
    if t.data_location.enum_value() == Ok(DataLocation::EXTERNAL) {
        return Err(ModelError::BadInput(format!(
            "fp16: tensor {:?} has external data, which the wrapper cannot read",
            t.name
        )));
    }
    let values = crate::onnx::f32_values(t);
    let mut h = TensorProto::new();
    h.name = t.name.clone();
    h.dims = t.dims.clone();
    h.data_type = DataType::FLOAT16 as i32;
    h.raw_data = values
        .iter()
        .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
        .collect();
    Ok(h)
}
