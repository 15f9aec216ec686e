//! The temporal stage end to end: `--temporal on|off` on video files and image sequences, a cut, live.

mod common;
use common::*;

use std::path::Path;

/// The frames of a PNG sequence written by `stylize video -o DIR/%05d.png`, in order.
fn frames(dir: &Path) -> Vec<image::RgbImage> {
    files_in(dir).iter().map(|f| image::open(dir.join(f)).expect("read a frame").to_rgb8()).collect()
}

fn mean_change(a: &image::RgbImage, b: &image::RgbImage) -> f64 {
    a.as_raw().iter().zip(b.as_raw()).map(|(&p, &q)| f64::from(p.abs_diff(q))).sum::<f64>() / a.as_raw().len() as f64
}

/// A still, noisy shot of a test card (10 frames), then a cut to a moving pattern (10 frames).
fn still_then_cut(dir: &Path) -> std::path::PathBuf {
    let clip = dir.join("still-cut.mp4");
    ffmpeg(&[
        "-f", "lavfi", "-i", "smptebars=size=128x96:rate=10,noise=alls=12:allf=t+u",
        "-f", "lavfi", "-i", "testsrc2=size=128x96:rate=10",
        "-filter_complex", "[0:v]trim=end_frame=10,setpts=PTS-STARTPTS[a];[1:v]trim=end_frame=10,setpts=PTS-STARTPTS[b];[a][b]concat=n=2:v=1[v]",
        "-map", "[v]", "-c:v", "libx264", "-crf", "4", "-pix_fmt", "yuv420p", clip.to_str().unwrap(),
    ]);
    clip
}

#[test]
fn a_still_shot_stops_boiling_and_a_cut_shows_the_new_frame_as_it_is() {
    if skip_without_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = random_model(d, "half", 11);
    let clip = still_then_cut(d);
    let run = |mode: &str| {
        let out = d.join(mode);
        std::fs::create_dir_all(&out).unwrap();
        let pattern = out.join("%05d.png");
        let o = stylize(&["video", "-m", model.to_str().unwrap(), clip.to_str().unwrap(), "--temporal", mode, "-o", pattern.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
        (frames(&out), stdout(&o))
    };
    let (on, on_line) = run("on");
    let (off, off_line) = run("off");
    assert_eq!((on.len(), off.len()), (20, 20));
    assert!(on_line.contains("temporal: ") && !off_line.contains("temporal: "), "the summary says whether the stage ran: {on_line} / {off_line}");
    // The network turns the noise into changes; the stage keeps the still shot.
    let change = |f: &[image::RgbImage]| (2..10).map(|i| mean_change(&f[i - 1], &f[i])).sum::<f64>() / 8.0;
    let (boil, still) = (change(&off), change(&on));
    assert!(boil > 1.0, "the per-frame output should change with the noise ({boil:.2})");
    assert!(still < boil * 0.25, "the temporal stage should keep the still shot: {still:.2} vs {boil:.2} per frame");
    // The first frame is the network's own, and so is the first frame after the cut: nothing of the still shot
    // is kept there.
    assert_eq!(on[0], off[0]);
    assert_eq!(on[10], off[10], "the frame after the cut must show the new frame as it is");

    // An image sequence as the input gets the stage too.
    let seq = d.join("on").join("%05d.png");
    let out = d.join("from-sequence.mp4");
    let o = stylize(&["video", "-q", "-m", model.to_str().unwrap(), seq.to_str().unwrap(), "--fps", "10", "-o", out.to_str().unwrap()]);
    assert!(o.status.success() && stdout(&o).contains("temporal: "), "{}{}", stdout(&o), stderr(&o));
}

#[test]
fn live_runs_the_stage_and_says_what_it_costs() {
    let dir = tempfile::tempdir().unwrap();
    let model = random_model(dir.path(), "lite", 3);
    let o = stylize(&["live", "--input", "test", "--size", "160x96", "--no-window", "--frames", "12", "-m", model.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("temporal stage: mean"), "{}", stdout(&o));
    let o = stylize(&["live", "--input", "test", "--size", "160x96", "--no-window", "--frames", "12", "--temporal", "off", "-m", model.to_str().unwrap()]);
    assert!(o.status.success() && !stdout(&o).contains("temporal stage"), "{}", stdout(&o));
}

#[test]
fn flicker_compares_the_stage_with_per_frame_output() {
    if skip_without_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = random_model(d, "half", 11);
    let clip = still_then_cut(d);
    let o = stylize(&["flicker", "-q", "-m", model.to_str().unwrap(), clip.to_str().unwrap(), "--frames", "10"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let row = |label: &str| -> Vec<f64> {
        let line = out.lines().find(|l| l.starts_with(label)).unwrap_or_else(|| panic!("no {label:?} row in {out}"));
        line.split_whitespace().rev().take(2).map(|v| v.parse().unwrap()).collect::<Vec<f64>>().into_iter().rev().collect()
    };
    let still = row("still-pixel change");
    let warp = row("warping error");
    assert!(still[1] < still[0] * 0.5 && warp[1] < warp[0] * 0.5, "per frame vs temporal: still {still:?}, warping {warp:?}\n{out}");
}
