//! What the `stylize serve` tests share: a server started for the test (on 127.0.0.1, a port of its own,
//! stopped when the test ends, pass or fail), a raw HTTP client (so malformed requests can be sent as they are),
//! multipart bodies, a WebSocket client, and generated frames.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::Background;

pub struct Server {
    pub process: Background,
    /// host:port
    pub addr: String,
    /// The server's private folders live here (its TMPDIR).
    pub tmp: tempfile::TempDir,
    /// What it printed on stderr so far.
    pub stderr: Arc<Mutex<String>>,
    pub stdout: Arc<Mutex<String>>,
}

/// Starts `stylize serve --bind 127.0.0.1:0 ARGS` and waits (at most a minute) for the line that says where
/// it listens.
pub fn start(args: &[&str]) -> Server {
    try_start(args).unwrap_or_else(|(e, err)| panic!("serve did not start: {e}\nstderr: {err}"))
}

pub fn try_start(args: &[&str]) -> Result<Server, (String, String)> {
    let tmp = tempfile::tempdir().unwrap();
    let mut all = vec!["serve", "--bind", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let mut child = Command::new(env!("CARGO_BIN_EXE_stylize"))
        .args(&all)
        .env("TMPDIR", tmp.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start stylize serve");
    let stdout = Arc::new(Mutex::new(String::new()));
    let stderr = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let out = BufReader::new(child.stdout.take().unwrap());
    let copy = stdout.clone();
    std::thread::spawn(move || {
        for line in out.lines().map_while(Result::ok) {
            if let Some(url) = line.split(" at http://").nth(1) {
                let _ = tx.send(url.split('/').next().unwrap_or("").to_string());
            }
            copy.lock().unwrap().push_str(&(line + "\n"));
        }
    });
    let err = BufReader::new(child.stderr.take().unwrap());
    let copy = stderr.clone();
    std::thread::spawn(move || {
        for line in err.lines().map_while(Result::ok) {
            copy.lock().unwrap().push_str(&(line + "\n"));
        }
    });
    let mut process = Background(child);
    let t = Instant::now();
    loop {
        if let Ok(addr) = rx.recv_timeout(Duration::from_millis(100)) {
            return Ok(Server { process, addr, tmp, stderr, stdout });
        }
        if process.0.try_wait().unwrap().is_some() || t.elapsed() > Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(200));
            let e = stderr.lock().unwrap().clone();
            return Err((format!("exit {:?}", process.0.try_wait().unwrap()), e));
        }
    }
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// Job folders in the server's private folder now.
    pub fn job_folders(&self) -> Vec<PathBuf> {
        let mut v = Vec::new();
        for root in std::fs::read_dir(self.tmp.path()).unwrap().flatten() {
            if root.file_name().to_string_lossy().starts_with("stylize-serve-") {
                v.extend(std::fs::read_dir(root.path()).unwrap().flatten().map(|e| e.path()));
            }
        }
        v
    }

    /// Its private folders (one while it runs, none once it has stopped).
    pub fn private_folders(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.tmp.path()).unwrap().flatten().map(|e| e.path()).filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("stylize-serve-")).collect()
    }

    pub fn alive(&mut self) -> bool {
        self.process.0.try_wait().unwrap().is_none()
    }

    /// Sends `signal` and waits (at most 20 s) for the exit status.
    pub fn stop(&mut self, signal: &str) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill").args([&format!("-{signal}"), &self.process.0.id().to_string()]).status();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(20) {
            if let Some(s) = self.process.0.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100));
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).to_string()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {:?} (HTTP {})", self.text(), self.status))
    }

    /// The `error` line of a JSON error.
    pub fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or_else(|| panic!("no error in {}", self.text())).to_string()
    }
}

/// Sends `raw` as it is and reads the answer (the server closes after it: `Connection: close`). None when the
/// server closed without an answer (allowed for some garbage).
pub fn raw(addr: &str, raw: &[u8]) -> Option<Answer> {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(60))).unwrap();
    // The server may answer (and close) before it has read everything, e.g. a too-large upload.
    let _ = s.write_all(raw);
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    parse(&buf)
}

pub fn parse(buf: &[u8]) -> Option<Answer> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect();
    let mut body = buf[end + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        while let Some(nl) = rest.windows(2).position(|w| w == b"\r\n") {
            let n = usize::from_str_radix(String::from_utf8_lossy(&rest[..nl]).trim(), 16).ok()?;
            if n == 0 {
                break;
            }
            out.extend_from_slice(&rest[nl + 2..nl + 2 + n]);
            rest = &rest[nl + 2 + n + 2..];
        }
        body = out;
    }
    Some(Answer { status, headers, body })
}

pub fn request(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    raw(addr, &bytes).unwrap_or_else(|| panic!("no answer to {method} {path}"))
}

pub fn get(addr: &str, path: &str) -> Answer {
    request(addr, "GET", path, &[], b"")
}

pub const BOUNDARY: &str = "stylize-test-boundary-7d1f";

/// A multipart/form-data body: (field name, file name, content).
pub fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut b = Vec::new();
    for (name, file, content) in parts {
        b.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match file {
            Some(f) => b.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes()),
            None => b.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes()),
        }
        b.extend_from_slice(content);
        b.extend_from_slice(b"\r\n");
    }
    b.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    b
}

/// Uploads `file` as `name` with `options` (JSON); returns the answer.
pub fn upload(addr: &str, query: &str, name: &str, file: &[u8], options: &str) -> Answer {
    let body = multipart(&[("options", None, options.as_bytes()), ("file", Some(name), file)]);
    let ct = format!("multipart/form-data; boundary={BOUNDARY}");
    request(addr, "POST", &format!("/api/jobs{query}"), &[("Content-Type", &ct)], &body)
}

/// Polls a job until it is no longer queued or running (at most `limit`); returns its last description.
pub fn wait_job(addr: &str, id: &str, limit: Duration) -> serde_json::Value {
    let t = Instant::now();
    loop {
        let a = get(addr, &format!("/api/jobs/{id}"));
        assert_eq!(a.status, 200, "job {id}: {}", a.text());
        let j = a.json();
        let state = j["state"].as_str().unwrap().to_string();
        if state != "queued" && state != "running" {
            return j;
        }
        assert!(t.elapsed() < limit, "job {id} still {state} after {limit:?}: {j}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

// ---- WebSocket ----

pub type Socket = tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>;
pub use tungstenite::Message;

pub fn ws_connect(addr: &str, query: &str) -> Result<Socket, tungstenite::Error> {
    let (mut socket, _) = tungstenite::connect(format!("ws://{addr}/ws{query}"))?;
    if let tungstenite::stream::MaybeTlsStream::Plain(s) = socket.get_mut() {
        s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    }
    Ok(socket)
}

/// What a socket received: JSON messages and frames (seq, server microseconds, JPEG), or the close.
#[derive(Debug)]
pub enum Got {
    Json(serde_json::Value),
    Frame { seq: u32, jpeg: Vec<u8> },
    Closed(Option<u16>),
}

/// The next message within `limit` (None when nothing came).
pub fn next(socket: &mut Socket, limit: Duration) -> Option<Got> {
    let t = Instant::now();
    while t.elapsed() < limit {
        match socket.read() {
            Ok(Message::Text(t)) => return Some(Got::Json(serde_json::from_str(t.as_str()).expect("JSON message"))),
            Ok(Message::Binary(b)) => {
                assert!(b.len() > 8, "a frame message has a header and a JPEG");
                let seq = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                return Some(Got::Frame { seq, jpeg: b[8..].to_vec() });
            }
            Ok(Message::Close(c)) => return Some(Got::Closed(c.map(|c| u16::from(c.code)))),
            Ok(_) => {}
            Err(tungstenite::Error::Io(e)) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return Some(Got::Closed(None)),
        }
    }
    None
}

/// Reads until `want` matches a message (at most `limit`); panics with what came otherwise.
pub fn until(socket: &mut Socket, limit: Duration, mut want: impl FnMut(&Got) -> bool) -> Got {
    let t = Instant::now();
    let mut seen = Vec::new();
    while t.elapsed() < limit {
        if let Some(g) = next(socket, limit.saturating_sub(t.elapsed())) {
            if want(&g) {
                return g;
            }
            if matches!(g, Got::Closed(_)) {
                panic!("socket closed while waiting; got {seen:?}");
            }
            seen.push(format!("{g:?}").chars().take(200).collect::<String>());
        }
    }
    panic!("nothing wanted within {limit:?}; got {seen:?}");
}

pub fn json_of<'a>(g: &'a Got, kind: &str) -> Option<&'a serde_json::Value> {
    match g {
        Got::Json(v) if v["type"] == kind => Some(v),
        _ => None,
    }
}

pub fn send_frame(socket: &mut Socket, seq: u32, image: &[u8]) {
    let mut msg = seq.to_le_bytes().to_vec();
    msg.extend_from_slice(image);
    socket.send(Message::Binary(msg.into())).expect("send a frame");
}

pub fn send_json(socket: &mut Socket, v: serde_json::Value) {
    socket.send(Message::Text(v.to_string().into())).expect("send a message");
}

// ---- frames ----

/// A test pattern with a moving part (`t`), as RGB.
pub fn pattern(w: u32, h: u32, t: u32) -> image::RgbImage {
    image::RgbImage::from_fn(w, h, |x, y| {
        let (x, y) = (x + 3 * t, y + t);
        image::Rgb([(x * 255 / w.max(1)) as u8, (y * 255 / h.max(1)) as u8, (((x / 16) ^ (y / 16)) % 2 * 200 + 30) as u8])
    })
}

pub fn jpeg(img: &image::RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90).encode_image(img).unwrap();
    out
}

pub fn png(img: &image::RgbImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

pub fn decode(bytes: &[u8]) -> image::RgbImage {
    image::load_from_memory(bytes).expect("an image").into_rgb8()
}

/// Mean absolute difference per channel value (0..255).
pub fn mean_diff(a: &image::RgbImage, b: &image::RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions(), "sizes differ");
    let sum: u64 = a.as_raw().iter().zip(b.as_raw()).map(|(x, y)| u64::from(x.abs_diff(*y))).sum();
    sum as f64 / a.as_raw().len() as f64
}

/// Mean absolute difference of the 4x4-block means: JPEG's loss (fine, block-local noise) averages out, a
/// different style or a wrong frame does not.
pub fn coarse_diff(a: &image::RgbImage, b: &image::RgbImage) -> f64 {
    let small = |i: &image::RgbImage| image::imageops::resize(i, i.width() / 4, i.height() / 4, image::imageops::FilterType::Triangle);
    mean_diff(&small(a), &small(b))
}

/// What `stylize image -m MODEL` makes of `img` (the CLI's result, to compare the server's with).
pub fn cli_stylized(dir: &Path, model: &Path, img: &image::RgbImage, extra: &[&str]) -> image::RgbImage {
    let input = dir.join(format!("cli-in-{}.png", std::process::id()));
    let output = dir.join(format!("cli-out-{}.png", std::process::id()));
    img.save(&input).unwrap();
    let mut args = vec!["image", "-q", "-m", model.to_str().unwrap(), input.to_str().unwrap(), "-o", output.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = crate::common::stylize(&args);
    assert!(o.status.success(), "stylize image failed: {}", crate::common::stderr(&o));
    let out = image::open(&output).unwrap().into_rgb8();
    let _ = std::fs::remove_file(&input);
    let _ = std::fs::remove_file(&output);
    out
}

/// A tiny deterministic generator for the fuzz-style tests (no extra dependency).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}
