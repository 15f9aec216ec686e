//! Streams on loopback only (127.0.0.1): `stylize live --output` and `stylize video` with URLs, received or
//! sent by `ffmpeg` processes that each test starts, bounds in time and stops, pass or fail.

mod common;

use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// `ffmpeg -v error -y -nostdin ARGS` in the background.
fn ffmpeg_bg(args: &[&str]) -> Background {
    let mut all = vec!["-v", "error", "-y", "-nostdin"];
    all.extend(args);
    Background::start("ffmpeg", &all)
}

fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// RTMP server (`ffmpeg -listen 1`) writing what it receives to `out`.
fn rtmp_receiver(port: u16, out: &Path) -> Background {
    ffmpeg_bg(&["-listen", "1", "-i", &format!("rtmp://127.0.0.1:{port}/live/x"), "-c", "copy", out.to_str().unwrap()])
}

/// SRT listener writing what it receives to `out`.
fn srt_receiver(port: u16, out: &Path) -> Background {
    ffmpeg_bg(&["-i", &format!("srt://127.0.0.1:{port}?mode=listener"), "-c", "copy", out.to_str().unwrap()])
}

/// MPEG-TS over UDP into `out`; ends after 3 s without packets (small probe: it starts writing at once).
fn udp_receiver(port: u16, out: &Path) -> Background {
    ffmpeg_bg(&["-analyzeduration", "1000000", "-probesize", "200000", "-i", &format!("udp://127.0.0.1:{port}?timeout=3000000"), "-c", "copy", out.to_str().unwrap()])
}

/// Width, height, rate and decoded frame count of the first video stream.
fn probe(path: &Path) -> (u32, u32, String, u64) {
    let o = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=width,height,r_frame_rate,nb_read_frames", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .unwrap();
    // MPEG-TS lists the stream again under its program: the first line is enough.
    let text = String::from_utf8_lossy(&o.stdout).lines().next().unwrap_or_default().trim().to_string();
    let f: Vec<&str> = text.split(',').collect();
    assert_eq!(f.len(), 4, "ffprobe of {}: {text:?} {}", path.display(), String::from_utf8_lossy(&o.stderr));
    (f[0].parse().unwrap(), f[1].parse().unwrap(), f[2].to_string(), f[3].parse().unwrap_or(0))
}

/// The container's duration in seconds.
fn duration(path: &Path) -> f64 {
    let o = Command::new("ffprobe").args(["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0"]).arg(path).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout).trim().to_string();
    text.parse().unwrap_or_else(|_| panic!("ffprobe duration of {}: {text:?}", path.display()))
}

/// The last video frame of `path` (`bytes` long) as RGB.
fn last_frame_rgb(path: &Path, bytes: usize) -> Vec<u8> {
    let o = Command::new("ffmpeg").args(["-v", "error", "-i"]).arg(path).args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"]).output().unwrap();
    assert!(o.stdout.len() >= bytes, "{} decoded to {} bytes", path.display(), o.stdout.len());
    o.stdout[o.stdout.len() - bytes..].to_vec()
}

fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len(), "frame sizes differ");
    a.iter().zip(b).map(|(x, y)| f64::from(x.abs_diff(*y))).sum::<f64>() / a.len() as f64
}

fn rgb_of_png(path: &Path) -> Vec<u8> {
    image::open(path).unwrap().to_rgb8().into_raw()
}

/// A folder with a model, a still picture `still.png` (160x96), its stylized version `styled.png`, and a
/// 10 fps clip of the picture, `still.mp4`.
fn still_setup() -> Option<(tempfile::TempDir, PathBuf, PathBuf)> {
    if skip_without_ffmpeg() {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = random_model(d, "half", 61);
    let still = d.join("still.png");
    write_png(&still, 160, 96);
    let o = stylize(&["image", "-q", "-m", model.to_str().unwrap(), still.to_str().unwrap(), "-o", d.join("styled.png").to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    ffmpeg(&["-loop", "1", "-framerate", "10", "-i", still.to_str().unwrap(), "-t", "20", "-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv444p", d.join("still.mp4").to_str().unwrap()]);
    let clip = d.join("still.mp4");
    Some((dir, model, clip))
}

#[test]
fn live_streams_reach_udp_rtmp_and_srt_listeners_stylized() {
    let Some((dir, model, clip)) = still_setup() else { return };
    let d = dir.path();
    let (pu, pr, ps) = (free_udp_port(), free_tcp_port(), free_udp_port());
    let (rx_udp, rx_rtmp, rx_srt) = (d.join("rx-udp.ts"), d.join("rx-rtmp.flv"), d.join("rx-srt.ts"));
    let receivers = [udp_receiver(pu, &rx_udp), rtmp_receiver(pr, &rx_rtmp), srt_receiver(ps, &rx_srt)];
    std::thread::sleep(Duration::from_millis(1500));
    let o = stylize(&[
        "live", "--input", clip.to_str().unwrap(), "--no-window", "--frames", "40", "-m", model.to_str().unwrap(), "--bitrate", "3000",
        "-o", &format!("udp://127.0.0.1:{pu}"),
        "-o", &format!("rtmp://127.0.0.1:{pr}/live/x"),
        "-o", &format!("srt://127.0.0.1:{ps}"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    // One summary line per output, the RTMP stream key hidden.
    for label in [format!("udp://127.0.0.1:{pu}"), format!("rtmp://127.0.0.1:{pr}/live/***"), format!("srt://127.0.0.1:{ps}")] {
        let line = out.lines().find(|l| l.contains(&format!("output {label}:"))).unwrap_or_else(|| panic!("no line for {label}:\n{out}"));
        assert!(line.contains("frames sent") && line.contains("capture to sent: p50"), "{line}");
    }
    assert!(!out.contains("/live/x"), "the stream key was printed:\n{out}");
    for mut r in receivers {
        r.wait(Duration::from_secs(10));
    }
    let styled = rgb_of_png(&d.join("styled.png"));
    let original = rgb_of_png(&d.join("still.png"));
    for rx in [&rx_udp, &rx_rtmp, &rx_srt] {
        let (w, h, _, frames) = probe(rx);
        assert_eq!((w, h), (160, 96), "{}", rx.display());
        // Live timestamps are capture times (real time is kept when frames drop), so on a loaded machine frames
        // can leave in bursts and ffprobe's guess of the rate reads e.g. 250/1 from two frames 4 ms apart: the
        // average rate is what must hold.
        let rate = frames as f64 / duration(rx);
        assert!((7.0..=14.0).contains(&rate), "{}: {rate:.1} fps on average, the clip has 10 (ffprobe's guess: {rate_guess})", rx.display(), rate_guess = probe(rx).2);
        // SRT and UDP may lose the first frames while the receiver starts.
        assert!((25..=41).contains(&frames), "{}: {frames} frames of 40", rx.display());
        let got = last_frame_rgb(rx, styled.len());
        let (to_styled, to_original) = (mean_abs_diff(&got, &styled), mean_abs_diff(&got, &original));
        assert!(to_styled < 6.0 && to_styled * 4.0 < to_original, "{}: {to_styled:.1} grey levels from the stylized picture, {to_original:.1} from the original", rx.display());
    }
}

#[test]
fn a_lost_rtmp_server_is_reconnected_while_live_goes_on() {
    if skip_without_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = random_model(d, "half", 62);
    let port = free_tcp_port();
    let first = rtmp_receiver(port, &d.join("rx1.flv"));
    std::thread::sleep(Duration::from_secs(1));
    let live = Command::new(env!("CARGO_BIN_EXE_stylize"))
        .args(["live", "--input", "test", "--size", "160x96", "--no-window", "--frames", "240", "-m", model.to_str().unwrap()])
        .args(["-o", &format!("rtmp://127.0.0.1:{port}/live/x")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    drop(first); // the server dies mid-stream
    std::thread::sleep(Duration::from_secs(2));
    let second = rtmp_receiver(port, &d.join("rx2.flv"));
    let o = live.wait_with_output().unwrap();
    let mut second = second;
    second.wait(Duration::from_secs(10));
    assert!(o.status.success(), "{}", stderr(&o));
    let (out, err) = (stdout(&o), stderr(&o));
    assert!(out.contains("live: 240 frames shown"), "live stopped early:\n{out}");
    let line = out.lines().find(|l| l.contains("output rtmp://")).unwrap_or_else(|| panic!("no output line:\n{out}"));
    assert!(line.contains("reconnected 1 time"), "{line}");
    let dropped: u64 = line.split(", ").find_map(|p| p.strip_suffix(" dropped")).unwrap().parse().unwrap();
    assert!(dropped > 0, "the outage dropped no frames? {line}");
    assert!(err.contains("lost rtmp://127.0.0.1") && err.contains("reconnecting") && err.contains("reconnected to"), "{err}");
    let (_, _, _, frames) = probe(&d.join("rx2.flv"));
    assert!(frames >= 30, "the new server got {frames} frames");
}

#[test]
fn bad_outputs_fail_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let model = random_model(dir.path(), "half", 63);
    let m = model.to_str().unwrap();
    let live = |target: &str| stylize(&["live", "--input", "test", "--size", "64x64", "--no-window", "--frames", "5", "-m", m, "-o", target]);
    let t = Instant::now();
    let refused = live(&format!("rtmp://127.0.0.1:{}/live/x", free_tcp_port()));
    assert_fails_with(&refused, &["rtmp://127.0.0.1", "connection refused"]);
    assert!(t.elapsed() < Duration::from_secs(15), "took {:?}", t.elapsed());
    assert!(!stdout(&refused).contains("frames shown"), "it started anyway");
    assert_fails_with(&live("/dev/null"), &["/dev/null", "not a V4L2 video device", "v4l2loopback"]);
    assert_fails_with(&live("/dev/video77"), &["/dev/video77", "modprobe v4l2loopback video_nr=77"]);
    assert_fails_with(&live("rtsp://127.0.0.1:8554/x"), &["cannot send to rtsp://"]);
    let missing = dir.path().join("no/such/folder/out.mp4");
    assert_fails_with(&live(missing.to_str().unwrap()), &["does not exist"]);
}

#[test]
fn video_reads_a_udp_stream_until_duration_or_ctrl_c_and_keeps_the_file() {
    let Some((dir, model, clip)) = model_and_clip("half", 64, "160x96", 10, 3.0) else { return };
    let d = dir.path();
    let m = model.to_str().unwrap();
    let port = free_udp_port();
    let url = format!("udp://127.0.0.1:{port}");
    let _sender = ffmpeg_bg(&["-re", "-stream_loop", "-1", "-i", clip.to_str().unwrap(), "-c", "copy", "-f", "mpegts", &url]);
    // --duration ends the endless stream.
    let out = d.join("two-seconds.mp4");
    let o = stylize(&["video", "-q", "-m", m, &url, "-o", out.to_str().unwrap(), "--duration", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (w, h, _, frames) = probe(&out);
    assert_eq!((w, h, frames), (160, 96, 20));
    assert!(!audio_md5(&out).is_empty(), "the stream's audio was not kept");
    // Ctrl-C is its normal end: exit 0, the file complete.
    let out = d.join("until-ctrl-c.mp4");
    let o = signalled_when(&["video", "-m", m, &url, "-o", out.to_str().unwrap()], || true, "INT", Duration::from_secs(5));
    assert!(o.status.success(), "exit {:?}: {}", o.status, stderr(&o));
    let (_, _, _, frames) = probe(&out);
    assert!(frames >= 10, "{frames} frames");
    assert!(files_in(d).iter().all(|f| !f.contains(".partial")), "left behind: {:?}", files_in(d));
}

#[test]
fn video_sends_a_file_to_an_rtmp_server_at_its_own_rate() {
    let Some((dir, model, clip)) = model_and_clip("half", 65, "160x96", 10, 3.0) else { return };
    let d = dir.path();
    let port = free_tcp_port();
    let rx = d.join("rx.flv");
    let server = rtmp_receiver(port, &rx);
    std::thread::sleep(Duration::from_secs(1));
    let t = Instant::now();
    let o = stylize(&["video", "-m", model.to_str().unwrap(), clip.to_str().unwrap(), "-o", &format!("rtmp://127.0.0.1:{port}/live/x"), "--bitrate", "500"]);
    let took = t.elapsed();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("-> rtmp://127.0.0.1") && stdout(&o).contains("30 frames"), "{}", stdout(&o));
    assert!(took >= Duration::from_millis(2500), "3 s of video sent in {took:?}: not paced");
    let mut server = server;
    server.wait(Duration::from_secs(10));
    let (w, h, rate, frames) = probe(&rx);
    assert_eq!((w, h, rate.as_str(), frames), (160, 96, "10/1", 30));
    assert!(!audio_md5(&rx).is_empty(), "no audio in the stream");
    // Nothing was written locally (a stream has no temporary file).
    assert!(files_in(d).iter().all(|f| !f.contains(".partial")), "{:?}", files_in(d));
}
