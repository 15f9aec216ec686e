//! Writes a Johnson net with random weights as ONNX: a real model for tests and benchmarks, made without
//! Python or libtorch. Usage: `cargo run -p stylize-model --example random_model -- full|half|lite SEED OUT.onnx`
use stylize_model::{meta, onnx, random_weights, JohnsonSpec};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [arch, seed, out] = args.as_slice() else {
        eprintln!("usage: random_model full|half|lite SEED OUT.onnx");
        std::process::exit(2);
    };
    let Some(spec) = JohnsonSpec::by_name(arch) else {
        eprintln!("error: unknown architecture {arch:?} (full, half or lite)");
        std::process::exit(2);
    };
    let seed: u64 = seed.parse().unwrap_or_else(|_| {
        eprintln!("error: seed {seed:?} is not a number");
        std::process::exit(2)
    });
    let weights = random_weights(&spec, seed);
    let mut metadata = meta::standard(&spec, &format!("random-{arch}-{seed}"));
    metadata.push(("stylize.note".into(), "random weights: for tests and benchmarks, not a style".into()));
    let bytes = onnx::johnson_to_onnx(&spec, &weights, &metadata).unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(1)
    });
    if let Err(e) = std::fs::write(out, bytes) {
        eprintln!("error: cannot write {out}: {e}");
        std::process::exit(1);
    }
    println!("wrote {out} ({arch}, seed {seed}, {:.0}k multiply-adds per pixel)", spec.macs_per_pixel() / 1e3);
}
