//! The tch transformer and the shared reference forward pass (`stylize_model::reference`),
//! with the same random weights, agree within 1e-3 on the 0..255 scale. The lead's tests check
//! the reference against ONNX Runtime on the exported graph, which closes the loop
//! tch == reference == ONNX.

use ndarray::Array4;
use stylize_model::{mix_styles, random_weights, reference, JohnsonSpec};
use stylize_train::io::{from_array, to_array};
use stylize_train::transformer::{check_names, Transformer};
use tch::{nn, Device, Tensor};

fn parity(spec: JohnsonSpec, h: usize, w: usize) {
    parity_mix(spec, h, w, None);
}

/// `mix`: style weights of a multi-style spec, fed to the tch net and mixed into the reference's weights.
fn parity_mix(spec: JohnsonSpec, h: usize, w: usize, mix: Option<&[f32]>) {
    let weights = random_weights(&spec, 11);
    let vs = nn::VarStore::new(Device::Cpu);
    let net = Transformer::new(&vs.root(), &spec).unwrap();
    check_names(&vs, &spec).unwrap();
    tch::no_grad(|| {
        for (name, mut t) in vs.variables() {
            t.copy_(&from_array(&weights[&name], Device::Cpu));
        }
    });
    let input = Array4::from_shape_fn((1, 3, h, w), |(_, c, y, x)| ((x * 37 + y * 91 + c * 53) % 256) as f32);
    let x = from_array(&input.clone().into_dyn(), Device::Cpu);
    let (expected, got) = match mix {
        Some(mix) => {
            let (single, mixed) = mix_styles(&spec, &weights, mix).unwrap();
            let m = Tensor::from_slice(mix).view([1, mix.len() as i64]);
            (reference::forward(&single, &mixed, input.view()).unwrap(), tch::no_grad(|| net.forward_mix(&x, Some(&m))))
        }
        None => (reference::forward(&spec, &weights, input.view()).unwrap(), tch::no_grad(|| net.forward(&x))),
    };
    let got = to_array(&got).unwrap();
    assert_eq!(got.shape(), expected.shape());
    let max_diff = got.iter().zip(expected.iter()).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    let range = expected.iter().fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    eprintln!("{spec:?} {h}x{w}: max |tch - reference| = {max_diff:e}, output range {range:?}");
    assert!(max_diff < 1e-3, "tch and reference differ by {max_diff}");
    // Sanity: not a constant image.
    assert!(range.1 - range.0 > 1.0);
    let _ = Tensor::from(0);
}

#[test]
fn parity_full() {
    parity(JohnsonSpec::full(), 30, 22);
}

#[test]
fn parity_half() {
    parity(JohnsonSpec::half(), 32, 40);
}

#[test]
fn parity_lite() {
    // Even sides that are not multiples of 8: the body pads up as the reference does.
    parity(JohnsonSpec::lite(), 30, 22);
}

#[test]
fn parity_multi_style() {
    let spec = JohnsonSpec::lite().with_styles(3);
    for mix in [[0.0f32, 1.0, 0.0], [0.2, 0.3, 0.5]] {
        parity_mix(spec.clone(), 24, 32, Some(&mix));
    }
}
