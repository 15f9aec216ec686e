//! Segments for many machines: `stylize video --plan N`, `--segment K/N` and `stylize join`, checked against a
//! one-process transcode of the same clip (lossless, so frames compare exactly), and a Dask cluster on 127.0.0.1.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// Frame timestamps and checksums (`ffmpeg -f framemd5`), the stream's own lines only.
fn frame_md5s(path: &Path) -> Vec<String> {
    let o = Command::new("ffmpeg").args(["-v", "error", "-i"]).arg(path).args(["-map", "0:v", "-f", "framemd5", "-"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).lines().filter(|l| !l.starts_with('#')).map(|l| l.split(',').map(str::trim).collect::<Vec<_>>().join(",")).collect()
}

/// Stylizes every segment of `input` (N of them, per its plan) into `dir`; returns the files.
fn segments(model: &Path, input: &Path, dir: &Path, n: usize, extra: &[&str]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for k in 0..n {
        let out = dir.join(format!("seg-{k}.mp4"));
        let mut args = vec!["video", "-q", "-m", model.to_str().unwrap(), input.to_str().unwrap(), "--segment"];
        let spec = format!("{k}/{n}");
        args.push(&spec);
        args.extend(["-o", out.to_str().unwrap()]);
        args.extend(extra);
        let o = stylize(&args);
        assert!(o.status.success(), "segment {spec}: {}", stderr(&o));
        if out.exists() {
            files.push(out);
        }
    }
    files
}

fn join(segs: &[PathBuf], source: &Path, out: &Path) -> std::process::Output {
    let mut args: Vec<&str> = vec!["join"];
    args.extend(segs.iter().map(|p| p.to_str().unwrap()));
    args.extend(["--audio-from", source.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    stylize(&args)
}

/// Segmented and one-process transcodes of `input` (lossless): the same frames at the same timestamps, the same
/// audio packets. Without the temporal stage: with it, each segment starts it afresh at its first frame, where
/// the one process carries on.
fn joined_equals_one_process(dir: &Path, model: &Path, input: &Path, n: usize) {
    let one = dir.join("one.mp4");
    let o = stylize(&["video", "-q", "-m", model.to_str().unwrap(), input.to_str().unwrap(), "--crf", "0", "--preset", "veryfast", "--temporal", "off", "-o", one.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let segdir = dir.join(format!("segs-{n}"));
    std::fs::create_dir_all(&segdir).unwrap();
    let mut segs = segments(model, input, &segdir, n, &["--crf", "0", "--temporal", "off"]);
    segs.reverse(); // join sorts them itself
    let joined = dir.join("joined.mp4");
    let o = join(&segs, input, &joined);
    assert!(o.status.success(), "{}", stderr(&o));
    let (a, b) = (frame_md5s(&one), frame_md5s(&joined));
    assert_eq!(a.len(), b.len(), "frame counts differ");
    assert!(a == b, "frames or timestamps differ from the one-process transcode, first at {:?}", a.iter().zip(&b).position(|(x, y)| x != y));
    assert_eq!(audio_md5(&joined), audio_md5(input), "the audio was not copied exactly");
}

#[test]
fn segments_join_into_the_one_process_transcode() {
    if skip_without_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = random_model(d, "half", 71);
    // Irregular keyframes (every 17 frames, or sooner at scene changes) and B-frames.
    let clip = d.join("irregular.mp4");
    ffmpeg(&["-f", "lavfi", "-i", "testsrc2=size=128x72:rate=25", "-f", "lavfi", "-i", "sine", "-t", "4", "-c:v", "libx264", "-g", "17", "-keyint_min", "5", "-bf", "2", "-pix_fmt", "yuv420p", "-c:a", "aac", clip.to_str().unwrap()]);
    let o = stylize(&["video", "--plan", "3", "--json", clip.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let plan = stdout(&o);
    assert!(plan.contains(r#""frames": 100"#) && plan.matches(r#""index""#).count() == 3, "{plan}");
    joined_equals_one_process(d, &model, &clip, 3);
}

#[test]
fn variable_frame_rate_and_rotated_clips_survive_the_round_trip() {
    if skip_without_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = random_model(d, "half", 72);
    // VFR: frames dropped irregularly from a 30 fps source, timestamps kept.
    let vfr = d.join("vfr.mkv");
    ffmpeg(&["-f", "lavfi", "-i", "testsrc2=size=96x64:rate=30", "-f", "lavfi", "-i", "sine", "-t", "3", "-vf", "select='not(mod(n\\,3))+not(mod(n\\,7))'", "-fps_mode", "vfr", "-c:v", "libx264", "-g", "10", "-pix_fmt", "yuv420p", "-c:a", "aac", vfr.to_str().unwrap()]);
    joined_equals_one_process(d, &model, &vfr, 4);
    // Rotation comes from the source at the join.
    let plain = d.join("plain.mp4");
    make_clip(&plain, "96x64", 10, 2.0);
    let rotated = d.join("rotated.mp4");
    ffmpeg(&["-i", plain.to_str().unwrap(), "-c", "copy", "-metadata:s:v", "rotate=90", rotated.to_str().unwrap()]);
    let segs = segments(&model, &rotated, d, 2, &[]);
    let joined = d.join("rotated-joined.mp4");
    assert!(join(&segs, &rotated, &joined).status.success());
    let o = Command::new("ffprobe").args(["-v", "error", "-select_streams", "v:0", "-show_entries", "stream_side_data=rotation", "-of", "csv=p=0"]).arg(&joined).output().unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("90"), "no rotation: {:?}", String::from_utf8_lossy(&o.stdout));
}

#[test]
fn more_segments_than_keyframes_and_bad_sets_of_segments() {
    let Some((dir, model, clip)) = model_and_clip("half", 73, "96x64", 10, 2.0) else { return };
    let d = dir.path();
    let m = model.to_str().unwrap();
    // make_clip's x264 puts one keyframe at the start (its default interval is 250): one segment.
    let o = stylize(&["video", "--plan", "4", clip.to_str().unwrap()]);
    assert!(o.status.success() && stderr(&o).contains("segments instead of 4"), "{}", stderr(&o));
    let empty = d.join("empty.mp4");
    let o = stylize(&["video", "-q", "-m", m, clip.to_str().unwrap(), "--segment", "2/4", "-o", empty.to_str().unwrap()]);
    assert!(o.status.success() && stdout(&o).contains("is empty"), "{}", stdout(&o));
    assert!(!empty.exists());

    let clip = d.join("keys.mp4");
    ffmpeg(&["-f", "lavfi", "-i", "testsrc2=size=96x64:rate=10", "-f", "lavfi", "-i", "sine", "-t", "3", "-c:v", "libx264", "-g", "10", "-pix_fmt", "yuv420p", "-c:a", "aac", clip.to_str().unwrap()]);
    let segs = segments(&model, &clip, d, 3, &[]);
    assert_eq!(segs.len(), 3);
    let out = d.join("out.mp4");
    assert_fails_with(&join(&segs[..2], &clip, &out), &["segment 2/3 is missing"]);
    assert_fails_with(&join(&[segs[0].clone(), segs[1].clone(), segs[1].clone(), segs[2].clone()], &clip, &out), &["given twice"]);
    // A segment made with another model.
    let other = random_model(d, "half", 74);
    let odd_dir = d.join("other");
    std::fs::create_dir(&odd_dir).unwrap();
    let odd = segments(&other, &clip, &odd_dir, 3, &[]);
    assert_fails_with(&join(&[segs[0].clone(), odd[1].clone(), segs[2].clone()], &clip, &out), &["model"]);
    // A segment deleted before the join, and one cut short.
    std::fs::remove_file(&odd[2]).unwrap();
    assert_fails_with(&join(&odd, &clip, &out), &["not found"]);
    let bytes = std::fs::read(&segs[1]).unwrap();
    std::fs::write(&segs[1], &bytes[..bytes.len() / 2]).unwrap();
    let o = join(&segs, &clip, &out);
    assert!(!o.status.success(), "a truncated segment was joined");
    assert!(!out.exists(), "a failed join left {}", out.display());
    assert!(files_in(d).iter().all(|f| !f.contains(".partial")), "{:?}", files_in(d));
}

/// The `dask` command of the project's Python environment (scripts/setup.sh --dask); None, after saying so,
/// without it.
fn dask() -> Option<PathBuf> {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join(".deps/dask/bin");
    if bin.join("dask").is_file() {
        return Some(bin);
    }
    eprintln!("skipping: no Dask in .deps/dask (scripts/setup.sh --dask installs it)");
    None
}

/// The parent process of `pid` (from /proc).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn a_dask_cluster_on_loopback_stylizes_segments_and_survives_a_killed_worker() {
    let Some(bin) = dask() else { return };
    if skip_without_ffmpeg() {
        return;
    }
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A slower (full) net on bigger frames, so that a segment runs long enough to be killed half-way.
    let model = random_model(d, "full", 75);
    let clip = d.join("film.mp4");
    ffmpeg(&["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=10", "-f", "lavfi", "-i", "sine", "-t", "8", "-c:v", "libx264", "-g", "20", "-pix_fmt", "yuv420p", "-c:a", "aac", clip.to_str().unwrap()]);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("tcp://127.0.0.1:{port}");
    let _scheduler = Background::start(bin.join("dask"), &["scheduler", "--host", "127.0.0.1", "--port", &port.to_string(), "--no-dashboard"]);
    // Two workers of one thread, without nannies (which would listen beyond loopback and restart a killed worker).
    let worker = || Background::start(bin.join("dask"), &["worker", &addr, "--host", "127.0.0.1", "--no-nanny", "--nthreads", "1", "--no-dashboard"]);
    let _workers = [worker(), worker()];
    let out = d.join("film-styled.mp4");
    let mut driver = Background(
        Command::new(bin.join("python"))
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/dask_transcode.py"))
            .args(["--scheduler", &addr, "-m", model.to_str().unwrap(), clip.to_str().unwrap(), "-o", out.to_str().unwrap(), "--segments", "4"])
            .args(["--stylize", env!("CARGO_BIN_EXE_stylize")])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // Kill the first worker seen running a segment of this test (and the segment with it), a second in.
    let marker = d.to_str().unwrap().to_string();
    let t = Instant::now();
    let mut killed = None;
    while killed.is_none() && t.elapsed() < Duration::from_secs(120) {
        // `stylize video -q -m MODEL ... --segment K/N` (not the driver, whose line has `--segments N`).
        let o = Command::new("pgrep").args(["-f", &format!("video -q -m {marker}.*--segment [0-9]")]).output().unwrap();
        let pids: Vec<u32> = String::from_utf8_lossy(&o.stdout).split_whitespace().filter_map(|p| p.parse().ok()).collect();
        if let Some(&seg) = pids.first() {
            std::thread::sleep(Duration::from_millis(500));
            let parent = parent_of(seg).expect("the segment's worker");
            for pid in [parent, seg] {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
            killed = Some(parent);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(killed.is_some(), "no segment was seen running");
    driver.wait(Duration::from_secs(300));
    let _ = driver.0.kill();
    // Its output: the child leaves the guard (a finished stand-in takes its place).
    let child = std::mem::replace(&mut driver.0, Command::new("true").spawn().unwrap());
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "the driver failed: {}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("joined 4 segments"), "{}", stdout(&o));
    assert_eq!(probe_video(&out, "nb_read_packets"), "80");
    assert_eq!(audio_md5(&out), audio_md5(&clip));
    assert!(!d.join(".film-styled.mp4.segments").exists(), "the segments were not cleaned up");
}

/// The Python 3 interpreter on PATH as an absolute path (it keeps working under another PATH); None, after
/// saying so, without one.
fn python3() -> Option<PathBuf> {
    let o = Command::new("python3").args(["-c", "import sys; print(sys.executable)"]).output();
    match o {
        Ok(o) if o.status.success() => Some(PathBuf::from(stdout(&o).trim())),
        _ => {
            eprintln!("skipping: no python3 on PATH");
            None
        }
    }
}

/// Without a stylize it can run, the Dask driver stops with one line that names the problem and --stylize, before
/// it imports Dask or starts a cluster (so any Python 3 shows it, and --scheduler local starts nothing).
#[test]
fn the_dask_driver_without_a_stylize_binary_says_so_in_one_line() {
    let Some(python) = python3() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A PATH holding a `stylize` that is not executable, so it does not count.
    let plain = d.join("stylize");
    std::fs::write(&plain, "").unwrap();
    let missing = d.join("bin/stylize");
    let out = d.join("out.mp4");
    let cases: [(Vec<&str>, &str); 4] = [
        (vec![], "dask_transcode: stylize not found on PATH; "),
        (vec!["--stylize", missing.to_str().unwrap()], &format!("dask_transcode: {} does not exist; ", missing.display())),
        (vec!["--stylize", plain.to_str().unwrap()], &format!("dask_transcode: {} is not an executable file; ", plain.display())),
        (vec!["--stylize", d.to_str().unwrap()], "is not an executable file; "),
    ];
    for (args, expected) in &cases {
        let o = Command::new(&python)
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/dask_transcode.py"))
            .args(["--scheduler", "local", "-m", "candy", "film.mp4", "-o", out.to_str().unwrap()])
            .args(args)
            .env("PATH", d)
            .env_remove("STYLIZE")
            .output()
            .unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: not one line: {err}");
        assert!(err.contains(expected) && err.trim_end().ends_with("pass --stylize /path/to/stylize or set STYLIZE"), "{args:?}: {err}");
        assert!(stdout(&o).is_empty(), "{args:?}: {}", stdout(&o));
    }
}
