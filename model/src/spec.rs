//! The network spec: layer widths, parameter names and shapes, cost.

use serde::{Deserialize, Serialize};

use crate::ModelError;

/// Hyper-parameters of a Johnson transformer net (pytorch/examples `TransformerNet`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JohnsonSpec {
    /// Channel widths of the full-, half- and quarter-resolution stages (full net: 32, 64, 128).
    pub widths: [usize; 3],
    /// Number of residual blocks at quarter resolution (full net: 5).
    pub res_blocks: usize,
    /// Kernel size of the first and the last convolution (full net: 9).
    pub end_kernel: usize,
    /// Wrap the net in SpaceToDepth / DepthToSpace (block 2, ONNX DCR order): the body runs at
    /// half resolution on 12 channels, a quarter of the cost for the same widths. Absent from
    /// the JSON of older model files, and left out when false so their spec JSON is unchanged.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub space_to_depth: bool,
    /// Styles of a conditional-instance-norm net (Dumoulin et al. 2017): every norm has one
    /// scale and shift row per style, mixed by the `style_weights` input. 1: a plain net
    /// (left out of the JSON, so single-style files are unchanged).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub styles: usize,
}

fn one() -> usize {
    1
}

fn is_one(n: &usize) -> bool {
    *n == 1
}

/// One named parameter tensor of the network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamInfo {
    pub name: String,
    pub shape: Vec<usize>,
}

/// One `ConvLayer` (reflection pad + conv with bias) of the network, as laid out in `forward`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ConvDef {
    /// Module name, e.g. `conv1`, `res3.conv2`, `deconv1`.
    pub name: String,
    pub c_in: usize,
    pub c_out: usize,
    pub kernel: usize,
    pub stride: usize,
    /// Nearest x2 upsampling before the conv (the decoder's `UpsampleConvLayer`).
    pub upsample: bool,
    /// Name of the instance norm after the conv, if any (only the output conv has none).
    pub norm: Option<String>,
}

impl JohnsonSpec {
    /// The network of Johnson et al. / pytorch examples.
    pub fn full() -> Self {
        Self {
            widths: [32, 64, 128],
            res_blocks: 5,
            end_kernel: 9,
            space_to_depth: false,
            styles: 1,
        }
    }

    /// Half the channels everywhere: about a quarter of the multiply-adds.
    pub fn half() -> Self {
        Self {
            widths: [16, 32, 64],
            res_blocks: 5,
            end_kernel: 9,
            space_to_depth: false,
            styles: 1,
        }
    }

    /// Real-time on a CPU: half widths, 3 blocks, 3x3 ends, and the whole body at half
    /// resolution behind space-to-depth; about 7k multiply-adds per pixel (full: 154k).
    pub fn lite() -> Self {
        Self {
            widths: [16, 32, 64],
            res_blocks: 3,
            end_kernel: 3,
            space_to_depth: true,
            styles: 1,
        }
    }

    /// `"full"`, `"half"` or `"lite"`.
    pub fn by_name(name: &str) -> Option<Self> {
        match name {
            "full" => Some(Self::full()),
            "half" => Some(Self::half()),
            "lite" => Some(Self::lite()),
            _ => None,
        }
    }

    /// The same net with `n` styles (conditional instance norm).
    pub fn with_styles(self, n: usize) -> Self {
        Self { styles: n, ..self }
    }

    /// Shape of an instance norm's scale or shift for `c` channels: `[c]`, or `[styles, c]`.
    pub fn norm_shape(&self, c: usize) -> Vec<usize> {
        if self.styles == 1 {
            vec![c]
        } else {
            vec![self.styles, c]
        }
    }

    /// Side of the SpaceToDepth / DepthToSpace blocks: 2, or 1 when there are none.
    pub fn block(&self) -> usize {
        if self.space_to_depth {
            2
        } else {
            1
        }
    }

    /// Channels of the body's input and output: RGB, times the block area.
    pub fn body_channels(&self) -> usize {
        3 * self.block() * self.block()
    }

    /// Rejects specs no network can be built from (specs also arrive as JSON from model files).
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.widths.contains(&0) {
            return Err(ModelError::InvalidSpec(format!(
                "zero width in {:?}",
                self.widths
            )));
        }
        if self.styles == 0 {
            return Err(ModelError::InvalidSpec("styles must be at least 1".into()));
        }
        // An even kernel with pad k/2 would change the image size.
        if self.end_kernel.is_multiple_of(2) {
            return Err(ModelError::InvalidSpec(format!(
                "end_kernel must be odd, got {}",
                self.end_kernel
            )));
        }
        Ok(())
    }

    /// Every conv layer in network order; the single source of names, shapes and cost.
    pub(crate) fn convs(&self) -> Vec<ConvDef> {
        let [w0, w1, w2] = self.widths;
        let k = self.end_kernel;
        let io = self.body_channels();
        let conv =
            |name: &str, c_in, c_out, kernel, stride, upsample, norm: Option<&str>| ConvDef {
                name: name.to_string(),
                c_in,
                c_out,
                kernel,
                stride,
                upsample,
                norm: norm.map(str::to_string),
            };
        let mut v = vec![
            conv("conv1", io, w0, k, 1, false, Some("in1")),
            conv("conv2", w0, w1, 3, 2, false, Some("in2")),
            conv("conv3", w1, w2, 3, 2, false, Some("in3")),
        ];
        for i in 1..=self.res_blocks {
            let p = format!("res{i}");
            v.push(conv(
                &format!("{p}.conv1"),
                w2,
                w2,
                3,
                1,
                false,
                Some(&format!("{p}.in1")),
            ));
            v.push(conv(
                &format!("{p}.conv2"),
                w2,
                w2,
                3,
                1,
                false,
                Some(&format!("{p}.in2")),
            ));
        }
        v.push(conv("deconv1", w2, w1, 3, 1, true, Some("in4")));
        v.push(conv("deconv2", w1, w0, 3, 1, true, Some("in5")));
        v.push(conv("deconv3", w0, io, k, 1, false, None));
        v
    }

    /// All parameters in network order, named as in the PyTorch `state_dict`.
    pub fn params(&self) -> Vec<ParamInfo> {
        let p = |name: String, shape: Vec<usize>| ParamInfo { name, shape };
        let mut out = Vec::new();
        for c in self.convs() {
            out.push(p(
                format!("{}.conv2d.weight", c.name),
                vec![c.c_out, c.c_in, c.kernel, c.kernel],
            ));
            out.push(p(format!("{}.conv2d.bias", c.name), vec![c.c_out]));
            if let Some(n) = &c.norm {
                out.push(p(format!("{n}.weight"), self.norm_shape(c.c_out)));
                out.push(p(format!("{n}.bias"), self.norm_shape(c.c_out)));
            }
        }
        out
    }

    /// Total number of scalar parameters.
    pub fn param_count(&self) -> usize {
        self.params()
            .iter()
            .map(|p| p.shape.iter().product::<usize>())
            .sum()
    }

    /// Convolution multiply-adds per output pixel (norms, activations and adds are ignored).
    pub fn macs_per_pixel(&self) -> f64 {
        // Track the area of each layer's output relative to the network output; the body
        // starts behind space-to-depth at 1 / block^2 of it.
        let mut area = 1.0 / (self.block() * self.block()) as f64;
        let mut macs = 0.0;
        for c in self.convs() {
            if c.upsample {
                area *= 4.0;
            }
            area /= (c.stride * c.stride) as f64;
            macs += area * (c.c_in * c.c_out * c.kernel * c.kernel) as f64;
        }
        macs
    }

    /// How far an output pixel can see, in input pixels: half the receptive field, rounded up. Every conv
    /// adds its kernel radius at its stride; a nearest x2 upsampling may shift by one pixel of its output.
    pub fn receptive_radius(&self) -> usize {
        let b = self.block();
        let (mut jump, mut r) = (b, b - 1);
        for c in self.convs() {
            if c.upsample {
                jump /= 2;
                r += jump;
            }
            r += (c.kernel / 2) * jump;
            jump *= c.stride;
        }
        r
    }

    /// Working memory of ONNX Runtime running the net, in bytes per input pixel: about three of its largest
    /// feature maps alive at once, plus the frame in and out. Measured peak RSS over a whole frame
    /// (`stylize image`, 24 MP): full 392, lite 62; the formula gives 402 and 66.
    pub fn working_bytes_per_pixel(&self) -> f64 {
        let area = (self.block() * self.block()) as f64;
        let [w0, w1, w2] = self.widths;
        let largest = (w0 as f64).max(w1 as f64 / 4.0).max(w2 as f64 / 16.0) * 4.0 / area;
        3.0 * largest + 18.0
    }

    /// Input sides that are a multiple of this give an output of the same size: two
    /// halvings in the body, times the space-to-depth block.
    pub fn size_multiple(&self) -> usize {
        4 * self.block()
    }

    /// Smallest input side the net accepts: a multiple of [`Self::block`] at which every
    /// reflection pad is smaller than its feature map (PyTorch and ONNX Runtime require it).
    pub fn min_size(&self) -> usize {
        let convs = self.convs();
        let fits = |side: usize| {
            let mut s = side / self.block();
            convs.iter().all(|c| {
                if c.upsample {
                    s *= 2;
                }
                let ok = c.kernel / 2 < s;
                s = (s + 2 * (c.kernel / 2) - c.kernel) / c.stride + 1;
                ok
            })
        };
        (1..)
            .map(|i| i * self.block())
            .find(|&side| fits(side))
            .expect("some side fits")
    }

    /// Output side for an input side (a multiple of [`Self::block`]): two stride-2 convs
    /// (ceil) then two x2 upsamplings, in the body.
    pub fn output_size(&self, side: usize) -> usize {
        let b = self.block();
        b * 4 * (side / b).div_ceil(2).div_ceil(2)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn receptive_radius_counts_every_conv_at_its_stride() {
        // Full: 4 (9x9) + 1 + 2 (stride-2 3x3s) + 10 * 4 (res convs at 1/4) + (2 + 2) + (1 + 1) (upsample convs) + 4.
        assert_eq!(JohnsonSpec::full().receptive_radius(), 57);
        // Lite, behind space-to-depth (2): everything at twice the stride, 3 blocks, 3x3 ends.
        assert_eq!(JohnsonSpec::lite().receptive_radius(), 71);
        assert!(JohnsonSpec::half().receptive_radius() == JohnsonSpec::full().receptive_radius());
    }

    use super::*;

    #[test]
    fn full_params() {
        let s = JohnsonSpec::full();
        let p = s.params();
        // 3 down convs + 10 res convs + 3 up convs = 16 convs, 15 of them normed.
        assert_eq!(p.len(), 16 * 2 + 15 * 2);
        assert_eq!(
            p[0],
            ParamInfo {
                name: "conv1.conv2d.weight".into(),
                shape: vec![32, 3, 9, 9]
            }
        );
        assert_eq!(p[1].name, "conv1.conv2d.bias");
        assert_eq!(
            p[2],
            ParamInfo {
                name: "in1.weight".into(),
                shape: vec![32]
            }
        );
        let find = |n: &str| p.iter().find(|x| x.name == n).unwrap().shape.clone();
        assert_eq!(find("conv2.conv2d.weight"), vec![64, 32, 3, 3]);
        assert_eq!(find("conv3.conv2d.weight"), vec![128, 64, 3, 3]);
        assert_eq!(find("res5.conv2.conv2d.weight"), vec![128, 128, 3, 3]);
        assert_eq!(find("res5.in2.bias"), vec![128]);
        assert_eq!(find("deconv1.conv2d.weight"), vec![64, 128, 3, 3]);
        assert_eq!(find("in5.weight"), vec![32]);
        assert_eq!(find("deconv3.conv2d.weight"), vec![3, 32, 9, 9]);
        assert_eq!(
            p.last().unwrap(),
            &ParamInfo {
                name: "deconv3.conv2d.bias".into(),
                shape: vec![3]
            }
        );
        // pytorch/examples TransformerNet has 1,679,235 parameters.
        assert_eq!(s.param_count(), 1_679_235);
    }

    #[test]
    fn half_params() {
        let s = JohnsonSpec::half();
        let p = s.params();
        assert_eq!(p.len(), 62);
        assert_eq!(p[0].shape, vec![16, 3, 9, 9]);
        let find = |n: &str| p.iter().find(|x| x.name == n).unwrap().shape.clone();
        assert_eq!(find("res1.conv1.conv2d.weight"), vec![64, 64, 3, 3]);
        assert_eq!(find("deconv3.conv2d.weight"), vec![3, 16, 9, 9]);
    }

    #[test]
    fn macs() {
        let full = JohnsonSpec::full().macs_per_pixel();
        assert!((150e3..160e3).contains(&full), "{full}");
        let half = JohnsonSpec::half().macs_per_pixel();
        assert!(half < full / 3.0, "{half}");
    }

    #[test]
    fn lite_params_and_cost() {
        let s = JohnsonSpec::lite();
        let p = s.params();
        // 3 down convs + 6 res convs + 3 up convs, 11 of them normed.
        assert_eq!(p.len(), 12 * 2 + 11 * 2);
        let find = |n: &str| p.iter().find(|x| x.name == n).unwrap().shape.clone();
        // The body sees and makes the 12 channels of 2x2 space-to-depth blocks.
        assert_eq!(find("conv1.conv2d.weight"), vec![16, 12, 3, 3]);
        assert_eq!(find("res3.conv2.conv2d.weight"), vec![64, 64, 3, 3]);
        assert_eq!(find("deconv3.conv2d.weight"), vec![12, 16, 3, 3]);
        assert_eq!(find("deconv3.conv2d.bias"), vec![12]);
        assert_eq!(s.param_count(), 272_364);
        // Body at half resolution: 432 + 288 + 288 + 3456 + 1152 + 1152 + 432.
        assert_eq!(s.macs_per_pixel(), 7200.0);
        assert!(s.macs_per_pixel() < JohnsonSpec::full().macs_per_pixel() / 20.0);
    }

    #[test]
    fn multi_style_params() {
        let s = JohnsonSpec::lite().with_styles(4);
        let p = s.params();
        let find = |n: &str| p.iter().find(|x| x.name == n).unwrap().shape.clone();
        assert_eq!(find("in1.weight"), vec![4, 16]);
        assert_eq!(find("res3.in2.bias"), vec![4, 64]);
        assert_eq!(find("conv1.conv2d.weight"), vec![16, 12, 3, 3]);
        // Only the norms grow: 11 norms x 2 x 3 more rows.
        let norm_channels = 16 + 32 + 64 + 6 * 64 + 32 + 16;
        assert_eq!(
            s.param_count(),
            JohnsonSpec::lite().param_count() + 2 * 3 * norm_channels
        );
        assert_eq!(s.macs_per_pixel(), JohnsonSpec::lite().macs_per_pixel());
        let j = serde_json::to_string(&s).unwrap();
        assert!(j.contains("\"styles\":4"), "{j}");
        assert_eq!(serde_json::from_str::<JohnsonSpec>(&j).unwrap(), s);
        assert!(JohnsonSpec::lite().with_styles(0).validate().is_err());
    }

    #[test]
    fn sizes() {
        let (full, half, lite) = (
            JohnsonSpec::full(),
            JohnsonSpec::half(),
            JohnsonSpec::lite(),
        );
        assert_eq!(full.size_multiple(), 4);
        assert_eq!(lite.size_multiple(), 8);
        assert_eq!(full.output_size(37), 40);
        assert_eq!(full.output_size(64), 64);
        assert_eq!(lite.output_size(64), 64);
        assert_eq!(lite.output_size(42), 48);
        assert_eq!(lite.output_size(2), 8);
        // 9x9 ends: the first pad (4) needs 5 pixels; then the quarter-resolution blocks have 2.
        assert_eq!(full.min_size(), 5);
        assert_eq!(half.min_size(), 5);
        // Lite: the blocks need 2 pixels at 1/8 of the side, and sides are even.
        assert_eq!(lite.min_size(), 10);
        let k3 = JohnsonSpec {
            end_kernel: 3,
            ..full
        };
        assert_eq!(k3.min_size(), 5);
        let no_blocks = JohnsonSpec {
            res_blocks: 0,
            ..k3
        };
        assert_eq!(no_blocks.min_size(), 3);
    }

    #[test]
    fn names_and_json() {
        assert_eq!(JohnsonSpec::by_name("full"), Some(JohnsonSpec::full()));
        assert_eq!(JohnsonSpec::by_name("half"), Some(JohnsonSpec::half()));
        assert_eq!(JohnsonSpec::by_name("lite"), Some(JohnsonSpec::lite()));
        assert_eq!(JohnsonSpec::by_name("huge"), None);
        for s in [JohnsonSpec::half(), JohnsonSpec::lite()] {
            let j = serde_json::to_string(&s).unwrap();
            assert_eq!(serde_json::from_str::<JohnsonSpec>(&j).unwrap(), s);
        }
        // Model files written before space-to-depth existed: same JSON, still parses.
        let old = r#"{"widths":[32,64,128],"res_blocks":5,"end_kernel":9}"#;
        assert_eq!(serde_json::to_string(&JohnsonSpec::full()).unwrap(), old);
        assert_eq!(
            serde_json::from_str::<JohnsonSpec>(old).unwrap(),
            JohnsonSpec::full()
        );
        assert!(JohnsonSpec {
            end_kernel: 4,
            ..JohnsonSpec::full()
        }
        .validate()
        .is_err());
    }
}
