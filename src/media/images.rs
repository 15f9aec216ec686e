//! Still images: decode (EXIF orientation applied, alpha dropped, 16 bits made 8) and encode by extension.
//! An ICC colour profile is kept: the pixels are stylized as they are and the output carries the input's
//! profile, so viewers show both in the same colours (a wide-gamut photo is not squeezed into sRGB).

use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageReader};

use crate::error::{Error, Result};
use crate::frame::Frame;
use crate::output::PendingOutput;

/// A decoded image, its ICC colour profile (if it has one), and what was done to it on the way in (notes).
pub struct Loaded {
    pub frame: Frame,
    pub icc_profile: Option<Vec<u8>>,
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
    let icc_profile = decoder.icc_profile().ok().flatten().filter(|p| !p.is_empty());
    let bits = decoder.original_color_type().bits_per_pixel() / u16::from(decoder.original_color_type().channel_count().max(1));
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| not_image(&e))?;
    let mut notes = Vec::new();
    if orientation != image::metadata::Orientation::NoTransforms {
        img.apply_orientation(orientation);
        notes.push(format!("applied EXIF orientation ({orientation:?})"));
    }
    if img.color().has_alpha() {
        notes.push("dropped the alpha channel (the output is opaque)".into());
    }
    if bits > 8 {
        notes.push(format!("{bits}-bit image converted to 8 bits (the networks work on 8-bit images)"));
    }
    if icc_profile.is_some() {
        notes.push("kept its ICC colour profile: the output carries it too".into());
    }
    let rgb = img.into_rgb8();
    let (w, h) = rgb.dimensions();
    Ok(Loaded { frame: Frame::from_raw(w as usize, h as usize, rgb.into_raw()), icc_profile, notes })
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
    save_with_profile(frame, dest, inputs, None)
}

/// Writes `frame` to `dest` atomically, with an ICC colour profile when given (PNG iCCP, JPEG APP2).
pub fn save_with_profile(frame: &Frame, dest: &Path, inputs: &[&Path], icc_profile: Option<&[u8]>) -> Result<()> {
    use image::ImageEncoder;
    let format = output_format(dest)?;
    let pending = PendingOutput::new(dest, inputs)?;
    let file = std::fs::File::create(pending.path()).map_err(|e| Error::output(dest, e))?;
    let mut out = std::io::BufWriter::new(file);
    let (w, h) = (frame.width as u32, frame.height as u32);
    let rgb = image::ExtendedColorType::Rgb8;
    let written = match format {
        image::ImageFormat::Jpeg => {
            let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 92);
            if let Some(p) = icc_profile {
                let _ = enc.set_icc_profile(p.to_vec());
            }
            enc.write_image(&frame.data, w, h, rgb)
        }
        _ => {
            let mut enc = image::codecs::png::PngEncoder::new(&mut out);
            if let Some(p) = icc_profile {
                let _ = enc.set_icc_profile(p.to_vec());
            }
            enc.write_image(&frame.data, w, h, rgb)
        }
    };
    written.map_err(|e| Error::output(dest, e))?;
    std::io::Write::flush(&mut out).map_err(|e| Error::output(dest, e))?;
    drop(out);
    pending.commit()?;
    Ok(())
}
