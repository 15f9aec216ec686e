//! Long jobs: memory that does not grow with the input's length.

mod common;

use std::path::Path;
use std::process::Command;

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
    if !have("ffmpeg") {
        eprintln!("skipping: ffmpeg is not installed");
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
