//! Colour fidelity through the real binary: at strength 0 a transcode gives back the input's colours for each
//! YUV matrix and range, the output carries the input's colour tags, deep and HDR inputs get a note, and MP4s
//! are written index first.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// SMPTE HD colour bars, 5 frames, encoded losslessly with `matrix` and `range` and, when `tag`, tagged so.
fn bars(path: &Path, size: &str, matrix: &str, range: &str, tag: bool) {
    let vf = format!("scale=out_color_matrix={matrix}:out_range={range},format=yuv420p");
    let src = format!("smptehdbars=size={size}:rate=10");
    let mut args = vec!["-f", "lavfi", "-i", &src, "-frames:v", "5", "-vf", &vf, "-c:v", "libx264", "-qp", "0"];
    let (space, prim) = match matrix {
        "bt601" => ("smpte170m", "smpte170m"),
        "bt2020" => ("bt2020nc", "bt2020"),
        m => (m, m),
    };
    let trc = if matrix == "bt2020" { "bt2020-10" } else { prim };
    let ff_range = if range == "full" { "pc" } else { "tv" };
    if tag {
        args.extend(["-colorspace", space, "-color_primaries", prim, "-color_trc", trc, "-color_range", ff_range]);
    }
    args.push(path.to_str().unwrap());
    ffmpeg(&args);
}

/// The first frame as RGB, converted from YUV by `matrix`/`range` ("auto": the file's tags).
fn decode_rgb(path: &Path, matrix: &str, range: &str) -> (Vec<u8>, usize) {
    let vf = format!("scale=in_color_matrix={matrix}:in_range={range}:out_range=full,format=rgb24");
    let o = Command::new("ffmpeg").args(["-v", "error", "-i"]).arg(path).args(["-frames:v", "1", "-vf", &vf, "-f", "rawvideo", "-"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let width: usize = probe_video(path, "width").parse().unwrap();
    (o.stdout, width)
}

/// Mean RGB of the 8x8 block at (x, y).
fn patch(rgb: &(Vec<u8>, usize), x: usize, y: usize) -> [f64; 3] {
    let mut sum = [0.0; 3];
    for dy in 0..8 {
        for dx in 0..8 {
            let i = ((y + dy) * rgb.1 + x + dx) * 3;
            for (s, v) in sum.iter_mut().zip(&rgb.0[i..i + 3]) {
                *s += *v as f64 / 64.0;
            }
        }
    }
    sum
}

/// Worst channel difference over the bars' patches (the top row of bars and the bottom row).
fn worst_patch_diff(a: &(Vec<u8>, usize), b: &(Vec<u8>, usize), height: usize) -> f64 {
    let w = a.1;
    let mut worst: f64 = 0.0;
    for y in [height * 100 / 720, height * 620 / 720] {
        for k in 0..9 {
            let x = w * (2 * k + 1) / 18 - 4;
            let (p, q) = (patch(a, x, y), patch(b, x, y));
            for c in 0..3 {
                worst = worst.max((p[c] - q[c]).abs());
            }
        }
    }
    worst
}

fn color_tags(path: &Path) -> String {
    ["color_space", "color_range", "color_primaries", "color_transfer"].iter().map(|e| probe_video(path, e)).collect::<Vec<_>>().join("/")
}

struct Setup {
    dir: tempfile::TempDir,
    model: PathBuf,
}

fn setup() -> Option<Setup> {
    if skip_without_ffmpeg() {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = random_model(dir.path(), "lite", 41);
    Some(Setup { dir, model })
}

impl Setup {
    /// `stylize video --strength 0` of `input`; returns the output path and stderr.
    fn identity(&self, input: &Path, extra: &[&str]) -> (PathBuf, String) {
        let out = self.dir.path().join(format!("out-{}", input.file_name().unwrap().to_string_lossy()));
        let mut args = vec!["video", "-m", self.model.to_str().unwrap(), input.to_str().unwrap(), "-o", out.to_str().unwrap(), "--strength", "0", "--crf", "1"];
        args.extend(extra);
        let o = stylize(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        (out, stderr(&o))
    }
}

#[test]
fn strength_zero_gives_back_the_colours_of_every_matrix_and_range_and_keeps_the_tags() {
    let Some(s) = setup() else { return };
    for (size, matrix, range) in [("720x480", "bt601", "tv"), ("1280x720", "bt709", "tv"), ("1280x720", "bt709", "full"), ("1280x720", "bt2020", "tv")] {
        let input = s.dir.path().join(format!("bars-{matrix}-{range}.mp4"));
        bars(&input, size, matrix, range, true);
        let (out, _) = s.identity(&input, &[]);
        let height: usize = size.split('x').nth(1).unwrap().parse().unwrap();
        let worst = worst_patch_diff(&decode_rgb(&input, "auto", "auto"), &decode_rgb(&out, "auto", "auto"), height);
        eprintln!("{matrix} {range}: worst patch difference {worst:.2} grey levels; tags {}", color_tags(&out));
        assert!(worst <= 2.0, "{matrix} {range}: colours shifted by up to {worst:.1} levels");
        assert_eq!(color_tags(&out), color_tags(&input), "{matrix} {range}: tags not kept");
    }
}

#[test]
fn untagged_clips_are_read_as_players_read_them_and_tagged() {
    let Some(s) = setup() else { return };
    for (size, matrix, space) in [("1280x720", "bt709", "bt709"), ("640x480", "bt601", "smpte170m")] {
        let input = s.dir.path().join(format!("untagged-{matrix}.mp4"));
        bars(&input, size, matrix, "tv", false);
        assert_eq!(probe_video(&input, "color_space"), "unknown", "the test clip is tagged");
        let (out, _) = s.identity(&input, &[]);
        assert_eq!(probe_video(&out, "color_space"), space);
        assert_eq!(probe_video(&out, "color_range"), "tv");
        let height: usize = size.split('x').nth(1).unwrap().parse().unwrap();
        let worst = worst_patch_diff(&decode_rgb(&input, matrix, "tv"), &decode_rgb(&out, "auto", "auto"), height);
        eprintln!("untagged {size}: worst patch difference {worst:.2}");
        assert!(worst <= 2.0, "untagged {size}: colours shifted by up to {worst:.1} levels");
    }
}

#[test]
fn ten_bit_and_pq_inputs_get_a_note_and_honest_tags() {
    let Some(s) = setup() else { return };
    let input = s.dir.path().join("pq10.mkv");
    ffmpeg(&[
        "-f", "lavfi", "-i", "smptehdbars=size=640x360:rate=10", "-frames:v", "3", "-vf", "scale=out_color_matrix=bt2020:out_range=tv,format=yuv420p10le",
        "-c:v", "ffv1", "-colorspace", "bt2020nc", "-color_primaries", "bt2020", "-color_trc", "smpte2084", "-color_range", "tv", input.to_str().unwrap(),
    ]);
    let (out, err) = s.identity(&input, &[]);
    assert!(err.contains("10-bit input") && err.contains("HDR (PQ)"), "no note: {err}");
    assert_eq!(color_tags(&out), "bt2020nc/tv/bt2020/smpte2084");
    assert_eq!(probe_video(&out, "pix_fmt"), "yuv420p");
}

/// The top-level box types of an MP4 file, in order.
fn mp4_boxes(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap();
    let (mut at, mut boxes) = (0usize, Vec::new());
    while at + 8 <= bytes.len() {
        let mut size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        boxes.push(String::from_utf8_lossy(&bytes[at + 4..at + 8]).into_owned());
        if size == 1 {
            size = u64::from_be_bytes(bytes[at + 8..at + 16].try_into().unwrap()) as usize;
        }
        if size < 8 {
            break;
        }
        at += size;
    }
    boxes
}

#[test]
fn mp4_outputs_put_the_index_first_unless_asked_not_to() {
    let Some(s) = setup() else { return };
    let input = s.dir.path().join("clip.mp4");
    make_clip(&input, "160x120", 10, 1.0);
    let (out, _) = s.identity(&input, &[]);
    let boxes = mp4_boxes(&out);
    let pos = |t: &str| boxes.iter().position(|b| b == t).unwrap_or_else(|| panic!("no {t} in {boxes:?}"));
    assert!(pos("moov") < pos("mdat"), "index after the data: {boxes:?}");
    let late = s.dir.path().join("late.mp4");
    let o = stylize(&["video", "-q", "-m", s.model.to_str().unwrap(), input.to_str().unwrap(), "-o", late.to_str().unwrap(), "--no-faststart"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let boxes = mp4_boxes(&late);
    assert!(boxes.iter().position(|b| b == "moov") > boxes.iter().position(|b| b == "mdat"), "{boxes:?}");
    assert_eq!(audio_md5(&out), audio_md5(&input));
    // Nothing but the inputs, the model and the two outputs: the faststart pass leaves no temporary file.
    assert_eq!(files_in(s.dir.path()), vec!["clip.mp4", "late.mp4", "lite-41.onnx", "out-clip.mp4"]);
}

#[test]
fn live_from_a_file_shows_the_colours_that_video_writes() {
    let Some(s) = setup() else { return };
    let input = s.dir.path().join("bars.mp4");
    bars(&input, "1280x720", "bt709", "tv", true);
    let (out, _) = s.identity(&input, &[]);
    let rec = s.dir.path().join("rec.mp4");
    let o = stylize(&["live", "-q", "--input", input.to_str().unwrap(), "--no-window", "-m", s.model.to_str().unwrap(), "--strength", "0", "--record", rec.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let worst = worst_patch_diff(&decode_rgb(&out, "auto", "auto"), &decode_rgb(&rec, "auto", "auto"), 720);
    eprintln!("live recording vs video: worst patch difference {worst:.2}; recording tags {}", color_tags(&rec));
    assert!(worst <= 3.0, "live shows other colours than video (up to {worst:.1} levels apart)");
    assert_eq!(probe_video(&rec, "color_space"), "bt709");
}
