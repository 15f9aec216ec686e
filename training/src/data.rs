//! Training data: every image under one or more folders, served as random square crops
//! (random scale, position and horizontal flip) of side `size`, decoded on worker threads.
//!
//! Deterministic: batch `i` is drawn from a ChaCha stream keyed by (seed, i), so a run and its
//! `--resume` see the same batches whatever the thread timing. Worker `w` of `n` makes batches
//! i = w, w + n, ... and hands them over through its own bounded channel (2 batches deep).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;

use anyhow::{bail, Context, Result};
use crossbeam_channel::{bounded, Receiver};
use image::{imageops, imageops::FilterType, RgbImage};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const EXTENSIONS: [&str; 6] = ["jpg", "jpeg", "png", "bmp", "webp", "tif"];
/// Decoded images are kept in memory when the data set has at most this many files.
const CACHE_MAX_FILES: usize = 256;

/// Image files under `dirs` (recursively) or given directly, sorted, de-duplicated.
pub fn list_images(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
        for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
            let p = e?.path();
            if p.is_dir() {
                walk(&p, out)?;
            } else if is_image(&p) {
                out.push(p);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out)?;
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            bail!("content path {} does not exist", p.display());
        }
    }
    out.sort();
    out.dedup();
    if out.is_empty() {
        bail!("no images (.jpg/.png/...) found in {paths:?}");
    }
    Ok(out)
}

fn is_image(p: &Path) -> bool {
    p.extension().and_then(|e| e.to_str()).is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Decodes an image file as 8-bit RGB.
pub fn load_rgb(path: &Path) -> Result<RgbImage> {
    Ok(image::open(path).with_context(|| format!("decoding {}", path.display()))?.to_rgb8())
}

/// HWC u8 images -> NCHW f32 on 0..255.
pub fn to_nchw(images: &[RgbImage]) -> Vec<f32> {
    let mut out = Vec::with_capacity(images.iter().map(|i| i.len()).sum());
    for img in images {
        let (w, h) = img.dimensions();
        for c in 0..3 {
            for y in 0..h {
                for x in 0..w {
                    out.push(img.get_pixel(x, y)[c] as f32);
                }
            }
        }
    }
    out
}

/// HWC u8 images -> NCHW u8 (a quarter of the bytes to copy to a GPU; converted to f32 there).
pub fn to_nchw_u8(images: &[RgbImage]) -> Vec<u8> {
    let mut out = Vec::with_capacity(images.iter().map(|i| i.len()).sum());
    for img in images {
        for c in 0..3 {
            out.extend(img.pixels().map(|p| p[c]));
        }
    }
    out
}

/// Resize so the short side is `side` then centre-crop a `side` x `side` square.
pub fn center_square(img: &RgbImage, side: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    let s = w.min(h);
    let sq = imageops::crop_imm(img, (w - s) / 2, (h - s) / 2, s, s).to_image();
    imageops::resize(&sq, side, side, FilterType::Triangle)
}

/// How crops are drawn.
#[derive(Clone, Debug)]
pub struct CropConfig {
    /// Output side.
    pub size: u32,
    /// Largest crop side before resizing, as a multiple of `size` (capped by the image's short side).
    pub max_scale: f32,
}

struct Source {
    files: Vec<PathBuf>,
    cache: Vec<OnceLock<Arc<RgbImage>>>,
}

impl Source {
    fn get(&self, i: usize) -> Result<Arc<RgbImage>> {
        if self.cache.is_empty() {
            return Ok(Arc::new(load_rgb(&self.files[i])?));
        }
        if let Some(img) = self.cache[i].get() {
            return Ok(img.clone());
        }
        let img = Arc::new(load_rgb(&self.files[i])?);
        Ok(self.cache[i].get_or_init(|| img).clone())
    }
}

/// One random crop (pure function of the rng state).
fn random_crop(img: &RgbImage, cfg: &CropConfig, rng: &mut ChaCha8Rng) -> RgbImage {
    let (w, h) = img.dimensions();
    let short = w.min(h);
    let lo = cfg.size.min(short);
    let hi = ((cfg.size as f32 * cfg.max_scale) as u32).min(short).max(lo);
    let c = rng.gen_range(lo..=hi);
    let x0 = rng.gen_range(0..=w - c);
    let y0 = rng.gen_range(0..=h - c);
    let mut crop = imageops::crop_imm(img, x0, y0, c, c).to_image();
    if c != cfg.size {
        crop = imageops::resize(&crop, cfg.size, cfg.size, FilterType::Triangle);
    }
    if rng.gen_bool(0.5) {
        imageops::flip_horizontal_in_place(&mut crop);
    }
    crop
}

/// Batch `iter` of a run: NCHW u8, `batch` x 3 x size x size.
fn make_batch(src: &Source, cfg: &CropConfig, batch: usize, seed: u64, iter: u64) -> Result<Vec<u8>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(iter);
    let mut crops = Vec::with_capacity(batch);
    for _ in 0..batch {
        let i = rng.gen_range(0..src.files.len());
        let img = src.get(i)?;
        crops.push(random_crop(&img, cfg, &mut rng));
    }
    Ok(to_nchw_u8(&crops))
}

/// Background loader of training batches.
pub struct Loader {
    rxs: Vec<Receiver<Result<Vec<u8>>>>,
    next: u64,
    start: u64,
    pub batch: usize,
    pub size: u32,
    handles: Vec<JoinHandle<()>>,
}

impl Loader {
    /// Starts `workers` threads making batches `start, start + 1, ...`.
    pub fn new(files: Vec<PathBuf>, cfg: CropConfig, batch: usize, seed: u64, start: u64, workers: usize) -> Self {
        let workers = workers.max(1);
        let cache = if files.len() <= CACHE_MAX_FILES { (0..files.len()).map(|_| OnceLock::new()).collect() } else { Vec::new() };
        let src = Arc::new(Source { files, cache });
        let mut rxs = Vec::new();
        let mut handles = Vec::new();
        for w in 0..workers as u64 {
            let (tx, rx) = bounded(2);
            let (src, cfg) = (src.clone(), cfg.clone());
            handles.push(std::thread::spawn(move || {
                let mut i = start + w;
                // Ends when the Loader (the receiver) is dropped.
                while tx.send(make_batch(&src, &cfg, batch, seed, i)).is_ok() {
                    i += workers as u64;
                }
            }));
            rxs.push(rx);
        }
        Self { rxs, next: start, start, batch, size: cfg.size, handles }
    }

    /// The next batch on `device` as f32 (B, 3, size, size), 0..255. To a GPU it travels as u8 from pinned
    /// memory without blocking, so the copy overlaps the work already queued.
    pub fn next_batch(&mut self, device: tch::Device) -> Result<tch::Tensor> {
        let w = ((self.next - self.start) % self.rxs.len() as u64) as usize;
        let data = self.rxs[w].recv().context("data loader thread died")??;
        self.next += 1;
        let s = self.size as i64;
        let x = tch::Tensor::from_slice(&data).view([self.batch as i64, 3, s, s]);
        let x = if device.is_cuda() { x.pin_memory(device).to_device_(device, tch::Kind::Uint8, true, false) } else { x };
        Ok(x.to_kind(tch::Kind::Float))
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        self.rxs.clear();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}
