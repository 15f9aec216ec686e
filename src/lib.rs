//! stylize: real-time video stylization with Johnson-style feed-forward networks on ONNX Runtime.
//!
//! Data flows one way: a source yields [`frame::Frame`]s, the [`engine::Engine`] stylizes them, a sink writes
//! them. Folders by job, each importing only from those listed after it:
//! - [`serve`]: `stylize serve` (feature `serve`): the live stylizer and uploads in a browser, over HTTP.
//! - [`live`]: `stylize live` (feature `live`): webcam, window, HUD and stream outputs around the engine.
//! - [`temporal`]: the stage after the network that keeps video and live output steady (optical flow).
//! - [`jobs`]: what a command does with files: an image, a video through the pipeline, segments, batches.
//! - [`media`]: still images, and video in and out through FFmpeg (files, streams, devices, sequences, GIF).
//! - [`engine`]: loads a model on a device (ONNX Runtime or OpenVINO) and stylizes frames, in tiles if need be.
//!
//! and the small pieces they share: [`args`] (command-line options of several commands), [`effects`]
//! (strength, colour preservation), [`styles`] (style mixes), [`flicker`] (temporal instability), [`models`]
//! (finding models and their cards), [`output`] (outputs that appear only when complete), [`stop`] (Ctrl-C,
//! SIGTERM, SIGHUP), [`progress`], [`frame`], [`error`]. The `stylize` binary's commands are in `src/cli/`.

pub mod args;
pub mod effects;
pub mod engine;
pub mod error;
pub mod flicker;
pub mod frame;
pub mod jobs;
pub mod media;
pub mod models;
pub mod output;
pub mod progress;
pub mod stop;
pub mod styles;
pub mod temporal;
#[cfg(feature = "live")]
pub mod live;
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
