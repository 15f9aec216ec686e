//! Video from Python: `transcode` (a file or stream through the CLI's pipeline, audio kept) and `frames`
//! (the decoded frames of a video as numpy arrays).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use numpy::{PyArray1, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use stylize::jobs::video::{VideoEngines, VideoJob};
use stylize::media::decode::{self, SizeRequest, VideoSource, Watch};

use crate::errors::to_py;
use crate::options::{argv, pairs, parse, TranscodeCli};

/// Stylizes the video `src` into `dst` with `model`; `options` are `stylize video`'s (scale, size, crf, codec,
/// preset, frames, duration, temporal, strength, preserve_color, style_mix, device, precision, threads, ...).
/// `progress(done, total)` is called about ten times a second (total 0 when unknown). Ctrl-C
/// (KeyboardInterrupt) or an exception in `progress` stops it and leaves no output. Returns a summary dict.
#[pyfunction]
#[pyo3(signature = (src, dst, model, progress=None, **options))]
pub fn transcode<'py>(py: Python<'py>, src: PathBuf, dst: PathBuf, model: String, progress: Option<Bound<'py, PyAny>>, options: Option<&Bound<'py, PyDict>>) -> PyResult<Bound<'py, PyDict>> {
    let mut cli: TranscodeCli = parse(argv(&pairs(options)?)?)?;
    let runtimes = crate::runtimes();
    cli.engine = cli.engine.for_frame_streams();
    cli.engine.ort_lib = cli.engine.ort_lib.or(runtimes.ort_lib);
    cli.engine.openvino_lib = cli.engine.openvino_lib.or(runtimes.openvino_lib);
    // Progress is the callback's to show.
    cli.engine.quiet = true;
    let effects = cli.effects.effects().map_err(to_py)?;
    let watch = Watch::default();
    let (tx, rx) = crossbeam_channel::bounded(1);
    let job_watch = watch.clone();
    let worker = std::thread::spawn(move || {
        let job = VideoJob { model: &model, video: &cli.video, effects, engine: &cli.engine, watch: Some(job_watch) };
        let result = job.run(&src, &dst, &mut VideoEngines::default(), None);
        let _ = tx.send(());
        result
    });
    let mut shown = u64::MAX;
    let stopped = loop {
        let done = py.detach(|| rx.recv_timeout(Duration::from_millis(100)).is_ok());
        let check = py.check_signals().and_then(|()| match &progress {
            Some(callback) => {
                let (n, total) = (watch.frames.load(Ordering::Relaxed), watch.total.load(Ordering::Relaxed));
                if n != shown || done {
                    shown = n;
                    callback.call1((n, total))?;
                }
                Ok(())
            }
            None => Ok(()),
        });
        match check {
            Err(e) => break Some(e),
            Ok(()) if done => break None,
            Ok(()) => {}
        }
    };
    if stopped.is_some() {
        watch.cancel.store(true, Ordering::Relaxed);
    }
    let result = py.detach(|| worker.join());
    let summary = match (stopped, result) {
        // The job removed its unfinished output; the exception is the caller's own (KeyboardInterrupt, ...).
        (Some(e), _) => return Err(e),
        (None, Ok(result)) => result.map_err(to_py)?,
        (None, Err(_)) => return Err(crate::errors::Error::new_err("the transcode thread panicked; please report it")),
    };
    let d = PyDict::new(py);
    d.set_item("output", &summary.output)?;
    d.set_item("frames", summary.frames)?;
    d.set_item("width", summary.width)?;
    d.set_item("height", summary.height)?;
    d.set_item("seconds", summary.wall.as_secs_f64())?;
    d.set_item("fps", summary.fps())?;
    d.set_item("codec", &summary.codec)?;
    d.set_item("notes", &summary.notes)?;
    d.set_item("line", summary.line())?;
    Ok(d)
}

/// The frames of a video (file, stream or image sequence), decoded on a thread of their own, as HxWx3 uint8
/// RGB arrays; `scale` or `size=(w, h)` resize them as `stylize video` does.
#[pyfunction]
#[pyo3(signature = (src, scale=None, size=None))]
pub fn frames(py: Python<'_>, src: PathBuf, scale: Option<f64>, size: Option<(u32, u32)>) -> PyResult<Frames> {
    let source = py.detach(|| VideoSource::open(&src, SizeRequest { scale, size })).map_err(to_py)?;
    let info = source.info();
    let (width, height) = (info.out_width, info.out_height);
    let fps = f64::from(info.frame_rate);
    let count = info.frames_hint;
    Ok(Frames { inner: std::sync::Mutex::new(Some(source.frames())), width, height, fps, count, ended: AtomicBool::new(false), taken: AtomicU64::new(0) })
}

/// An iterator over decoded frames (see `frames`); `width`, `height`, `fps` and `count` (None when unknown).
#[pyclass(module = "stylize._stylize", frozen)]
pub struct Frames {
    inner: std::sync::Mutex<Option<decode::Frames>>,
    #[pyo3(get)]
    width: u32,
    #[pyo3(get)]
    height: u32,
    #[pyo3(get)]
    fps: f64,
    #[pyo3(get)]
    count: Option<u64>,
    ended: AtomicBool,
    taken: AtomicU64,
}

#[pymethods]
impl Frames {
    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        if self.ended.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let next = py.detach(|| {
            let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            let frames = inner.as_mut()?;
            match frames.next() {
                Some(frame) => Some(Ok(frame)),
                // The end, or a decoding error, which is raised rather than taken for the end.
                None => {
                    let ended = frames.finish();
                    *inner = None;
                    ended.err().map(Err)
                }
            }
        });
        match next {
            Some(Ok(frame)) => {
                self.taken.fetch_add(1, Ordering::Relaxed);
                // The frame's own buffer becomes the array's: no copy.
                let (h, w) = (frame.height, frame.width);
                let array = PyArray1::from_vec(py, frame.data).reshape([h, w, 3])?;
                Ok(Some(array.into_any()))
            }
            Some(Err(e)) => {
                self.ended.store(true, Ordering::Relaxed);
                Err(to_py(e))
            }
            None => {
                self.ended.store(true, Ordering::Relaxed);
                Ok(None)
            }
        }
    }

    /// Frames handed out so far.
    #[getter]
    fn taken(&self) -> u64 {
        self.taken.load(Ordering::Relaxed)
    }

    /// Stops decoding early (also when the iterator is dropped).
    fn close(&self) {
        self.ended.store(true, Ordering::Relaxed);
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __exit__(&self, _a: Option<Bound<'_, PyAny>>, _b: Option<Bound<'_, PyAny>>, _c: Option<Bound<'_, PyAny>>) {
        self.close();
    }
}
