//! The `stylize` element: a video filter (raw RGB, RGBx, BGRx or I420 in, the same out) that stylizes each
//! frame. `imp` is the element; `ahead` keeps frames in flight for streams that are not live; `pixels` moves a
//! frame of each format to and from the engine's RGB.

use gst::glib;
use gst::prelude::*;

mod ahead;
mod imp;
mod pixels;

glib::wrapper! {
    pub struct Stylize(ObjectSubclass<imp::Stylize>) @extends gst_video::VideoFilter, gst_base::BaseTransform, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(Some(plugin), "stylize", gst::Rank::NONE, Stylize::static_type())
}
