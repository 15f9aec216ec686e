//! Reference forward pass in plain ndarray: slow, simple, and the ground truth that the
//! ONNX export and the trainer are checked against.

use ndarray::{s, Array2, Array4, ArrayD, ArrayView4, Ix1, Ix4, IxDyn};

use crate::{check_weights, JohnsonSpec, ModelError, Weights};

/// PyTorch `nn.InstanceNorm2d` default epsilon.
pub const INSTANCE_NORM_EPS: f64 = 1e-5;

/// Runs the network on an NCHW RGB batch on the 0..255 scale; output is unclamped.
///
/// Output sides are [`JohnsonSpec::output_size`]: `4 * ceil(ceil(side / 2) / 2)` as in
/// PyTorch, in blocks of 2 for space-to-depth nets (whose input sides must be even).
pub fn forward(
    spec: &JohnsonSpec,
    w: &Weights,
    input: ArrayView4<f32>,
) -> Result<Array4<f32>, ModelError> {
    check_weights(spec, w)?;
    let (_, c, h, wd) = input.dim();
    if c != 3 {
        return Err(ModelError::BadInput(format!(
            "expected 3 channels (RGB), got {c}"
        )));
    }
    if h.min(wd) < spec.min_size() {
        return Err(ModelError::BadInput(format!(
            "image {wd}x{h} too small, sides must be >= {}",
            spec.min_size()
        )));
    }
    let b = spec.block();
    if h % b != 0 || wd % b != 0 {
        return Err(ModelError::BadInput(format!(
            "image {wd}x{h}: sides must be multiples of the space-to-depth block {b}"
        )));
    }
    let x = input.as_standard_layout().into_owned();
    let x = if b > 1 { space_to_depth(&x, b) } else { x };

    // Encoder: full resolution, then two stride-2 downsamplings.
    let x = relu(instance_norm(conv_layer(&x, w, "conv1", 1)?, w, "in1")?);
    let x = relu(instance_norm(conv_layer(&x, w, "conv2", 2)?, w, "in2")?);
    let mut x = relu(instance_norm(conv_layer(&x, w, "conv3", 2)?, w, "in3")?);

    // Residual blocks at quarter resolution.
    for i in 1..=spec.res_blocks {
        x = residual_block(x, w, &format!("res{i}"))?;
    }

    // Decoder: nearest upsample then conv (avoids transposed-conv checkerboards).
    let x = relu(instance_norm(
        conv_layer(&upsample2x(&x), w, "deconv1", 1)?,
        w,
        "in4",
    )?);
    let x = relu(instance_norm(
        conv_layer(&upsample2x(&x), w, "deconv2", 1)?,
        w,
        "in5",
    )?);
    let y = conv_layer(&x, w, "deconv3", 1)?;
    Ok(if b > 1 { depth_to_space(&y, b) } else { y })
}

/// ONNX `SpaceToDepth`: each `b` x `b` block becomes `b * b` channels, block row and column
/// outermost: `[N,C,H,W]` -> `[N,C,H/b,b,W/b,b]` -> permute `[0,3,5,1,2,4]` -> `[N,b*b*C,H/b,W/b]`.
fn space_to_depth(x: &Array4<f32>, b: usize) -> Array4<f32> {
    let (n, c, h, w) = x.dim();
    let x = x.as_standard_layout();
    let blocks = x
        .view()
        .into_shape_with_order(IxDyn(&[n, c, h / b, b, w / b, b]))
        .expect("standard layout, sides divisible by b")
        .permuted_axes(IxDyn(&[0, 3, 5, 1, 2, 4]));
    blocks
        .as_standard_layout()
        .into_owned()
        .into_shape_with_order((n, c * b * b, h / b, w / b))
        .expect("standard layout")
}

/// ONNX `DepthToSpace`, mode DCR, the inverse of [`space_to_depth`]: `[N,C,H,W]` ->
/// `[N,b,b,C/b²,H,W]` -> permute `[0,3,4,1,5,2]` -> `[N,C/b²,H*b,W*b]`.
fn depth_to_space(x: &Array4<f32>, b: usize) -> Array4<f32> {
    let (n, c, h, w) = x.dim();
    let x = x.as_standard_layout();
    let blocks = x
        .view()
        .into_shape_with_order(IxDyn(&[n, b, b, c / (b * b), h, w]))
        .expect("standard layout, channels divisible by b*b")
        .permuted_axes(IxDyn(&[0, 3, 4, 1, 5, 2]));
    blocks
        .as_standard_layout()
        .into_owned()
        .into_shape_with_order((n, c / (b * b), h * b, w * b))
        .expect("standard layout")
}

/// `ResidualBlock`: conv-norm-relu-conv-norm, plus the identity.
fn residual_block(x: Array4<f32>, w: &Weights, name: &str) -> Result<Array4<f32>, ModelError> {
    let y = relu(instance_norm(
        conv_layer(&x, w, &format!("{name}.conv1"), 1)?,
        w,
        &format!("{name}.in1"),
    )?);
    let y = instance_norm(
        conv_layer(&y, w, &format!("{name}.conv2"), 1)?,
        w,
        &format!("{name}.in2"),
    )?;
    Ok(x + y)
}

/// `ConvLayer`: reflection pad by k/2, then a strided conv with bias.
fn conv_layer(
    x: &Array4<f32>,
    w: &Weights,
    name: &str,
    stride: usize,
) -> Result<Array4<f32>, ModelError> {
    let weight = param4(w, &format!("{name}.conv2d.weight"))?;
    let bias = param1(w, &format!("{name}.conv2d.bias"))?;
    let k = weight.dim().2;
    let x = reflection_pad(x, k / 2)?;
    Ok(conv2d(&x, &weight, &bias, stride))
}

/// Affine instance norm: per image and channel, normalise over H x W with biased variance.
fn instance_norm(mut x: Array4<f32>, w: &Weights, name: &str) -> Result<Array4<f32>, ModelError> {
    let gamma = param1(w, &format!("{name}.weight"))?;
    let beta = param1(w, &format!("{name}.bias"))?;
    let (n, c, _, _) = x.dim();
    for i in 0..n {
        for ch in 0..c {
            let mut plane = x.slice_mut(s![i, ch, .., ..]);
            // f64 statistics: the reference should be the more accurate side of any comparison.
            let len = plane.len() as f64;
            let mean = plane.iter().map(|&v| v as f64).sum::<f64>() / len;
            let var = plane
                .iter()
                .map(|&v| (v as f64 - mean).powi(2))
                .sum::<f64>()
                / len;
            let scale = gamma[ch] as f64 / (var + INSTANCE_NORM_EPS).sqrt();
            let shift = beta[ch] as f64 - mean * scale;
            plane.mapv_inplace(|v| (v as f64 * scale + shift) as f32);
        }
    }
    Ok(x)
}

fn relu(x: Array4<f32>) -> Array4<f32> {
    x.mapv_into(|v| v.max(0.0))
}

/// Nearest-neighbour x2 upsampling: out[y][x] = in[y / 2][x / 2].
fn upsample2x(x: &Array4<f32>) -> Array4<f32> {
    let (n, c, h, w) = x.dim();
    Array4::from_shape_fn((n, c, 2 * h, 2 * w), |(i, ch, y, xx)| {
        x[[i, ch, y / 2, xx / 2]]
    })
}

/// Reflection pad of H and W by `p` (edge not repeated), like `nn.ReflectionPad2d`.
fn reflection_pad(x: &Array4<f32>, p: usize) -> Result<Array4<f32>, ModelError> {
    let (n, c, h, w) = x.dim();
    if p >= h || p >= w {
        return Err(ModelError::BadInput(format!(
            "reflection pad {p} needs sides > {p}, feature map is {w}x{h}"
        )));
    }
    let reflect = |i: usize, len: usize| -> usize {
        // i indexes the padded axis; map back into 0..len.
        let j = i as isize - p as isize;
        let j = if j < 0 { -j } else { j };
        let j = if j >= len as isize {
            2 * (len as isize - 1) - j
        } else {
            j
        };
        j as usize
    };
    Ok(Array4::from_shape_fn(
        (n, c, h + 2 * p, w + 2 * p),
        |(i, ch, y, xx)| x[[i, ch, reflect(y, h), reflect(xx, w)]],
    ))
}

/// Valid (unpadded) strided conv with bias, via im2col and one matrix product per image.
fn conv2d(
    x: &Array4<f32>,
    weight: &Array4<f32>,
    bias: &ndarray::Array1<f32>,
    stride: usize,
) -> Array4<f32> {
    let (n, c_in, h, w) = x.dim();
    let (c_out, _, k, _) = weight.dim();
    let ho = (h - k) / stride + 1;
    let wo = (w - k) / stride + 1;
    let w2 = weight
        .as_standard_layout()
        .into_owned()
        .into_shape_with_order((c_out, c_in * k * k))
        .expect("weight is contiguous");
    let mut out = Array4::<f32>::zeros((n, c_out, ho, wo));
    for i in 0..n {
        let img = x.slice(s![i, .., .., ..]);
        let img = img.as_standard_layout();
        let src = img.as_slice().expect("standard layout");
        // cols[(ci, ky, kx), (oy, ox)] = img[ci, oy*stride + ky, ox*stride + kx]
        let mut cols = Array2::<f32>::zeros((c_in * k * k, ho * wo));
        let dst = cols.as_slice_mut().expect("fresh array");
        for ci in 0..c_in {
            for ky in 0..k {
                for kx in 0..k {
                    let row = ((ci * k + ky) * k + kx) * ho * wo;
                    for oy in 0..ho {
                        let src_row = (ci * h + oy * stride + ky) * w + kx;
                        let dst_row = &mut dst[row + oy * wo..row + (oy + 1) * wo];
                        for (ox, d) in dst_row.iter_mut().enumerate() {
                            *d = src[src_row + ox * stride];
                        }
                    }
                }
            }
        }
        let y = w2.dot(&cols) + bias.view().insert_axis(ndarray::Axis(1));
        out.slice_mut(s![i, .., .., ..]).assign(
            &y.into_shape_with_order((c_out, ho, wo))
                .expect("contiguous product"),
        );
    }
    out
}

fn param<'a>(w: &'a Weights, name: &str) -> Result<&'a ArrayD<f32>, ModelError> {
    w.get(name)
        .ok_or_else(|| ModelError::MissingParam(name.to_string()))
}

fn param1(w: &Weights, name: &str) -> Result<ndarray::Array1<f32>, ModelError> {
    let t = param(w, name)?;
    t.clone()
        .into_dimensionality::<Ix1>()
        .map_err(|_| shape_err(name, t))
}

fn param4(w: &Weights, name: &str) -> Result<Array4<f32>, ModelError> {
    let t = param(w, name)?;
    t.clone()
        .into_dimensionality::<Ix4>()
        .map_err(|_| shape_err(name, t))
}

fn shape_err(name: &str, t: &ArrayD<f32>) -> ModelError {
    ModelError::BadInput(format!(
        "tensor `{name}` has rank {}, shape {:?}",
        t.ndim(),
        t.shape()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random_weights;
    use ndarray::{array, Array};

    fn image(n: usize, h: usize, w: usize, seed: u64) -> Array4<f32> {
        let mut rng = crate::weights::SplitMix64::new(seed);
        Array::from_shape_fn((n, 3, h, w), |_| (rng.uniform() * 255.0) as f32)
    }

    #[test]
    fn output_shape_follows_pytorch() {
        let spec = JohnsonSpec::half();
        let w = random_weights(&spec, 3);
        for (h, wd) in [(5, 6), (16, 12), (13, 21)] {
            let y = forward(&spec, &w, image(2, h, wd, 1).view()).unwrap();
            assert_eq!(y.dim(), (2, 3, spec.output_size(h), spec.output_size(wd)));
        }
        assert!(forward(&spec, &w, image(1, 4, 9, 1).view()).is_err());
    }

    #[test]
    fn lite_output_shape_and_even_sides() {
        let spec = JohnsonSpec::lite();
        let w = random_weights(&spec, 3);
        for (h, wd) in [(10, 10), (16, 12), (14, 42)] {
            let y = forward(&spec, &w, image(1, h, wd, 1).view()).unwrap();
            assert_eq!(y.dim(), (1, 3, spec.output_size(h), spec.output_size(wd)));
        }
        // Odd sides cannot be cut into 2x2 blocks; 8 is below the minimum of 10.
        assert!(forward(&spec, &w, image(1, 16, 13, 1).view()).is_err());
        assert!(forward(&spec, &w, image(1, 8, 16, 1).view()).is_err());
    }

    #[test]
    fn space_to_depth_follows_onnx() {
        // x[0, c, y, x] = 100c + 10y + x, 2 channels, 2x4.
        let x = Array::from_shape_fn((1, 2, 2, 4), |(_, c, y, xx)| (100 * c + 10 * y + xx) as f32);
        let d = space_to_depth(&x, 2);
        assert_eq!(d.dim(), (1, 8, 1, 2));
        // Output channel (by * 2 + bx) * C + c holds x[c, 2i + by, 2j + bx] (numpy reference
        // of the ONNX operator).
        for by in 0..2 {
            for bx in 0..2 {
                for c in 0..2 {
                    for j in 0..2 {
                        let got = d[[0, (by * 2 + bx) * 2 + c, 0, j]];
                        assert_eq!(
                            got,
                            x[[0, c, by, 2 * j + bx]],
                            "by {by} bx {bx} c {c} j {j}"
                        );
                    }
                }
            }
        }
        // DCR depth-to-space undoes it exactly.
        let x = image(2, 6, 10, 4);
        assert_eq!(depth_to_space(&space_to_depth(&x, 2), 2), x);
    }

    #[test]
    fn output_is_a_nontrivial_image() {
        let spec = JohnsonSpec::half();
        let w = random_weights(&spec, 5);
        let x = image(1, 16, 20, 2);
        let y = forward(&spec, &w, x.view()).unwrap();
        let (lo, hi) = y
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        assert!(hi - lo > 10.0, "range {lo}..{hi}");
        let mean = y.mean().unwrap();
        assert!((20.0..235.0).contains(&mean), "mean {mean}");
        assert!((&y - &x).mapv(f32::abs).mean().unwrap() > 1.0);
    }

    #[test]
    fn batch_items_are_independent() {
        let spec = JohnsonSpec::half();
        let w = random_weights(&spec, 5);
        let x = image(2, 8, 8, 9);
        let both = forward(&spec, &w, x.view()).unwrap();
        let second = forward(&spec, &w, x.slice(s![1..2, .., .., ..])).unwrap();
        let d = (&both.slice(s![1..2, .., .., ..]) - &second).mapv(f32::abs);
        assert!(d.iter().all(|&v| v < 1e-4));
    }

    #[test]
    fn reflection_pad_matches_pytorch() {
        let x = array![[1.0f32, 2.0, 3.0], [2.0, 4.0, 6.0]]
            .into_shape_with_order((1, 1, 2, 3))
            .unwrap();
        let y = reflection_pad(&x, 1).unwrap();
        // torch.nn.ReflectionPad2d(1) of [[1,2,3],[2,4,6]]
        let want = array![
            [4.0f32, 2.0, 4.0, 6.0, 4.0],
            [2.0, 1.0, 2.0, 3.0, 2.0],
            [4.0, 2.0, 4.0, 6.0, 4.0],
            [2.0, 1.0, 2.0, 3.0, 2.0]
        ];
        assert_eq!(y.slice(s![0, 0, .., ..]), want);
    }

    #[test]
    fn conv2d_matches_direct_sum() {
        let x = Array::from_shape_fn((1, 2, 5, 6), |(_, c, y, x)| {
            (c * 31 + y * 7 + x) as f32 * 0.1
        });
        let wt = Array::from_shape_fn((3, 2, 3, 3), |(o, c, y, x)| {
            (o + 2 * c) as f32 - (y * 3 + x) as f32 * 0.5
        });
        let b = array![0.5f32, -1.0, 2.0];
        let y = conv2d(&x, &wt, &b, 2);
        assert_eq!(y.dim(), (1, 3, 2, 2));
        for o in 0..3 {
            for oy in 0..2 {
                for ox in 0..2 {
                    let mut acc = b[o];
                    for c in 0..2 {
                        for ky in 0..3 {
                            for kx in 0..3 {
                                acc += wt[[o, c, ky, kx]] * x[[0, c, oy * 2 + ky, ox * 2 + kx]];
                            }
                        }
                    }
                    assert!((y[[0, o, oy, ox]] - acc).abs() < 1e-4);
                }
            }
        }
    }
}
