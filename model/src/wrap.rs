//! Graph surgery for the runtime: uint8 frames in and out of any stylize model, optionally float16 inside.
//!
//! [`wrap_frame_io`] rewrites a model that meets the contract (`onnx/README.md`: one float32 NCHW RGB image
//! input, one float32 NCHW RGB image output, value range `0-255` or `0-1`) so that frames cross the
//! host<->device bus as bytes and the conversions run inside the graph:
//!
//! ```text
//! frame uint8 [1,H,W,3] -> Transpose(0,3,1,2) -> Cast(float | float16) -> (Mul 1/255 for 0-1 models)
//!     -> the original graph ->
//! (Cast float for fp16) -> (Mul 255 for 0-1 models) -> Clip(0,255) -> Add 0.5 -> Cast(uint8)
//!     -> Transpose(0,2,3,1) -> frame_out uint8 [1,H',W',3]
//! ```
//!
//! The transposes move bytes, not floats. With [`WrapOptions::shuffle_bytes`], so do a `SpaceToDepth` that
//! takes the image and a `DepthToSpace` that makes the output (the lite nets'): they only move values, so they
//! are moved outside the casts; with [`WrapOptions::phases_on_host`] they leave the graph, and frames cross as
//! their 2x2 phases (the caller's copy shuffles them). `Cast` to uint8 truncates, so `Add 0.5` after the clip
//! rounds half up, which is what the runtime's float path (`f32::round` of a value in 0..=255) does. The original input and
//! output names become internal values; extra inputs (e.g. `style_weights`) stay graph inputs as they are;
//! other graph outputs are dropped.
//!
//! With [`WrapOptions::fp16`] the network also runs in float16: the values that flow from the image become
//! float16, and so does every float tensor they meet at a position that must share their type (Conv and
//! instance-norm weights, Add/Mul operands, Pad's constant value, Clip bounds, ...); Resize scales/roi, Pad
//! pads, shapes and the like keep their types. Initializers and `Constant`s are converted (as a float16
//! copy when something else still needs the float32 original); float inputs and computed float values are
//! passed through a `Cast`. Float `value_info` entries are dropped (ONNX Runtime infers them again).

use std::collections::HashSet;

use onnx_protobuf::{
    tensor_proto::DataType,
    tensor_shape_proto::{self, dimension::Value as DimValue},
    type_proto, GraphProto, ModelProto, NodeProto, TensorProto,
    ValueInfoProto,
};
use protobuf::Message;

use crate::meta;
use crate::onnx::{attr_float, attr_int, attr_ints, elem_type, tensor_value};
use crate::ModelError;

/// Name of the uint8 NHWC RGB input of a wrapped model.
pub const FRAME_INPUT: &str = "frame";
/// Name of the uint8 NHWC RGB output of a wrapped model.
pub const FRAME_OUTPUT: &str = "frame_out";
/// Prefix of every value and node the wrapper adds.
pub const PREFIX: &str = "stylize_wrap/";
/// Broadcasting Add/Mul and Cast with an integer `to` need opset 7.
const MIN_OPSET: i64 = 7;

/// What to wrap and how; `None` fields are found in the model.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WrapOptions {
    /// The image input; default `input`, else the first rank-4 graph input.
    pub input: Option<String>,
    /// The image output; default `output`, else the first graph output.
    pub output: Option<String>,
    /// The pixel value that means white (255 or 1); default from the metadata `stylize.range` (255 if absent).
    pub range_max: Option<f32>,
    /// Also convert the network to float16.
    pub fp16: bool,
    /// Run the upsampling and output convolutions on the image's 2x2 phases where that computes less
    /// ([`crate::rewrite`]; measured on ONNX Runtime's CPU provider). Assumes even frame sides, which the
    /// engine's padding guarantees.
    pub phase_convs: bool,
    /// Run a `SpaceToDepth` that takes the image and a `DepthToSpace` that makes the output on the bytes (ONNX
    /// Runtime's CPU provider has uint8 kernels for them, CUDA's has not).
    pub shuffle_bytes: bool,
    /// Leave that `SpaceToDepth` and `DepthToSpace` (block 2, DCR) to the caller: the frame goes in as its 2x2
    /// phases, `[1,H/2,W/2,12]` with channel `(2 x row + column) x 3 + colour` of each 2x2 block, and comes out
    /// so ([`WrapInfo::phases`]); the caller shuffles while it copies the frame anyway. OpenVINO's CPU plugin
    /// moved the shuffles at 4-5% of a lite net's time each.
    pub phases_on_host: bool,
    /// Run a reflection or edge `Pad` that reads the image on the bytes, before the cast (opset 11 or newer):
    /// it only moves pixels. On OpenVINO's CPU plugin an int8 first convolution then reads uint8 straight from
    /// it (no float pad in its reference kernel, no float reorder).
    pub pad_bytes: bool,
}

impl WrapOptions {
    /// What ONNX Runtime's CPU provider runs fastest: [`Self::phase_convs`] and [`Self::shuffle_bytes`].
    pub fn for_cpu(self) -> Self {
        WrapOptions { phase_convs: true, shuffle_bytes: true, ..self }
    }
}

/// What [`wrap_model`] did.
#[derive(Clone, Debug, PartialEq)]
pub struct WrapInfo {
    /// The original image input, now an internal value.
    pub input: String,
    /// The original image output, now an internal value.
    pub output: String,
    pub range_max: f32,
    /// Height and width when the model's input size is fixed.
    pub fixed_size: Option<(usize, usize)>,
    pub fp16: bool,
    /// Float tensors stored as float16 (initializers and constants), 0 without fp16.
    pub fp16_tensors: usize,
    /// Casts to float16 added in front of float inputs or computed float values, 0 without fp16.
    pub fp16_casts: usize,
    /// Convolutions rewritten to run on the image's 2x2 phases ([`crate::rewrite`]; CPU only).
    pub phase_convs: usize,
    /// 2 when frames cross as their 2x2 phases ([`WrapOptions::phases_on_host`]), else 1.
    pub phases: usize,
}

/// A wrapped model: its bytes and what was done.
#[derive(Clone, Debug)]
pub struct Wrapped {
    pub bytes: Vec<u8>,
    pub info: WrapInfo,
}

/// Parses ONNX bytes, wraps them (see the module docs) and writes them back.
pub fn wrap_frame_io(bytes: &[u8], opts: &WrapOptions) -> Result<Wrapped, ModelError> {
    let mut model = ModelProto::parse_from_bytes(bytes)?;
    let info = wrap_model(&mut model, opts)?;
    Ok(Wrapped {
        bytes: model.write_to_bytes()?,
        info,
    })
}

/// Wraps `model` in place (see the module docs).
pub fn wrap_model(model: &mut ModelProto, opts: &WrapOptions) -> Result<WrapInfo, ModelError> {
    let bad = |s: String| ModelError::BadInput(s);
    let opset = default_opset(model);
    if opset < MIN_OPSET {
        return Err(bad(format!(
            "opset {opset} is too old to wrap (needs {MIN_OPSET} or newer)"
        )));
    }
    let range_max = match opts.range_max {
        Some(r) => r,
        None => range_from_metadata(model)?,
    };
    if !(range_max == 255.0 || range_max == 1.0) {
        return Err(bad(format!(
            "value range 0..{range_max} is not 0-255 or 0-1"
        )));
    }
    // Initializers listed as inputs (IR < 4) are not inputs of the wrapped graph.
    model.ir_version = model.ir_version.max(4);
    let graph = model
        .graph
        .as_mut()
        .ok_or_else(|| bad("the model has no graph".into()))?;

    let initializers: HashSet<String> = graph.initializer.iter().map(|t| t.name.clone()).collect();
    let input_pos = find_input(graph, &initializers, opts.input.as_deref())?;
    let input = graph.input[input_pos].name.clone();
    let in_dims = check_image_value(&graph.input[input_pos], "input")?;
    let output_pos = find_output(graph, opts.output.as_deref())?;
    let output = graph.output[output_pos].name.clone();
    let out_dims = check_image_value(&graph.output[output_pos], "output")?;
    check_free_names(graph)?;

    let fixed_size = match (dim_value(&in_dims[2]), dim_value(&in_dims[3])) {
        (Some(h), Some(w)) if h > 0 && w > 0 => Some((h as usize, w as usize)),
        _ => None,
    };

    let phase_convs = if opts.phase_convs {
        // The output conv on phases needs even output sides: a fixed odd size keeps it as it is (free sizes
        // are padded to a multiple of 4 by the engine).
        let even = out_dims[2..].iter().all(|d| dim_value(d).is_none_or(|v| v <= 0 || v % 2 == 0));
        let output_conv = even && crate::rewrite::phase_split_output_conv(graph, &output)?;
        usize::from(output_conv) + crate::rewrite::phase_split_upsample_convs(graph)?
    } else {
        0
    };
    let (fp16_tensors, fp16_casts) = if opts.fp16 {
        crate::fp16::to_fp16(graph, &input, PREFIX)?
    } else {
        (0, 0)
    };
    let compute_type = if opts.fp16 {
        DataType::FLOAT16
    } else {
        DataType::FLOAT
    };

    // A SpaceToDepth that takes the image and a DepthToSpace that makes the output only move values, so they
    // commute with the casts and the scaling: they move bytes instead (a quarter of the memory traffic).
    // On the host instead only when both are there, with block 2 and DCR order (what the host's shuffle does).
    let block_2 = |i: usize, op: &str| {
        let n = &graph.node[i];
        let attr = |name: &str| n.attribute.iter().find(|a| a.name == name);
        let dcr = op == "SpaceToDepth" || attr("mode").is_none_or(|a| a.s.as_slice() == b"DCR");
        (attr("blocksize").map(|a| a.i) == Some(2) && dcr).then_some(i)
    };
    let host = opts.phases_on_host
        && sole_consumer(graph, &input, "SpaceToDepth").and_then(|i| block_2(i, "SpaceToDepth")).is_some()
        && sole_producer(graph, &output, "DepthToSpace").and_then(|i| block_2(i, "DepthToSpace")).is_some();
    let take_out = opts.shuffle_bytes || host;
    let s2d = take_out.then(|| sole_consumer(graph, &input, "SpaceToDepth")).flatten().map(|i| graph.node.remove(i));
    let d2s = take_out.then(|| sole_producer(graph, &output, "DepthToSpace")).flatten().map(|i| graph.node.remove(i));

    // Input side: frame -> (original input name, or the output of the SpaceToDepth that took it).
    let mut head = Vec::new();
    let mut x = format!("{PREFIX}nchw_u8");
    head.push(node(
        "Transpose",
        &[FRAME_INPUT],
        &x,
        vec![attr_ints("perm", &[0, 3, 1, 2])],
    ));
    let mut net_input = input.clone();
    if let Some(s2d) = &s2d {
        if !host {
            let moved = format!("{PREFIX}s2d_u8");
            head.push(node("SpaceToDepth", &[&x], &moved, s2d.attribute.clone()));
            x = moved;
        }
        net_input = s2d.output[0].clone();
    }
    if opts.pad_bytes && opset >= 11 {
        if let Some(i) = sole_consumer(graph, &net_input, "Pad").filter(|&i| moves_pixels_only(&graph.node[i])) {
            let mut pad = graph.node.remove(i);
            net_input = std::mem::replace(&mut pad.output[0], format!("{PREFIX}pad_u8"));
            pad.name = pad.output[0].clone();
            pad.input[0] = std::mem::replace(&mut x, pad.output[0].clone());
            // The constant's type would have to be uint8 now; reflection and edge padding never read it.
            if let Some(value) = pad.input.get_mut(2) {
                value.clear();
            }
            head.push(pad);
        }
    }
    if range_max == 1.0 {
        let cast = format!("{PREFIX}pixels");
        head.push(node("Cast", &[&x], &cast, vec![attr_int("to", compute_type as i64)]));
        let inv = scalar(graph, "inv255", compute_type, 1.0 / 255.0);
        head.push(node("Mul", &[&cast, &inv], &net_input, vec![]));
    } else {
        head.push(node("Cast", &[&x], &net_input, vec![attr_int("to", compute_type as i64)]));
    }

    // Output side: (original output name, or the input of the DepthToSpace that made it) -> frame_out.
    let mut tail = Vec::new();
    let mut y = d2s.as_ref().map_or_else(|| output.clone(), |n| n.input[0].clone());
    if opts.fp16 {
        let f = format!("{PREFIX}out_f32");
        tail.push(node("Cast", &[&y], &f, vec![attr_int("to", DataType::FLOAT as i64)]));
        y = f;
    }
    if range_max == 1.0 {
        let c = scalar(graph, "c255", DataType::FLOAT, 255.0);
        let scaled = format!("{PREFIX}out_255");
        tail.push(node("Mul", &[&y, &c], &scaled, vec![]));
        y = scaled;
    }
    let clipped = format!("{PREFIX}clipped");
    if opset >= 11 {
        let lo = scalar(graph, "zero", DataType::FLOAT, 0.0);
        let hi = scalar(graph, "max255", DataType::FLOAT, 255.0);
        tail.push(node("Clip", &[&y, &lo, &hi], &clipped, vec![]));
    } else {
        let attrs = vec![attr_float("min", 0.0), attr_float("max", 255.0)];
        tail.push(node("Clip", &[&y], &clipped, attrs));
    }
    let half = scalar(graph, "half", DataType::FLOAT, 0.5);
    let rounded = format!("{PREFIX}rounded");
    tail.push(node("Add", &[&clipped, &half], &rounded, vec![]));
    let mut bytes = format!("{PREFIX}out_u8");
    tail.push(node("Cast", &[&rounded], &bytes, vec![attr_int("to", DataType::UINT8 as i64)]));
    if let Some(d2s) = d2s.as_ref().filter(|_| !host) {
        let moved = format!("{PREFIX}d2s_u8");
        tail.push(node("DepthToSpace", &[&bytes], &moved, d2s.attribute.clone()));
        bytes = moved;
    }
    tail.push(node(
        "Transpose",
        &[&bytes],
        FRAME_OUTPUT,
        vec![attr_ints("perm", &[0, 2, 3, 1])],
    ));

    let body = std::mem::take(&mut graph.node);
    graph.node = head.into_iter().chain(body).chain(tail).collect();

    // The frame is one image; its height and width are the original input's.
    // (As 2x2 phases: half the height and width, four times the channels.)
    let phases: usize = if host { 2 } else { 1 };
    let side = |d: &tensor_shape_proto::Dimension, name: &str| match dim_value(d) {
        Some(v) if v > 0 && host => fixed_dim(v / 2),
        _ if host => named_if_unknown(&tensor_shape_proto::Dimension::new(), name),
        _ => d.clone(),
    };
    let batch = fixed_dim(1);
    let channels = fixed_dim(3 * (phases * phases) as i64);
    graph.input[input_pos] = tensor_value(
        FRAME_INPUT,
        DataType::UINT8,
        vec![batch.clone(), side(&in_dims[2], "H_phases"), side(&in_dims[3], "W_phases"), channels.clone()],
    );
    let out_h = named_if_unknown(&side(&out_dims[2], "H_out_phases"), "H_out");
    let out_w = named_if_unknown(&side(&out_dims[3], "W_out_phases"), "W_out");
    graph.output = vec![tensor_value(
        FRAME_OUTPUT,
        DataType::UINT8,
        vec![batch, out_h, out_w, channels],
    )];
    // Declared types of the old image values are stale (fp16) or redundant.
    graph.value_info.retain(|v| v.name != input && v.name != output);

    Ok(WrapInfo {
        input,
        output,
        range_max,
        fixed_size,
        fp16: opts.fp16,
        fp16_tensors,
        fp16_casts,
        phase_convs,
        phases,
    })
}

/// The opset of the default (`ai.onnx`) domain; 1 when the model declares none.
fn default_opset(model: &ModelProto) -> i64 {
    model
        .opset_import
        .iter()
        .filter(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        .max()
        .unwrap_or(1)
}

fn range_from_metadata(model: &ModelProto) -> Result<f32, ModelError> {
    match model
        .metadata_props
        .iter()
        .find(|e| e.key == meta::RANGE)
        .map(|e| e.value.as_str())
    {
        None | Some("0-255") => Ok(255.0),
        Some("0-1") => Ok(1.0),
        Some(other) => Err(ModelError::BadMetadata(format!(
            "unknown value range {other:?} in {} (expected 0-255 or 0-1)",
            meta::RANGE
        ))),
    }
}

fn dims_of(v: &ValueInfoProto) -> Option<Vec<tensor_shape_proto::Dimension>> {
    let t = match &v.type_.as_ref()?.value {
        Some(type_proto::Value::TensorType(t)) => t,
        _ => return None,
    };
    t.shape.as_ref().map(|s| s.dim.clone())
}

fn dim_value(d: &tensor_shape_proto::Dimension) -> Option<i64> {
    match d.value {
        Some(DimValue::DimValue(v)) => Some(v),
        _ => None,
    }
}

fn fixed_dim(v: i64) -> tensor_shape_proto::Dimension {
    let mut d = tensor_shape_proto::Dimension::new();
    d.value = Some(DimValue::DimValue(v));
    d
}

fn named_if_unknown(d: &tensor_shape_proto::Dimension, name: &str) -> tensor_shape_proto::Dimension {
    match &d.value {
        Some(_) => d.clone(),
        None => {
            let mut n = tensor_shape_proto::Dimension::new();
            n.value = Some(DimValue::DimParam(name.to_string()));
            n
        }
    }
}

/// The image input: the one asked for, `input`, or the first rank-4 input that is no initializer.
fn find_input(g: &GraphProto, inits: &HashSet<String>, wanted: Option<&str>) -> Result<usize, ModelError> {
    let inputs: Vec<(usize, &ValueInfoProto)> = g
        .input
        .iter()
        .enumerate()
        .filter(|(_, v)| !inits.contains(&v.name))
        .collect();
    let found = match wanted {
        Some(name) => inputs.iter().find(|(_, v)| v.name == name),
        None => inputs
            .iter()
            .find(|(_, v)| v.name == crate::onnx::INPUT)
            .or_else(|| inputs.iter().find(|(_, v)| dims_of(v).is_some_and(|d| d.len() == 4))),
    };
    found.map(|(i, _)| *i).ok_or_else(|| {
        ModelError::BadInput(match wanted {
            Some(name) => format!("the model has no input {name:?}"),
            None => "no 4-D image input (expected `input`, float32 1x3xHxW)".into(),
        })
    })
}

fn find_output(g: &GraphProto, wanted: Option<&str>) -> Result<usize, ModelError> {
    let pos = match wanted {
        Some(name) => g.output.iter().position(|v| v.name == name),
        None => g
            .output
            .iter()
            .position(|v| v.name == crate::onnx::OUTPUT)
            .or(if g.output.is_empty() { None } else { Some(0) }),
    };
    pos.ok_or_else(|| {
        ModelError::BadInput(match wanted {
            Some(name) => format!("the model has no output {name:?}"),
            None => "the model has no output".into(),
        })
    })
}

/// Checks a float32 `[N, 3, H, W]` image value (dims may be symbolic or absent) and returns its 4 dims.
fn check_image_value(v: &ValueInfoProto, what: &str) -> Result<Vec<tensor_shape_proto::Dimension>, ModelError> {
    let bad = |s: String| ModelError::BadInput(format!("{what} {:?} {s}", v.name));
    match elem_type(v) {
        Some(t) if t == DataType::FLOAT as i32 => {}
        Some(t) => return Err(bad(format!("has element type {t}, expected float32"))),
        None => return Err(bad("is not a tensor".into())),
    }
    let dims = dims_of(v).unwrap_or_else(|| vec![tensor_shape_proto::Dimension::new(); 4]);
    if dims.len() != 4 {
        return Err(bad(format!("has rank {}, expected 4 (1x3xHxW)", dims.len())));
    }
    if let Some(c) = dim_value(&dims[1]) {
        if c != 3 {
            return Err(bad(format!("has {c} channels, expected 3 (RGB)")));
        }
    }
    if let Some(n) = dim_value(&dims[0]) {
        if n != 1 {
            return Err(bad(format!("has a fixed batch of {n}, expected 1 or dynamic")));
        }
    }
    Ok(dims)
}

/// Every name the graph uses, so the wrapper's names cannot clash.
fn check_free_names(g: &GraphProto) -> Result<(), ModelError> {
    let names = g
        .input
        .iter()
        .chain(g.output.iter())
        .chain(g.value_info.iter())
        .map(|v| v.name.as_str())
        .chain(g.initializer.iter().map(|t| t.name.as_str()))
        .chain(g.node.iter().flat_map(|n| n.input.iter().chain(n.output.iter()).map(String::as_str)));
    for name in names {
        if name == FRAME_INPUT || name == FRAME_OUTPUT || name.starts_with(PREFIX) {
            return Err(ModelError::BadInput(format!(
                "the model already has a value named {name:?} (wrapped twice?)"
            )));
        }
    }
    Ok(())
}

/// The node that reads `value`, if it is the only reader and an `op` of the default domain.
fn sole_consumer(g: &GraphProto, value: &str, op: &str) -> Option<usize> {
    let mut readers = g.node.iter().enumerate().filter(|(_, n)| n.input.iter().any(|i| i == value));
    match (readers.next(), readers.next()) {
        (Some((i, n)), None) if n.op_type == op && n.domain.is_empty() && n.input[0] == value => Some(i),
        _ => None,
    }
}

/// A `Pad` (opset 11 or newer) that reflects or repeats the edge, with its pads given.
fn moves_pixels_only(pad: &NodeProto) -> bool {
    let mode = pad.attribute.iter().find(|a| a.name == "mode").map(|a| a.s.as_slice());
    matches!(mode, Some(b"reflect" | b"edge")) && pad.input.get(1).is_some_and(|p| !p.is_empty())
}

/// The node that makes `value`, if it is an `op` of the default domain whose input nothing else reads.
fn sole_producer(g: &GraphProto, value: &str, op: &str) -> Option<usize> {
    let i = g.node.iter().position(|n| n.output.iter().any(|o| o == value))?;
    let n = &g.node[i];
    let feeds_only_it = sole_consumer(g, n.input.first()?, op) == Some(i);
    let is_output = g.output.iter().any(|o| Some(&o.name) == n.input.first());
    (n.op_type == op && n.domain.is_empty() && feeds_only_it && !is_output).then_some(i)
}

/// A node named after its output, under [`PREFIX`].
fn node(op: &str, inputs: &[&str], output: &str, attrs: Vec<onnx_protobuf::AttributeProto>) -> NodeProto {
    let name = if output.starts_with(PREFIX) { output.to_string() } else { format!("{PREFIX}{output}") };
    crate::onnx::make_node(op, &name, inputs, output, attrs)
}

/// Adds a 0-d constant initializer `PREFIX + name` of type float or float16; returns its name.
fn scalar(g: &mut GraphProto, name: &str, ty: DataType, v: f32) -> String {
    let name = format!("{PREFIX}{name}");
    let mut t = TensorProto::new();
    t.name = name.clone();
    t.data_type = ty as i32;
    t.raw_data = match ty {
        DataType::FLOAT16 => half::f16::from_f32(v).to_le_bytes().to_vec(),
        _ => v.to_le_bytes().to_vec(),
    };
    g.initializer.push(t);
    name
}

#[cfg(test)]
mod tests;
