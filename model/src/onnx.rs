//! Pure-Rust ONNX export (IR 8, opset 17) through a small reusable graph builder.
//!
//! Only standard ops that every ONNX Runtime execution provider implements are used:
//! Pad (reflect), Conv, InstanceNormalization, Relu, Add, Resize (nearest), for
//! space-to-depth specs SpaceToDepth and DepthToSpace (DCR), and for multi-style specs
//! MatMul (the style mix of each norm's scale and shift).

use std::collections::BTreeSet;

use onnx_protobuf::{
    attribute_proto::AttributeType, tensor_proto::DataType, tensor_shape_proto, type_proto,
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto,
    TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};
use protobuf::Message;

/// The generated ONNX protobuf types, so callers of [`johnson_graph`] need no extra dependency.
pub use onnx_protobuf as proto;

use crate::reference::INSTANCE_NORM_EPS;
use crate::{check_weights, JohnsonSpec, ModelError, Weights};

/// ONNX Runtime 1.31 rejects newer IR versions from this proto generation.
pub const IR_VERSION: i64 = 8;
/// Opset 17: Pad takes `pads` as an input, Resize takes `scales` as an input.
pub const OPSET: i64 = 17;
/// Graph input name: float32 NCHW RGB on the 0..255 scale.
pub const INPUT: &str = "input";
/// Graph output name: float32 NCHW RGB on the 0..255 scale, unclamped.
pub const OUTPUT: &str = "output";
pub const PRODUCER: &str = "stylize";
/// Graph input of multi-style nets: float32 `[styles]`, the mix of styles (summing to 1).
pub const STYLE_WEIGHTS: &str = "style_weights";

/// Serialises the Johnson net of `spec` with weights `w` to ONNX bytes.
///
/// Input `input` is `[N, 3, H, W]` and output `output` is `[N, 3, H_out, W_out]`, all
/// dynamic except channels; weights become initializers named as the parameters.
pub fn johnson_to_onnx(
    spec: &JohnsonSpec,
    w: &Weights,
    metadata: &[(String, String)],
) -> Result<Vec<u8>, ModelError> {
    let graph = johnson_graph(spec, w)?;
    let model = model_proto(graph, metadata);
    Ok(model.write_to_bytes()?)
}

/// A quick look at a model file without loading it into a runtime: it parses as ONNX and has a 4-D image
/// input and an output (for listing a folder of models, where a broken file should not stop the others).
pub fn check_model_file(bytes: &[u8]) -> Result<(), ModelError> {
    let m = ModelProto::parse_from_bytes(bytes)?;
    let g = m.graph.as_ref().ok_or_else(|| ModelError::BadInput("no graph".into()))?;
    let rank = |v: &onnx_protobuf::ValueInfoProto| -> Option<usize> {
        let t = v.type_.as_ref()?.tensor_type();
        Some(t.shape.as_ref()?.dim.len())
    };
    if !g.input.iter().any(|i| rank(i) == Some(4)) {
        return Err(ModelError::BadInput("no 4-D image input".into()));
    }
    if g.output.is_empty() {
        return Err(ModelError::BadInput("no output".into()));
    }
    Ok(())
}

/// Whether a model runs int8 arithmetic: quantize/dequantize pairs (QDQ, as `scripts/quantize.py` writes), or
/// integer convolutions. Such a model is its own precision: `--precision fp32` cannot make it float.
pub fn is_quantized(bytes: &[u8]) -> Result<bool, ModelError> {
    let m = ModelProto::parse_from_bytes(bytes)?;
    let tagged = m.metadata_props.iter().any(|e| e.key == crate::meta::PRECISION && e.value == "int8");
    let nodes = m.graph.as_ref().map_or(&[][..], |g| &g.node[..]);
    Ok(tagged || nodes.iter().any(|n| matches!(n.op_type.as_str(), "QuantizeLinear" | "DequantizeLinear" | "QLinearConv" | "ConvInteger")))
}

/// Reads a model file written by [`johnson_to_onnx`] back: its spec (from the metadata), style
/// names, and its parameters by name (constants that are not parameters are left out).
pub fn read_johnson(bytes: &[u8]) -> Result<(JohnsonSpec, Vec<String>, Weights), ModelError> {
    let m = ModelProto::parse_from_bytes(bytes)?;
    let get = |k: &str| m.metadata_props.iter().find(|e| e.key == k).map(|e| e.value.as_str());
    let spec = spec_of(&m)?;
    let names = match get(crate::meta::STYLES) {
        Some(v) => crate::meta::parse_styles(v),
        None => vec![get(crate::meta::STYLE).unwrap_or("").to_string()],
    };
    let params = spec.params();
    let mut w = Weights::new();
    for t in &m.graph.initializer {
        let Some(p) = params.iter().find(|p| p.name == t.name) else { continue };
        if t.data_type != DataType::FLOAT as i32 {
            return Err(ModelError::BadInput(format!("{}: not float32", t.name)));
        }
        let values = f32_values(t);
        let a = ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&p.shape), values).map_err(|_| {
            ModelError::ShapeMismatch { name: p.name.clone(), expected: p.shape.clone(), got: t.dims.iter().map(|&d| d as usize).collect() }
        })?;
        w.insert(p.name.clone(), a);
    }
    check_weights(&spec, &w)?;
    Ok((spec, names, w))
}

/// The spec of a model file written by [`johnson_to_onnx`], from its metadata alone (its weights are not read).
pub fn read_spec(bytes: &[u8]) -> Result<JohnsonSpec, ModelError> {
    spec_of(&ModelProto::parse_from_bytes(bytes)?)
}

fn spec_of(m: &ModelProto) -> Result<JohnsonSpec, ModelError> {
    let json = m
        .metadata_props
        .iter()
        .find(|e| e.key == crate::meta::SPEC)
        .ok_or_else(|| ModelError::BadMetadata(format!("no {} (not written by stylize)", crate::meta::SPEC)))?;
    crate::meta::parse_spec(&json.value)
}

/// The graph of the Johnson net; mirrors [`crate::reference::forward`] line by line.
pub fn johnson_graph(spec: &JohnsonSpec, w: &Weights) -> Result<GraphProto, ModelError> {
    check_weights(spec, w)?;
    let mut g = GraphBuilder::new("johnson", w);
    let x = g.input(
        INPUT,
        &[
            Dim::Named("N"),
            Dim::Fixed(3),
            Dim::Named("H"),
            Dim::Named("W"),
        ],
    );

    if spec.styles > 1 {
        g.input(STYLE_WEIGHTS, &[Dim::Fixed(spec.styles)]);
    }

    let b = spec.block();
    let x = if b > 1 {
        g.space_to_depth(&x, "s2d", b)
    } else {
        x
    };

    // Encoder.
    let x = g.conv_layer(&x, "conv1", 1)?;
    let x = g.instance_norm(&x, "in1")?;
    let x = g.relu(&x, "relu1");
    let x = g.conv_layer(&x, "conv2", 2)?;
    let x = g.instance_norm(&x, "in2")?;
    let x = g.relu(&x, "relu2");
    let x = g.conv_layer(&x, "conv3", 2)?;
    let x = g.instance_norm(&x, "in3")?;
    let mut x = g.relu(&x, "relu3");

    // Residual blocks.
    for i in 1..=spec.res_blocks {
        x = residual_block(&mut g, &x, &format!("res{i}"))?;
    }

    // Decoder.
    let x = g.upsample2x(&x, "up1");
    let x = g.conv_layer(&x, "deconv1", 1)?;
    let x = g.instance_norm(&x, "in4")?;
    let x = g.relu(&x, "relu4");
    let x = g.upsample2x(&x, "up2");
    let x = g.conv_layer(&x, "deconv2", 1)?;
    let x = g.instance_norm(&x, "in5")?;
    let x = g.relu(&x, "relu5");
    let y = g.conv_layer(&x, "deconv3", 1)?;
    let y = if b > 1 {
        g.depth_to_space(&y, "d2s", b)
    } else {
        y
    };

    g.output(
        &y,
        OUTPUT,
        &[
            Dim::Named("N"),
            Dim::Fixed(3),
            Dim::Named("H_out"),
            Dim::Named("W_out"),
        ],
    );
    Ok(g.finish())
}

/// `ResidualBlock`: conv-norm-relu-conv-norm, plus the identity.
fn residual_block(g: &mut GraphBuilder, x: &str, name: &str) -> Result<String, ModelError> {
    let y = g.conv_layer(x, &format!("{name}.conv1"), 1)?;
    let y = g.instance_norm(&y, &format!("{name}.in1"))?;
    let y = g.relu(&y, &format!("{name}.relu"));
    let y = g.conv_layer(&y, &format!("{name}.conv2"), 1)?;
    let y = g.instance_norm(&y, &format!("{name}.in2"))?;
    Ok(g.add(x, &y, &format!("{name}.add")))
}

/// Wraps a graph into a model: IR version, opset, producer and `metadata_props`.
pub fn model_proto(graph: GraphProto, metadata: &[(String, String)]) -> ModelProto {
    let mut m = ModelProto::new();
    m.ir_version = IR_VERSION;
    m.producer_name = PRODUCER.to_string();
    m.producer_version = env!("CARGO_PKG_VERSION").to_string();
    let mut opset = OperatorSetIdProto::new();
    opset.domain = String::new();
    opset.version = OPSET;
    m.opset_import.push(opset);
    for (k, v) in metadata {
        let mut e = StringStringEntryProto::new();
        e.key = k.clone();
        e.value = v.clone();
        m.metadata_props.push(e);
    }
    m.graph = Some(graph).into();
    m
}

/// One dimension of a graph input or output.
#[derive(Clone, Copy, Debug)]
pub enum Dim<'a> {
    Fixed(usize),
    /// Symbolic, resolved at run time (`dim_param`).
    Named(&'a str),
}

/// Builds an ONNX graph node by node; values are referred to by their names.
///
/// Parameters are pulled from `weights` by name and become initializers the first time
/// they are used; layer helpers take the PyTorch module name (`conv1`, `in1`, ...).
pub struct GraphBuilder<'w> {
    weights: &'w Weights,
    graph: GraphProto,
    initializers: BTreeSet<String>,
}

impl<'w> GraphBuilder<'w> {
    pub fn new(name: &str, weights: &'w Weights) -> Self {
        let mut graph = GraphProto::new();
        graph.name = name.to_string();
        Self {
            weights,
            graph,
            initializers: BTreeSet::new(),
        }
    }

    /// Declares a float32 graph input; returns its value name.
    pub fn input(&mut self, name: &str, dims: &[Dim]) -> String {
        self.graph.input.push(value_info(name, dims));
        name.to_string()
    }

    /// Declares `value` a float32 graph output under `name`, renaming the value if needed.
    pub fn output(&mut self, value: &str, name: &str, dims: &[Dim]) {
        if value != name {
            self.rename(value, name);
        }
        self.graph.output.push(value_info(name, dims));
    }

    /// Adds the parameter `name` as an initializer (once) and returns its name.
    pub fn param(&mut self, name: &str) -> Result<String, ModelError> {
        if self.initializers.insert(name.to_string()) {
            let t = self
                .weights
                .get(name)
                .ok_or_else(|| ModelError::MissingParam(name.to_string()))?;
            let data: Vec<f32> = t.iter().copied().collect();
            self.graph
                .initializer
                .push(f32_tensor(name, t.shape(), &data));
        }
        Ok(name.to_string())
    }

    /// Shape of the parameter `name`.
    pub fn param_shape(&self, name: &str) -> Result<Vec<usize>, ModelError> {
        let t = self
            .weights
            .get(name)
            .ok_or_else(|| ModelError::MissingParam(name.to_string()))?;
        Ok(t.shape().to_vec())
    }

    /// Adds an int64 constant initializer (once per name) and returns its name.
    pub fn const_i64(&mut self, name: &str, values: &[i64]) -> String {
        if self.initializers.insert(name.to_string()) {
            let mut t = TensorProto::new();
            t.name = name.to_string();
            t.data_type = DataType::INT64 as i32;
            t.dims = vec![values.len() as i64];
            t.int64_data = values.to_vec();
            self.graph.initializer.push(t);
        }
        name.to_string()
    }

    /// Adds a float32 1-D constant initializer (once per name) and returns its name.
    pub fn const_f32(&mut self, name: &str, values: &[f32]) -> String {
        if self.initializers.insert(name.to_string()) {
            self.graph
                .initializer
                .push(f32_tensor(name, &[values.len()], values));
        }
        name.to_string()
    }

    /// Adds a single-output node; node and output value are both called `name`.
    /// An empty input name means "optional input left out".
    pub fn node(
        &mut self,
        op: &str,
        name: &str,
        inputs: &[&str],
        attrs: Vec<AttributeProto>,
    ) -> String {
        self.graph.node.push(make_node(op, name, inputs, name, attrs));
        name.to_string()
    }

    /// `ConvLayer`: reflection pad by k/2 then Conv with bias, weights `{name}.conv2d.*`.
    pub fn conv_layer(&mut self, x: &str, name: &str, stride: usize) -> Result<String, ModelError> {
        let weight = format!("{name}.conv2d.weight");
        let shape = self.param_shape(&weight)?;
        let (k_h, k_w) = (shape[2], shape[3]);
        let x = self.reflection_pad(x, &format!("{name}.pad"), k_h / 2, k_w / 2);
        let weight = self.param(&weight)?;
        let bias = self.param(&format!("{name}.conv2d.bias"))?;
        let attrs = vec![
            attr_ints("kernel_shape", &[k_h as i64, k_w as i64]),
            attr_ints("strides", &[stride as i64, stride as i64]),
        ];
        Ok(self.node(
            "Conv",
            &format!("{name}.conv2d"),
            &[&x, &weight, &bias],
            attrs,
        ))
    }

    /// Reflection pad of H by `ph` and W by `pw` (edge not repeated).
    pub fn reflection_pad(&mut self, x: &str, name: &str, ph: usize, pw: usize) -> String {
        if ph == 0 && pw == 0 {
            return x.to_string();
        }
        let (ph, pw) = (ph as i64, pw as i64);
        // ONNX pads: all begins (N, C, H, W) then all ends.
        let pads = self.const_i64(
            &format!("const.pads_{ph}_{pw}"),
            &[0, 0, ph, pw, 0, 0, ph, pw],
        );
        self.node(
            "Pad",
            name,
            &[x, &pads],
            vec![attr_string("mode", "reflect")],
        )
    }

    /// Affine instance norm with parameters `{name}.weight` and `{name}.bias`. Parameters
    /// with one row per style (conditional instance norm) are mixed by the graph input
    /// [`STYLE_WEIGHTS`] first: `[styles] x [styles, C] -> [C]`.
    pub fn instance_norm(&mut self, x: &str, name: &str) -> Result<String, ModelError> {
        let mut scale = self.param(&format!("{name}.weight"))?;
        let mut bias = self.param(&format!("{name}.bias"))?;
        if self.param_shape(&scale)?.len() == 2 {
            scale = self.node("MatMul", &format!("{name}.mix_weight"), &[STYLE_WEIGHTS, &scale], vec![]);
            bias = self.node("MatMul", &format!("{name}.mix_bias"), &[STYLE_WEIGHTS, &bias], vec![]);
        }
        let attrs = vec![attr_float("epsilon", INSTANCE_NORM_EPS as f32)];
        Ok(self.node("InstanceNormalization", name, &[x, &scale, &bias], attrs))
    }

    pub fn relu(&mut self, x: &str, name: &str) -> String {
        self.node("Relu", name, &[x], vec![])
    }

    pub fn add(&mut self, a: &str, b: &str, name: &str) -> String {
        self.node("Add", name, &[a, b], vec![])
    }

    /// Nearest x2 upsampling equal to PyTorch's `interpolate(scale_factor=2, mode="nearest")`.
    pub fn upsample2x(&mut self, x: &str, name: &str) -> String {
        let scales = self.const_f32("const.scales_x2", &[1.0, 1.0, 2.0, 2.0]);
        let attrs = vec![
            attr_string("mode", "nearest"),
            // out[i] = in[floor(i / 2)]: what PyTorch's legacy "nearest" does.
            attr_string("coordinate_transformation_mode", "asymmetric"),
            attr_string("nearest_mode", "floor"),
        ];
        // Inputs: X, roi (unused, left out), scales.
        self.node("Resize", name, &[x, "", &scales], attrs)
    }

    /// `SpaceToDepth`: `[N,C,H,W]` -> `[N,b*b*C,H/b,W/b]`, block row and column outermost.
    pub fn space_to_depth(&mut self, x: &str, name: &str, block: usize) -> String {
        let attrs = vec![attr_int("blocksize", block as i64)];
        self.node("SpaceToDepth", name, &[x], attrs)
    }

    /// `DepthToSpace` in DCR mode: the inverse of [`Self::space_to_depth`].
    pub fn depth_to_space(&mut self, x: &str, name: &str, block: usize) -> String {
        let attrs = vec![
            attr_int("blocksize", block as i64),
            attr_string("mode", "DCR"),
        ];
        self.node("DepthToSpace", name, &[x], attrs)
    }

    /// Renames a value everywhere it is produced or consumed.
    pub fn rename(&mut self, from: &str, to: &str) {
        for n in self.graph.node.iter_mut() {
            for v in n.input.iter_mut().chain(n.output.iter_mut()) {
                if v == from {
                    *v = to.to_string();
                }
            }
        }
    }

    pub fn finish(self) -> GraphProto {
        self.graph
    }
}

/// A single-output node of the default domain.
pub(crate) fn make_node(op: &str, name: &str, inputs: &[&str], output: &str, attrs: Vec<AttributeProto>) -> NodeProto {
    let mut n = NodeProto::new();
    n.op_type = op.to_string();
    n.name = name.to_string();
    n.input = inputs.iter().map(|s| s.to_string()).collect();
    n.output = vec![output.to_string()];
    n.attribute = attrs;
    n
}

/// The values of a float32 tensor stored in the file (raw little-endian bytes or `float_data`).
pub(crate) fn f32_values(t: &TensorProto) -> Vec<f32> {
    if t.raw_data.is_empty() {
        t.float_data.clone()
    } else {
        t.raw_data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
    }
}

pub(crate) fn f32_tensor(name: &str, shape: &[usize], data: &[f32]) -> TensorProto {
    let mut t = TensorProto::new();
    t.name = name.to_string();
    t.data_type = DataType::FLOAT as i32;
    t.dims = shape.iter().map(|&d| d as i64).collect();
    // raw_data is little-endian by the ONNX spec; more compact to parse than float_data.
    t.raw_data = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    t
}

fn value_info(name: &str, dims: &[Dim]) -> ValueInfoProto {
    let dims = dims
        .iter()
        .map(|d| {
            let mut dim = tensor_shape_proto::Dimension::new();
            dim.value = Some(match *d {
                Dim::Fixed(v) => tensor_shape_proto::dimension::Value::DimValue(v as i64),
                Dim::Named(s) => tensor_shape_proto::dimension::Value::DimParam(s.to_string()),
            });
            dim
        })
        .collect();
    tensor_value(name, DataType::FLOAT, dims)
}

/// A graph input/output/value_info entry: a tensor of `ty` with these dimensions.
pub(crate) fn tensor_value(name: &str, ty: DataType, dims: Vec<tensor_shape_proto::Dimension>) -> ValueInfoProto {
    let mut shape = TensorShapeProto::new();
    shape.dim = dims;
    let mut tensor = type_proto::Tensor::new();
    tensor.elem_type = ty as i32;
    tensor.shape = Some(shape).into();
    let mut ty = TypeProto::new();
    ty.value = Some(type_proto::Value::TensorType(tensor));
    let mut v = ValueInfoProto::new();
    v.name = name.to_string();
    v.type_ = Some(ty).into();
    v
}

fn attr(name: &str, ty: AttributeType) -> AttributeProto {
    let mut a = AttributeProto::new();
    a.name = name.to_string();
    a.type_ = ty.into();
    a
}

pub fn attr_ints(name: &str, v: &[i64]) -> AttributeProto {
    let mut a = attr(name, AttributeType::INTS);
    a.ints = v.to_vec();
    a
}

pub fn attr_int(name: &str, v: i64) -> AttributeProto {
    let mut a = attr(name, AttributeType::INT);
    a.i = v;
    a
}

pub fn attr_float(name: &str, v: f32) -> AttributeProto {
    let mut a = attr(name, AttributeType::FLOAT);
    a.f = v;
    a
}

pub fn attr_string(name: &str, v: &str) -> AttributeProto {
    let mut a = attr(name, AttributeType::STRING);
    a.s = v.as_bytes().to_vec();
    a
}

/// The element type of a tensor value, if it is one.
pub(crate) fn elem_type(v: &onnx_protobuf::ValueInfoProto) -> Option<i32> {
    match &v.type_.as_ref()?.value {
        Some(onnx_protobuf::type_proto::Value::TensorType(t)) => Some(t.elem_type),
        _ => None,
    }
}


#[cfg(test)]
mod tests {
    use super::*;
    use crate::{meta, random_weights};

    fn dims(v: &ValueInfoProto) -> Vec<String> {
        v.type_
            .tensor_type()
            .shape
            .dim
            .iter()
            .map(|d| match &d.value {
                Some(tensor_shape_proto::dimension::Value::DimValue(x)) => x.to_string(),
                Some(tensor_shape_proto::dimension::Value::DimParam(s)) => s.clone(),
                _ => "?".into(),
            })
            .collect()
    }

    #[test]
    fn written_model_parses_back() {
        let spec = JohnsonSpec::half();
        let w = random_weights(&spec, 11);
        let bytes = johnson_to_onnx(&spec, &w, &meta::standard(&spec, "test")).unwrap();
        let m = ModelProto::parse_from_bytes(&bytes).unwrap();

        assert_eq!(m.ir_version, IR_VERSION);
        assert_eq!(m.producer_name, "stylize");
        assert_eq!(m.opset_import.len(), 1);
        assert_eq!(m.opset_import[0].version, OPSET);
        let md: Vec<(String, String)> = m
            .metadata_props
            .iter()
            .map(|e| (e.key.clone(), e.value.clone()))
            .collect();
        assert_eq!(md, meta::standard(&spec, "test"));

        let g = m.graph.as_ref().unwrap();
        assert_eq!(g.input.len(), 1);
        assert_eq!(g.input[0].name, INPUT);
        assert_eq!(dims(&g.input[0]), ["N", "3", "H", "W"]);
        assert_eq!(g.output.len(), 1);
        assert_eq!(g.output[0].name, OUTPUT);
        assert_eq!(g.node.last().unwrap().output, [OUTPUT]);

        // Every parameter is an initializer with its name, shape and values; plus 3 constants.
        let params = spec.params();
        assert_eq!(g.initializer.len(), params.len() + 3);
        for p in &params {
            let t = g
                .initializer
                .iter()
                .find(|t| t.name == p.name)
                .unwrap_or_else(|| panic!("{}", p.name));
            let shape: Vec<usize> = t.dims.iter().map(|&d| d as usize).collect();
            assert_eq!(shape, p.shape, "{}", p.name);
            let first = f32::from_le_bytes(t.raw_data[..4].try_into().unwrap());
            assert_eq!(first, *w[&p.name].iter().next().unwrap());
        }

        let count = |op: &str| g.node.iter().filter(|n| n.op_type == op).count();
        assert_eq!(count("Conv"), 16);
        assert_eq!(count("Pad"), 16);
        assert_eq!(count("InstanceNormalization"), 15);
        assert_eq!(count("Relu"), 10);
        assert_eq!(count("Add"), 5);
        assert_eq!(count("Resize"), 2);
        assert_eq!(count("SpaceToDepth") + count("DepthToSpace"), 0);
    }

    #[test]
    fn models_read_back() {
        let spec = JohnsonSpec::lite().with_styles(2);
        let w = random_weights(&spec, 3);
        let names = vec!["a".to_string(), "b".to_string()];
        let bytes = johnson_to_onnx(&spec, &w, &meta::standard_multi(&spec, &names)).unwrap();
        let (spec2, names2, w2) = read_johnson(&bytes).unwrap();
        assert_eq!((spec2, names2), (spec.clone(), names));
        assert_eq!(w2, w);
        let g = ModelProto::parse_from_bytes(&bytes).unwrap().graph.unwrap();
        assert_eq!(g.input[1].name, STYLE_WEIGHTS);
        assert_eq!(dims(&g.input[1]), ["2"]);
        assert_eq!(g.node.iter().filter(|n| n.op_type == "MatMul").count(), 2 * 11);
        let single = JohnsonSpec::half();
        let bytes = johnson_to_onnx(&single, &random_weights(&single, 1), &meta::standard(&single, "x")).unwrap();
        assert_eq!(read_johnson(&bytes).unwrap().1, ["x"]);
        assert!(read_johnson(b"not onnx").is_err());
    }

    #[test]
    fn lite_is_wrapped_in_space_to_depth() {
        let spec = JohnsonSpec::lite();
        let w = random_weights(&spec, 11);
        let bytes = johnson_to_onnx(&spec, &w, &meta::standard(&spec, "test")).unwrap();
        let m = ModelProto::parse_from_bytes(&bytes).unwrap();
        let g = m.graph.as_ref().unwrap();
        assert_eq!(dims(&g.input[0]), ["N", "3", "H", "W"]);
        assert_eq!(dims(&g.output[0]), ["N", "3", "H_out", "W_out"]);
        let first = g.node.first().unwrap();
        assert_eq!(first.op_type, "SpaceToDepth");
        assert_eq!(first.input, [INPUT]);
        let last = g.node.last().unwrap();
        assert_eq!(last.op_type, "DepthToSpace");
        assert_eq!(last.output, [OUTPUT]);
        let attr = |n: &NodeProto, k: &str| n.attribute.iter().find(|a| a.name == k).cloned();
        assert_eq!(attr(first, "blocksize").unwrap().i, 2);
        assert_eq!(attr(last, "blocksize").unwrap().i, 2);
        assert_eq!(attr(last, "mode").unwrap().s, b"DCR");
        let count = |op: &str| g.node.iter().filter(|n| n.op_type == op).count();
        assert_eq!(count("Conv"), 12);
        assert_eq!(count("Add"), 3);
    }

    #[test]
    fn rejects_bad_weights() {
        let spec = JohnsonSpec::half();
        let mut w = random_weights(&spec, 11);
        w.remove("in4.weight");
        let e = johnson_to_onnx(&spec, &w, &[]).unwrap_err();
        assert!(e.to_string().contains("in4.weight"), "{e}");
    }
}
