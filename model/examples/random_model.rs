//! Writes a Johnson net with random weights as ONNX: a real model for tests and benchmarks, made without
//! Python or libtorch. Usage: `cargo run -p stylize-model --example random_model -- full|half|lite[:STYLES] SEED OUT.onnx`
//! (`lite:3`: a multi-style net of three random styles named random-0..2, with a `style_weights` input).
use stylize_model::{meta, onnx, random_weights, JohnsonSpec};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [arch, seed, out] = args.as_slice() else {
        eprintln!("usage: random_model full|half|lite[:STYLES] SEED OUT.onnx");
        std::process::exit(2);
    };
    let (arch, styles) = match arch.split_once(':') {
        Some((a, n)) => (a, n.parse::<usize>().ok().filter(|&n| n >= 1).unwrap_or_else(|| {
            eprintln!("error: style count {n:?} is not a positive number");
            std::process::exit(2)
        })),
        None => (arch.as_str(), 1),
    };
    let Some(spec) = JohnsonSpec::by_name(arch).map(|s| s.with_styles(styles)) else {
        eprintln!("error: unknown architecture {arch:?} (full, half or lite)");
        std::process::exit(2);
    };
    let seed: u64 = seed.parse().unwrap_or_else(|_| {
        eprintln!("error: seed {seed:?} is not a number");
        std::process::exit(2)
    });
    let weights = random_weights(&spec, seed);
    let names: Vec<String> = if styles == 1 {
        vec![format!("random-{arch}-{seed}")]
    } else {
        (0..styles).map(|i| format!("random-{i}")).collect()
    };
    let mut metadata = meta::standard_multi(&spec, &names);
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
