//! INT8 models: which file runs under `--precision auto|int8`, and why.
//!
//! `scripts/quantize.sh NAME.onnx` writes `NAME-int8.onnx` beside the float model (QDQ ONNX: int8 weights and
//! activations, the first convolution on its exact uint8 pixels, the last float) only when it passes its quality check against the float
//! model. On a CPU with 8-bit dot products (VNNI), OpenVINO runs it 1.4-1.7x faster than bf16 where the CPU has
//! native bf16, and 1.7-2.4x faster than fp32 where it has not (docs/benchmarks.md "INT8"), so `auto` takes it
//! for streams of frames there (video, live, serve, bench); a single photo keeps the float model (quality first,
//! and OpenVINO's compile per size dominates it). A GPU always gets the float model.

use std::path::{Path, PathBuf};

use super::Precision;
use crate::error::{Error, Result};
use crate::models::int8_sibling;

/// Whether a CPU with these `/proc/cpuinfo` flags has 8-bit integer dot products: AVX-512 VNNI (Intel Cascade
/// Lake and later, AMD Zen 4 and later), AVX-VNNI (Intel Alder Lake and later, without AVX-512) or AMX.
pub fn has_vnni(cpu_flags: &str) -> bool {
    cpu_flags.split_whitespace().any(|f| matches!(f, "avx512_vnni" | "avx_vnni" | "amx_int8"))
}

/// What the engine loads: the file, whether it is INT8, and why (for the load line).
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub path: PathBuf,
    pub int8: bool,
    pub why: Option<&'static str>,
}

/// The facts the choice rests on.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// The file given (`-m`).
    pub model: &'a Path,
    /// It is itself quantized ([`stylize_model::onnx::is_quantized`]).
    pub quantized: bool,
    /// Its INT8 sibling exists.
    pub sibling: bool,
    pub requested: Precision,
    /// The CPU has VNNI ([`has_vnni`]).
    pub vnni: bool,
    /// The CPU has native bf16 (what the float model would run in; only for the reason given).
    pub bf16: bool,
    /// The engine runs a stream of frames on OpenVINO's CPU (auto takes INT8 only there).
    pub stream_on_openvino_cpu: bool,
}

/// Which file runs. Errors: a float precision forced on an INT8 file, or `int8` with no INT8 model.
pub fn choose(f: Facts) -> Result<Choice> {
    let float = Choice { path: f.model.to_path_buf(), int8: false, why: None };
    if f.quantized {
        return match f.requested {
            Precision::Auto | Precision::Int8 => Ok(Choice { int8: true, why: Some("the model is INT8"), ..float }),
            p => Err(Error::Invalid(format!(
                "{} is an INT8 model: --precision {} needs a float model (the one it was quantized from), or use --precision int8",
                f.model.display(),
                p.name()
            ))),
        };
    }
    let sibling = Choice { path: int8_sibling(f.model), int8: true, why: None };
    match f.requested {
        Precision::Int8 if f.sibling => Ok(Choice { why: Some("asked"), ..sibling }),
        Precision::Int8 => Err(Error::Invalid(format!(
            "no INT8 model for {} (looked for {}): make one with scripts/quantize.sh {} --calibration PHOTOS_DIR",
            f.model.display(),
            sibling.path.display(),
            f.model.display()
        ))),
        Precision::Auto if f.sibling && f.vnni && f.stream_on_openvino_cpu => {
            let why = match f.bf16 {
                true => "an INT8 model beside it and a CPU with VNNI: 1.4-1.7x bf16",
                false => "an INT8 model beside it and a CPU with VNNI: about 2x fp32 (no native bf16 here)",
            };
            Ok(Choice { why: Some(why), ..sibling })
        }
        _ => Ok(float),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(requested: Precision) -> Facts<'static> {
        Facts { model: Path::new("onnx/candy-lite.onnx"), quantized: false, sibling: true, requested, vnni: true, bf16: true, stream_on_openvino_cpu: true }
    }

    #[test]
    fn vnni_is_a_whole_flag() {
        assert!(has_vnni("fpu avx2 avx512f avx512_vnni avx512_bf16"));
        assert!(has_vnni("avx2 avx_vnni"));
        assert!(has_vnni("amx_int8 amx_tile"));
        assert!(!has_vnni("fpu sse2 avx2 fma") && !has_vnni("avx512_vnnix") && !has_vnni(""));
    }

    #[test]
    fn auto_takes_int8_only_for_streams_on_openvino_with_vnni() {
        let int8 = PathBuf::from("onnx/candy-lite-int8.onnx");
        let c = choose(facts(Precision::Auto)).unwrap();
        assert_eq!((c.path, c.int8), (int8.clone(), true));
        assert!(c.why.unwrap().ends_with("bf16"), "{:?}", c.why);
        // The reason names what the float model would have run in.
        let c = choose(Facts { bf16: false, ..facts(Precision::Auto) }).unwrap();
        assert!(c.int8 && c.why.unwrap().contains("2x fp32"), "{:?}", c.why);
        // No VNNI, no sibling, or not a stream on OpenVINO's CPU: the float model.
        for f in [Facts { vnni: false, ..facts(Precision::Auto) }, Facts { sibling: false, ..facts(Precision::Auto) }, Facts { stream_on_openvino_cpu: false, ..facts(Precision::Auto) }] {
            let c = choose(f).unwrap();
            assert_eq!((c.path.as_path(), c.int8), (Path::new("onnx/candy-lite.onnx"), false), "{f:?}");
        }
        // Forced float keeps the float model even where auto would not.
        assert!(!choose(facts(Precision::Fp32)).unwrap().int8);
        assert!(!choose(facts(Precision::Bf16)).unwrap().int8);
    }

    #[test]
    fn forced_int8_needs_an_int8_model() {
        let c = choose(Facts { vnni: false, stream_on_openvino_cpu: false, ..facts(Precision::Int8) }).unwrap();
        assert!(c.int8 && c.path.ends_with("candy-lite-int8.onnx"));
        let e = choose(Facts { sibling: false, ..facts(Precision::Int8) }).unwrap_err().to_string();
        assert!(e.contains("no INT8 model") && e.contains("scripts/quantize.sh"), "{e}");
    }

    #[test]
    fn an_int8_file_is_int8() {
        let q = Facts { quantized: true, sibling: false, model: Path::new("x-int8.onnx"), ..facts(Precision::Auto) };
        assert!(choose(q).unwrap().int8);
        assert!(choose(Facts { requested: Precision::Int8, vnni: false, ..q }).unwrap().int8);
        let e = choose(Facts { requested: Precision::Fp32, ..q }).unwrap_err().to_string();
        assert!(e.contains("is an INT8 model") && e.contains("fp32"), "{e}");
    }
}
