//! Weights by parameter name: checking against a spec, and deterministic random init.

use std::collections::BTreeMap;

use ndarray::{ArrayD, IxDyn};

use crate::{JohnsonSpec, ModelError};

/// Parameter tensors keyed by their PyTorch `state_dict` names.
pub type Weights = BTreeMap<String, ArrayD<f32>>;

/// Checks that `w` holds exactly the parameters of `spec`, each with the right shape.
pub fn check_weights(spec: &JohnsonSpec, w: &Weights) -> Result<(), ModelError> {
    spec.validate()?;
    let params = spec.params();
    for p in &params {
        let t = w
            .get(&p.name)
            .ok_or_else(|| ModelError::MissingParam(p.name.clone()))?;
        if t.shape() != p.shape.as_slice() {
            return Err(ModelError::ShapeMismatch {
                name: p.name.clone(),
                expected: p.shape.clone(),
                got: t.shape().to_vec(),
            });
        }
    }
    if let Some(extra) = w.keys().find(|k| !params.iter().any(|p| &p.name == *k)) {
        return Err(ModelError::UnexpectedParam(extra.clone()));
    }
    Ok(())
}

/// Deterministic random weights for tests and demos.
///
/// Convs get He-normal weights and small biases; instance norms get scale ~1 and shift ~0
/// with a little noise. The output conv is scaled and shifted so a random net paints a
/// visible texture around mid-grey on the 0..255 scale rather than values near 0.
pub fn random_weights(spec: &JohnsonSpec, seed: u64) -> Weights {
    let mut rng = SplitMix64::new(seed);
    let mut w = Weights::new();
    for p in spec.params() {
        let n: usize = p.shape.iter().product();
        let is_output = p.name.starts_with("deconv3.");
        let values: Vec<f32> = if p.name.ends_with(".conv2d.weight") {
            let fan_in: usize = p.shape[1..].iter().product();
            let gain = if is_output { 24.0 } else { 1.0 };
            let std = gain * (2.0 / fan_in as f64).sqrt();
            (0..n).map(|_| (std * rng.normal()) as f32).collect()
        } else if p.name.ends_with(".conv2d.bias") {
            let mean = if is_output { 127.5 } else { 0.0 };
            (0..n).map(|_| (mean + 0.1 * rng.normal()) as f32).collect()
        } else if p.name.ends_with(".weight") {
            (0..n).map(|_| (1.0 + 0.1 * rng.normal()) as f32).collect()
        } else {
            (0..n).map(|_| (0.1 * rng.normal()) as f32).collect()
        };
        let t = ArrayD::from_shape_vec(IxDyn(&p.shape), values).expect("shape matches length");
        w.insert(p.name, t);
    }
    w
}

/// Resolves a multi-style net for one mix of its styles: every norm's scale and shift
/// become `sum_i mix[i] * row_i`, which is what the ONNX graph computes from `style_weights`.
/// Returns the equivalent single-style spec and weights (a one-style spec passes through).
pub fn mix_styles(
    spec: &JohnsonSpec,
    w: &Weights,
    mix: &[f32],
) -> Result<(JohnsonSpec, Weights), ModelError> {
    check_weights(spec, w)?;
    if mix.len() != spec.styles {
        return Err(ModelError::BadInput(format!(
            "{} style weights for a net of {} styles",
            mix.len(),
            spec.styles
        )));
    }
    let single = spec.clone().with_styles(1);
    if spec.styles == 1 {
        return Ok((single, w.clone()));
    }
    let mut out = Weights::new();
    for (name, t) in w {
        let t = if t.ndim() == 2 {
            let rows = t.view().into_dimensionality::<ndarray::Ix2>().expect("2-D");
            let mix = ndarray::ArrayView1::from(mix);
            mix.dot(&rows).into_dyn()
        } else {
            t.clone()
        };
        out.insert(name.clone(), t);
    }
    check_weights(&single, &out)?;
    Ok((single, out))
}

/// SplitMix64: tiny, fast, and stable across platforms and crate versions, which a
/// "deterministic per seed" contract needs more than statistical quality.
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 bits.
    pub(crate) fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Standard normal via Box-Muller (one sample per call keeps the stream simple).
    pub(crate) fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform(); // (0, 1]: ln is finite
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_weights_match_spec_and_are_deterministic() {
        for spec in [
            JohnsonSpec::full(),
            JohnsonSpec::half(),
            JohnsonSpec::lite(),
        ] {
            let a = random_weights(&spec, 7);
            check_weights(&spec, &a).unwrap();
            assert_eq!(a, random_weights(&spec, 7));
            assert_ne!(a, random_weights(&spec, 8));
        }
    }

    #[test]
    fn random_weights_look_like_an_init() {
        let w = random_weights(&JohnsonSpec::full(), 1);
        let g = &w["in3.weight"];
        let mean = g.mean().unwrap();
        assert!((mean - 1.0).abs() < 0.05, "{mean}");
        let c = &w["res2.conv1.conv2d.weight"];
        let std = c.std(0.0);
        let he = (2.0f32 / (128.0 * 9.0)).sqrt();
        assert!((std / he - 1.0).abs() < 0.05, "{std} vs {he}");
    }

    #[test]
    fn mixing_styles_blends_norm_rows() {
        let spec = JohnsonSpec::lite().with_styles(3);
        let w = random_weights(&spec, 7);
        let (single, m) = mix_styles(&spec, &w, &[0.0, 1.0, 0.0]).unwrap();
        assert_eq!(single, JohnsonSpec::lite());
        assert_eq!(m["in2.weight"], w["in2.weight"].index_axis(ndarray::Axis(0), 1));
        assert_eq!(m["conv2.conv2d.weight"], w["conv2.conv2d.weight"]);
        let (_, h) = mix_styles(&spec, &w, &[0.5, 0.0, 0.5]).unwrap();
        let expect = (&w["in4.bias"].index_axis(ndarray::Axis(0), 0)
            + &w["in4.bias"].index_axis(ndarray::Axis(0), 2))
            * 0.5;
        assert!((&h["in4.bias"] - &expect).iter().all(|d| d.abs() < 1e-6));
        assert!(mix_styles(&spec, &w, &[1.0]).is_err());
    }

    #[test]
    fn check_catches_missing_misshaped_and_extra() {
        let spec = JohnsonSpec::half();
        let good = random_weights(&spec, 0);

        let mut w = good.clone();
        w.remove("res3.in2.bias");
        let e = check_weights(&spec, &w).unwrap_err();
        assert!(
            matches!(&e, ModelError::MissingParam(n) if n == "res3.in2.bias"),
            "{e}"
        );
        assert!(e.to_string().contains("res3.in2.bias"));

        let mut w = good.clone();
        w.insert(
            "conv2.conv2d.weight".into(),
            ArrayD::zeros(IxDyn(&[32, 16, 5, 5])),
        );
        let e = check_weights(&spec, &w).unwrap_err();
        assert!(
            matches!(&e, ModelError::ShapeMismatch { name, got, .. }
                if name == "conv2.conv2d.weight" && got == &[32, 16, 5, 5]),
            "{e}"
        );
        assert!(e.to_string().contains("conv2.conv2d.weight"));

        let mut w = good.clone();
        w.insert("res6.in1.weight".into(), ArrayD::zeros(IxDyn(&[64])));
        let e = check_weights(&spec, &w).unwrap_err();
        assert!(
            matches!(&e, ModelError::UnexpectedParam(n) if n == "res6.in1.weight"),
            "{e}"
        );

        // Full-width weights are not half-width weights.
        let e = check_weights(&spec, &random_weights(&JohnsonSpec::full(), 0)).unwrap_err();
        assert!(matches!(e, ModelError::ShapeMismatch { .. }), "{e}");
    }
}
