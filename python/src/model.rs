//! `stylize.Model`: one model loaded on one device; called on numpy frames (HxWx3 or NxHxWx3 uint8 RGB) with
//! the GIL released while the network runs. Calls on one model take turns (it keeps its buffers across
//! frames); models of their own run in parallel.

use std::path::PathBuf;
use std::sync::Mutex;

use numpy::{PyArray1, PyArrayDescrMethods, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use stylize::{Effects, Engine, Frame};

use crate::errors::{input, to_py};
use crate::options::{argv, parse, ModelCli};

/// What a call changes between frames, kept with the engine.
struct State {
    engine: Engine,
    /// The frame the network works on, reused.
    frame: Frame,
    /// The input kept for `strength` / `preserve_color`.
    original: Frame,
    /// The style mix bound now (None: the model's default, an even mix).
    mix: Option<Vec<f32>>,
    /// Time spent in `Engine::stylize`, for the overhead benchmark.
    engine_time: std::time::Duration,
}

#[pyclass(module = "stylize._stylize", frozen)]
pub struct Model {
    state: Mutex<State>,
    path: PathBuf,
    styles: Vec<String>,
    load_line: String,
    io_line: String,
    device: String,
    precision: String,
    threads: usize,
}

#[pymethods]
impl Model {
    #[new]
    #[pyo3(signature = (model, device="auto", precision="auto", threads=None, models_dir=None, max_memory=None))]
    fn new(py: Python<'_>, model: PathBuf, device: &str, precision: &str, threads: Option<usize>, models_dir: Option<PathBuf>, max_memory: Option<Bound<'_, PyAny>>) -> PyResult<Self> {
        let pairs = [
            ("device".to_string(), device.into_pyobject(py)?.into_any()),
            ("precision".to_string(), precision.into_pyobject(py)?.into_any()),
            ("threads".to_string(), threads.into_pyobject(py)?.into_any()),
            ("models_dir".to_string(), models_dir.into_pyobject(py)?.into_any()),
            ("max_memory".to_string(), max_memory.map_or_else(|| py.None().into_bound(py), |m| m)),
        ];
        let cli: ModelCli = parse(argv(&pairs)?)?;
        let runtimes = crate::runtimes();
        // A Python caller stylizes frames one after another (a loop, a notebook, a web app): the stream choice.
        let mut args = cli.engine.for_frame_streams();
        args.quiet = true;
        args.ort_lib = args.ort_lib.or(runtimes.ort_lib);
        args.openvino_lib = args.openvino_lib.or(runtimes.openvino_lib);
        let name = model.to_string_lossy().to_string();
        let engine = py.detach(|| args.load(&name)).map_err(to_py)?;
        Ok(Model {
            path: engine.info().path.clone(),
            styles: engine.style_names().to_vec(),
            load_line: engine.load_line(),
            io_line: engine.io_line(),
            device: engine.device().name(),
            precision: engine.precision().name(),
            threads: engine.cpu_threads(),
            state: Mutex::new(State { engine, frame: Frame::default(), original: Frame::default(), mix: None, engine_time: Default::default() }),
        })
    }

    /// Stylizes `frame` (uint8 RGB, HxWx3, or a batch NxHxWx3) into a new array of the same shape.
    #[pyo3(signature = (frame, strength=1.0, preserve_color=false, style_mix=None))]
    fn __call__<'py>(&self, py: Python<'py>, frame: &Bound<'py, PyAny>, strength: f32, preserve_color: bool, style_mix: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyArrayDyn<u8>>> {
        let effects = Effects { strength, preserve_color };
        if !(0.0..=1.0).contains(&strength) {
            return Err(input(format!("strength {strength} is out of range; use 0 (the input) to 1 (fully stylized)")));
        }
        let (n, h, w) = frame_shape(frame)?;
        let mix = style_mix.map(mix_text).transpose()?;
        let src: PyReadonlyArrayDyn<'py, u8> = frame.extract()?;
        let shape = src.shape().to_vec();
        let view = src.as_array();
        let contiguous = src.as_slice().ok();
        let size = h * w * 3;
        let styled = py.detach(|| -> stylize::Result<Vec<u8>> {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.set_mix(mix.as_deref())?;
            let State { engine, frame, original, engine_time, .. } = &mut *state;
            let mut batch = Vec::new();
            for k in 0..n {
                // Filled without zeroing first; a single frame's buffer then becomes the returned array's.
                let mut data = std::mem::take(&mut frame.data);
                data.clear();
                match contiguous {
                    Some(all) => data.extend_from_slice(&all[k * size..(k + 1) * size]),
                    // A view (e.g. OpenCV's BGR flipped with [..., ::-1]): read element by element.
                    None => data.extend(view.iter().skip(k * size).take(size).copied()),
                }
                *frame = Frame::from_raw(w, h, data);
                if !effects.is_identity() {
                    original.resize(w, h);
                    original.data.copy_from_slice(&frame.data);
                }
                let t = std::time::Instant::now();
                engine.stylize(frame)?;
                *engine_time += t.elapsed();
                effects.apply(original, frame);
                if n == 1 {
                    return Ok(std::mem::take(&mut frame.data));
                }
                batch.reserve_exact(n * size);
                batch.extend_from_slice(&frame.data);
            }
            Ok(batch)
        })
        .map_err(to_py)?;
        // The buffer becomes the array's own (no copy).
        Ok(PyArray1::from_vec(py, styled).reshape(shape)?)
    }

    /// For scripts/bench_python.py: the seconds spent in the engine itself (`Engine::stylize`) by all calls so
    /// far, so a call's overhead (checks, copies, the GIL) is its wall time less this.
    fn _engine_seconds(&self) -> f64 {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).engine_time.as_secs_f64()
    }

    /// Where the model runs and why: a dict with model, device, precision, io, why and styles.
    #[getter]
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("model", &self.path)?;
        d.set_item("device", &self.device)?;
        d.set_item("precision", &self.precision)?;
        d.set_item("threads", self.threads)?;
        d.set_item("io", &self.io_line)?;
        d.set_item("why", &self.load_line)?;
        d.set_item("styles", &self.styles)?;
        Ok(d)
    }

    /// The styles of a multi-style model, in the order `style_mix` weighs them; empty for a one-style model.
    #[getter]
    fn styles(&self) -> Vec<String> {
        self.styles.clone()
    }

    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    fn __repr__(&self) -> String {
        format!("stylize.Model({:?}, device={:?}, precision={:?})", self.path.display().to_string(), self.device, self.precision)
    }
}

impl State {
    /// Binds a style mix (`candy=0.7,mosaic=0.3`), or the even default for None, when it differs from the last.
    fn set_mix(&mut self, text: Option<&str>) -> stylize::Result<()> {
        let mix = match text {
            Some(text) => Some(self.engine.parse_style_mix(text)?),
            None => None,
        };
        if mix == self.mix {
            return Ok(());
        }
        let n = self.engine.style_names().len();
        match &mix {
            Some(weights) => self.engine.set_style_mix(weights)?,
            None if n > 0 => self.engine.set_style_mix(&vec![1.0 / n as f32; n])?,
            None => {}
        }
        self.mix = mix;
        Ok(())
    }
}

/// A `style_mix` argument: `"candy=0.7,mosaic=0.3"` or `{"candy": 0.7, "mosaic": 0.3}`.
fn mix_text(value: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(text) = value.extract::<String>() {
        return Ok(text);
    }
    let dict = value.cast::<PyDict>().map_err(|_| input("style_mix: expected a dict of style weights or a string like \"candy=0.7,mosaic=0.3\""))?;
    let parts: PyResult<Vec<String>> = dict.iter().map(|(k, v)| Ok(format!("{}={}", k.extract::<String>()?, v.extract::<f64>()?))).collect();
    Ok(parts.map_err(|_| input("style_mix: the dict maps style names to numbers"))?.join(","))
}

/// `(n, height, width)` of a frame or batch, or the error a user can act on.
fn frame_shape(frame: &Bound<'_, PyAny>) -> PyResult<(usize, usize, usize)> {
    let Ok(array) = frame.cast::<PyUntypedArray>() else {
        let kind = frame.get_type().name()?;
        return Err(input(format!("frame must be a numpy array (HxWx3 uint8 RGB) or a PIL image; got {kind}")));
    };
    let shape = array.shape().to_vec();
    let dtype = array.dtype();
    if !dtype.is_equiv_to(&numpy::dtype::<u8>(frame.py())) {
        let hint = if dtype.is_equiv_to(&numpy::dtype::<f32>(frame.py())) || dtype.is_equiv_to(&numpy::dtype::<f64>(frame.py())) {
            "; from floats in 0..1: (frame * 255).clip(0, 255).astype(numpy.uint8)"
        } else {
            "; convert with frame.astype(numpy.uint8)"
        };
        return Err(input(format!("frame must be uint8 RGB; got dtype {}{hint}", dtype.str()?)));
    }
    let (n, h, w, c) = match shape[..] {
        [h, w, c] => (1, h, w, c),
        [n, h, w, c] => (n, h, w, c),
        _ => return Err(input(format!("frame must be HxWx3 (or a batch NxHxWx3) RGB; got shape {shape:?}"))),
    };
    if c != 3 {
        let hint = match c {
            4 => "; drop the alpha channel: frame[..., :3]",
            1 => "; repeat the grey channel: numpy.repeat(frame, 3, axis=-1)",
            _ => "",
        };
        return Err(input(format!("frame must have 3 channels (RGB); got shape {shape:?}{hint}")));
    }
    if n == 0 || h == 0 || w == 0 {
        return Err(input(format!("frame is empty (shape {shape:?})")));
    }
    Ok((n, h, w))
}
