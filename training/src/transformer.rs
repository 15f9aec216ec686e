//! The Johnson et al. (2016) transformer network in tch, laid out exactly like pytorch/examples
//! `fast_neural_style` `TransformerNet`, so that the `VarStore` names are the parameter names
//! of `stylize_model::JohnsonSpec::params()` (`conv1.conv2d.weight`, `in1.weight`, ...) and the
//! ONNX export is by name. Space-to-depth specs wrap the body in ONNX `SpaceToDepth` /
//! `DepthToSpace` (DCR), written out as reshapes and permutes so all three implementations agree.

use anyhow::{bail, Result};
use stylize_model::JohnsonSpec;
use tch::{nn, Kind, Tensor};

use crate::mixed::Compute;

/// Instance-norm epsilon (PyTorch `InstanceNorm2d` default, as in the reference forward pass).
pub const EPS: f64 = 1e-5;

/// `ConvLayer`: reflection pad by k/2, then a conv with bias (optionally after nearest x2
/// upsampling: the decoder's `UpsampleConvLayer`).
#[derive(Debug)]
struct ConvLayer {
    weight: Tensor,
    bias: Tensor,
    stride: i64,
    pad: i64,
    upsample: bool,
}

impl ConvLayer {
    fn new(p: nn::Path, c_in: usize, c_out: usize, k: usize, stride: i64, upsample: bool) -> Self {
        let p = p / "conv2d";
        let (c_in, c_out, k) = (c_in as i64, c_out as i64, k as i64);
        // PyTorch's default Conv2d init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias.
        let bound = 1.0 / ((c_in * k * k) as f64).sqrt();
        let weight = p.uniform("weight", &[c_out, c_in, k, k], -bound, bound);
        let bias = p.uniform("bias", &[c_out], -bound, bound);
        Self { weight, bias, stride, pad: k / 2, upsample }
    }

    /// The output is in `c`'s precision (the norms after it go back to fp32).
    fn forward(&self, x: &Tensor, c: Compute) -> Tensor {
        let mut x = c.cast(x);
        if self.upsample {
            let (_, _, h, w) = x.size4().expect("NCHW input");
            x = x.upsample_nearest2d([2 * h, 2 * w], 2.0, 2.0);
        }
        let p = self.pad;
        x.reflection_pad2d([p, p, p, p]).conv2d(&c.cast(&self.weight), Some(&self.bias.to_kind(c.kind)), [self.stride, self.stride], [0, 0], [1, 1], 1)
    }
}

/// `InstanceNorm2d(affine=True)`; in a multi-style net a conditional instance norm (Dumoulin
/// et al. 2017) with one scale and shift row per style, mixed by the style weights.
#[derive(Debug)]
struct Norm {
    /// `[C]`, or `[styles, C]`.
    weight: Tensor,
    bias: Tensor,
}

impl Norm {
    fn new(p: nn::Path, spec: &JohnsonSpec, c: usize) -> Self {
        let shape: Vec<i64> = spec.norm_shape(c).iter().map(|&d| d as i64).collect();
        Self { weight: p.ones("weight", &shape), bias: p.zeros("bias", &shape) }
    }

    /// `mix`: `[1 or B, styles]` style weights (multi-style nets only).
    /// Always in fp32, whatever the convolution before it computed in.
    fn forward(&self, x: &Tensor, mix: Option<&Tensor>) -> Tensor {
        let x = &x.to_kind(Kind::Float);
        match mix {
            Some(mix) if self.weight.dim() == 2 => {
                let c = self.weight.size()[1];
                let y = x.instance_norm(None::<Tensor>, None::<Tensor>, None::<Tensor>, None::<Tensor>, true, 0.1, EPS, true);
                y * mix.matmul(&self.weight).view([-1, c, 1, 1]) + mix.matmul(&self.bias).view([-1, c, 1, 1])
            }
            _ => x.instance_norm(Some(&self.weight), Some(&self.bias), None, None, true, 0.1, EPS, true),
        }
    }
}

/// `ResidualBlock`: relu(in1(conv1 x)) -> in2(conv2 .) + x.
#[derive(Debug)]
struct Residual {
    conv1: ConvLayer,
    in1: Norm,
    conv2: ConvLayer,
    in2: Norm,
}

/// The transformer net; input and output NCHW RGB on the 0..255 scale (output unclamped).
#[derive(Debug)]
pub struct Transformer {
    conv1: ConvLayer,
    in1: Norm,
    conv2: ConvLayer,
    in2: Norm,
    conv3: ConvLayer,
    in3: Norm,
    res: Vec<Residual>,
    deconv1: ConvLayer,
    in4: Norm,
    deconv2: ConvLayer,
    in5: Norm,
    deconv3: ConvLayer,
    /// Space-to-depth block side; 1 when the spec has none.
    block: i64,
    /// Styles of a conditional-instance-norm net; 1 for a plain one.
    pub styles: usize,
    /// Precision and layout of the convolutions (fp32 NCHW unless set).
    pub compute: Compute,
}

impl Transformer {
    /// Creates the parameters under `p` (use the VarStore root so names match the spec).
    pub fn new(p: &nn::Path, spec: &JohnsonSpec) -> Result<Self> {
        spec.validate()?;
        let [w0, w1, w2] = spec.widths;
        let k = spec.end_kernel;
        let io = spec.body_channels();
        let res = (1..=spec.res_blocks)
            .map(|i| {
                let r = p / format!("res{i}");
                Residual {
                    conv1: ConvLayer::new(&r / "conv1", w2, w2, 3, 1, false),
                    in1: Norm::new(&r / "in1", spec, w2),
                    conv2: ConvLayer::new(&r / "conv2", w2, w2, 3, 1, false),
                    in2: Norm::new(&r / "in2", spec, w2),
                }
            })
            .collect();
        let net = Self {
            conv1: ConvLayer::new(p / "conv1", io, w0, k, 1, false),
            in1: Norm::new(p / "in1", spec, w0),
            conv2: ConvLayer::new(p / "conv2", w0, w1, 3, 2, false),
            in2: Norm::new(p / "in2", spec, w1),
            conv3: ConvLayer::new(p / "conv3", w1, w2, 3, 2, false),
            in3: Norm::new(p / "in3", spec, w2),
            res,
            deconv1: ConvLayer::new(p / "deconv1", w2, w1, 3, 1, true),
            in4: Norm::new(p / "in4", spec, w1),
            deconv2: ConvLayer::new(p / "deconv2", w1, w0, 3, 1, true),
            in5: Norm::new(p / "in5", spec, w0),
            deconv3: ConvLayer::new(p / "deconv3", w0, io, k, 1, false),
            block: spec.block() as i64,
            styles: spec.styles,
            compute: Compute::default(),
        };
        Ok(net)
    }

    /// Input sides must be multiples of the spec's `block()` (2 for space-to-depth specs).
    /// A multi-style net runs an even mix of its styles.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        if self.styles > 1 {
            let even = Tensor::full([1, self.styles as i64], 1.0 / self.styles as f64, (tch::Kind::Float, x.device()));
            return self.forward_mix(x, Some(&even));
        }
        self.forward_mix(x, None)
    }

    /// One style of a multi-style net (index into its styles).
    pub fn forward_style(&self, x: &Tensor, style: usize) -> Tensor {
        if self.styles == 1 {
            return self.forward_mix(x, None);
        }
        let mix = one_hot(style, self.styles, x.device());
        self.forward_mix(x, Some(&mix))
    }

    /// `mix`: `[1 or B, styles]` style weights of a multi-style net (ignored by a plain one).
    pub fn forward_mix(&self, x: &Tensor, mix: Option<&Tensor>) -> Tensor {
        let b = self.block;
        let s2d;
        let x = if b > 1 {
            s2d = space_to_depth(x, b);
            &s2d
        } else {
            x
        };
        let c = self.compute;
        let y = self.in1.forward(&self.conv1.forward(x, c), mix).relu();
        let y = self.in2.forward(&self.conv2.forward(&y, c), mix).relu();
        let mut y = self.in3.forward(&self.conv3.forward(&y, c), mix).relu();
        for r in &self.res {
            let z = r.in1.forward(&r.conv1.forward(&y, c), mix).relu();
            y = r.in2.forward(&r.conv2.forward(&z, c), mix) + y;
        }
        let y = self.in4.forward(&self.deconv1.forward(&y, c), mix).relu();
        let y = self.in5.forward(&self.deconv2.forward(&y, c), mix).relu();
        let y = self.deconv3.forward(&y, c).to_kind(Kind::Float);
        if b > 1 {
            depth_to_space(&y, b)
        } else {
            y
        }
    }
}

/// `[1, n]` with a 1 at `i`.
pub fn one_hot(i: usize, n: usize, device: tch::Device) -> Tensor {
    let mut v = vec![0f32; n];
    v[i] = 1.0;
    Tensor::from_slice(&v).view([1, n as i64]).to_device(device)
}

/// Sets the parameters from trained models (`stylize_model::onnx::read_johnson`): tensors of
/// the same shape come from the first; a multi-style norm's row `i` comes from model `i` (the
/// first when there are fewer). So a multi-style net starts from single-style nets.
pub fn init_from(vs: &nn::VarStore, spec: &JohnsonSpec, models: &[stylize_model::Weights]) -> Result<()> {
    let Some(first) = models.first() else { return Ok(()) };
    let vars = vs.variables();
    tch::no_grad(|| -> Result<()> {
        for p in spec.params() {
            let mut t = vars[&p.name].shallow_clone();
            let Some(src) = first.get(&p.name) else { bail!("the --init model lacks {}", p.name) };
            if src.shape() == p.shape.as_slice() {
                t.copy_(&crate::io::from_array(src, t.device()));
            } else if p.shape.len() == 2 && src.shape() == &p.shape[1..] {
                for row in 0..p.shape[0] {
                    let src = models.get(row).unwrap_or(first).get(&p.name).filter(|s| s.shape() == src.shape());
                    let Some(src) = src else { bail!("--init model {row} lacks {} of shape {:?}", p.name, &p.shape[1..]) };
                    t.get(row as i64).copy_(&crate::io::from_array(src, t.device()));
                }
            } else {
                bail!("--init: {} has shape {:?}, this network {:?}", p.name, src.shape(), p.shape);
            }
        }
        Ok(())
    })
}

/// ONNX `SpaceToDepth`: `[N,C,H,W]` -> `[N,C,H/b,b,W/b,b]` -> permute `[0,3,5,1,2,4]` ->
/// `[N,b*b*C,H/b,W/b]`. (`pixel_unshuffle` orders channels differently: C outermost.)
pub fn space_to_depth(x: &Tensor, b: i64) -> Tensor {
    let (n, c, h, w) = x.size4().expect("NCHW input");
    x.reshape([n, c, h / b, b, w / b, b]).permute([0, 3, 5, 1, 2, 4]).reshape([n, c * b * b, h / b, w / b])
}

/// ONNX `DepthToSpace`, mode DCR (the inverse of [`space_to_depth`]): `[N,C,H,W]` ->
/// `[N,b,b,C/b²,H,W]` -> permute `[0,3,4,1,5,2]` -> `[N,C/b²,H*b,W*b]`.
pub fn depth_to_space(x: &Tensor, b: i64) -> Tensor {
    let (n, c, h, w) = x.size4().expect("NCHW input");
    x.reshape([n, b, b, c / (b * b), h, w]).permute([0, 3, 4, 1, 5, 2]).reshape([n, c / (b * b), h * b, w * b])
}

/// Checks that a VarStore holds exactly the spec's parameters, with the spec's shapes.
pub fn check_names(vs: &nn::VarStore, spec: &JohnsonSpec) -> Result<()> {
    let vars = vs.variables();
    let params = spec.params();
    for p in &params {
        let Some(t) = vars.get(&p.name) else { bail!("transformer lacks parameter {}", p.name) };
        let shape: Vec<usize> = t.size().iter().map(|&d| d as usize).collect();
        if shape != p.shape {
            bail!("parameter {} has shape {shape:?}, spec says {:?}", p.name, p.shape);
        }
    }
    if vars.len() != params.len() {
        bail!("transformer has {} parameters, spec has {}", vars.len(), params.len());
    }
    Ok(())
}
