//! The `stylize` element in real pipelines: the same pixels as the engine (what `stylize image` runs), every raw
//! format, a property changed while playing, a bad model failing the pipeline with its message, EOS closing a
//! file, and `gst-inspect-1.0` / `gst-launch-1.0` finding the plugin file.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Once;

use gst::prelude::*;
use gst_video::prelude::*;
use stylize::{Device, Engine, EngineOptions, Frame};

const W: usize = 96;
const H: usize = 64;

fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // A registry of this test's own: a plugin file seen earlier (GST_PLUGIN_PATH in a shell) must not stand
        // in for the code under test.
        let registry = std::env::temp_dir().join(format!("stylize-gst-test-{}.bin", std::process::id()));
        std::env::set_var("GST_REGISTRY", &registry);
        std::env::remove_var("GST_PLUGIN_PATH");
        gst::init().expect("GStreamer initializes");
        gststylize::plugin_register_static().expect("the plugin registers");
    });
}

fn model(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../onnx").join(format!("{name}.onnx")).to_string_lossy().into_owned()
}

/// The frames an appsink named `out` receives (as packed RGB of W x H), or the first error on the bus.
fn frames(desc: &str) -> Result<Vec<Vec<u8>>, String> {
    let pipeline = gst::parse::launch(desc).map_err(|e| e.to_string())?.downcast::<gst::Pipeline>().expect("a pipeline");
    let sink = pipeline.by_name("out").expect("an appsink named out").downcast::<gst_app::AppSink>().expect("an appsink");
    let bus = pipeline.bus().expect("a bus");
    if pipeline.set_state(gst::State::Playing).is_err() {
        let msg = bus.timed_pop_filtered(gst::ClockTime::from_seconds(5), &[gst::MessageType::Error]);
        let _ = pipeline.set_state(gst::State::Null);
        return Err(match msg.as_ref().map(|m| m.view()) {
            Some(gst::MessageView::Error(e)) => e.error().to_string(),
            _ => "the pipeline did not start".into(),
        });
    }
    let mut out = Vec::new();
    let mut error = None;
    // Until EOS, or an error (after which no sample comes): checked between short waits.
    while error.is_none() {
        match sink.try_pull_sample(gst::ClockTime::from_mseconds(200)) {
            Some(sample) => out.push(rgb_of(&sample)),
            None if sink.is_eos() => break,
            None => {}
        }
        error = bus.pop_filtered(&[gst::MessageType::Error]).map(|m| match m.view() {
            gst::MessageView::Error(e) => e.error().to_string(),
            _ => unreachable!(),
        });
    }
    pipeline.set_state(gst::State::Null).expect("stops");
    error.map_or(Ok(out), Err)
}

fn rgb_of(sample: &gst::Sample) -> Vec<u8> {
    let info = gst_video::VideoInfo::from_caps(sample.caps().expect("caps")).expect("video caps");
    assert_eq!(info.format(), gst_video::VideoFormat::Rgb, "the test pipelines end in RGB");
    let buffer = sample.buffer().expect("a buffer");
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info).expect("maps");
    let (w, stride) = (info.width() as usize, frame.plane_stride()[0] as usize);
    let data = frame.plane_data(0).expect("plane 0");
    (0..info.height() as usize).flat_map(|y| data[y * stride..y * stride + w * 3].iter().copied()).collect()
}

/// Colour bars (a channel swap shows on them); `ball` (grey, moving) where the frames must differ.
fn source(n: u32, format: &str) -> String {
    source_with(n, format, "smpte75")
}

fn source_with(n: u32, format: &str, pattern: &str) -> String {
    format!("videotestsrc num-buffers={n} pattern={pattern} ! video/x-raw,format={format},width={W},height={H},framerate=30/1")
}

const RGB_OUT: &str = "videoconvert ! video/x-raw,format=RGB ! appsink name=out sync=false";

fn mean_diff(a: &[u8], b: &[u8]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (*x as f64 - *y as f64).abs()).sum::<f64>() / a.len() as f64
}

#[test]
fn frames_equal_the_engine() {
    init();
    let inputs = frames(&format!("{} ! appsink name=out sync=false", source(3, "RGB"))).expect("runs");
    let styled = frames(&format!("{} ! stylize model={} device=cpu temporal=false ! appsink name=out sync=false", source(3, "RGB"), model("candy-lite"))).expect("runs");
    assert_eq!((inputs.len(), styled.len()), (3, 3));
    let mut engine = Engine::load(Path::new(&model("candy-lite")), &EngineOptions { device: Device::Cpu, ..Default::default() }).expect("loads");
    for (input, got) in inputs.iter().zip(&styled) {
        let mut want = Frame::from_raw(W, H, input.clone());
        engine.stylize(&mut want).expect("stylizes");
        let max = want.data.iter().zip(got).map(|(a, b)| a.abs_diff(*b)).max().unwrap_or(0);
        assert!(max <= 1, "element and engine differ by up to {max} levels");
        assert!(mean_diff(input, got) > 10.0, "the frame was stylized");
    }
}

/// A live source has one frame in flight (stylized in place), any other two (the next inferred while the one
/// before is finished): the same frames either way, in order, none lost at EOS, the temporal stage included.
#[test]
fn live_and_file_pipelines_give_the_same_frames() {
    init();
    let run = |live: bool| {
        let src = format!("videotestsrc num-buffers=8 pattern=ball is-live={live} ! video/x-raw,format=RGB,width={W},height={H},framerate=30/1");
        frames(&format!("{src} ! stylize model={} device=cpu ! appsink name=out sync=false", model("candy-lite"))).expect("runs")
    };
    let (live, file) = (run(true), run(false));
    assert_eq!((live.len(), file.len()), (8, 8), "every frame comes out");
    for (k, (a, b)) in live.iter().zip(&file).enumerate() {
        assert_eq!(a, b, "frame {k}");
    }
    assert!(mean_diff(&file[0], &file[7]) > 1.0, "the ball moves: frames out of order would show");
}

#[test]
fn every_raw_format_negotiates_and_matches_rgb() {
    init();
    let run = |format: &str| {
        frames(&format!("{} ! stylize model={} device=cpu temporal=false ! video/x-raw,format={format} ! {RGB_OUT}", source(2, format), model("candy-lite"))).unwrap_or_else(|e| panic!("{format}: {e}"))
    };
    let rgb = run("RGB");
    assert_eq!(rgb.len(), 2);
    for format in ["RGBx", "BGRx"] {
        assert_eq!(run(format), rgb, "{format} gives the RGB pixels");
    }
    // I420 halves the chroma on the way in and out: close, not equal.
    let i420 = run("I420");
    let d = mean_diff(&i420[0], &rgb[0]);
    assert!(d < 12.0, "I420 differs from RGB by {d:.1} levels on average");
}

#[test]
fn strength_changes_while_playing() {
    init();
    let desc = format!("{} ! tee name=t t. ! queue ! appsink name=in sync=false t. ! queue ! stylize name=s model={} device=cpu temporal=false ! appsink name=out sync=false max-buffers=1", source_with(12, "RGB", "ball"), model("candy-lite"));
    let pipeline = gst::parse::launch(&desc).expect("parses").downcast::<gst::Pipeline>().expect("a pipeline");
    let out = pipeline.by_name("out").expect("out").downcast::<gst_app::AppSink>().expect("appsink");
    let input = pipeline.by_name("in").expect("in").downcast::<gst_app::AppSink>().expect("appsink");
    let element = pipeline.by_name("s").expect("the stylize element");
    pipeline.set_state(gst::State::Playing).expect("plays");
    let mut styled = Vec::new();
    while let Ok(sample) = out.pull_sample() {
        styled.push(rgb_of(&sample));
        if styled.len() == 3 {
            element.set_property("strength", 0.0f64);
        }
    }
    let inputs: Vec<Vec<u8>> = std::iter::from_fn(|| input.pull_sample().ok().map(|s| rgb_of(&s))).collect();
    pipeline.set_state(gst::State::Null).expect("stops");
    assert_eq!((styled.len(), inputs.len()), (12, 12));
    assert!(mean_diff(&styled[0], &inputs[0]) > 10.0, "stylized at first");
    // A frame or two may be in flight when the property changes; the rest are the input itself.
    for k in 6..12 {
        assert_eq!(styled[k], inputs[k], "frame {k} after strength=0");
    }
}

/// A model changed while playing loads in the background and takes over from a frame on, in a file pipeline
/// (frames in flight, each worker's engine swapped in order) as in a live one.
#[test]
fn the_model_changes_while_playing() {
    init();
    for live in [false, true] {
        let desc = format!("videotestsrc num-buffers=24 pattern=ball is-live={live} ! video/x-raw,format=RGB,width={W},height={H},framerate=30/1 ! tee name=t t. ! queue ! appsink name=in sync=false t. ! queue ! stylize name=s model={} device=cpu temporal=false ! appsink name=out sync=false max-buffers=1", model("candy-lite"));
        let pipeline = gst::parse::launch(&desc).expect("parses").downcast::<gst::Pipeline>().expect("a pipeline");
        let out = pipeline.by_name("out").expect("out").downcast::<gst_app::AppSink>().expect("appsink");
        let input = pipeline.by_name("in").expect("in").downcast::<gst_app::AppSink>().expect("appsink");
        pipeline.set_state(gst::State::Playing).expect("plays");
        let mut styled = Vec::new();
        while let Ok(sample) = out.pull_sample() {
            styled.push(rgb_of(&sample));
            if styled.len() == 2 {
                pipeline.by_name("s").expect("the stylize element").set_property("model", model("mosaic-lite"));
            }
            // Slow enough for the new model to load before the end.
            std::thread::sleep(std::time::Duration::from_millis(60));
        }
        let inputs: Vec<Vec<u8>> = std::iter::from_fn(|| input.pull_sample().ok().map(|s| rgb_of(&s))).collect();
        pipeline.set_state(gst::State::Null).expect("stops");
        assert_eq!((styled.len(), inputs.len()), (24, 24), "live={live}");
        let want = |name: &str, k: usize| {
            let mut engine = Engine::load(Path::new(&model(name)), &EngineOptions { device: Device::Cpu, ..Default::default() }).expect("loads");
            let mut frame = Frame::from_raw(W, H, inputs[k].clone());
            engine.stylize(&mut frame).expect("stylizes");
            frame.data
        };
        let close = |a: &[u8], b: &[u8]| a.iter().zip(b).all(|(x, y)| x.abs_diff(*y) <= 1);
        assert!(close(&styled[0], &want("candy-lite", 0)), "live={live}: the first frame is candy-lite's");
        assert!(close(&styled[23], &want("mosaic-lite", 23)), "live={live}: the last frame is mosaic-lite's");
    }
}

/// A pipeline stopped when it goes out of scope, pass or fail.
struct Running(gst::Pipeline);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.set_state(gst::State::Null);
    }
}

/// Streaming to the local machine: a live source through the element, raw-video RTP over UDP to 127.0.0.1, and a
/// receiving pipeline started by the test gets the stylized frames (both stopped at the end, bounded in time).
#[test]
fn a_live_source_streams_over_rtp_udp_on_the_local_machine() {
    init();
    let port = std::net::UdpSocket::bind("127.0.0.1:0").expect("a free local port").local_addr().expect("its address").port();
    let caps = format!("application/x-rtp,media=video,clock-rate=90000,encoding-name=RAW,sampling=RGB,depth=(string)8,width=(string){W},height=(string){H},colorimetry=(string)SMPTE240M,payload=96");
    let launch = |desc: &str| Running(gst::parse::launch(desc).expect("parses").downcast::<gst::Pipeline>().expect("a pipeline"));
    let receiver = launch(&format!("udpsrc address=127.0.0.1 port={port} caps=\"{caps}\" ! rtpvrawdepay ! videoconvert ! video/x-raw,format=RGB ! appsink name=out sync=false"));
    receiver.0.set_state(gst::State::Playing).expect("the receiver plays");
    let out = receiver.0.by_name("out").expect("out").downcast::<gst_app::AppSink>().expect("appsink");
    let sender = launch(&format!("{} ! stylize model={} device=cpu ! rtpvrawpay ! udpsink host=127.0.0.1 port={port}", source(40, "RGB").replace("videotestsrc", "videotestsrc is-live=true"), model("candy-lite")));
    sender.0.set_state(gst::State::Playing).expect("the sender plays");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut got = Vec::new();
    while got.len() < 10 && std::time::Instant::now() < deadline {
        if let Some(sample) = out.try_pull_sample(gst::ClockTime::from_mseconds(200)) {
            got.push(rgb_of(&sample));
        }
    }
    drop((sender, receiver));
    assert!(got.len() >= 10, "only {} frames arrived over UDP", got.len());
    let input = frames(&format!("{} ! appsink name=out sync=false", source(1, "RGB"))).expect("runs").remove(0);
    let mut want = Frame::from_raw(W, H, input.clone());
    Engine::load(Path::new(&model("candy-lite")), &EngineOptions { device: Device::Cpu, ..Default::default() }).expect("loads").stylize(&mut want).expect("stylizes");
    // The bars stand still: the stage keeps them as the first stylized frame showed them.
    let last = got.last().expect("a frame");
    assert!(mean_diff(last, &input) > 10.0, "the frames that arrived are stylized");
    assert!(mean_diff(last, &want.data) < 1.0, "and are the engine's: {:.2} levels apart", mean_diff(last, &want.data));
}

#[test]
fn a_bad_model_fails_the_pipeline_with_its_message() {
    init();
    let err = frames(&format!("{} ! stylize model=/nonexistent/none.onnx ! appsink name=out", source(2, "RGB"))).expect_err("fails");
    assert!(err.contains("none.onnx not found"), "{err}");
    let dir = tempfile::tempdir().expect("tempdir");
    let broken = dir.path().join("broken.onnx");
    std::fs::write(&broken, b"not a model").expect("writes");
    let err = frames(&format!("{} ! stylize model={} ! appsink name=out", source(2, "RGB"), broken.display())).expect_err("fails");
    assert!(err.contains("broken.onnx") && err.contains("not a usable ONNX model"), "{err}");
}

/// A folder with only the plugin built for these tests in it (GST_PLUGIN_PATH), or None.
fn plugin_dir() -> Option<tempfile::TempDir> {
    let exe = std::env::current_exe().ok()?;
    let built: PathBuf = exe.ancestors().skip(1).take(2).map(|d| d.join("libgststylize.so")).find(|p| p.is_file())?;
    let dir = tempfile::tempdir().ok()?;
    std::os::unix::fs::symlink(&built, dir.path().join("libgststylize.so")).ok()?;
    Some(dir)
}

fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success())
}

#[test]
fn gst_tools_find_the_plugin_and_report_errors() {
    if !have("gst-launch-1.0") || !have("gst-inspect-1.0") {
        eprintln!("skipped: gst-launch-1.0 / gst-inspect-1.0 not installed (scripts/setup.sh installs gstreamer1.0-tools)");
        return;
    }
    let dir = plugin_dir().expect("the cdylib beside the test binary");
    let tool = |name: &str, args: &[&str]| Command::new(name).args(args).env("GST_PLUGIN_PATH", dir.path()).env("GST_REGISTRY", dir.path().join("registry.bin")).output().expect("runs");
    let inspect = tool("gst-inspect-1.0", &["stylize"]);
    let text = String::from_utf8_lossy(&inspect.stdout);
    assert!(inspect.status.success(), "{}", String::from_utf8_lossy(&inspect.stderr));
    for property in ["model", "device", "precision", "strength", "style-mix", "preserve-color", "max-memory", "temporal", "threads"] {
        assert!(text.contains(&format!("  {property} ")), "gst-inspect lists {property}");
    }
    let bad = tool("gst-launch-1.0", &["videotestsrc", "num-buffers=2", "!", "stylize", "model=nonesuch", "!", "fakesink"]);
    let err = String::from_utf8_lossy(&bad.stderr).to_string() + &String::from_utf8_lossy(&bad.stdout);
    assert!(!bad.status.success() && err.contains("model nonesuch not found"), "{err}");
}

#[test]
fn eos_finishes_a_file() {
    if !have("gst-launch-1.0") || !have("ffprobe") {
        eprintln!("skipped: gst-launch-1.0 or ffprobe not installed (scripts/setup.sh installs them)");
        return;
    }
    let dir = plugin_dir().expect("the cdylib beside the test binary");
    let out = dir.path().join("out.mp4");
    let pipeline = format!("videotestsrc num-buffers=30 pattern=ball ! video/x-raw,width=160,height=120,framerate=30/1 ! videoconvert ! stylize model={} device=cpu ! videoconvert ! x264enc ! mp4mux ! filesink location={}", model("candy-lite"), out.display());
    let run = Command::new("gst-launch-1.0").arg("-e").args(pipeline.split(' ')).env("GST_PLUGIN_PATH", dir.path()).env("GST_REGISTRY", dir.path().join("registry.bin")).output().expect("runs");
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let probe = Command::new("ffprobe").args(["-v", "error", "-count_frames", "-select_streams", "v", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0"]).arg(&out).output().expect("ffprobe runs");
    assert_eq!(String::from_utf8_lossy(&probe.stdout).trim(), "30", "every frame is in the file");
}
