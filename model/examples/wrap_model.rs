//! Writes the graph the runtime's uint8 path runs: a model wrapped for uint8 NHWC frames in and out
//! (see `stylize_model::wrap`), optionally in float16, e.g. to inspect it or check it with `onnx.checker`.
//! Usage: `cargo run -p stylize-model --example wrap_model -- IN.onnx OUT.onnx [--fp16] [--cpu]`
//! (`--cpu`: tuned for the CPU provider, as the engine wraps it there).
use stylize_model::wrap::{wrap_frame_io, WrapOptions};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let fp16 = args.iter().any(|a| a == "--fp16");
    let cpu = args.iter().any(|a| a == "--cpu");
    let paths: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let [input, output] = paths.as_slice() else {
        eprintln!("usage: wrap_model IN.onnx OUT.onnx [--fp16] [--cpu]");
        std::process::exit(2);
    };
    let bytes = std::fs::read(input).unwrap_or_else(|e| {
        eprintln!("error: cannot read {input}: {e}");
        std::process::exit(1)
    });
    let wrapped = wrap_frame_io(&bytes, &if cpu { WrapOptions { fp16, ..Default::default() }.for_cpu() } else { WrapOptions { fp16, ..Default::default() } }).unwrap_or_else(|e| {
        eprintln!("error: {input}: {e}");
        std::process::exit(1)
    });
    if let Err(e) = std::fs::write(output, &wrapped.bytes) {
        eprintln!("error: cannot write {output}: {e}");
        std::process::exit(1);
    }
    let i = &wrapped.info;
    println!(
        "wrapped {input} -> {output}: {} -> {}, range 0..{}, fp16 {} ({} tensors converted, {} casts added)",
        i.input, i.output, i.range_max, i.fp16, i.fp16_tensors, i.fp16_casts
    );
}
