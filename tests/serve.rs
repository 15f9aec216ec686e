//! `stylize serve` over loopback: the live WebSocket protocol, the token, uploads, malformed requests, and
//! stopping. Each test starts its own server on 127.0.0.1 (a free port) with random-weight models and stops
//! it when done, pass or fail. `serve/browser.rs`: the page in headless Chromium.

mod common;
#[path = "serve/support.rs"]
mod support;
#[path = "serve/browser.rs"]
mod browser;

use std::time::{Duration, Instant};

use support::*;

const SECS: fn(u64) -> Duration = Duration::from_secs;

/// A folder with two random lite models (clearly different styles) and a multi-style one.
fn models() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let a = common::random_model(dir.path(), "lite", 11);
    let b = common::random_model(dir.path(), "lite", 12);
    let multi = common::multi_style_model(dir.path(), 2, 13);
    (dir, a, b, multi)
}

fn hello(socket: &mut Socket) -> serde_json::Value {
    let g = until(socket, SECS(10), |g| json_of(g, "hello").is_some());
    json_of(&g, "hello").unwrap().clone()
}

fn settings(socket: &mut Socket, v: serde_json::Value) -> serde_json::Value {
    send_json(socket, v);
    let g = until(socket, SECS(10), |g| json_of(g, "settings").is_some() || json_of(g, "error").is_some());
    match g {
        Got::Json(v) => v,
        _ => unreachable!(),
    }
}

/// Sends a frame and waits for its stylized frame (errors and stats in between are skipped).
fn round_trip(socket: &mut Socket, seq: u32, image: &[u8]) -> image::RgbImage {
    send_frame(socket, seq, image);
    match until(socket, SECS(30), |g| matches!(g, Got::Frame { seq: s, .. } if *s == seq) || matches!(g, Got::Json(v) if v["type"] == "error")) {
        Got::Frame { jpeg, .. } => decode(&jpeg),
        other => panic!("frame {seq}: {other:?}"),
    }
}

#[test]
fn live_frames_come_back_stylized_at_their_size_as_the_cli_stylizes_them() {
    let (dir, a, b, multi) = models();
    let mut server = start(&["-q", "-m", a.to_str().unwrap(), "-m", b.to_str().unwrap(), "-m", multi.to_str().unwrap()]);
    let mut ws = ws_connect(&server.addr, "").unwrap();
    let h = hello(&mut ws);
    let names: Vec<&str> = h["models"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["lite-11", "lite-12", "styles2-13"]);
    assert_eq!(h["models"][2]["styles"], serde_json::json!(["random-0", "random-1"]));
    assert_eq!(h["session"].as_str().unwrap().len(), 32);

    for (seq, (w, h)) in [(1u32, (320u32, 180u32)), (2, (256, 144)), (3, (180, 320))] {
        let input = pattern(w, h, seq);
        let sent = jpeg(&input);
        let got = round_trip(&mut ws, seq, &sent);
        assert_eq!(got.dimensions(), (w, h), "frame {seq} comes back at its size");
        // The server stylizes the JPEG it was sent as `stylize image` does (within the reply's JPEG loss).
        let decoded = decode(&sent);
        let want = cli_stylized(dir.path(), &a, &decoded, &[]);
        let (off_input, off_cli) = (mean_diff(&got, &decoded), coarse_diff(&got, &want));
        assert!(off_cli < 3.0, "frame {seq}: {off_cli:.2} grey levels from the CLI's result");
        assert!(off_input > 15.0, "frame {seq}: only {off_input:.2} from the input: not stylized?");
    }

    // Another model, a strength, colour preservation: the CLI's options.
    let s = settings(&mut ws, serde_json::json!({"type": "settings", "model": "lite-12", "strength": 0.5, "preserve_color": true}));
    assert_eq!(s["type"], "settings", "{s}");
    let input = pattern(320, 180, 9);
    let sent = jpeg(&input);
    let got = round_trip(&mut ws, 10, &sent);
    let want = cli_stylized(dir.path(), &b, &decode(&sent), &["--strength", "0.5", "--preserve-color"]);
    assert!(coarse_diff(&got, &want) < 3.0, "model b, strength 0.5, colours kept: {:.2} from the CLI", coarse_diff(&got, &want));

    // A blend of a multi-style model.
    let s = settings(&mut ws, serde_json::json!({"type": "settings", "model": "styles2-13", "style_mix": "random-0=0.7,random-1=0.3", "strength": 1.0, "preserve_color": false}));
    assert_eq!(s["style_mix"], "random-0 70% + random-1 30%", "{s}");
    let got = round_trip(&mut ws, 11, &sent);
    let want = cli_stylized(dir.path(), &multi, &decode(&sent), &["--style-mix", "random-0=0.7,random-1=0.3"]);
    assert!(coarse_diff(&got, &want) < 3.0, "style mix: {:.2} from the CLI", coarse_diff(&got, &want));
    // (The blend is not one of its styles.)
    let pure = cli_stylized(dir.path(), &multi, &decode(&sent), &["--style-mix", "random-0"]);
    let (to_pure, to_mix) = (coarse_diff(&got, &pure), coarse_diff(&got, &want));
    assert!(to_pure > 2.0 * to_mix + 0.5, "the mix differs from its first style alone: {to_pure:.2} vs {to_mix:.2}");
    assert!(server.alive());
}

#[test]
fn bad_frames_and_messages_get_errors_and_the_session_goes_on() {
    let (_dir, a, _, _) = models();
    let mut server = start(&["-q", "-m", a.to_str().unwrap(), "--max-frame", "640x360"]);
    let mut ws = ws_connect(&server.addr, "").unwrap();
    hello(&mut ws);
    let good = jpeg(&pattern(160, 90, 0));
    let mut truncated = good.clone();
    truncated.truncate(good.len() / 2);
    let too_big = png(&image::RgbImage::from_pixel(2000, 1000, image::Rgb([9, 9, 9])));
    let tiny = png(&image::RgbImage::from_pixel(4, 4, image::Rgb([9, 9, 9])));
    let mut bad_png = png(&pattern(64, 64, 0));
    let n = bad_png.len();
    bad_png[n / 2..n / 2 + 16].fill(0xAA);
    let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec();
    let cases: [(u32, &[u8], &str); 6] = [
        (1, b"this is not an image", "not an image"),
        (2, &truncated, "truncated"),
        (3, &too_big, "larger than the server's limit of 640x360"),
        (4, &tiny, "too small"),
        (5, &bad_png, "cannot decode"),
        (6, &gif, "not accepted"),
    ];
    for (seq, bytes, needle) in cases {
        send_frame(&mut ws, seq, bytes);
        let g = until(&mut ws, SECS(10), |g| json_of(g, "error").is_some());
        let msg = json_of(&g, "error").unwrap();
        assert_eq!(msg["seq"], seq, "{msg}");
        assert!(msg["message"].as_str().unwrap().contains(needle), "frame {seq}: {msg} should mention {needle:?}");
        // ... and the session goes on.
        let got = round_trip(&mut ws, 100 + seq, &good);
        assert_eq!(got.dimensions(), (160, 90));
    }
    // Too short for a header; bad JSON; an unknown model, style mix on a one-style model, a strength out of range.
    ws.send(Message::Binary(vec![1u8, 2].into())).unwrap();
    let g = until(&mut ws, SECS(10), |g| json_of(g, "error").is_some());
    assert!(json_of(&g, "error").unwrap()["message"].as_str().unwrap().contains("4-byte sequence number"));
    for (msg, needle) in [
        ("{not json", "bad message"),
        (r#"{"type":"settings","model":"nope"}"#, "no model \"nope\""),
        (r#"{"type":"settings","style_mix":"a=1"}"#, "has one style"),
        (r#"{"type":"settings","strength":2}"#, "--strength 2 is out of range"),
        (r#"{"type":"settings","size":[99999,9]}"#, "frame size"),
        (r#"{"type":"settings","bogus":1}"#, "unknown field"),
        (r#"{"type":"launch"}"#, "bad message"),
    ] {
        ws.send(Message::Text(msg.into())).unwrap();
        let g = until(&mut ws, SECS(10), |g| json_of(g, "error").is_some());
        let e = json_of(&g, "error").unwrap()["message"].as_str().unwrap().to_string();
        assert!(e.contains(needle), "{msg}: {e:?} should mention {needle:?}");
    }
    // A session that says its size refuses frames of another.
    let s = settings(&mut ws, serde_json::json!({"type": "settings", "size": [160, 90]}));
    assert_eq!(s["size"], serde_json::json!([160, 90]));
    send_frame(&mut ws, 50, &jpeg(&pattern(320, 180, 0)));
    let g = until(&mut ws, SECS(10), |g| json_of(g, "error").is_some());
    assert!(json_of(&g, "error").unwrap()["message"].as_str().unwrap().contains("this session sends 160x90 frames"));
    assert_eq!(round_trip(&mut ws, 51, &good).dimensions(), (160, 90));

    // A message larger than any frame may be: the socket is closed with 1009 ("too big"), the server lives on.
    let huge = vec![0u8; 640 * 360 * 3 + 10_000];
    let _ = ws.send(Message::Binary(huge.into()));
    let t = Instant::now();
    let closed = loop {
        match next(&mut ws, SECS(10)) {
            Some(Got::Closed(code)) => break code,
            Some(_) if t.elapsed() < SECS(10) => {}
            other => panic!("expected the socket to close, got {other:?}"),
        }
    };
    assert!(closed.is_none() || closed == Some(1009), "close code {closed:?}");
    let mut again = ws_connect(&server.addr, "").unwrap();
    hello(&mut again);
    assert_eq!(round_trip(&mut again, 1, &good).dimensions(), (160, 90));
    assert!(server.alive());
    assert!(!server.stderr.lock().unwrap().contains("panicked"));
}

#[test]
fn a_flood_of_frames_is_dropped_not_queued() {
    let (_dir, a, _, _) = models();
    let mut server = start(&["-q", "-m", a.to_str().unwrap(), "--max-fps", "10"]);
    let mut ws = ws_connect(&server.addr, "").unwrap();
    hello(&mut ws);
    let frame = jpeg(&pattern(320, 180, 1));
    for seq in 1..=200u32 {
        send_frame(&mut ws, seq, &frame);
    }
    // Replies come for a few frames only: the rest were over the rate or replaced while one was stylized.
    let mut replies = Vec::new();
    let mut notice = None;
    let mut stats = None;
    let t = Instant::now();
    while t.elapsed() < SECS(4) {
        match next(&mut ws, Duration::from_millis(200)) {
            Some(Got::Frame { seq, .. }) => replies.push(seq),
            Some(Got::Json(v)) if v["type"] == "notice" => notice = Some(v),
            Some(Got::Json(v)) if v["type"] == "stats" => stats = Some(v),
            Some(Got::Closed(c)) => panic!("closed: {c:?}"),
            _ => {}
        }
    }
    let stats = stats.expect("a stats message");
    assert!(!replies.is_empty() && replies.len() <= 10, "replies to {} frames: {replies:?}", replies.len());
    assert!(replies.windows(2).all(|w| w[0] < w[1]), "in order: {replies:?}");
    // The burst allows a second's worth (10); the last of those is what the client sees last.
    assert_eq!(*replies.last().unwrap(), 10, "the latest accepted frame is stylized last: {replies:?}");
    assert!(stats["limited"].as_u64().unwrap() >= 180, "{stats}");
    assert_eq!(stats["stylized"].as_u64().unwrap() as usize, replies.len(), "{stats}");
    assert!(notice.expect("a notice about the rate")["message"].as_str().unwrap().contains("--max-fps"));
    // A second later the client is within its rate again.
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(round_trip(&mut ws, 500, &frame).dimensions(), (320, 180));
    assert!(server.alive());
}

#[test]
fn two_clients_at_once_each_get_their_own_frames() {
    let (dir, a, _, _) = models();
    // Each frame is compared with `stylize image` of it: without the temporal stage, which keeps parts of the
    // frame before.
    let server = start(&["-q", "-m", a.to_str().unwrap(), "--temporal", "off"]);
    let addr = server.addr.clone();
    // One client sees the input back (strength 0), the other the full style; mixed up frames would show.
    let run = |strength: f32, t0: u32| {
        let addr = addr.clone();
        std::thread::spawn(move || {
            let mut ws = ws_connect(&addr, "").unwrap();
            hello(&mut ws);
            let s = settings(&mut ws, serde_json::json!({"type": "settings", "strength": strength}));
            assert_eq!(s["type"], "settings");
            let mut got = Vec::new();
            for i in 0..12u32 {
                let sent = jpeg(&pattern(320, 180, t0 + i));
                let out = round_trip(&mut ws, i + 1, &sent);
                got.push((decode(&sent), out));
            }
            got
        })
    };
    let (plain, styled) = (run(0.0, 0), run(1.0, 50));
    let (plain, styled) = (plain.join().unwrap(), styled.join().unwrap());
    for (input, out) in &plain {
        assert!(coarse_diff(input, out) < 2.0, "strength 0 gives the input back: {:.2}", coarse_diff(input, out));
    }
    for (input, out) in &styled {
        let want = cli_stylized(dir.path(), &a, input, &[]);
        assert!(coarse_diff(out, &want) < 3.0, "the other client's frames are stylized: {:.2}", coarse_diff(out, &want));
    }
}

#[test]
fn with_a_token_every_request_and_socket_needs_it() {
    let (_dir, a, _, _) = models();
    let token = "s3cret-token-0123456789";
    let server = start(&["-q", "-m", a.to_str().unwrap(), "--token", token]);
    let addr = &server.addr;
    for path in ["/", "/api/info", "/app.js", "/api/jobs/00000000000000000000000000000000"] {
        let a = get(addr, path);
        assert_eq!(a.status, 401, "{path} without a token: {}", a.text());
        assert!(a.error().contains("needs a token"));
        assert_eq!(a.header("www-authenticate"), Some("Bearer"));
        let a = get(addr, &format!("{path}?token=s3cret-token-0123456788"));
        assert_eq!(a.status, 401, "{path} with a wrong token");
        assert!(a.error().contains("wrong"));
    }
    assert_eq!(get(addr, &format!("/?token={token}")).status, 200);
    let bearer = format!("Bearer {token}");
    assert_eq!(request(addr, "GET", "/api/info", &[("Authorization", &bearer)], b"").status, 200);
    assert_eq!(request(addr, "GET", "/api/info", &[("Authorization", "Bearer nope")], b"").status, 401);
    // Uploads too.
    let a = upload(addr, "", "x.png", &png(&pattern(64, 64, 0)), "{}");
    assert_eq!(a.status, 401);
    // And the WebSocket: refused at the handshake without it, served with it.
    match ws_connect(addr, "") {
        Err(tungstenite::Error::Http(r)) => assert_eq!(r.status(), 401),
        other => panic!("a socket without the token: {:?}", other.map(|_| ())),
    }
    match ws_connect(addr, "?token=wrong-token-0123456789") {
        Err(tungstenite::Error::Http(r)) => assert_eq!(r.status(), 401),
        other => panic!("a socket with a wrong token: {:?}", other.map(|_| ())),
    }
    let mut ws = ws_connect(addr, &format!("?token={token}")).unwrap();
    hello(&mut ws);
    assert_eq!(round_trip(&mut ws, 1, &jpeg(&pattern(64, 64, 0))).dimensions(), (64, 64));
}

#[test]
fn beyond_loopback_a_token_is_required_and_checked() {
    let (_dir, a, _, _) = models();
    let m = a.to_str().unwrap();
    for (args, needle) in [
        (vec!["serve", "-m", m, "--bind", "0.0.0.0:0"], "--token"),
        (vec!["serve", "-m", m, "--bind", "0.0.0.0:0", "--token", "short"], "at least 16 characters"),
        (vec!["serve", "-m", m, "--token-file", "/nonexistent/token"], "/nonexistent/token"),
        (vec!["serve", "-m", "/nonexistent/model.onnx"], "not found"),
        (vec!["serve", "-m", m, "--style-mix", "a=1"], "picked per client"),
    ] {
        let o = common::stylize(&args);
        common::assert_fails_with(&o, &[needle]);
    }
    // From a file, with no token on the command line.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "from-a-file-0123456789\n").unwrap();
    let server = start(&["-q", "-m", m, "--token-file", file.to_str().unwrap()]);
    assert_eq!(get(&server.addr, "/api/info").status, 401);
    assert_eq!(get(&server.addr, "/api/info?token=from-a-file-0123456789").status, 200);
}

#[test]
fn pages_of_other_sites_and_rebound_host_names_are_refused() {
    let (_dir, a, _, _) = models();
    let server = start(&["-q", "-m", a.to_str().unwrap()]);
    let addr = &server.addr;
    let own = format!("http://{addr}");
    assert_eq!(request(addr, "GET", "/api/info", &[("Origin", &own)], b"").status, 200);
    let a = request(addr, "GET", "/api/info", &[("Origin", "http://evil.example")], b"");
    assert_eq!(a.status, 403);
    // A DNS name pointed at 127.0.0.1 (rebinding) is not this server without a token.
    let raw_req = format!("GET /api/info HTTP/1.1\r\nHost: rebound.example:{}\r\nConnection: close\r\n\r\n", server.port());
    assert_eq!(raw(addr, raw_req.as_bytes()).unwrap().status, 403);
    // The WebSocket from another origin.
    let mut req = tungstenite::client::IntoClientRequest::into_client_request(format!("ws://{addr}/ws")).unwrap();
    req.headers_mut().insert("Origin", "http://evil.example".parse().unwrap());
    match tungstenite::connect(req) {
        Err(tungstenite::Error::Http(r)) => assert_eq!(r.status(), 403),
        other => panic!("a socket from another origin: {:?}", other.map(|_| ())),
    }
}

#[test]
fn uploads_an_image_and_a_video_with_its_audio() {
    if common::skip_without_ffmpeg() {
        return;
    }
    let (dir, a, _, multi) = models();
    let mut server = start(&["-q", "-m", a.to_str().unwrap(), "-m", multi.to_str().unwrap()]);
    let addr = server.addr.clone();

    // An image, with the CLI's options.
    let img = pattern(200, 120, 3);
    let bytes = png(&img);
    let r = upload(&addr, "", "../../etc/my photo.png", &bytes, r#"{"model":"lite-11","strength":0.75}"#);
    assert_eq!(r.status, 202, "{}", r.text());
    let job = r.json();
    assert_eq!(job["kind"], "image");
    assert_eq!(job["name"], "my_photo.png", "the upload's name is cleaned, never a path");
    let done = wait_job(&addr, job["id"].as_str().unwrap(), SECS(60));
    assert_eq!(done["state"], "done", "{done}");
    let result = get(&addr, done["result"].as_str().unwrap());
    assert_eq!(result.status, 200);
    assert_eq!(result.header("content-type"), Some("image/png"));
    let got = decode(&result.body);
    let want = cli_stylized(dir.path(), &a, &img, &["--strength", "0.75"]);
    assert_eq!(got.dimensions(), (200, 120));
    assert!(mean_diff(&got, &want) < 0.5, "the server's image is the CLI's: {:.2}", mean_diff(&got, &want));
    let dl = get(&addr, &format!("{}?download=1", done["result"].as_str().unwrap()));
    assert_eq!(dl.header("content-disposition"), Some("attachment; filename=\"my_photo-lite-11.png\""));

    // A short video with audio, at half size, with a style mix: audio kept bit for bit.
    let clip = dir.path().join("clip.mp4");
    common::make_clip(&clip, "320x240", 25, 2.0);
    let r = upload(&addr, "", "clip.mp4", &std::fs::read(&clip).unwrap(), r#"{"model":"styles2-13","style_mix":"random-1","scale":0.5}"#);
    assert_eq!(r.status, 202, "{}", r.text());
    let job = r.json();
    assert_eq!(job["kind"], "video");
    assert_eq!(job["total"], 50);
    let done = wait_job(&addr, job["id"].as_str().unwrap(), SECS(120));
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["frames"], 50);
    let result = get(&addr, done["result"].as_str().unwrap());
    assert_eq!(result.header("content-type"), Some("video/mp4"));
    let out = dir.path().join("out.mp4");
    std::fs::write(&out, &result.body).unwrap();
    assert_eq!(common::probe_video(&out, "width,height"), "160\n120");
    assert_eq!(common::probe_video(&out, "nb_read_packets"), "50");
    assert_eq!(common::audio_md5(&out), common::audio_md5(&clip), "the audio is copied as it was");

    // Results can be removed; then nothing is left in the server's folder.
    let id = job["id"].as_str().unwrap();
    assert_eq!(request(&addr, "DELETE", &format!("/api/jobs/{id}"), &[], b"").status, 200);
    assert_eq!(get(&addr, &format!("/api/jobs/{id}")).status, 404);
    assert_eq!(server.job_folders().len(), 1, "the image's job is kept until it expires");
    assert!(server.alive());
}

#[test]
fn corrupt_and_oversized_uploads_are_refused_and_leave_nothing() {
    if common::skip_without_ffmpeg() {
        return;
    }
    let (dir, a, _, _) = models();
    let mut server = start(&["-q", "-m", a.to_str().unwrap(), "--max-upload-mb", "1", "--max-job-frame", "640x480"]);
    let addr = server.addr.clone();
    // Not an image and not a video.
    let r = upload(&addr, "", "notes.txt", b"just some text, not a picture", "{}");
    assert_eq!(r.status, 415, "{}", r.text());
    assert!(r.error().contains("notes.txt is neither a PNG/JPEG image nor a video"), "{}", r.error());
    // A PNG cut short: its header reads, its pixels do not; the job fails with one line.
    let mut cut = png(&pattern(300, 200, 0));
    cut.truncate(cut.len() / 3);
    let r = upload(&addr, "", "cut.png", &cut, "{}");
    let failed = match r.status {
        202 => wait_job(&addr, r.json()["id"].as_str().unwrap(), SECS(30)),
        _ => serde_json::json!({"state": "failed", "error": r.error()}),
    };
    assert_eq!(failed["state"], "failed", "{failed}");
    let e = failed["error"].as_str().unwrap();
    assert!(e.contains("cut.png") && !e.contains("stylize-serve-"), "one line naming the upload, no server path: {e}");
    // A video cut short (a file the demuxer cannot open).
    let clip = dir.path().join("clip.mp4");
    common::make_clip(&clip, "320x240", 25, 1.0);
    let bytes = std::fs::read(&clip).unwrap();
    let r = upload(&addr, "", "clip.mp4", &bytes[..bytes.len() / 4], "{}");
    if r.status == 202 {
        let j = wait_job(&addr, r.json()["id"].as_str().unwrap(), SECS(60));
        assert_eq!(j["state"], "failed", "{j}");
    } else {
        assert_eq!(r.status, 415, "{}", r.text());
    }
    // A playlist that points at a local file is no video here.
    let playlist = b"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n";
    let r = upload(&addr, "", "list.m3u8", playlist, "{}");
    assert_eq!(r.status, 415, "{}", r.text());
    // Over the upload limit: refused from its Content-Length, before the body is read ...
    let big = vec![7u8; 1_500_000];
    let r = upload(&addr, "", "big.png", &big, "{}");
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(r.error().contains("--max-upload-mb"));
    // ... and while streaming when the length is not given (chunked).
    let body = multipart(&[("file", Some("big.bin"), &big)]);
    let mut req = format!("POST /api/jobs HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\nTransfer-Encoding: chunked\r\n\r\n").into_bytes();
    for chunk in body.chunks(64 * 1024) {
        req.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        req.extend_from_slice(chunk);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let r = raw(&addr, &req).expect("an answer");
    assert_eq!(r.status, 413, "{}", r.text());
    // An image larger than --max-job-frame.
    let r = upload(&addr, "", "wide.png", &png(&image::RgbImage::new(1000, 100)), "{}");
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(r.error().contains("--max-job-frame"));
    // Failed jobs keep no result; once removed, nothing of all that is left.
    for f in server.job_folders() {
        assert!(!f.join("result.png").exists() && !f.join("result.mp4").exists(), "a failed job left a result: {f:?}");
        let id = f.file_name().unwrap().to_string_lossy().to_string();
        assert_eq!(request(&addr, "DELETE", &format!("/api/jobs/{id}"), &[], b"").status, 200, "only jobs have folders");
    }
    let t = Instant::now();
    while !server.job_folders().is_empty() {
        assert!(t.elapsed() < SECS(10), "left behind: {:?}", server.job_folders());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(server.alive());
}

#[test]
fn jobs_are_limited_per_client_cancelled_and_gone_with_their_page() {
    if common::skip_without_ffmpeg() {
        return;
    }
    let (dir, a, _, _) = models();
    let mut server = start(&["-q", "-m", a.to_str().unwrap(), "--jobs-per-client", "1"]);
    let addr = server.addr.clone();
    let clip = dir.path().join("long.mp4");
    common::make_clip(&clip, "640x360", 25, 20.0);
    let bytes = std::fs::read(&clip).unwrap();

    // A page's job: it goes when the page's socket closes.
    let mut ws = ws_connect(&addr, "").unwrap();
    let session = hello(&mut ws)["session"].as_str().unwrap().to_string();
    let r = upload(&addr, &format!("?session={session}"), "long.mp4", &bytes, "{}");
    assert_eq!(r.status, 202, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    // One job per client: the second is refused while the first runs.
    let second = upload(&addr, "", "x.png", &png(&pattern(64, 64, 0)), "{}");
    assert_eq!(second.status, 429, "{}", second.text());
    assert!(second.error().contains("--jobs-per-client"));
    // It runs, with progress.
    let t = Instant::now();
    loop {
        let j = get(&addr, &format!("/api/jobs/{id}")).json();
        if j["state"] == "running" && j["frames"].as_u64().unwrap() > 0 {
            assert!(j["progress"].as_f64().unwrap() < 1.0);
            break;
        }
        assert!(t.elapsed() < SECS(60), "never ran: {j}");
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(ws);
    let t = Instant::now();
    while get(&addr, &format!("/api/jobs/{id}")).status != 404 || !server.job_folders().is_empty() {
        assert!(t.elapsed() < SECS(20), "the closed page's job is still there: {:?}", server.job_folders());
        std::thread::sleep(Duration::from_millis(100));
    }
    // An unknown session is refused.
    let r = upload(&addr, "?session=00000000000000000000000000000000", "x.png", &png(&pattern(64, 64, 0)), "{}");
    assert_eq!(r.status, 400);

    // Cancelled while it runs: it stops, and its folder goes.
    let r = upload(&addr, "", "long.mp4", &bytes, "{}");
    assert_eq!(r.status, 202, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    let t = Instant::now();
    while get(&addr, &format!("/api/jobs/{id}")).json()["state"] != "running" {
        assert!(t.elapsed() < SECS(60));
        std::thread::sleep(Duration::from_millis(50));
    }
    let c = request(&addr, "DELETE", &format!("/api/jobs/{id}"), &[], b"");
    assert_eq!(c.status, 200, "{}", c.text());
    let t = Instant::now();
    while !server.job_folders().is_empty() {
        assert!(t.elapsed() < SECS(20), "the cancelled job's files are still there: {:?}", server.job_folders());
        std::thread::sleep(Duration::from_millis(100));
    }
    // The client's place is free again.
    let r = upload(&addr, "", "x.png", &png(&pattern(64, 64, 0)), "{}");
    assert_eq!(r.status, 202, "{}", r.text());
    assert!(server.alive());
}

#[test]
fn an_upload_cut_off_half_way_leaves_nothing() {
    let (_dir, a, _, _) = models();
    let server = start(&["-q", "-m", a.to_str().unwrap()]);
    let addr = &server.addr;
    let body = multipart(&[("file", Some("x.png"), &vec![1u8; 400_000])]);
    let head = format!("POST /api/jobs HTTP/1.1\r\nHost: {addr}\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {}\r\n\r\n", body.len());
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    use std::io::Write;
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&body[..body.len() / 2]).unwrap();
    s.flush().unwrap();
    // The upload is being written now.
    let t = Instant::now();
    while !server.job_folders().iter().any(|f| f.join("upload").exists()) && t.elapsed() < SECS(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(s);
    let t = Instant::now();
    while !server.job_folders().is_empty() {
        assert!(t.elapsed() < SECS(10), "the aborted upload is still there: {:?}", server.job_folders());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(get(addr, "/api/info").status, 200);
}

#[test]
fn malformed_requests_get_clear_errors_and_never_reach_a_file() {
    let (_dir, a, _, _) = models();
    let mut server = start(&["-q", "-m", a.to_str().unwrap()]);
    let addr = server.addr.clone();
    let ct = format!("multipart/form-data; boundary={BOUNDARY}");
    let good_png = png(&pattern(32, 32, 0));
    let good = multipart(&[("options", None, b"{}"), ("file", Some("a.png"), &good_png)]);

    // Paths: only the page's own files and the API exist; nothing on disk is served.
    for path in [
        "/../../../../etc/passwd",
        "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "//etc/passwd",
        "/app.js/../../../etc/passwd",
        "/src/serve/page/app.js",
        "/page/index.html",
        "/index.html",
        "/api/",
        "/api/jobs/",
        "/api/jobs/..%2F..%2F..%2Fetc%2Fpasswd",
        "/api/jobs/..%2F..%2F..%2Fetc%2Fpasswd/result",
        "/api/jobs/../../../../etc/passwd/result",
        "/api/jobs/%00/result",
        "/api/jobs/0123456789abcdef0123456789ABCDEZ/result",
        "/api/jobs/00000000000000000000000000000000/result",
        "/%ff%fe",
    ] {
        let a = get(&addr, path);
        assert!(matches!(a.status, 400 | 404), "{path}: HTTP {} {}", a.status, a.text());
        assert!(!a.text().contains("root:"), "{path} served a file");
    }
    let long = format!("/api/jobs/{}", "a".repeat(5000));
    assert_eq!(get(&addr, &long).status, 404);
    // Methods that are not there.
    for (m, p) in [("PUT", "/"), ("DELETE", "/api/info"), ("POST", "/app.js"), ("PATCH", "/api/jobs")] {
        let a = request(&addr, m, p, &[], b"");
        assert_eq!(a.status, 405, "{m} {p}: {}", a.text());
        assert!(a.error().contains("method"));
    }
    // Bodies that are not what they claim.
    // (headers, body, status, what the error says)
    type Case<'a> = (Vec<(&'a str, String)>, Vec<u8>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (vec![("Content-Type", "application/json".into())], b"{\"file\":1}".to_vec(), 400, "multipart"),
        (vec![], good.clone(), 400, "multipart"),
        (vec![("Content-Type", "multipart/form-data".into())], good.clone(), 400, "multipart"),
        (vec![("Content-Type", "multipart/form-data; boundary=other".into())], good.clone(), 400, ""),
        (vec![("Content-Type", ct.clone())], good[..good.len() / 2].to_vec(), 400, "bad upload"),
        (vec![("Content-Type", ct.clone())], b"garbage without boundaries".to_vec(), 400, ""),
        (vec![("Content-Type", ct.clone())], multipart(&[("options", None, b"{}")]), 400, "no file"),
        (vec![("Content-Type", ct.clone())], multipart(&[("file", Some("a.png"), b"")]), 400, "empty"),
        (vec![("Content-Type", ct.clone())], multipart(&[("file", Some("a.png"), &good_png), ("file", Some("b.png"), &good_png)]), 400, "one file"),
        (vec![("Content-Type", ct.clone())], multipart(&[("../../x", None, b"1")]), 400, "unknown field"),
        (vec![("Content-Type", ct.clone())], multipart(&[("options", None, b"{\"model\":"), ("file", Some("a.png"), &good_png)]), 400, "bad options"),
        (vec![("Content-Type", ct.clone())], multipart(&[("options", None, b"[1,2]"), ("file", Some("a.png"), &good_png)]), 400, "bad options"),
        (vec![("Content-Type", ct.clone())], multipart(&[("options", None, b"{\"shell\":\"rm\"}"), ("file", Some("a.png"), &good_png)]), 400, "unknown field"),
        (vec![("Content-Type", ct.clone())], multipart(&[("options", None, b"{\"model\":\"../../etc/passwd\"}"), ("file", Some("a.png"), &good_png)]), 400, "no model"),
        (vec![("Content-Type", ct.clone())], multipart(&[("options", None, b"{\"strength\":-1}"), ("file", Some("a.png"), &good_png)]), 400, "--strength"),
        (vec![("Content-Type", ct.clone())], multipart(&[("options", None, b"{\"scale\":1e308}"), ("file", Some("a.png"), &good_png)]), 400, "scale"),
        (vec![("Content-Type", ct.clone())], multipart(&[("options", None, b"{\"style_mix\":\"a=1\"}"), ("file", Some("a.png"), &good_png)]), 400, "one style"),
    ];
    for (i, (headers, body, status, needle)) in cases.iter().enumerate() {
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let a = request(&addr, "POST", "/api/jobs", &h, body);
        assert_eq!(a.status, *status, "case {i}: {}", a.text());
        assert!(a.error().contains(needle), "case {i}: {:?} should mention {needle:?}", a.error());
    }
    // Garbage that is not HTTP: an error or a closed connection, never a crash.
    for junk in [&b"\x00\x01\x02\r\n\r\n"[..], b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n"] {
        if let Some(a) = raw(&addr, junk) {
            assert!((400..500).contains(&a.status), "{junk:?}: HTTP {}", a.status);
        }
    }
    let big_header = format!("GET / HTTP/1.1\r\nHost: {addr}\r\nX-Big: {}\r\n\r\n", "x".repeat(200_000));
    if let Some(a) = raw(&addr, big_header.as_bytes()) {
        assert!((400..500).contains(&a.status), "a huge header: HTTP {}", a.status);
    }

    // Random damage to a good upload (seeded): 4xx or a job, never a 5xx or a crash.
    let mut rng = Rng(0x5eed_1234_abcd);
    for round in 0..150 {
        let mut body = good.clone();
        match round % 3 {
            0 => {
                for _ in 0..1 + rng.below(8) {
                    let i = rng.below(body.len());
                    body[i] = rng.next() as u8;
                }
            }
            1 => body.truncate(rng.below(body.len())),
            _ => {
                let i = rng.below(body.len());
                let n = rng.below(64);
                let junk: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                body.splice(i..i, junk);
            }
        }
        let a = request(&addr, "POST", "/api/jobs", &[("Content-Type", &ct)], &body);
        assert!(a.status < 500, "round {round}: HTTP {} {}", a.status, a.text());
        if a.status == 202 {
            let id = a.json()["id"].as_str().unwrap().to_string();
            wait_job(&addr, &id, SECS(30));
            request(&addr, "DELETE", &format!("/api/jobs/{id}"), &[], b"");
        }
    }
    assert!(server.alive(), "the server survived");
    assert_eq!(get(&addr, "/api/info").status, 200);
    assert!(!server.stderr.lock().unwrap().contains("panicked"));
    let t = Instant::now();
    while !server.job_folders().is_empty() && t.elapsed() < SECS(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(server.job_folders().is_empty(), "left behind: {:?}", server.job_folders());
}

#[test]
fn sigterm_and_ctrl_c_stop_the_server_and_remove_its_files() {
    let (_dir, a, _, _) = models();
    for signal in ["TERM", "INT"] {
        let mut server = start(&["-q", "-m", a.to_str().unwrap()]);
        let r = upload(&server.addr, "", "a.png", &png(&pattern(64, 64, 0)), "{}");
        assert_eq!(r.status, 202);
        wait_job(&server.addr, r.json()["id"].as_str().unwrap(), SECS(30));
        let mut ws = ws_connect(&server.addr, "").unwrap();
        hello(&mut ws);
        assert_eq!(server.private_folders().len(), 1);
        let status = server.stop(signal).expect("it stops");
        assert!(status.success(), "SIG{signal}: {status:?}; {}", server.stderr.lock().unwrap());
        assert!(server.stdout.lock().unwrap().contains("removed the uploads and results"), "{}", server.stdout.lock().unwrap());
        assert!(server.private_folders().is_empty(), "SIG{signal} left {:?}", server.private_folders());
        // The page was told.
        let closed = until(&mut ws, SECS(5), |g| matches!(g, Got::Closed(_)));
        assert!(matches!(closed, Got::Closed(Some(1001)) | Got::Closed(None)), "{closed:?}");
    }
}

#[test]
fn each_live_client_gets_its_own_temporal_stage() {
    let (_dir, a, _, _) = models();
    // A still scene with fresh noise in every frame: the network turns the noise into changes, the temporal stage
    // keeps the still scene (per client: two clients at once must not mix their stages).
    let noisy = |seed: u32| {
        let mut img = pattern(320, 180, 0);
        let mut state = seed.wrapping_mul(2654435761).wrapping_add(1);
        for v in img.iter_mut() {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            *v = v.saturating_add((state % 9) as u8).saturating_sub(4);
        }
        jpeg(&img)
    };
    let change = |temporal: &'static str| {
        let server = start(&["-q", "-m", a.to_str().unwrap(), "--temporal", temporal]);
        let clients: Vec<_> = (0..2u32)
            .map(|c| {
                let addr = server.addr.clone();
                std::thread::spawn(move || {
                    let mut ws = ws_connect(&addr, "").unwrap();
                    hello(&mut ws);
                    let outs: Vec<_> = (0..6u32).map(|i| round_trip(&mut ws, i + 1, &noisy(100 * c + i))).collect();
                    (2..6).map(|i| coarse_diff(&outs[i - 1], &outs[i])).sum::<f64>() / 4.0
                })
            })
            .collect();
        clients.into_iter().map(|c| c.join().unwrap()).collect::<Vec<f64>>()
    };
    let (off, on) = (change("off"), change("on"));
    for (off, on) in off.iter().zip(&on) {
        assert!(*off > 0.5 && *on < off * 0.5, "frame-to-frame change per client: {on:.2} with the stage, {off:.2} without");
    }
}
