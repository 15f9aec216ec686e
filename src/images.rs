//! Still images: decode (EXIF orientation applied, alpha dropped) and encode by extension.

use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageReader};

use crate::error::{Error, Result};
use crate::frame::Frame;
use crate::output::PendingOutput;

/// A decoded image and what was done to it on the way in (notes for the user).
pub struct Loaded {
    pub frame: Frame,
    pub notes: Vec<String>,
}

pub fn load(path: &Path) -> Result<Loaded> {
    if !path.exists() {
        return Err(Error::InputMissing { path: path.to_path_buf() });
    }
    let not_image = |e: &dyn std::fmt::Display| Error::NotAnImage { path: path.to_path_buf(), reason: e.to_string() };
    let reader = ImageReader::open(path)
        .map_err(|e| Error::InputUnreadable { path: path.to_path_buf(), reason: e.to_string() })?
        .with_guessed_format()
        .map_err(|e| Error::InputUnreadable { path: path.to_path_buf(), reason: e.to_string() })?;
    if reader.format().is_none() {
        return Err(not_image(&"unknown format"));
    }
    let mut decoder = reader.into_decoder().map_err(|e| not_image(&e))?;
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| not_image(&e))?;
    let mut notes = Vec::new();
    if orientation != image::metadata::Orientation::NoTransforms {
        img.apply_orientation(orientation);
        notes.push(format!("applied EXIF orientation ({orientation:?})"));
    }
    if img.color().has_alpha() {
        notes.push("dropped the alpha channel (the output is opaque)".into());
    }
    let rgb = img.into_rgb8();
    let (w, h) = rgb.dimensions();
    Ok(Loaded { frame: Frame::from_raw(w as usize, h as usize, rgb.into_raw()), notes })
}

/// The encoder for an output path, from its extension.
pub fn output_format(path: &Path) -> Result<image::ImageFormat> {
    let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "png" => Ok(image::ImageFormat::Png),
        "jpg" | "jpeg" => Ok(image::ImageFormat::Jpeg),
        _ => Err(Error::OutputFormat { path: path.to_path_buf(), ext }),
    }
}

/// Writes `frame` to `dest` atomically (temporary file, then rename).
pub fn save(frame: &Frame, dest: &Path, inputs: &[&Path]) -> Result<()> {
    let format = output_format(dest)?;
    let pending = PendingOutput::new(dest, inputs)?;
    let buf = image::RgbImage::from_raw(frame.width as u32, frame.height as u32, frame.data.clone()).expect("frame size matches its buffer");
    match format {
        image::ImageFormat::Jpeg => {
            let file = std::fs::File::create(pending.path()).map_err(|e| Error::output(dest, e))?;
            let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(std::io::BufWriter::new(file), 92);
            enc.encode_image(&buf).map_err(|e| Error::output(dest, e))?;
        }
        _ => buf.save_with_format(pending.path(), format).map_err(|e| Error::output(dest, e))?,
    }
    pending.commit()?;
    Ok(())
}
