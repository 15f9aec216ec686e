//! Helpers shared by the integration tests: run the real binary, make models and inputs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use stylize_model::onnx::{model_proto, Dim, GraphBuilder};
use stylize_model::{meta, onnx, random_weights, JohnsonSpec, Weights};

pub fn stylize(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stylize")).args(args).output().expect("run stylize")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// Asserts a clean failure: non-zero exit, no panic, an `error:` line that mentions each of `needles`.
pub fn assert_fails_with(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert!(!o.status.success(), "expected failure, got success; stderr: {err}");
    assert!(!err.contains("panicked"), "panicked: {err}");
    let line = err.lines().find(|l| l.starts_with("error:")).unwrap_or_else(|| panic!("no error line in: {err}"));
    for n in needles {
        assert!(line.to_lowercase().contains(&n.to_lowercase()), "error line {line:?} does not mention {n:?}");
    }
}

/// A random-weight Johnson net written through our ONNX writer (half width: fast in tests).
pub fn random_model(dir: &Path, arch: &str, seed: u64) -> PathBuf {
    let spec = JohnsonSpec::by_name(arch).expect("known arch");
    let weights = random_weights(&spec, seed);
    let bytes = onnx::johnson_to_onnx(&spec, &weights, &meta::standard(&spec, "random")).expect("write onnx");
    let path = dir.join(format!("{arch}-{seed}.onnx"));
    std::fs::write(&path, bytes).expect("write model");
    path
}

/// A random-weight multi-style lite net with `styles` styles named `random-0`, `random-1`, ...
pub fn multi_style_model(dir: &Path, styles: usize, seed: u64) -> PathBuf {
    let spec = JohnsonSpec::lite().with_styles(styles);
    let weights = random_weights(&spec, seed);
    let names: Vec<String> = (0..styles).map(|i| format!("random-{i}")).collect();
    let bytes = onnx::johnson_to_onnx(&spec, &weights, &meta::standard_multi(&spec, &names)).expect("write onnx");
    let path = dir.join(format!("styles{styles}-{seed}.onnx"));
    std::fs::write(&path, bytes).expect("write model");
    path
}

/// Writes an RGB PNG with a pattern.
pub fn write_png(path: &Path, w: u32, h: u32) {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 7 % 256) as u8, (y * 5 % 256) as u8, ((x + y) * 3 % 256) as u8]));
    img.save(path).expect("write png");
}

pub fn have(tool: &str) -> bool {
    Command::new(tool).arg("-version").output().map(|o| o.status.success()).unwrap_or(false)
}

/// A temporary folder holding a random `arch` model and a test clip `clip.mp4`; None (with a message) without
/// the ffmpeg CLIs.
pub fn model_and_clip(arch: &str, seed: u64, size: &str, rate: u32, seconds: f32) -> Option<(tempfile::TempDir, PathBuf, PathBuf)> {
    if skip_without_ffmpeg() {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = random_model(dir.path(), arch, seed);
    let input = dir.path().join("clip.mp4");
    make_clip(&input, size, rate, seconds);
    Some((dir, model, input))
}

/// Starts `stylize ARGS`, waits for `ready` (checked every 20 ms, for up to a minute) and then `after`, sends
/// `signal` (a `kill` name), and returns what it printed.
pub fn signalled_when<S: AsRef<std::ffi::OsStr>>(args: &[S], ready: impl Fn() -> bool, signal: &str, after: std::time::Duration) -> Output {
    use std::time::{Duration, Instant};
    let child = Command::new(env!("CARGO_BIN_EXE_stylize")).args(args).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let t = Instant::now();
    while !ready() && t.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(after);
    let sent = Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status().unwrap();
    assert!(sent.success());
    child.wait_with_output().unwrap()
}

/// A background process (a server, a cluster, a sender) that is stopped when the test is done with it, pass
/// or fail.
pub struct Background(pub std::process::Child);

impl Background {
    /// Starts `program ARGS` with its output thrown away.
    pub fn start<S: AsRef<std::ffi::OsStr>>(program: S, args: &[&str]) -> Background {
        use std::process::Stdio;
        Background(Command::new(program).args(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start a background process"))
    }

    /// Waits for it to end on its own, for at most `limit` (dropping it then stops it).
    pub fn wait(&mut self, limit: std::time::Duration) {
        let t = std::time::Instant::now();
        while t.elapsed() < limit && self.0.try_wait().unwrap().is_none() {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// True (after saying why) when the ffmpeg/ffprobe CLIs that a test needs to make or check clips are missing.
pub fn skip_without_ffmpeg() -> bool {
    if have("ffmpeg") && have("ffprobe") {
        return false;
    }
    eprintln!("skipping: the ffmpeg/ffprobe CLIs are not installed (scripts/setup.sh installs them)");
    true
}

/// Runs ffmpeg with `args` (quiet, overwrite).
pub fn ffmpeg(args: &[&str]) {
    let o = Command::new("ffmpeg").args(["-v", "error", "-y"]).args(args).output().expect("run ffmpeg");
    assert!(o.status.success(), "ffmpeg {args:?} failed: {}", String::from_utf8_lossy(&o.stderr));
}

/// A test clip: moving test pattern plus a sine tone, H.264 + AAC, index at the front.
pub fn make_clip(path: &Path, size: &str, rate: u32, seconds: f32) {
    let src = format!("testsrc2=size={size}:rate={rate}");
    let t = seconds.to_string();
    ffmpeg(&["-f", "lavfi", "-i", &src, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", &t, "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-movflags", "+faststart", path.to_str().unwrap()]);
}

/// ffprobe one value of the first video stream (e.g. "nb_frames", "r_frame_rate").
pub fn probe_video(path: &Path, entry: &str) -> String {
    let o = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries", &format!("stream={entry}"), "-of", "default=nw=1:nk=1"])
        .arg(path)
        .output()
        .expect("ffprobe");
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// MD5 of all audio packets, as copied (`-c copy`): equal means bit-identical audio.
pub fn audio_md5(path: &Path) -> String {
    let o = Command::new("ffmpeg").args(["-v", "error", "-i"]).arg(path).args(["-map", "0:a", "-c", "copy", "-f", "md5", "-"]).output().expect("ffmpeg md5");
    assert!(o.status.success(), "no audio in {}: {}", path.display(), String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// Decodes the first video frame to raw RGB.
pub fn first_frame_rgb(path: &Path) -> Vec<u8> {
    let o = Command::new("ffmpeg").args(["-v", "error", "-i"]).arg(path).args(["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]).output().expect("ffmpeg");
    o.stdout
}

pub fn shared_data() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("skipping: ../shared/data is absent");
        None
    }
}

/// Files in `dir` (names), sorted: to check that nothing half-written is left behind.
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect();
    v.sort();
    v
}

/// An ONNX model with one Identity node and the given input/output dims (for contract checks).
pub fn identity_model(path: &Path, dims: &[Dim]) {
    let weights = Weights::new();
    let mut g = GraphBuilder::new("identity", &weights);
    let x = g.input("input", dims);
    let y = g.node("Identity", "id", &[&x], vec![]);
    g.output(&y, "output", dims);
    let bytes = protobuf::Message::write_to_bytes(&model_proto(g.finish(), &[])).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// The checkout (where onnx/ and .deps/ are).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// True when OpenVINO is there to test; else says why not.
pub fn openvino_installed() -> bool {
    if root().join(".deps/openvino/lib/libopenvino_c.so").is_file() || std::env::var_os("OPENVINO_INSTALL_DIR").is_some() {
        return true;
    }
    eprintln!("skipping: OpenVINO is not installed (scripts/setup.sh puts it in .deps/openvino)");
    false
}

/// (largest, mean, 99.9th percentile) absolute difference in grey levels between two frames of one size.
pub fn diff(a: &stylize::Frame, b: &stylize::Frame) -> (u8, f64, u8) {
    assert_eq!((a.width, a.height), (b.width, b.height));
    let mut d: Vec<u8> = a.data.iter().zip(&b.data).map(|(x, y)| x.abs_diff(*y)).collect();
    let mean = d.iter().map(|&v| f64::from(v)).sum::<f64>() / d.len() as f64;
    d.sort_unstable();
    (d[d.len() - 1], mean, d[(d.len() - 1) * 999 / 1000])
}
