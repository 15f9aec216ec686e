//! The GStreamer plugin `stylize`: one element, `stylize`, a video filter that runs a style network on each
//! frame with the `stylize` library (the command's engine, device choice, tiles and temporal stage).
//!
//! `element` is the element (properties, caps, frames); `paths` finds the runtimes and models near the plugin
//! file (an install's `PREFIX/lib/stylize` and `PREFIX/share/stylize/models`, a checkout's `.deps/` and `onnx/`).

use gst::glib;

mod element;
mod paths;

fn plugin_init(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    if let Some(file) = plugin.filename() {
        paths::remember_plugin(file);
    }
    // Python-style hosts and gst-launch own their signals: the library must not install handlers here.
    stylize::stop::leave_signals_to_host();
    element::register(plugin)
}

gst::plugin_define!(
    stylize,
    env!("CARGO_PKG_DESCRIPTION"),
    plugin_init,
    env!("CARGO_PKG_VERSION"),
    // The license string GStreamer knows for MIT.
    "MIT/X11",
    env!("CARGO_PKG_NAME"),
    "stylize",
    env!("CARGO_PKG_REPOSITORY")
);
