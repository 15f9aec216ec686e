//! `stylize video` through the real binary: what is kept (frames, duration, fps, audio, rotation), what is
//! refused (bad inputs), and that nothing half-written is left behind.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use stylize_model::onnx::Dim;

fn duration(path: &Path) -> f64 {
    let o = std::process::Command::new("ffprobe").args(["-v", "error", "-show_entries", "format=duration", "-of", "default=nw=1:nk=1"]).arg(path).output().unwrap();
    String::from_utf8_lossy(&o.stdout).trim().parse().unwrap()
}

#[test]
fn transcode_keeps_frames_duration_rate_and_audio() {
    let Some((dir, model, input)) = model_and_clip("half", 11, "160x120", 30, 1.5) else { return };
    let out = dir.path().join("styled.mp4");
    let o = stylize(&["video", "-m", model.to_str().unwrap(), input.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("45 frames") && stdout(&o).contains("fps"), "summary: {}", stdout(&o));
    assert_eq!(probe_video(&out, "nb_read_packets"), probe_video(&input, "nb_read_packets"));
    assert_eq!(probe_video(&out, "r_frame_rate"), "30/1");
    assert!((duration(&out) - duration(&input)).abs() <= 1.0 / 30.0 + 1e-3, "durations {} vs {}", duration(&out), duration(&input));
    assert_eq!(audio_md5(&out), audio_md5(&input), "audio packets changed");
    let (a, b) = (first_frame_rgb(&input), first_frame_rgb(&out));
    assert_eq!(a.len(), b.len());
    let diff = a.iter().zip(&b).map(|(x, y)| (*x as i32 - *y as i32).abs() as f64).sum::<f64>() / a.len() as f64;
    assert!(diff > 5.0, "stylized video looks like the input (mean diff {diff})");
    assert_eq!(files_in(dir.path()), vec!["clip.mp4", "half-11.onnx", "styled.mp4"]);
}

#[test]
fn rotation_is_kept_and_odd_sizes_are_made_even() {
    if skip_without_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = random_model(dir.path(), "half", 12);
    let plain = dir.path().join("plain.mp4");
    make_clip(&plain, "96x64", 25, 0.4);
    let rotated = dir.path().join("rotated.mp4");
    ffmpeg(&["-i", plain.to_str().unwrap(), "-c", "copy", "-metadata:s:v:0", "rotate=90", rotated.to_str().unwrap()]);
    let out = dir.path().join("out.mp4");
    let o = stylize(&["video", "-m", model.to_str().unwrap(), rotated.to_str().unwrap(), "-o", out.to_str().unwrap(), "--size", "81x45"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("odd"), "no note about the odd size: {}", stderr(&o));
    let side = std::process::Command::new("ffprobe").args(["-v", "error", "-show_streams"]).arg(&out).output().unwrap();
    assert!(String::from_utf8_lossy(&side.stdout).contains("rotation=90"), "rotation lost");
    assert_eq!(probe_video(&out, "width"), "80");
    assert_eq!(probe_video(&out, "height"), "44");
}

#[test]
fn bad_videos_fail_cleanly_without_output() {
    if skip_without_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = random_model(d, "half", 13);
    let m = model.to_str().unwrap();
    let out = d.join("out.mp4");
    let o_ = out.to_str().unwrap();
    assert_fails_with(&stylize(&["video", "-m", m, "nope.mp4", "-o", o_]), &["nope.mp4", "not found"]);
    let text = d.join("text.mp4");
    std::fs::write(&text, "hello").unwrap();
    assert_fails_with(&stylize(&["video", "-m", m, text.to_str().unwrap(), "-o", o_]), &["not a video file"]);
    let audio = d.join("audio.m4a");
    ffmpeg(&["-f", "lavfi", "-i", "sine", "-t", "0.5", audio.to_str().unwrap()]);
    assert_fails_with(&stylize(&["video", "-m", m, audio.to_str().unwrap(), "-o", o_]), &["no video stream"]);

    let clip = d.join("clip.mp4");
    make_clip(&clip, "128x96", 25, 2.0);
    assert_fails_with(&stylize(&["video", "-m", m, clip.to_str().unwrap(), "-o", clip.to_str().unwrap()]), &["is the input"]);
    assert_fails_with(&stylize(&["video", "-m", m, clip.to_str().unwrap(), "-o", d.join("none/out.mp4").to_str().unwrap()]), &["does not exist"]);
    assert_fails_with(&stylize(&["video", "-m", m, clip.to_str().unwrap(), "-o", d.join("out.xyz").to_str().unwrap()]), &["unsupported container"]);

    // Truncated: the first 55% of the file.
    let bytes = std::fs::read(&clip).unwrap();
    let cut = d.join("cut.mp4");
    std::fs::write(&cut, &bytes[..bytes.len() * 55 / 100]).unwrap();
    assert_fails_with(&stylize(&["video", "-m", m, cut.to_str().unwrap(), "-o", o_]), &["truncated at frame", "no output"]);
    assert!(!out.exists());
    assert_eq!(files_in(d), vec!["audio.m4a", "clip.mp4", "cut.mp4", "half-13.onnx", "text.mp4"]);
    // --keep-partial keeps the frames before the damage, under another name.
    let o = stylize(&["video", "-m", m, cut.to_str().unwrap(), "-o", o_, "--keep-partial"]);
    assert!(!o.status.success());
    let partial = d.join("out.partial.mp4");
    assert!(partial.exists(), "{}", stderr(&o));
    let kept: u64 = probe_video(&partial, "nb_read_packets").parse().unwrap();
    assert!(kept > 5 && kept < 50, "kept {kept} frames");
}

#[test]
fn ctrl_c_sigterm_and_sighup_remove_the_unfinished_output() {
    let Some((dir, model, clip)) = model_and_clip("full", 14, "320x240", 25, 20.0) else { return };
    let out = dir.path().join("out.mp4");
    let args = ["video", "-q", "-m", model.to_str().unwrap(), clip.to_str().unwrap(), "-o", out.to_str().unwrap()];
    for (signal, name, code) in [("INT", "Ctrl-C", 130), ("TERM", "SIGTERM", 143), ("HUP", "SIGHUP", 129)] {
        let o = signalled_when(&args, || true, signal, Duration::from_millis(2500));
        assert_fails_with(&o, &[&format!("interrupted ({name})"), "removed the unfinished"]);
        assert_eq!(o.status.code(), Some(code), "exit status after SIG{signal}: {}", stderr(&o));
        assert_eq!(files_in(dir.path()), vec!["clip.mp4", "full-14.onnx"], "leftovers after SIG{signal}");
    }
}

#[test]
fn a_killed_run_leaves_a_partial_file_that_the_next_run_removes() {
    let Some((dir, model, clip)) = model_and_clip("full", 15, "320x240", 25, 20.0) else { return };
    let d = dir.path();
    let out = d.join("out.mp4");
    let m = model.to_str().unwrap();
    // SIGKILL cannot be caught: the hidden temporary file stays (killed once it exists, whatever the load took).
    let partial = || files_in(d).iter().any(|f| f.contains(".partial-"));
    let o = signalled_when(&["video", "-q", "-m", m, clip.to_str().unwrap(), "-o", out.to_str().unwrap()], partial, "KILL", Duration::from_millis(300));
    assert!(!o.status.success());
    let left = std::fs::read_dir(d).unwrap().filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().contains(".partial-")).count();
    assert_eq!(left, 1, "the killed run left no partial file (the test would prove nothing): {:?}", files_in(d));
    // The next run writing into this folder removes it, whatever it writes.
    let short = d.join("short.mp4");
    make_clip(&short, "64x48", 10, 0.3);
    let o = stylize(&["video", "-q", "-m", m, short.to_str().unwrap(), "-o", d.join("other.mp4").to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(files_in(d), vec!["clip.mp4", "full-15.onnx", "other.mp4", "short.mp4"]);
}

#[test]
fn two_runs_writing_the_same_output_at_once_do_not_collide() {
    let Some((dir, model, clip)) = model_and_clip("lite", 16, "160x120", 25, 3.0) else { return };
    let out = dir.path().join("out.mp4");
    let spawn = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_stylize"))
            .args(["video", "-q", "-m", model.to_str().unwrap(), clip.to_str().unwrap(), "-o", out.to_str().unwrap()])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    // Each writes its own temporary file; the later rename wins and the file is whole.
    assert!(a.status.success() && b.status.success(), "{}{}", stderr(&a), stderr(&b));
    assert_eq!(probe_video(&out, "nb_read_packets"), "75");
    assert_eq!(audio_md5(&out), audio_md5(&clip));
    assert_eq!(files_in(dir.path()), vec!["clip.mp4", "lite-16.onnx", "out.mp4"]);
}

#[test]
fn shared_clip_keeps_its_audio() {
    let Some(data) = shared_data() else { return };
    if skip_without_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = random_model(dir.path(), "half", 15);
    let input = data.join("video/bigbuckbunny.mp4");
    let out = dir.path().join("bbb.mp4");
    let o = stylize(&["video", "-q", "-m", model.to_str().unwrap(), input.to_str().unwrap(), "-o", out.to_str().unwrap(), "--scale", "0.125"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(probe_video(&out, "nb_read_packets"), probe_video(&input, "nb_read_packets"));
    assert_eq!(probe_video(&out, "width"), "160");
    assert_eq!(audio_md5(&out), audio_md5(&input));
}

#[test]
fn flicker_of_an_identity_model_equals_the_input_change() {
    if skip_without_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("identity.onnx");
    identity_model(&model, &[Dim::Fixed(1), Dim::Fixed(3), Dim::Named("H"), Dim::Named("W")]);
    let input = dir.path().join("clip.mp4");
    make_clip(&input, "160x120", 25, 1.0);
    let o = stylize(&["flicker", "-q", "-m", model.to_str().unwrap(), input.to_str().unwrap(), "--frames", "10"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    // An output that is the input changes exactly as much as the input where the input stood still.
    assert!(out.contains("ratio 1.0)") && out.contains("9 frame pairs"), "{out}");
    let random = random_model(dir.path(), "half", 3);
    let o = stylize(&["flicker", "-q", "-m", random.to_str().unwrap(), input.to_str().unwrap(), "--frames", "4"]);
    assert!(o.status.success() && stdout(&o).contains("3 frame pairs"), "{}{}", stdout(&o), stderr(&o));
    let o = stylize(&["flicker", "-m", random.to_str().unwrap(), dir.path().join("missing.mp4").to_str().unwrap()]);
    assert_fails_with(&o, &["missing.mp4"]);
}

#[test]
fn style_mix_applies_to_every_video_frame() {
    if skip_without_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = multi_style_model(dir.path(), 2, 6);
    let input = dir.path().join("clip.mp4");
    make_clip(&input, "96x64", 10, 0.5);
    let transcode = |mix: &str| {
        let out = dir.path().join(format!("{}.mp4", mix.replace(['=', ','], "_")));
        let o = stylize(&["video", "-q", "-m", model.to_str().unwrap(), input.to_str().unwrap(), "-o", out.to_str().unwrap(), "--style-mix", mix, "--crf", "0"]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(probe_video(&out, "nb_read_packets"), "5");
        first_frame_rgb(&out)
    };
    let (a, b, mid) = (transcode("random-0"), transcode("random-1"), transcode("random-0=1,random-1=1"));
    let diff = |x: &[u8], y: &[u8]| x.iter().zip(y).map(|(p, q)| (*p as i32 - *q as i32).abs() as f64).sum::<f64>() / x.len() as f64;
    assert!(diff(&a, &b) > 1.0, "the two styles give the same video ({})", diff(&a, &b));
    assert!(diff(&mid, &a) > 0.1 && diff(&mid, &b) > 0.1, "the blend equals one end");
}

#[test]
fn the_x264_preset_reaches_the_encoder_and_auto_picks_one() {
    let Some((dir, model, input)) = model_and_clip("half", 17, "128x96", 25, 0.4) else { return };
    // x264 writes its settings into the stream; subme tells the presets auto picks from apart.
    let subme = |preset: &str| match preset {
        "ultrafast" => "subme=0",
        "superfast" => "subme=1",
        "veryfast" => "subme=2",
        other => panic!("unexpected preset {other}"),
    };
    for preset in ["ultrafast", "veryfast", "auto"] {
        let out = dir.path().join(format!("{preset}.mp4"));
        let o = stylize(&["video", "-m", model.to_str().unwrap(), input.to_str().unwrap(), "-o", out.to_str().unwrap(), "--preset", preset]);
        assert!(o.status.success(), "{}", stderr(&o));
        let summary = stdout(&o);
        let used = summary.split("libx264 ").nth(1).and_then(|s| s.split(')').next()).unwrap_or_else(|| panic!("no preset in the summary: {summary}"));
        if preset != "auto" {
            assert_eq!(used, preset, "summary: {summary}");
        }
        let bytes = std::fs::read(&out).unwrap();
        let has = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
        assert!(has(subme(used)), "{preset}: the stream was not encoded with {used}");
    }
    let out = dir.path().join("bad.mp4");
    let o = stylize(&["video", "-m", model.to_str().unwrap(), input.to_str().unwrap(), "-o", out.to_str().unwrap(), "--preset", "warp"]);
    assert!(!o.status.success() && stderr(&o).contains("warp"), "{}", stderr(&o));
    assert!(!out.exists());
}

/// Video frames as ffmpeg's per-frame md5 lines (timestamps and checksums).
fn frame_md5s(path: &Path) -> Vec<String> {
    let o = std::process::Command::new("ffmpeg").args(["-v", "error", "-i"]).arg(path).args(["-map", "0:v", "-f", "framemd5", "-"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).lines().filter(|l| !l.starts_with('#')).map(str::to_string).collect()
}

#[test]
fn frames_stylized_at_once_come_out_in_order() {
    let Some((dir, model, input)) = model_and_clip("half", 18, "96x64", 25, 1.2) else { return };
    // Single-threaded engines compute identical frames, so one engine and three at once must give the same video.
    let run = |n: &str| {
        let out = dir.path().join(format!("x{n}.mp4"));
        let args = ["video", "-m", model.to_str().unwrap(), input.to_str().unwrap(), "-o", out.to_str().unwrap(), "--preset", "ultrafast", "--threads", n, "--parallel-frames", n];
        let o = stylize(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        (out, stdout(&o))
    };
    let ((one, _), (three, summary)) = (run("1"), run("3"));
    assert!(summary.contains("30 frames") && summary.contains("x3"), "summary: {summary}");
    let (a, b) = (frame_md5s(&one), frame_md5s(&three));
    assert_eq!(a.len(), 30);
    assert_eq!(a, b, "three engines at once changed the video");
    assert_eq!(audio_md5(&three), audio_md5(&input), "audio packets changed");
    assert_fails_with(&stylize(&["video", "-m", model.to_str().unwrap(), input.to_str().unwrap(), "-o", "x.mp4", "--parallel-frames", "0"]), &["parallel-frames"]);
}

#[test]
fn frames_above_1080p_go_one_at_a_time_unless_asked() {
    let Some((dir, model, input)) = model_and_clip("lite", 19, "1936x1096", 25, 0.12) else { return };
    let run = |extra: &[&str]| {
        let out = dir.path().join("out.mp4");
        let mut args = vec!["video", "--threads", "2", "-m", model.to_str().unwrap(), input.to_str().unwrap(), "-o", out.to_str().unwrap(), "--frames", "2"];
        args.extend_from_slice(extra);
        let o = stylize(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    let default = run(&[]);
    assert!(default.contains("2 frames 1936x1096") && !default.contains(" x2"), "summary: {default}");
    let asked = run(&["--parallel-frames", "2"]);
    assert!(asked.contains(" x2"), "summary: {asked}");
}

#[test]
fn a_batch_of_files_and_folders_goes_on_past_a_broken_file() {
    let Some((dir, model, clip)) = model_and_clip("lite", 17, "96x64", 10, 0.5) else { return };
    let d = dir.path();
    let folder = d.join("more");
    std::fs::create_dir(&folder).unwrap();
    make_clip(&folder.join("b.mkv"), "64x48", 10, 0.3);
    ffmpeg(&["-f", "lavfi", "-i", "testsrc2=size=64x48:rate=10", "-t", "0.4", folder.join("c.gif").to_str().unwrap()]);
    std::fs::write(folder.join("broken.mp4"), b"not a video").unwrap();
    std::fs::write(folder.join("notes.txt"), b"ignored").unwrap();
    let out = d.join("out");
    std::fs::create_dir(&out).unwrap();
    let args = ["video", "-q", "-m", model.to_str().unwrap(), clip.to_str().unwrap(), folder.to_str().unwrap(), "-o", out.to_str().unwrap()];
    let o = stylize(&args);
    assert_fails_with(&o, &["1 of 4 videos failed", "broken.mp4"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("failed: ") && stderr(&o).contains("not a video file"), "{}", stderr(&o));
    assert!(stdout(&o).contains("video: 3 done, 1 failed"), "{}", stdout(&o));
    assert_eq!(files_in(&out), vec!["b-lite-17.mkv", "c-lite-17.mp4", "clip-lite-17.mp4"]);
    assert_eq!(probe_video(&out.join("c-lite-17.mp4"), "nb_read_packets"), "4");
    // A rerun with --skip-existing does only what is missing.
    std::fs::remove_file(out.join("b-lite-17.mkv")).unwrap();
    let mut again = args.to_vec();
    again.push("--skip-existing");
    let o = stylize(&again);
    assert!(stdout(&o).contains("video: 1 done, 2 skipped (output exists), 1 failed"), "{}", stdout(&o));
    assert_eq!(files_in(&out), vec!["b-lite-17.mkv", "c-lite-17.mp4", "clip-lite-17.mp4"]);
    // Many inputs need an output folder.
    assert_fails_with(&stylize(&["video", "-m", model.to_str().unwrap(), clip.to_str().unwrap(), folder.to_str().unwrap(), "-o", d.join("x.mp4").to_str().unwrap()]), &["output folder"]);
}

#[test]
fn gif_out_and_in_keep_frames_delays_and_loop() {
    let Some((dir, model, clip)) = model_and_clip("lite", 18, "96x64", 10, 1.2) else { return };
    let d = dir.path();
    let gif = d.join("out.gif");
    let o = stylize(&["video", "-m", model.to_str().unwrap(), clip.to_str().unwrap(), "-o", gif.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("audio is dropped"), "no note: {}", stderr(&o));
    assert!(stdout(&o).contains("12 frames") && stdout(&o).contains("gif"), "{}", stdout(&o));
    assert_eq!(probe_video(&gif, "nb_read_packets"), "12");
    assert!((duration(&gif) - 1.2).abs() < 0.05, "GIF lasts {} s", duration(&gif));
    let bytes = std::fs::read(&gif).unwrap();
    assert!(bytes.windows(11).any(|w| w == b"NETSCAPE2.0"), "no loop block: the GIF plays once");
    // Stylized, not the input: the first frame differs from the clip's.
    let (a, b) = (first_frame_rgb(&clip), first_frame_rgb(&gif));
    let diff = a.iter().zip(&b).map(|(x, y)| (*x as i32 - *y as i32).abs() as f64).sum::<f64>() / a.len() as f64;
    assert!(diff > 5.0, "the GIF looks like the input (mean diff {diff})");
    // A GIF in: every frame, with its delays.
    let back = d.join("back.mp4");
    let o = stylize(&["video", "-q", "-m", model.to_str().unwrap(), gif.to_str().unwrap(), "-o", back.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(probe_video(&back, "nb_read_packets"), "12");
    assert!((duration(&back) - 1.2).abs() < 0.11, "{} s", duration(&back));
}

/// The loop count in a GIF's NETSCAPE2.0 block (None: it plays once).
fn gif_loops(path: &Path) -> Option<u16> {
    let bytes = std::fs::read(path).unwrap();
    let at = bytes.windows(11).position(|w| w == b"NETSCAPE2.0")? + 13;
    Some(u16::from_le_bytes([bytes[at], bytes[at + 1]]))
}

#[test]
fn gif_loop_counts_carry_over() {
    let Some((dir, model, clip)) = model_and_clip("lite", 19, "64x48", 10, 0.6) else { return };
    let d = dir.path();
    let m = model.to_str().unwrap();
    for (ffmpeg_loop, expected) in [("3", Some(3)), ("-1", None), ("0", Some(0))] {
        let input = d.join(format!("in{ffmpeg_loop}.gif"));
        ffmpeg(&["-i", clip.to_str().unwrap(), "-loop", ffmpeg_loop, input.to_str().unwrap()]);
        assert_eq!(gif_loops(&input), expected, "ffmpeg wrote an unexpected loop count");
        let out = d.join(format!("out{ffmpeg_loop}.gif"));
        let o = stylize(&["video", "-q", "-m", m, input.to_str().unwrap(), "-o", out.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(gif_loops(&out), expected, "loop {ffmpeg_loop} was not kept");
    }
}

#[test]
fn animated_webp_out() {
    let Some((dir, model, clip)) = model_and_clip("lite", 20, "64x48", 10, 0.8) else { return };
    let d = dir.path();
    let webp = d.join("out.webp");
    // Without the temporal stage: frames it keeps identical are merged into one by the WebP encoder, and this
    // counts one animation frame per video frame.
    let o = stylize(&["video", "-m", model.to_str().unwrap(), clip.to_str().unwrap(), "--temporal", "off", "-o", webp.to_str().unwrap()]);
    if stderr(&o).contains("libwebp_anim") && !o.status.success() {
        eprintln!("skipping: this FFmpeg has no libwebp_anim encoder");
        return;
    }
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("audio is dropped"), "{}", stderr(&o));
    let bytes = std::fs::read(&webp).unwrap();
    assert!(bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP", "not a WebP file");
    // An animation: the ANIM chunk (loop count 0: forever) and one ANMF chunk per frame.
    let anim = bytes.windows(4).position(|w| w == b"ANIM").expect("no ANIM chunk: not animated");
    assert_eq!(u16::from_le_bytes([bytes[anim + 12], bytes[anim + 13]]), 0, "does not loop forever");
    assert_eq!(bytes.windows(4).filter(|w| *w == b"ANMF").count(), 8);
}

#[test]
fn image_sequences_round_trip_and_leave_nothing_on_failure() {
    let Some((dir, model, clip)) = model_and_clip("lite", 21, "64x48", 10, 1.0) else { return };
    let d = dir.path();
    let m = model.to_str().unwrap();
    let frames = d.join("frames");
    std::fs::create_dir(&frames).unwrap();
    let pattern = frames.join("%05d.png");
    let o = stylize(&["video", "-q", "-m", m, clip.to_str().unwrap(), "-o", pattern.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let names = files_in(&frames);
    assert_eq!(names.len(), 10, "{names:?}");
    assert_eq!((names[0].as_str(), names[9].as_str()), ("00001.png", "00010.png"));
    // Lossless 8-bit RGB (no YUV round trip), at the clip's size.
    let first = image::open(frames.join("00001.png")).unwrap();
    assert_eq!((first.width(), first.height(), first.color()), (64, 48, image::ColorType::Rgb8));
    // And back, at the rate asked for.
    let back = d.join("back.mp4");
    let o = stylize(&["video", "-q", "-m", m, pattern.to_str().unwrap(), "--fps", "5", "-o", back.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(probe_video(&back, "nb_read_packets"), "10");
    assert_eq!(probe_video(&back, "r_frame_rate"), "5/1");
    // A sequence whose input breaks half-way leaves no images behind.
    let broken = d.join("broken.mp4");
    let mut bytes = std::fs::read(&clip).unwrap();
    bytes.truncate(bytes.len() * 2 / 3);
    std::fs::write(&broken, bytes).unwrap();
    let out = d.join("out");
    std::fs::create_dir(&out).unwrap();
    let o = stylize(&["video", "-q", "-m", m, broken.to_str().unwrap(), "-o", out.join("%04d.png").to_str().unwrap()]);
    assert!(!o.status.success(), "a truncated clip passed");
    assert_eq!(files_in(&out), Vec::<String>::new());
    // Errors name the problem.
    assert_fails_with(&stylize(&["video", "-q", "-m", m, d.join("none/%05d.png").to_str().unwrap(), "-o", back.to_str().unwrap()]), &["not found"]);
    assert_fails_with(&stylize(&["video", "-q", "-m", m, clip.to_str().unwrap(), "-o", d.join("none/%05d.png").to_str().unwrap()]), &["does not exist"]);
}
