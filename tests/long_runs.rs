//! Long jobs: memory that does not grow with the input's length, and the faults of long runs (a full disk,
//! a batch stopped half-way).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;

/// Peak resident memory (KB) of `stylize ARGS`, from GNU time; None (with a message) without it.
fn peak_rss_kb(args: &[&str]) -> Option<u64> {
    if !Path::new("/usr/bin/time").exists() {
        eprintln!("skipping: /usr/bin/time is missing (apt package `time`; scripts/setup.sh installs it)");
        return None;
    }
    let o = Command::new("/usr/bin/time").args(["-f", "peak_rss_kb=%M"]).arg(env!("CARGO_BIN_EXE_stylize")).args(args).output().unwrap();
    assert!(o.status.success(), "stylize {args:?}: {}", stderr(&o));
    let err = stderr(&o);
    let line = err.lines().rev().find_map(|l| l.strip_prefix("peak_rss_kb=")).unwrap_or_else(|| panic!("no peak RSS in {err}"));
    Some(line.trim().parse().unwrap())
}

/// A clip of raw (uncompressed) 160x90 frames with audio: every packet is a whole 21.6 KB frame, so a leak of
/// one packet per frame shows as megabytes.
fn raw_clip(path: &Path, seconds: u32) {
    let t = seconds.to_string();
    ffmpeg(&["-f", "lavfi", "-i", "testsrc2=size=160x90:rate=30", "-f", "lavfi", "-i", "sine=frequency=440", "-t", &t, "-c:v", "rawvideo", "-pix_fmt", "yuv420p", "-c:a", "pcm_s16le", path.to_str().unwrap()]);
}

#[test]
fn peak_memory_does_not_grow_with_the_input_length() {
    if skip_without_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = random_model(d, "lite", 31);
    let (short, long) = (d.join("short.mkv"), d.join("long.mkv"));
    raw_clip(&short, 10);
    raw_clip(&long, 80);
    let run = |input: &Path| {
        let out = d.join("out.mkv");
        peak_rss_kb(&["video", "-q", "-m", model.to_str().unwrap(), input.to_str().unwrap(), "-o", out.to_str().unwrap(), "--preset", "ultrafast"])
    };
    let Some(one) = run(&short) else { return };
    let Some(eight) = run(&long) else { return };
    // 300 vs 2400 frames: a leak of one packet per frame would add 45 MB; allocator noise is a few MB.
    eprintln!("peak RSS: 300 frames {one} KB, 2400 frames {eight} KB ({:+} KB)", eight as i64 - one as i64);
    assert!(eight <= one + 8 * 1024, "peak RSS grew from {one} KB to {eight} KB for 8x the frames");
}

/// Unmounts on drop, pass or fail.
struct Tmpfs<'a>(&'a Path);

impl Drop for Tmpfs<'_> {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0).status();
    }
}

#[test]
fn a_full_disk_is_a_clean_error_and_leaves_nothing() {
    let Some((dir, model, clip)) = model_and_clip("lite", 32, "320x240", 25, 4.0) else { return };
    let d = dir.path();
    let full = d.join("full");
    std::fs::create_dir(&full).unwrap();
    let mounted = Command::new("mount").args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"]).arg(&full).output();
    if !mounted.as_ref().is_ok_and(|o| o.status.success()) {
        eprintln!("skipping: cannot mount a small tmpfs here (needs root)");
        return;
    }
    let _guard = Tmpfs(&full);
    let m = model.to_str().unwrap();
    let o = stylize(&["video", "-q", "-m", m, clip.to_str().unwrap(), "-o", full.join("out.mp4").to_str().unwrap(), "--crf", "0"]);
    assert_fails_with(&o, &["out.mp4"]);
    assert!(stderr(&o).to_lowercase().contains("space"), "the error does not say the disk is full: {}", stderr(&o));
    assert!(files_in(&full).is_empty(), "left in the full folder: {:?}", files_in(&full));
    // An image too big for what is left.
    let png = d.join("big.png");
    write_png(&png, 1200, 900);
    let o = stylize(&["image", "-q", "-m", m, png.to_str().unwrap(), "-o", full.join("big.png").to_str().unwrap()]);
    assert_fails_with(&o, &["big.png"]);
    assert!(files_in(&full).is_empty(), "left in the full folder: {:?}", files_in(&full));
    assert!(clip.exists() && png.exists(), "an input was touched");
}

#[test]
fn a_stopped_batch_keeps_the_finished_images_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = random_model(d, "full", 33);
    let inputs: Vec<String> = (0..8)
        .map(|i| {
            let p = d.join(format!("in{i}.png"));
            write_png(&p, 480, 360);
            p.to_string_lossy().into_owned()
        })
        .collect();
    let out = d.join("out");
    std::fs::create_dir(&out).unwrap();
    let mut args = vec!["image".to_string(), "-m".into(), model.to_string_lossy().into_owned(), "-o".into(), format!("{}/", out.display())];
    args.extend(inputs);
    // Stop it once the first image is written.
    let o = signalled_when(&args, || files_in(&out).iter().any(|f| !f.starts_with('.')), "INT", Duration::ZERO);
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    assert_fails_with(&o, &["interrupted (Ctrl-C) after", "of 8 images", "finished ones are kept"]);
    let done = stdout(&o).lines().filter(|l| l.contains(" -> ")).count();
    let written = files_in(&out);
    assert!((1..8).contains(&done), "{done} images reported done: {}", stdout(&o));
    assert_eq!(written.len(), done, "written {written:?}, reported {done}");
    assert!(written.iter().all(|f| f.ends_with("-full-33.png")), "{written:?}");
    assert!(stderr(&o).contains(&format!("after {done} of 8")), "{}", stderr(&o));
}
