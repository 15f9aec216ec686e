//! `stylize live` through the real binary: headless runs (frame accounting, latency statistics, recording),
//! clean errors without a camera or a display, and a real window under Xvfb driven with xdotool.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

/// The numbers of the summary's accounting lines: `captured A = stylized B + dropped before stylizing C + left at exit D`.
fn accounting(out: &str, first: &str) -> [u64; 4] {
    let line = out.lines().map(str::trim).find(|l| l.starts_with(first)).unwrap_or_else(|| panic!("no {first:?} line in:\n{out}"));
    let nums: Vec<u64> = line.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).map(|s| s.parse().unwrap()).collect();
    assert_eq!(nums.len(), 4, "line {line:?}");
    [nums[0], nums[1], nums[2], nums[3]]
}

/// Checks that both accounting lines add up; returns (captured, stylized, shown).
fn counts_add_up(out: &str) -> (u64, u64, u64) {
    let [captured, stylized, dropped_in, left_in] = accounting(out, "captured");
    assert_eq!(captured, stylized + dropped_in + left_in, "capture accounting:\n{out}");
    let [stylized2, shown, dropped_out, left_out] = accounting(out, "stylized");
    assert_eq!(stylized, stylized2);
    assert_eq!(stylized, shown + dropped_out + left_out, "display accounting:\n{out}");
    assert!(out.contains("latency (capture to display): mean") && out.contains("p95"), "no latency statistics:\n{out}");
    (captured, stylized, shown)
}

#[test]
fn headless_test_pattern_counts_add_up() {
    let dir = tempfile::tempdir().unwrap();
    let model = random_model(dir.path(), "half", 21);
    let o = stylize(&["live", "--input", "test", "--size", "160x96", "--no-window", "--frames", "30", "-v", "-m", model.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("live: 30 frames shown") && out.contains("160x96 from test pattern"), "{out}");
    let (captured, stylized, shown) = counts_add_up(&out);
    assert_eq!(shown, 30);
    assert!(captured >= stylized && stylized >= shown);
    // 30 frames at 30 fps take at least a second: -v printed a per-second line.
    assert!(stderr(&o).contains("s] shown"), "no per-second line: {}", stderr(&o));
}

#[test]
fn headless_file_plays_every_frame_records_and_loops() {
    if skip_without_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = random_model(d, "half", 22);
    let m = model.to_str().unwrap();
    let clip = d.join("clip.mp4");
    make_clip(&clip, "128x96", 10, 1.5);
    let rec = d.join("rec.mp4");
    let o = stylize(&["live", "--input", clip.to_str().unwrap(), "--no-window", "-m", m, "--record", rec.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let (captured, _, shown) = counts_add_up(&out);
    assert_eq!(captured, 15, "every frame of the file is captured once:\n{out}");
    assert!(shown >= 1);
    // The recording holds exactly the frames shown, and nothing half-written is left.
    assert!(out.contains(&format!("recorded {shown} frames to")), "{out}");
    assert_eq!(probe_video(&rec, "nb_read_packets"), shown.to_string());
    assert_eq!(files_in(d), vec!["clip.mp4", "half-22.onnx", "rec.mp4"]);

    // --loop: past the 15 frames of the file.
    let o = stylize(&["live", "--input", clip.to_str().unwrap(), "--loop", "--no-window", "--frames", "20", "-q", "-m", m]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (captured, _, shown) = counts_add_up(&stdout(&o));
    assert_eq!(shown, 20);
    assert!(captured >= 20, "captured {captured}");
}

#[test]
fn no_camera_is_a_clean_error() {
    if Path::new("/dev/video0").exists() {
        eprintln!("skipping: this machine has a camera (/dev/video0)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = random_model(dir.path(), "half", 23);
    let o = stylize(&["live", "--camera", "0", "--no-window", "-m", model.to_str().unwrap()]);
    assert_fails_with(&o, &["camera 0", "no cameras found", "--input test"]);
    assert_eq!(stderr(&o).lines().count(), 1, "more than one line: {}", stderr(&o));
    let o = stylize(&["live", "--list-cameras"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("no cameras found"), "{}", stdout(&o));
}

#[test]
fn no_display_suggests_no_window() {
    let dir = tempfile::tempdir().unwrap();
    let model = random_model(dir.path(), "half", 24);
    let o = Command::new(env!("CARGO_BIN_EXE_stylize"))
        .args(["live", "--input", "test", "-m", model.to_str().unwrap()])
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    assert_fails_with(&o, &["DISPLAY", "--no-window"]);
    // Other bad input: a missing file, a bad size.
    assert_fails_with(&stylize(&["live", "--input", "nope.mp4", "--no-window", "-m", model.to_str().unwrap()]), &["nope.mp4", "not found"]);
    let o = stylize(&["live", "--input", "test", "--size", "0x10", "--no-window"]);
    assert!(!o.status.success() && stderr(&o).contains("out of range"), "{}", stderr(&o));
}

/// Mean absolute difference per channel between two equally sized RGB images.
fn mean_diff(a: &image::RgbImage, b: &image::RgbImage) -> f64 {
    a.as_raw().iter().zip(b.as_raw()).map(|(x, y)| (*x as f64 - *y as f64).abs()).sum::<f64>() / a.as_raw().len() as f64
}

/// The window's picture below the HUD's top lines and above its help line.
fn window_region(shot: &Path, geom: &(u32, u32, u32, u32)) -> image::RgbImage {
    let img = image::open(shot).unwrap_or_else(|e| panic!("screenshot {}: {e}", shot.display())).to_rgb8();
    let (x, y, w, h) = *geom;
    image::imageops::crop_imm(&img, x, y + h / 6, w, h * 2 / 3).to_image()
}

/// Xvfb, xdotool, ImageMagick's import and ffmpeg, or why a window test cannot run.
fn window_tools_missing() -> bool {
    if Command::new("xvfb-run").arg("--help").output().is_err() || !have("ffmpeg") {
        eprintln!("skipping: xvfb-run or ffmpeg is missing (scripts/setup.sh installs xvfb, xdotool and imagemagick)");
        return true;
    }
    for tool in ["xdotool", "import"] {
        if Command::new(tool).arg("-version").output().is_err() {
            eprintln!("skipping: {tool} is missing (scripts/setup.sh installs xvfb, xdotool and imagemagick)");
            return true;
        }
    }
    false
}

/// Runs `stylize live ARGS --snapshot-dir D/snaps` in `D` under Xvfb, waits for its window ($WID), runs the shell
/// lines `keys` (xdotool presses, screenshots into $D), then quits with Q; `D/exit.txt` gets the exit status.
fn drive_window(d: &Path, args: &[&str], keys: &str) -> std::process::Output {
    let script = d.join("drive.sh");
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    std::fs::write(
        &script,
        format!(
            r#"set -u
BIN="$1"; D="$2"
cd "$D"
"$BIN" live {} --snapshot-dir "$D/snaps" >"$D/live.out" 2>"$D/live.err" &
PID=$!
WID=
for i in $(seq 150); do
    WID=$(xdotool search --name '^stylize$' 2>/dev/null | head -n1)
    [ -n "$WID" ] && break
    kill -0 $PID 2>/dev/null || {{ echo "stylize exited before its window appeared"; exit 3; }}
    sleep 0.2
done
[ -n "$WID" ] || {{ echo "no window after 30 s"; kill $PID; exit 3; }}
{keys}
xdotool key q
wait $PID
echo "exit=$?" >"$D/exit.txt"
"#,
            quoted.join(" ")
        ),
    )
    .unwrap();
    Command::new("timeout")
        .args(["90", "xvfb-run", "-a", "-s", "-screen 0 800x600x24", "sh"])
        .arg(&script)
        .arg(env!("CARGO_BIN_EXE_stylize"))
        .arg(d)
        .output()
        .unwrap()
}

#[test]
fn window_under_xvfb_shows_stylized_frames_and_takes_keys() {
    if window_tools_missing() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = random_model(d, "half", 25);
    let b = random_model(d, "half", 26);
    // A still picture as a clip: the raw input is known exactly.
    let still = d.join("still.png");
    write_png(&still, 160, 120);
    let clip = d.join("still.mp4");
    ffmpeg(&["-loop", "1", "-i", still.to_str().unwrap(), "-t", "2", "-r", "10", "-pix_fmt", "yuv420p", "-c:v", "libx264", clip.to_str().unwrap()]);
    let snaps = d.join("snaps");
    std::fs::create_dir(&snaps).unwrap();
    let o = drive_window(
        d,
        &["--input", "still.mp4", "--loop", "-m", a.to_str().unwrap(), "-m", b.to_str().unwrap()],
        r#"sleep 3
xdotool getwindowgeometry --shell "$WID" >"$D/geom.txt"
import -window root "$D/shot1.png"
xdotool windowfocus --sync "$WID"
xdotool key 2
sleep 3
import -window root "$D/shot2.png"
xdotool key c
sleep 2
xdotool key s
sleep 1"#,
    );
    let log = || format!("{}{}\nlive stderr: {}", stdout(&o), stderr(&o), std::fs::read_to_string(d.join("live.err")).unwrap_or_default());
    assert!(o.status.success(), "driver failed: {}", log());
    assert_eq!(std::fs::read_to_string(d.join("exit.txt")).unwrap_or_default().trim(), "exit=0", "{}", log());
    assert!(std::fs::read_to_string(d.join("live.out")).unwrap().contains("frames shown"), "{}", log());

    let geom = std::fs::read_to_string(d.join("geom.txt")).unwrap();
    let field = |k: &str| -> u32 { geom.lines().find_map(|l| l.strip_prefix(&format!("{k}="))).unwrap_or_else(|| panic!("{k} in {geom}")).parse().unwrap() };
    let g = (field("X"), field("Y"), field("WIDTH"), field("HEIGHT"));
    assert!(g.2 >= 320 && g.3 >= 200, "window too small: {geom}");
    let (shot1, shot2) = (window_region(&d.join("shot1.png"), &g), window_region(&d.join("shot2.png"), &g));

    let brightness = shot1.as_raw().iter().map(|&v| v as f64).sum::<f64>() / shot1.as_raw().len() as f64;
    assert!(brightness > 10.0, "the window is black (mean {brightness:.1})");
    // The raw input scaled the way the window shows it (same aspect ratio: it fills the window).
    let raw = image::imageops::resize(&image::open(&still).unwrap().to_rgb8(), g.2, g.3, image::imageops::FilterType::Triangle);
    let raw = image::imageops::crop_imm(&raw, 0, g.3 / 6, g.2, g.3 * 2 / 3).to_image();
    let vs_raw = mean_diff(&shot1, &raw);
    assert!(vs_raw > 20.0, "the window shows the raw input, not a stylized frame (mean diff {vs_raw:.1})");
    let vs_model = mean_diff(&shot1, &shot2);
    eprintln!("window {g:?}: brightness {brightness:.1}, diff to the raw input {vs_raw:.1}, diff after the model switch {vs_model:.1}");
    assert!(vs_model > 5.0, "switching models did not change the picture (mean diff {vs_model:.1})");

    let names: Vec<String> = files_in(&snaps);
    assert!(names.len() == 1 && names[0].starts_with("stylize-half-26-") && names[0].ends_with(".png"), "snapshots: {names:?}");
    // C (keep colours) was on for the snapshot: its chroma (R-G, B-G) is the input's, only the luminance changed.
    let snap = image::open(snaps.join(&names[0])).unwrap().to_rgb8();
    let decoded = d.join("decoded.png");
    ffmpeg(&["-i", clip.to_str().unwrap(), "-frames:v", "1", decoded.to_str().unwrap()]);
    let input = image::open(&decoded).unwrap().to_rgb8();
    assert_eq!(snap.dimensions(), input.dimensions());
    let chroma = |p: &image::Rgb<u8>| [p[0] as f64 - p[1] as f64, p[2] as f64 - p[1] as f64];
    let (mut diff, mut n) = (0.0, 0.0);
    for (a, b) in snap.pixels().zip(input.pixels()) {
        if a.0.iter().all(|&v| v > 0 && v < 255) {
            let (ca, cb) = (chroma(a), chroma(b));
            diff += (ca[0] - cb[0]).abs() + (ca[1] - cb[1]).abs();
            n += 2.0;
        }
    }
    assert!(n > 1000.0 && diff / n < 12.0, "C did not keep the input's colours: mean chroma diff {:.1} over {n} values", diff / n);
}

#[test]
fn style_keys_glide_a_multi_style_model_between_its_styles() {
    if window_tools_missing() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = multi_style_model(d, 3, 9);
    let still = d.join("still.png");
    write_png(&still, 96, 64);
    ffmpeg(&["-loop", "1", "-i", still.to_str().unwrap(), "-t", "2", "-r", "10", "-pix_fmt", "yuv420p", "-c:v", "libx264", d.join("still.mp4").to_str().unwrap()]);
    std::fs::create_dir(d.join("snaps")).unwrap();
    // Snapshots: the starting mix (random-2), then ] twice (random-0, then random-1); glides take 0.2 s.
    let o = drive_window(
        d,
        &["--input", "still.mp4", "--loop", "-m", model.to_str().unwrap(), "--style-mix", "random-2", "--glide-seconds", "0.2"],
        r#"sleep 2
xdotool windowfocus --sync "$WID"
xdotool key s
sleep 1.2
xdotool key bracketright
sleep 1.5
xdotool key s
sleep 1.2
xdotool key bracketright
sleep 1.5
xdotool key s
sleep 1"#,
    );
    let log = || format!("{}{}\nlive stderr: {}", stdout(&o), stderr(&o), std::fs::read_to_string(d.join("live.err")).unwrap_or_default());
    assert!(o.status.success(), "driver failed: {}", log());
    assert_eq!(std::fs::read_to_string(d.join("exit.txt")).unwrap_or_default().trim(), "exit=0", "{}", log());
    let mut snaps = files_in(&d.join("snaps"));
    snaps.sort();
    assert_eq!(snaps.len(), 3, "snapshots: {snaps:?}; {}", log());
    // Each snapshot is what `stylize image --style-mix` makes of the decoded frame with that style alone.
    // (The looped clip's frames differ by encoding noise, so "equal" is within a grey level.) The frame is decoded
    // as stylize decodes it (a random net amplifies any other decoder's differences many times): by stylize
    // itself, at strength 0, which gives the decoded frame back.
    let o = stylize(&["video", "-q", "-m", model.to_str().unwrap(), d.join("still.mp4").to_str().unwrap(), "--frames", "1", "--strength", "0", "--temporal", "off", "-o", d.join("decoded-%d.png").to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let decoded = d.join("decoded-1.png");
    let mut wants = Vec::new();
    for (snap, style) in snaps.iter().zip(["random-2", "random-0", "random-1"]) {
        let want = d.join(format!("want-{style}.png"));
        let o = stylize(&["image", "-q", "-m", model.to_str().unwrap(), decoded.to_str().unwrap(), "-o", want.to_str().unwrap(), "--style-mix", style]);
        assert!(o.status.success(), "{}", stderr(&o));
        let got = image::open(d.join("snaps").join(snap)).unwrap().to_rgb8();
        let diff = mean_diff(&got, &image::open(&want).unwrap().to_rgb8());
        eprintln!("{snap}: mean diff to {style} alone {diff:.2}");
        assert!(diff < 1.0, "{snap} is not {style} alone (mean diff {diff:.2}); {}", log());
        wants.push(image::open(&want).unwrap().to_rgb8());
    }
    for (i, j) in [(0, 1), (1, 2), (0, 2)] {
        let apart = mean_diff(&wants[i], &wants[j]);
        assert!(apart > 2.0, "styles {i} and {j} look alike ({apart:.2}): the test could not tell them apart");
    }
}

#[test]
fn headless_style_mix_runs_and_bad_mixes_fail_before_starting() {
    let dir = tempfile::tempdir().unwrap();
    let model = multi_style_model(dir.path(), 2, 3);
    let m = model.to_str().unwrap();
    let o = stylize(&["live", "--input", "test", "--size", "96x64", "--no-window", "--frames", "5", "-m", m, "--style-mix", "random-1=0.25,random-0=0.75"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("live: 5 frames shown"), "{}", stdout(&o));
    assert_fails_with(&stylize(&["live", "--input", "test", "--no-window", "--frames", "5", "-m", m, "--style-mix", "starry"]), &["no style \"starry\"", "random-0, random-1"]);
    let single = random_model(dir.path(), "half", 4);
    assert_fails_with(&stylize(&["live", "--input", "test", "--no-window", "--frames", "5", "-m", single.to_str().unwrap(), "--style-mix", "random-0"]), &["one style"]);
}

#[test]
fn sigterm_and_sighup_keep_the_recording() {
    if skip_without_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = random_model(d, "half", 27);
    for (signal, code) in [("TERM", 143), ("HUP", 129)] {
        let rec = d.join(format!("rec-{signal}.mp4"));
        let args = ["live", "--input", "test", "--size", "128x96", "--no-window", "-m", model.to_str().unwrap(), "--record", rec.to_str().unwrap()];
        let o = signalled_when(&args, || true, signal, std::time::Duration::from_millis(3000));
        assert_eq!(o.status.code(), Some(code), "exit status after SIG{signal}: {}", stderr(&o));
        let out = stdout(&o);
        let (_, _, shown) = counts_add_up(&out);
        assert!(shown >= 5, "only {shown} frames shown in 3 s:\n{out}");
        // The recording is finished (playable, its index written) and holds every frame shown.
        assert!(out.contains(&format!("recorded {shown} frames to")), "{out}\n{}", stderr(&o));
        assert_eq!(probe_video(&rec, "nb_read_packets"), shown.to_string());
    }
    assert_eq!(files_in(d), vec!["half-27.onnx", "rec-HUP.mp4", "rec-TERM.mp4"]);
}
