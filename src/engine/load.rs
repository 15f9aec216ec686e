//! Loading a model: the device it runs on (under `--device auto`: TensorRT, then CUDA, then the CPU, OpenVINO's
//! where it is installed and measured faster, saying why it skipped the others), its graph wrapped for the
//! frame path, and the engine around the session.

use std::path::Path;

use stylize_model::wrap::WrapOptions;

use super::budget::Tiling;
use super::contract::{check_wrapped, inspect, invalid, wrap_for_frames, WrapResult};
use super::library::ort_environment;
use super::onnxruntime::{build_session, OrtRun, SessionError, Tuning};
use super::{int8, ov, AutoCpu, Backend, Device, Engine, EngineOptions, FrameIo, OvTarget, Precision};
use crate::error::{Error, Result};

impl Engine {
    pub fn load(model: &Path, opts: &EngineOptions) -> Result<Engine> {
        if !model.is_file() {
            return Err(Error::ModelMissing { path: model.to_path_buf() });
        }
        let read = |path: &Path| std::fs::read(path).map_err(|e| Error::InputUnreadable { path: path.to_path_buf(), reason: e.to_string() });
        let bytes = read(model)?;
        let (env, _) = ort_environment(opts.ort_lib.as_deref())?;
        let flags = ov::cpu_flags();
        let facts = int8::Facts {
            model,
            quantized: stylize_model::onnx::is_quantized(&bytes).unwrap_or(false),
            sibling: crate::models::int8_sibling(model).is_file(),
            requested: opts.precision,
            vnni: int8::has_vnni(&flags),
            bf16: ov::native_bf16(&flags),
            stream_on_openvino_cpu: false,
        };
        if let Device::OpenVino(target) = opts.device {
            let choice = int8::choose(int8::Facts { stream_on_openvino_cpu: target == OvTarget::Cpu && opts.auto_cpu == AutoCpu::Streams, ..facts })?;
            let bytes = if choice.path == model { bytes } else { read(&choice.path)? };
            return Self::load_openvino(&choice, &bytes, &env, target, opts);
        }
        let asked_precision = opts.precision;
        // ONNX Runtime's `auto` is float32; bf16 is OpenVINO's. An INT8 model (asked for, or given) carries its
        // own precision in the graph: ONNX Runtime builds it as it builds a float32 one.
        let forced_int8 = int8::choose(facts)?;
        let (model, bytes) = match forced_int8.int8 {
            true if forced_int8.path != model => (forced_int8.path.as_path(), read(&forced_int8.path)?),
            _ => (model, bytes),
        };
        let precision = match opts.precision {
            Precision::Auto | Precision::Int8 => Precision::Fp32,
            Precision::Bf16 => return Err(Error::Invalid("--precision bf16 runs on OpenVINO: add --device openvino".into())),
            p => p,
        };
        let opts = &EngineOptions { precision, ..opts.clone() };

        let order: &[Device] = match opts.device {
            Device::Auto => &[Device::TensorRt, Device::Cuda, Device::Cpu],
            d => std::slice::from_ref(match d {
                Device::Cpu => &Device::Cpu,
                Device::Cuda => &Device::Cuda,
                Device::TensorRt => &Device::TensorRt,
                _ => unreachable!("OpenVINO returned above"),
            }),
        };
        if opts.precision == Precision::Fp16 && opts.frame_io == FrameIo::F32 {
            return Err(Error::Invalid("--precision fp16 runs in the graph-wrapped uint8 path; use --frame-io u8 or auto".into()));
        }
        let mut notes = Vec::new();
        // The graph wrapped for uint8 frames (or why it could not be), made when a device first wants it. The
        // CPU gets its own rewrites (`WrapOptions::for_cpu`: convs on phases, uint8 shuffles CUDA has no kernels
        // for); GPUs get the phase convs only when a benchmark asks (`STYLIZE_ORT_TUNE=gpurewrite=1`).
        let tune = Tuning::from_env();
        let mut wrapped: Option<(WrapOptions, WrapResult)> = None;
        // Asking for float32 frames, fp16 or ONNX Runtime tuning (STYLIZE_ORT_TUNE) means ONNX Runtime.
        let openvino_first = opts.device == Device::Auto
            && opts.auto_cpu != AutoCpu::OnnxRuntime
            && opts.frame_io != FrameIo::F32
            && opts.precision != Precision::Fp16
            && std::env::var_os("STYLIZE_ORT_TUNE").is_none();
        for &device in order {
            if device == Device::Cpu && openvino_first {
                let lite = stylize_model::onnx::read_spec(&bytes).is_ok_and(|spec| spec.space_to_depth);
                // What OpenVINO would run: with VNNI, a stream takes the INT8 model where there is one.
                let choice = int8::choose(int8::Facts { stream_on_openvino_cpu: opts.auto_cpu == AutoCpu::Streams, ..facts })?;
                match ov::auto_prefers(&flags, lite, opts.auto_cpu, choice.int8 && facts.vnni) {
                    Ok(why) => {
                        let ov_opts = EngineOptions { device: Device::OpenVino(OvTarget::Cpu), precision: asked_precision, ..opts.clone() };
                        let ov_bytes = if choice.path == model { bytes.clone() } else { read(&choice.path)? };
                        match Self::load_openvino(&choice, &ov_bytes, &env, OvTarget::Cpu, &ov_opts) {
                            Ok(mut engine) => {
                                engine.device_notes = notes;
                                engine.auto_why = Some(why);
                                return Ok(engine);
                            }
                            // Not installed, or this model does not suit it: ONNX Runtime's CPU, saying why.
                            Err(e) => notes.push(format!("openvino: {}", e.to_string().lines().next().unwrap_or_default())),
                        }
                    }
                    Err(why) => notes.push(format!("openvino: {why}")),
                }
            }
            let mut io = opts.frame_io.resolve(device, opts.precision);
            let mut io_note = None;
            if io == FrameIo::U8 {
                let rewrites = tune.rewrites(device == Device::Cpu);
                if wrapped.as_ref().map(|w| &w.0) != Some(&rewrites) {
                    let result = wrap_for_frames(&env, &bytes, model, opts.precision, &rewrites)?;
                    wrapped = Some((rewrites, result));
                }
                if let Some((_, Err(why))) = &wrapped {
                    // Auto keeps the model as it is when it cannot be wrapped (unless fp16 needs the wrap).
                    if opts.frame_io != FrameIo::Auto || opts.precision == Precision::Fp16 {
                        let hint = if opts.precision == Precision::Fp16 { "use --precision fp32 --frame-io f32" } else { "try --frame-io f32" };
                        return Err(Error::ModelContract { path: model.to_path_buf(), reason: format!("{why}; {hint}") });
                    }
                    io = FrameIo::F32;
                    io_note = Some(why.clone());
                }
            }
            let wrap = match (&wrapped, io) {
                (Some((_, Ok(w))), FrameIo::U8) => Some(w),
                _ => None,
            };
            let session_bytes = wrap.map_or(bytes.as_slice(), |(_, w)| w.bytes.as_slice());
            match build_session(&env, session_bytes, device, opts) {
                Ok(session) => {
                    let info = match wrap {
                        Some((info, _)) => {
                            check_wrapped(&session, info)?;
                            info.clone()
                        }
                        None => inspect(&session, model)?,
                    };
                    let binding = session.create_binding().map_err(|e| invalid(model, e))?;
                    let styles = info.style_names();
                    let tiling = Tiling::new(&info, info.pad_rule(), opts);
                    let backend = Backend::Ort(Box::new(OrtRun::new(session, binding, device != Device::Cpu && tune.pinned)));
                    let mut engine = Engine {
                        backend,
                        pad: info.pad_rule(),
                        info,
                        device,
                        device_notes: notes,
                        fixed: None,
                        process_scale: opts.process_scale.filter(|&s| s < 1.0),
                        styles,
                        io,
                        precision: if forced_int8.int8 { Precision::Int8 } else { opts.precision },
                        wrap: wrap.map(|(_, w)| w.info.clone()),
                        io_note,
                        backend_note: forced_int8.why.map(|why| format!(" ({why}), on ONNX Runtime")),
                        auto_why: None,
                        threads: opts.threads,
                        tiling,
                    };
                    engine.bind_default_extras()?;
                    return Ok(engine);
                }
                Err(SessionError::Device(reason)) if opts.device == Device::Auto => notes.push(format!("{}: {reason}", device.name())),
                Err(SessionError::Device(reason)) => {
                    let hint = if device == Device::Cpu { "" } else { ", or run scripts/setup.sh --gpu" };
                    return Err(Error::DeviceUnavailable { wanted: device.name(), reason, hint });
                }
                Err(SessionError::Model(reason)) if opts.precision == Precision::Fp16 && device == Device::Cpu => {
                    return Err(Error::ModelInvalid { path: model.to_path_buf(), reason: format!("{reason} (this ONNX Runtime cannot run the float16 graph on the CPU; use --precision fp32 there)") })
                }
                Err(SessionError::Model(reason)) => return Err(Error::ModelInvalid { path: model.to_path_buf(), reason }),
            }
        }
        unreachable!("the CPU provider is always tried last")
    }

    /// The uint8-wrapped graph on OpenVINO. The wrap is the plain one (its CPU rewrites were measured on ONNX
    /// Runtime's kernels, and OpenVINO fuses the conversions itself), but a lite net's frames cross as their 2x2
    /// phases: OpenVINO's shuffles cost 4-5% of the net each, the host's copy does them for free.
    /// An INT8 `choice` runs its int8 layers in int8 and the rest at what `auto` would pick for a float model.
    fn load_openvino(choice: &int8::Choice, bytes: &[u8], env: &ort::environment::Environment, target: OvTarget, opts: &EngineOptions) -> Result<Engine> {
        if opts.frame_io == FrameIo::F32 {
            return Err(Error::Invalid("--device openvino runs the uint8 frame path; drop --frame-io f32".into()));
        }
        let model = choice.path.as_path();
        let flags = ov::cpu_flags();
        let float_precision = if choice.int8 { Precision::Auto } else { opts.precision };
        let precision = ov::resolve_precision(float_precision, target, &flags);
        let why = match (float_precision, target) {
            (Precision::Auto, OvTarget::Cpu) if ov::native_bf16(&flags) => " (auto: the CPU has native bf16)",
            (Precision::Auto, OvTarget::Cpu) => " (auto: no native bf16 on this CPU)",
            (Precision::Bf16, OvTarget::Cpu) if !ov::native_bf16(&flags) => " (bf16 asked, but this CPU has no native bf16: OpenVINO runs f32)",
            (Precision::Auto, _) => " (auto: the device's default)",
            _ => "",
        };
        let why = match choice.why {
            Some(int8_why) => format!(" ({}: {int8_why}; its float layers {})", if opts.precision == Precision::Int8 { "int8" } else { "auto" }, precision.name()),
            None => why.to_string(),
        };
        let (info, wrapped) = wrap_for_frames(env, bytes, model, Precision::Fp32, &WrapOptions { phases_on_host: true, pad_bytes: true, ..WrapOptions::default() })?
            .map_err(|why| Error::ModelContract { path: model.to_path_buf(), reason: format!("{why}; the OpenVINO backend needs it: use --device cpu") })?;
        let session = ov::OvSession::new(&wrapped.bytes, &info, wrapped.info.phases, target, precision, opts.threads, opts.openvino_lib.as_deref())?;
        let tiling = Tiling::new(&info, info.pad_rule(), opts);
        Ok(Engine {
            backend: Backend::OpenVino(session),
            pad: info.pad_rule(),
            styles: info.style_names(),
            info,
            device: opts.device,
            device_notes: Vec::new(),
            fixed: None,
            process_scale: opts.process_scale.filter(|&s| s < 1.0),
            io: FrameIo::U8,
            precision: if choice.int8 { Precision::Int8 } else { precision },
            wrap: Some(wrapped.info),
            io_note: None,
            backend_note: Some(format!("{why}, on OpenVINO {} {}", ov::OPENVINO_VERSION, target.name())),
            auto_why: None,
            threads: opts.threads,
            tiling,
        })
    }
}
