//! The page in a real browser: headless Chromium with a fake camera that plays two seconds of the demo clip
//! (`assets/bigbuckbunny.mp4`, made into a .y4m with the ffmpeg CLI; Chromium's synthetic test pattern, with a
//! note, without ffmpeg) opens the page from a server started by the test, and the test drives it through the
//! DevTools protocol (a WebSocket; tungstenite here). Skipped, with a message, where Chromium is not installed
//! (`scripts/setup.sh test` installs it).
//!
//! `browser_benchmark` (ignored by default) measures round trips, fps and the server's CPU share with one and
//! two pages: `STYLIZE_BENCH_MODEL=onnx/candy-lite.onnx cargo test --release -p stylize --test serve
//! browser_benchmark -- --ignored --nocapture` (`STYLIZE_BENCH_SECONDS`, `STYLIZE_BENCH_INFLIGHT` (the page's
//! `?inflight=`), `STYLIZE_SERVE_SCREENSHOT=docs/serve.png`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

use crate::common::{self, Background};
use crate::support::*;

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"].into_iter().find(|b| Command::new(b).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success()))
}

pub struct Browser {
    _process: Background,
    /// The profile (`profile/`) and the camera's clip.
    _dir: tempfile::TempDir,
    /// The camera's clip (None: Chromium's test pattern).
    camera: Option<PathBuf>,
    port: u16,
}

/// Two seconds of the demo clip at 640x360 as a .y4m for Chromium's fake camera (which loops it), in `dir`;
/// None, after a note, where the ffmpeg CLI is missing or fails.
fn camera_clip(dir: &Path) -> Option<PathBuf> {
    let clip = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/bigbuckbunny.mp4");
    let y4m = dir.join("camera.y4m");
    let o = Command::new("ffmpeg")
        .args(["-v", "error", "-ss", "2", "-t", "2", "-i"])
        .arg(&clip)
        .args(["-an", "-vf", "scale=640:360", "-pix_fmt", "yuv420p", "-f", "yuv4mpegpipe"])
        .arg(&y4m)
        .output();
    match o {
        Ok(o) if o.status.success() => Some(y4m),
        Ok(o) => {
            eprintln!("note: the camera shows Chromium's test pattern: ffmpeg could not convert {}: {}", clip.display(), String::from_utf8_lossy(&o.stderr).trim());
            None
        }
        Err(e) => {
            eprintln!("note: the camera shows Chromium's test pattern: no ffmpeg CLI to make a clip of ({e})");
            None
        }
    }
}

impl Browser {
    /// Headless Chromium with a fake camera (the demo clip) that needs no permission prompt; None (with a message)
    /// without Chromium.
    pub fn launch() -> Option<Browser> {
        let Some(bin) = chromium() else {
            eprintln!("skipping: Chromium is not installed (apt-get install chromium; scripts/setup.sh test does it)");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let profile = dir.path().join("profile");
        let data = format!("--user-data-dir={}", profile.display());
        let camera = camera_clip(dir.path());
        let camera_arg = camera.as_ref().map(|y4m| format!("--use-file-for-fake-video-capture={}", y4m.display()));
        let mut args = vec![
            "--headless=new",
            "--disable-gpu",
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            "--remote-debugging-port=0",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-timer-throttling",
            "--disable-renderer-backgrounding",
            "--disable-backgrounding-occluded-windows",
            "--window-size=1280,860",
            &data,
        ];
        if let Some(arg) = &camera_arg {
            args.push(arg);
        }
        // Chromium's sandbox does not run as root.
        if unsafe { libc::geteuid() } == 0 {
            args.push("--no-sandbox");
        }
        args.push("about:blank");
        let process = Background::start(bin, &args);
        // With port 0 Chromium picks one and writes it into the profile.
        let file = profile.join("DevToolsActivePort");
        let t = Instant::now();
        let port = loop {
            if let Some(p) = std::fs::read_to_string(&file).ok().and_then(|s| s.lines().next().and_then(|l| l.trim().parse().ok())) {
                break p;
            }
            assert!(t.elapsed() < Duration::from_secs(60), "Chromium did not open its DevTools port");
            std::thread::sleep(Duration::from_millis(100));
        };
        Some(Browser { _process: process, _dir: dir, camera, port })
    }

    /// How far `frame` (one the page sent) is from the nearest frame of the camera's clip: the mean absolute
    /// difference of 4x4-block means of luma, in grey levels (BT.601 limited range, as in the .y4m); None with
    /// Chromium's test pattern.
    pub fn camera_diff(&self, frame: &image::RgbImage) -> Option<f64> {
        let y4m = std::fs::read(self.camera.as_ref()?).unwrap();
        let header_end = y4m.iter().position(|&b| b == b'\n').unwrap();
        let header = std::str::from_utf8(&y4m[..header_end]).unwrap();
        let dim = |tag: char| header.split(' ').find_map(|t| t.strip_prefix(tag)).and_then(|v| v.parse::<usize>().ok()).unwrap();
        let (w, h) = (dim('W'), dim('H'));
        assert_eq!((w as u32, h as u32), frame.dimensions(), "the camera's clip is not the frames' size");
        let blocks = |luma: &dyn Fn(usize, usize) -> f64| -> Vec<f64> {
            let mut v = Vec::with_capacity((w / 4) * (h / 4));
            for by in 0..h / 4 {
                for bx in 0..w / 4 {
                    v.push((0..16).map(|k| luma(bx * 4 + k % 4, by * 4 + k / 4)).sum::<f64>() / 16.0);
                }
            }
            v
        };
        let sent = blocks(&|x, y| {
            let [r, g, b] = frame.get_pixel(x as u32, y as u32).0.map(f64::from);
            16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0
        });
        let (frame_bytes, mut at, mut best) = (w * h * 3 / 2, header_end + 1, f64::INFINITY);
        while at < y4m.len() {
            at += y4m[at..].iter().position(|&b| b == b'\n').unwrap() + 1; // FRAME and its parameters
            let plane = &y4m[at..at + w * h];
            let clip = blocks(&|x, y| f64::from(plane[y * w + x]));
            best = best.min(sent.iter().zip(&clip).map(|(a, b)| (a - b).abs()).sum::<f64>() / sent.len() as f64);
            at += frame_bytes;
        }
        Some(best)
    }

    /// A new tab (in a window of its own, so that it is not throttled as a background tab).
    pub fn tab(&self) -> Cdp {
        let addr = format!("127.0.0.1:{}", self.port);
        let version = get(&addr, "/json/version").json();
        let mut browser = Cdp::connect(version["webSocketDebuggerUrl"].as_str().unwrap());
        let target = browser.call("Target.createTarget", json!({"url": "about:blank", "newWindow": true}));
        let id = target["targetId"].as_str().unwrap();
        Cdp::connect(&format!("ws://{addr}/devtools/page/{id}"))
    }
}

/// A DevTools protocol connection to one target.
pub struct Cdp {
    ws: Socket,
    id: u64,
}

impl Cdp {
    fn connect(url: &str) -> Cdp {
        let (mut ws, _) = tungstenite::connect(url).expect("connect to Chromium's DevTools");
        if let tungstenite::stream::MaybeTlsStream::Plain(s) = ws.get_mut() {
            s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        }
        Cdp { ws, id: 0 }
    }

    /// Calls `method`; returns its result (events that come meanwhile are skipped).
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.id += 1;
        let id = self.id;
        self.ws.send(Message::Text(json!({"id": id, "method": method, "params": params}).to_string().into())).expect("send to Chromium");
        loop {
            let msg = self.ws.read().unwrap_or_else(|e| panic!("{method}: no answer from Chromium: {e}"));
            let Message::Text(text) = msg else { continue };
            let v: Value = serde_json::from_str(text.as_str()).unwrap();
            if v["id"] == id {
                assert!(v.get("error").is_none(), "{method}: {}", v["error"]);
                return v["result"].clone();
            }
        }
    }

    /// Evaluates JavaScript in the page (awaiting a promise) and returns its value.
    pub fn eval(&mut self, expr: &str) -> Value {
        let r = self.call("Runtime.evaluate", json!({"expression": expr, "returnByValue": true, "awaitPromise": true}));
        assert!(r.get("exceptionDetails").is_none(), "{expr}: {}", r["exceptionDetails"]);
        r["result"]["value"].clone()
    }

    /// Evaluates `expr` until it is true (at most `limit`).
    pub fn wait_for(&mut self, expr: &str, limit: Duration) {
        let t = Instant::now();
        while self.eval(expr) != json!(true) {
            assert!(t.elapsed() < limit, "still not {expr} after {limit:?}; page says {}", self.eval("document.getElementById('messages').innerText + ' | ' + document.getElementById('server').innerText"));
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn open(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url}));
        self.wait_for("!!(window.stylizeDebug && window.stylizeDebug.stats().session)", Duration::from_secs(30));
    }

    pub fn click(&mut self, id: &str) {
        self.eval(&format!("document.getElementById('{id}').click()"));
    }

    /// The last frame sent and what came back for it (decoded).
    pub fn pair(&mut self) -> (image::RgbImage, image::RgbImage) {
        let p = self.eval("window.stylizeDebug.lastPair()");
        let data = |k: &str| {
            let url = p[k].as_str().unwrap_or_else(|| panic!("no {k} in {p}"));
            base64::engine::general_purpose::STANDARD.decode(url.split_once(',').unwrap().1).unwrap()
        };
        (decode(&data("input")), decode(&data("output")))
    }

    pub fn screenshot(&mut self) -> Vec<u8> {
        let r = self.call("Page.captureScreenshot", json!({"format": "png"}));
        base64::engine::general_purpose::STANDARD.decode(r["data"].as_str().unwrap()).unwrap()
    }
}

/// The first number in a text ("27 fps" -> 27).
fn number(text: &str) -> f64 {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.')).find(|s| !s.is_empty()).and_then(|s| s.parse().ok()).unwrap_or(0.0)
}

/// Waits until `n` more frames have been shown after a reset.
fn frames_after_reset(tab: &mut Cdp, n: usize, limit: Duration) {
    tab.eval("window.stylizeDebug.reset()");
    tab.wait_for(&format!("window.stylizeDebug.stats().latencies.length >= {n}"), limit);
}

#[test]
fn the_page_stylizes_the_camera_switches_models_and_uploads_in_chromium() {
    let Some(browser) = Browser::launch() else { return };
    let dir = tempfile::tempdir().unwrap();
    let a = common::random_model(dir.path(), "lite", 21);
    let b = common::random_model(dir.path(), "lite", 22);
    // Frames are compared with `stylize image` of them: without the temporal stage, which keeps parts of the
    // frames before (tests/serve.rs checks the stage per client).
    let server = start(&["-q", "-m", a.to_str().unwrap(), "-m", b.to_str().unwrap(), "--temporal", "off"]);
    let mut tab = browser.tab();
    tab.open(&server.url("/"));
    assert_eq!(tab.eval("[...document.getElementById('model').options].map(o => o.value)"), json!(["lite-21", "lite-22"]));

    // The camera's frames come back stylized by the first model, as `stylize image` stylizes them.
    tab.click("start");
    frames_after_reset(&mut tab, 8, Duration::from_secs(90));
    let (input, output) = tab.pair();
    assert_eq!(input.dimensions(), (640, 360), "frames go at the chosen size");
    assert_eq!(output.dimensions(), (640, 360));
    if let Some(d) = browser.camera_diff(&input) {
        assert!(d < 2.0, "the camera shows the demo clip: {d:.2} grey levels from its nearest frame");
    }
    let want_a = cli_stylized(dir.path(), &a, &input, &[]);
    let (from_a, from_input) = (coarse_diff(&output, &want_a), mean_diff(&output, &input));
    assert!(from_a < 3.0, "the page shows model a's style: {from_a:.2} grey levels from the CLI's result");
    assert!(from_input > 15.0, "the page shows the camera unstyled? {from_input:.2} from the input");

    // The page shows its fps and round-trip latency.
    let hud = tab.eval("[document.getElementById('fps').textContent, document.getElementById('latency').textContent]");
    let (fps, latency) = (hud[0].as_str().unwrap(), hud[1].as_str().unwrap());
    assert!(fps.ends_with("fps") && number(fps) > 0.0, "fps shown: {fps:?}");
    assert!(latency.contains("ms round trip") && number(latency) > 0.0, "latency shown: {latency:?}");
    let shot = tab.screenshot();
    let shot_img = decode(&shot);
    assert!(shot_img.width() >= 800, "a screenshot of the page");
    std::fs::write(dir.path().join("page.png"), &shot).unwrap();

    // Switching the model changes the frames: now they are model b's.
    tab.eval("(() => { const s = document.getElementById('model'); s.value = 'lite-22'; s.dispatchEvent(new Event('change')); })()");
    std::thread::sleep(Duration::from_millis(500));
    frames_after_reset(&mut tab, 5, Duration::from_secs(60));
    let (input, output) = tab.pair();
    let (want_a, want_b) = (cli_stylized(dir.path(), &a, &input, &[]), cli_stylized(dir.path(), &b, &input, &[]));
    let (from_a, from_b) = (coarse_diff(&output, &want_a), coarse_diff(&output, &want_b));
    assert!(from_b < 3.0, "after the switch the page shows model b: {from_b:.2} from its CLI result");
    assert!(from_a > 3.0 * from_b + 2.0, "... and no longer model a ({from_a:.2} vs {from_b:.2})");

    // The strength slider reaches the server: at 0 the camera comes back as it went.
    tab.eval("(() => { const s = document.getElementById('strength'); s.value = '0'; s.dispatchEvent(new Event('input')); })()");
    std::thread::sleep(Duration::from_millis(500));
    frames_after_reset(&mut tab, 3, Duration::from_secs(60));
    let (input, output) = tab.pair();
    assert!(coarse_diff(&input, &output) < 2.0, "strength 0: {:.2}", coarse_diff(&input, &output));

    // An image uploaded through the page comes back stylized, shown and offered for download.
    let photo = dir.path().join("photo.png");
    pattern(160, 100, 4).save(&photo).unwrap();
    let doc = tab.call("DOM.getDocument", json!({}));
    let node = tab.call("DOM.querySelector", json!({"nodeId": doc["root"]["nodeId"], "selector": "#file"}));
    tab.call("DOM.setFileInputFiles", json!({"nodeId": node["nodeId"], "files": [photo.to_str().unwrap()]}));
    tab.click("upload");
    tab.wait_for("(() => { const i = document.querySelector('#result img'); return !!(i && i.complete && i.naturalWidth === 160); })()", Duration::from_secs(60));
    let link = tab.eval("document.querySelector('#result a').getAttribute('href')");
    assert!(link.as_str().unwrap().ends_with("/result?download=1"), "{link}");
    assert!(tab.eval("document.getElementById('job').textContent").as_str().unwrap().contains("done"));
}

/// CPU time (user + system) of a process so far, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which is in parentheses): utime and stime are the 14th and 15th.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// Measures the tabs for `seconds`: per tab (frames shown per second, p50 and p95 round trip in ms, p50 of the
/// server's part of it: receipt to reply sent), and the server's CPU share of one core.
fn measure(tabs: &mut [Cdp], server_pid: u32, seconds: f64) -> (Vec<(f64, f64, f64, f64)>, f64) {
    for t in tabs.iter_mut() {
        t.eval("window.stylizeDebug.reset()");
    }
    let (t0, c0) = (Instant::now(), cpu_seconds(server_pid));
    std::thread::sleep(Duration::from_secs_f64(seconds));
    let (wall, cpu) = (t0.elapsed().as_secs_f64(), cpu_seconds(server_pid) - c0);
    let per_tab = tabs
        .iter_mut()
        .map(|t| {
            let mut lat: Vec<f64> = serde_json::from_value(t.eval("window.stylizeDebug.stats().latencies")).unwrap();
            assert!(!lat.is_empty(), "no frames shown");
            let mut server: Vec<f64> = serde_json::from_value(t.eval("window.stylizeDebug.stats().server_ms")).unwrap();
            (lat.len() as f64 / wall, percentile(&mut lat, 0.5), percentile(&mut lat, 0.95), percentile(&mut server, 0.5))
        })
        .collect();
    (per_tab, cpu / wall)
}

#[test]
#[ignore = "a measurement: run with --ignored --nocapture"]
fn browser_benchmark() {
    let Some(browser) = Browser::launch() else { return };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let model = std::env::var("STYLIZE_BENCH_MODEL").map(PathBuf::from).unwrap_or_else(|_| root.join("onnx/candy-lite.onnx"));
    let seconds: f64 = std::env::var("STYLIZE_BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20.0);
    let inflight: u32 = std::env::var("STYLIZE_BENCH_INFLIGHT").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let server = start(&["-q", "-m", model.to_str().unwrap()]);
    let pid = server.process.0.id();
    let page = server.url(&format!("/?inflight={inflight}"));
    let mut tabs = vec![browser.tab()];
    tabs[0].open(&page);
    tabs[0].click("start");
    frames_after_reset(&mut tabs[0], 10, Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(2));
    let (one, cpu_one) = measure(&mut tabs, pid, seconds);
    if let Ok(path) = std::env::var("STYLIZE_SERVE_SCREENSHOT") {
        std::fs::write(&path, tabs[0].screenshot()).unwrap();
        println!("screenshot: {path}");
    }
    let mut second = browser.tab();
    second.open(&page);
    second.click("start");
    frames_after_reset(&mut second, 10, Duration::from_secs(60));
    tabs.push(second);
    std::thread::sleep(Duration::from_secs(2));
    let (two, cpu_two) = measure(&mut tabs, pid, seconds);
    let cores = stylize::cores();
    println!("model {}, 640x360 JPEG frames, at most {inflight} unanswered, {seconds} s per run, {cores} cores", model.display());
    println!("| clients | client | fps | round trip p50 ms | p95 ms | server part p50 ms | server CPU (of one core) |");
    println!("|---|---|---|---|---|---|---|");
    for (n, (rows, cpu)) in [(1, (&one, cpu_one)), (2, (&two, cpu_two))] {
        for (i, (fps, p50, p95, server)) in rows.iter().enumerate() {
            println!("| {n} | {} | {fps:.1} | {p50:.0} | {p95:.0} | {server:.0} | {:.0}% |", i + 1, cpu * 100.0);
        }
    }
}
