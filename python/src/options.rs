//! Python keyword arguments as the CLI's options: `device="openvino", max_memory="2G"` is parsed as
//! `--device openvino --max-memory 2G` by the same clap structs as `stylize video`, so the defaults, the checks and
//! the messages are the CLI's.

use clap::Parser;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyTuple};
use stylize::args::{EffectArgs, EngineArgs, VideoArgs};

use crate::errors::input;

/// What a [`crate::model::Model`] takes.
#[derive(Parser)]
#[command(name = "stylize.Model", no_binary_name = true, disable_help_flag = true)]
pub struct ModelCli {
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// What [`crate::video::transcode`] takes.
#[derive(Parser)]
#[command(name = "stylize.transcode", no_binary_name = true, disable_help_flag = true)]
pub struct TranscodeCli {
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub video: VideoArgs,
    #[command(flatten)]
    pub effects: EffectArgs,
}

/// `name=value` pairs as command-line words: `True` is a bare flag, `False` and `None` are left out (except
/// `temporal`, whose values are on/off), a `(w, h)` tuple is `WxH`, anything else its `str()`.
pub fn argv(pairs: &[(String, Bound<'_, PyAny>)]) -> PyResult<Vec<String>> {
    let mut words = Vec::new();
    for (name, value) in pairs {
        let flag = format!("--{}", name.replace('_', "-"));
        if value.is_none() {
            continue;
        }
        if let Ok(b) = value.cast::<PyBool>() {
            match (name.as_str(), b.is_true()) {
                ("temporal", on) => words.extend([flag, if on { "on" } else { "off" }.to_string()]),
                (_, true) => words.push(flag),
                (_, false) => {}
            }
            continue;
        }
        if let Ok(t) = value.cast::<PyTuple>() {
            let (w, h): (u32, u32) = t.extract().map_err(|_| input(format!("{name}: expected (width, height), got {t}")))?;
            words.extend([flag, format!("{w}x{h}")]);
            continue;
        }
        words.extend([flag, value.str()?.to_string()]);
    }
    Ok(words)
}

/// The pairs of a `**options` dict, in order.
pub fn pairs<'py>(options: Option<&Bound<'py, PyDict>>) -> PyResult<Vec<(String, Bound<'py, PyAny>)>> {
    let Some(options) = options else { return Ok(Vec::new()) };
    options.iter().map(|(k, v)| Ok((k.extract::<String>()?, v))).collect()
}

/// Parses `words` into `T`, with clap's message (in Python's terms) as a `stylize.InputError`.
pub fn parse<T: Parser>(words: Vec<String>) -> PyResult<T> {
    // In Python the options are keyword arguments: `--max-memory` reads `max_memory`.
    stylize::args::parse_words(words).map_err(|e| input(python_names(&e)))
}

/// `--max-memory` -> `max_memory` in a message.
fn python_names(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("--") {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 2..];
        let end = tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-')).unwrap_or(tail.len());
        out.push_str(&tail[..end].replace('-', "_"));
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}
