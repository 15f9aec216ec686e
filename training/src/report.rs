//! What a run writes besides checkpoints: metrics.csv, sample grids, the loss curve.

use std::path::Path;

use anyhow::{Context, Result};
use image::{imageops, RgbImage};
use tch::{Device, Tensor};

use crate::data::{center_square, load_rgb, to_nchw};
use crate::io::write_atomic;
use crate::transformer::Transformer;

/// One row of metrics.csv.
#[derive(Clone, Debug)]
pub struct Row {
    pub iteration: u64,
    pub elapsed_s: f64,
    pub terms: crate::loss::Terms,
}

pub const METRICS_HEADER: &str = "iteration,elapsed_s,total,content,style,tv,stability";

pub fn write_metrics(path: &Path, rows: &[Row]) -> Result<()> {
    let mut s = String::from(METRICS_HEADER);
    s.push('\n');
    for r in rows {
        let t = r.terms;
        s += &format!("{},{:.3},{:.6e},{:.6e},{:.6e},{:.6e},{:.6e}\n", r.iteration, r.elapsed_s, t.total, t.content, t.style, t.tv, t.stability);
    }
    write_atomic(path, s.as_bytes())
}

/// Rows of an existing metrics.csv up to `upto` (a resume drops rows after its checkpoint).
pub fn read_metrics(path: &Path, upto: u64) -> Vec<Row> {
    let Ok(text) = std::fs::read_to_string(path) else { return Vec::new() };
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let v: Vec<&str> = l.split(',').collect();
            let f = |i: usize| v.get(i)?.parse::<f64>().ok();
            // Runs from before the stability column have six.
            let terms = crate::loss::Terms { total: f(2)?, content: f(3)?, style: f(4)?, tv: f(5)?, stability: f(6).unwrap_or(0.0) };
            Some(Row { iteration: v.first()?.parse().ok()?, elapsed_s: f(1)?, terms })
        })
        .filter(|r| r.iteration <= upto)
        .collect()
}

/// Fixed sample images: `n` of the content files spread over the sorted list, as squares.
pub fn sample_inputs(files: &[std::path::PathBuf], n: usize, side: u32) -> Result<Vec<RgbImage>> {
    let n = n.min(files.len());
    (0..n).map(|i| Ok(center_square(&load_rgb(&files[i * files.len() / n])?, side))).collect()
}

/// A grid with one row per sample: content | stylized (one column per style of a multi-style net).
pub fn write_samples(path: &Path, net: &Transformer, inputs: &[RgbImage], device: Device) -> Result<()> {
    let Some(first) = inputs.first() else { return Ok(()) };
    let (w, h) = first.dimensions();
    let mut grid = RgbImage::new((1 + net.styles as u32) * w, h * inputs.len() as u32);
    for (i, img) in inputs.iter().enumerate() {
        let x = Tensor::from_slice(&to_nchw(std::slice::from_ref(img))).view([1, 3, h as i64, w as i64]).to_device(device);
        imageops::replace(&mut grid, img, 0, (i as u32 * h) as i64);
        for style in 0..net.styles {
            let y = tch::no_grad(|| net.forward_style(&x, style));
            let out = tensor_to_image(&y)?;
            imageops::replace(&mut grid, &out, ((1 + style) as u32 * w) as i64, (i as u32 * h) as i64);
        }
    }
    save_png(path, &grid)
}

/// (1, 3, H, W) 0..255 (clamped) -> RGB image.
pub fn tensor_to_image(y: &Tensor) -> Result<RgbImage> {
    let (_, _, h, w) = y.size4()?;
    let v = Vec::<u8>::try_from(
        &y.detach().clamp(0.0, 255.0).round().to_kind(tch::Kind::Uint8).squeeze_dim(0).permute([1, 2, 0]).contiguous().view([-1]).to_device(Device::Cpu),
    )?;
    RgbImage::from_raw(w as u32, h as u32, v).context("image buffer size")
}

/// Writes a PNG atomically.
pub fn save_png(path: &Path, img: &RgbImage) -> Result<()> {
    let mut buf = std::io::Cursor::new(Vec::new());
    img.write_to(&mut buf, image::ImageFormat::Png)?;
    write_atomic(path, buf.get_ref())
}

/// Loss curve (log scale; weighted terms, smoothed over 20 iterations) as a PNG.
pub fn write_loss_plot(path: &Path, rows: &[Row], w: &crate::loss::Weights) -> Result<()> {
    use plotters::prelude::*;
    if rows.len() < 2 {
        return Ok(());
    }
    // (label, colour, smoothed points) per curve.
    type Series<'a> = (&'a str, RGBColor, Vec<(f64, f64)>);
    let mut series: Vec<Series> = vec![
        ("total", BLACK, smooth(rows, |t| t.total)),
        ("content", BLUE, smooth(rows, |t| t.content * w.content)),
        ("style", RED, smooth(rows, |t| t.style * w.style)),
        ("tv", GREEN, smooth(rows, |t| t.tv * w.tv)),
    ];
    if w.stability > 0.0 {
        series.push(("stability", MAGENTA, smooth(rows, |t| t.stability * w.stability)));
    }
    let all = series.iter().flat_map(|s| s.2.iter().map(|p| p.1)).filter(|v| v.is_finite() && *v > 0.0);
    let (lo, hi) = all.fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
    if lo > hi {
        return Ok(());
    }
    let x0 = rows[0].iteration as f64;
    let x1 = (rows[rows.len() - 1].iteration as f64).max(x0 + 1.0);
    let (width, height) = (800u32, 480u32);
    let mut buf = vec![255u8; (width * height * 3) as usize];
    let labels = font_available();
    {
        let root = BitMapBackend::with_buffer(&mut buf, (width, height)).into_drawing_area();
        let mut b = ChartBuilder::on(&root);
        b.margin(15);
        if labels {
            b.caption("loss (weighted terms, log scale)", ("sans-serif", 20)).x_label_area_size(35).y_label_area_size(60);
        }
        let mut chart = b.build_cartesian_2d(x0..x1, (lo * 0.8..hi * 1.25).log_scale()).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut mesh = chart.configure_mesh();
        if !labels {
            mesh.disable_x_mesh().disable_y_mesh().x_labels(0).y_labels(0);
        }
        mesh.draw().map_err(|e| anyhow::anyhow!("{e}"))?;
        for (name, color, pts) in series {
            let s = chart
                .draw_series(LineSeries::new(pts.into_iter().filter(|p| p.1 > 0.0), color.stroke_width(2)))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if labels {
                s.label(name).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
            }
        }
        if labels {
            chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        root.present().map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    save_png(path, &RgbImage::from_raw(width, height, buf).context("plot buffer")?)
}

fn smooth(rows: &[Row], f: impl Fn(&crate::loss::Terms) -> f64) -> Vec<(f64, f64)> {
    const WIN: usize = 20;
    (0..rows.len())
        .map(|i| {
            let lo = i.saturating_sub(WIN - 1);
            let vals = &rows[lo..=i];
            (rows[i].iteration as f64, vals.iter().map(|r| f(&r.terms)).sum::<f64>() / vals.len() as f64)
        })
        .collect()
}

/// Registers a system TrueType font for the plot's text once; false when none is found
/// (the plot is then drawn without text).
fn font_available() -> bool {
    static FONT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *FONT.get_or_init(|| {
        const CANDIDATES: [&str; 3] = [
            "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/TTF/DejaVuSans.ttf",
        ];
        for p in CANDIDATES {
            if let Ok(bytes) = std::fs::read(p) {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font("sans-serif", plotters::style::FontStyle::Normal, bytes).is_ok() {
                    return true;
                }
            }
        }
        false
    })
}
