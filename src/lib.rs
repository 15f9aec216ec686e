//! stylize: real-time video stylization with Johnson-style feed-forward networks on ONNX Runtime.
//!
//! Data flows one way: a source yields [`frame::Frame`]s, the [`engine::Engine`] stylizes them,
//! a sink writes them. Each module has one job:
//! - [`args`]: the command-line options of every subcommand that runs a model.
//! - [`engine`]: loads a model into ONNX Runtime, picks the execution provider, stylizes frames.
//! - [`images`]: reads and writes still images; [`batch`]: many inputs, one model, a report.
//! - [`decode`], [`encode`], [`pipeline`]: video files through FFmpeg (feature `video`); [`color`]: their
//!   YUV matrices, ranges and colour tags.
//! - [`segment`]: cuts a video into keyframe-aligned segments for many machines, and joins the results.
//! - [`stream`]: outputs and inputs that are not plain files: network streams, V4L2 devices, image sequences.
//! - [`models`]: finds the models and their model cards.
//! - [`styles`]: style mixes of multi-style models (`--style-mix`, live morphing).
//! - [`flicker`]: measures temporal instability of a stylized video (`stylize flicker`).
//! - [`output`]: temporary files that become the output only when complete.
//! - [`stop`]: Ctrl-C, SIGTERM and SIGHUP stop long jobs cleanly.
//! - [`live`]: `stylize live` (feature `live`): [`camera`], [`window`] and [`hud`] around the engine.
//! - [`serve`]: `stylize serve` (feature `serve`): the live stylizer and uploads in a browser, over HTTP.

pub mod args;
pub mod batch;
pub mod effects;
pub mod engine;
pub mod error;
pub mod flicker;
pub mod frame;
pub mod images;
pub mod models;
pub mod output;
pub mod progress;
pub mod stop;
pub mod styles;
#[cfg(feature = "video")]
pub mod color;
#[cfg(feature = "video")]
pub mod decode;
#[cfg(feature = "video")]
pub mod encode;
#[cfg(feature = "video")]
pub mod gif;
#[cfg(feature = "video")]
pub mod pipeline;
#[cfg(feature = "video")]
pub mod segment;
#[cfg(feature = "video")]
pub mod stream;
#[cfg(feature = "live")]
pub mod camera;
#[cfg(feature = "live")]
pub mod hud;
#[cfg(feature = "live")]
pub mod live;
#[cfg(feature = "live")]
pub mod window;
#[cfg(feature = "serve")]
pub mod serve;

pub use effects::Effects;
pub use engine::{Device, Engine, EngineOptions, FrameIo, OvTarget, Precision};
pub use error::{Error, Result};
pub use frame::Frame;

/// The cores this process may run on (1 when unknown).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
