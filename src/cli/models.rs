//! `stylize models`, `stylize info` and `stylize --version`: what is installed and where it was found.

use std::path::Path;

use anyhow::{bail, Result};
use stylize::args::EngineArgs;
use stylize::{engine, models};

/// `stylize --version`: ours, and the ONNX Runtime we would use (or why there is none).
pub fn version() -> Result<()> {
    println!("stylize {}", env!("CARGO_PKG_VERSION"));
    match engine::ort_environment(None) {
        Ok((_, lib)) => println!("ONNX Runtime {} ({})", engine::ort_version(&lib), lib.display()),
        Err(e) => println!("ONNX Runtime: {e}"),
    }
    Ok(())
}

/// `stylize models`: the installed models with their cards' summaries, and where they were looked for.
pub fn list(args: &EngineArgs) -> Result<()> {
    let extra = args.models_dir.as_deref();
    let list = models::list(extra);
    for m in &list {
        match &m.broken {
            None => {
                let int8 = if m.int8.is_some() { " (+ INT8)" } else { "" };
                println!("{:<26} {}{int8}  {}", m.name, m.path.display(), m.summary.as_deref().unwrap_or("(no model card)"))
            }
            Some(why) => println!("{:<26} {}  BROKEN: {why}", m.name, m.path.display()),
        }
    }
    println!("\nlooked in:");
    print_search_path(extra);
    if list.iter().all(|m| m.broken.is_some()) {
        bail!("no usable models found; pass --models-dir, run scripts/setup.sh install, or train one with stylize-train");
    }
    Ok(())
}

/// The model folders, in the order they are searched, with what each is and how many models it has.
fn print_search_path(extra: Option<&Path>) {
    for (what, dir) in models::search_path(extra) {
        match models::model_files(&dir) {
            Ok(files) => {
                // INT8 versions are counted with their float models (`stylize models` lists them as "+ INT8").
                let int8 = files.iter().filter(|f| files.contains(&models::int8_sibling(f))).count();
                let extra = if int8 > 0 { format!(", {int8} with an INT8 version") } else { String::new() };
                println!("  {:<15} {} ({} models{extra})", what, dir.display(), files.len() - int8)
            }
            Err(_) => println!("  {:<15} {} (not there)", what, dir.display()),
        }
    }
}

/// `stylize info`: the runtimes, where models are looked for, and a model's inputs and metadata.
pub fn info(model: Option<&str>, args: &EngineArgs) -> Result<()> {
    let (_, lib) = engine::ort_environment(args.ort_lib.as_deref())?;
    println!("stylize {}", env!("CARGO_PKG_VERSION"));
    println!("ONNX Runtime {}: {}", engine::ort_version(&lib), lib.display());
    println!("  {}", ort::info());
    println!("  looked in: {}", engine::ort_library_candidates(args.ort_lib.as_deref()).iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "));
    match engine::ov::load_library(args.openvino_lib.as_deref()).and_then(|lib| Ok((lib, engine::ov::available_devices(args.openvino_lib.as_deref())?))) {
        Ok((lib, devices)) => println!("OpenVINO {}: {} (devices: {}; --device openvino)", engine::ov::version(&lib), lib.display(), devices.join(", ")),
        Err(e) => println!("OpenVINO: unavailable: {e}"),
    }
    println!("models:");
    print_search_path(args.models_dir.as_deref());
    println!("execution providers:");
    for (name, status) in engine::provider_status() {
        match status {
            Ok(()) => println!("  {name:<9} available"),
            Err(why) => println!("  {name:<9} unavailable: {why}"),
        }
    }
    if let Some(model) = model {
        let engine = args.load(model)?;
        let info = engine.info();
        println!("model {}", info.path.display());
        println!("  device:  {}", engine.device().name());
        println!("  {}", engine.io_line());
        println!("  input:   {} (float32 NCHW RGB, 0..{})", info.input, info.range_max);
        println!("  output:  {}", info.output);
        println!("  sizes:   {}", info.size_policy());
        for (name, shape) in &info.extra_inputs {
            println!("  extra input: {name} {shape:?}");
        }
        let styles = engine.style_names();
        if !styles.is_empty() {
            println!("  styles:  {} (blend with --style-mix, e.g. {}=0.5,{}=0.5)", styles.join(", "), styles[0], styles[styles.len() - 1]);
        }
        for (k, v) in &info.metadata {
            println!("  {k} = {v}");
        }
    }
    Ok(())
}
