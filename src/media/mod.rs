//! Media in and out: still images, and video through FFmpeg (files, streams, devices, image sequences, GIF/WebP).
//! Data flows one way here too: [`decode`] makes frames of an input, [`encode`] and [`gif`] write frames out,
//! [`target`] says where an input comes from or an output goes, [`color`] keeps their YUV matrices and tags;
//! [`av`] is the FFmpeg plumbing they share. Nothing here knows about models or the engine.

pub mod images;
#[cfg(feature = "video")]
pub mod av;
#[cfg(feature = "video")]
pub mod color;
#[cfg(feature = "video")]
pub mod decode;
#[cfg(feature = "video")]
pub mod encode;
#[cfg(feature = "video")]
pub mod gif;
#[cfg(feature = "video")]
pub mod target;
