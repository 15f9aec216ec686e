//! What a command does with files: one image ([`image`]), one video through the threaded [`pipeline`]
//! ([`video`]), a film cut into segments for many machines and joined again ([`segment`]), and batches of
//! inputs with their report ([`batch`]). Jobs use `engine` and `media`; the command line and the front ends
//! (`live`, `serve`) use jobs, never the other way round.

pub mod batch;
pub mod image;
#[cfg(feature = "video")]
pub mod pipeline;
#[cfg(feature = "video")]
pub mod segment;
#[cfg(feature = "video")]
pub mod video;
