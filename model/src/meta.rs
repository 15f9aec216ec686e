//! Keys and values of the ONNX `metadata_props` that describe a stylize model file.

use crate::{JohnsonSpec, ModelError};

/// Value range of input and output pixels; always [`RANGE_0_255`] for Johnson nets.
pub const RANGE: &str = "stylize.range";
/// Human-readable style name, e.g. `"mosaic"`.
pub const STYLE: &str = "stylize.style";
/// Architecture family; [`ARCH_JOHNSON`] for [`JohnsonSpec`] nets.
pub const ARCH: &str = "stylize.arch";
/// JSON of the [`JohnsonSpec`] the file was written from.
pub const SPEC: &str = "stylize.spec";
/// Multi-style nets: the styles in `style_weights` order, comma-separated (`candy,mosaic`).
pub const STYLES: &str = "stylize.styles";

pub const RANGE_0_255: &str = "0-255";
/// `int8` in a statically quantized model (`scripts/quantize.py`); absent in float models.
pub const PRECISION: &str = "stylize.precision";
/// An INT8 model's quality check against its float model (JSON: mean, p99.9, ... in grey levels).
pub const INT8_CHECK: &str = "stylize.int8_check";
pub const ARCH_JOHNSON: &str = "johnson";

/// The standard metadata of a Johnson model file: range, style, arch and spec JSON.
pub fn standard(spec: &JohnsonSpec, style: &str) -> Vec<(String, String)> {
    let spec_json = serde_json::to_string(spec).expect("JohnsonSpec serialises");
    vec![
        (RANGE.to_string(), RANGE_0_255.to_string()),
        (STYLE.to_string(), style.to_string()),
        (ARCH.to_string(), ARCH_JOHNSON.to_string()),
        (SPEC.to_string(), spec_json),
    ]
}

/// Metadata of a multi-style net: [`standard`] with `style` = the names joined by `+`, plus
/// [`STYLES`]. One name gives exactly [`standard`].
pub fn standard_multi(spec: &JohnsonSpec, styles: &[String]) -> Vec<(String, String)> {
    let mut m = standard(spec, &styles.join("+"));
    if styles.len() > 1 {
        m.push((STYLES.to_string(), styles.join(",")));
    }
    m
}

/// The style names of a [`STYLES`] value.
pub fn parse_styles(value: &str) -> Vec<String> {
    value.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
}

/// Parses and validates the [`SPEC`] value.
pub fn parse_spec(json: &str) -> Result<JohnsonSpec, ModelError> {
    let spec: JohnsonSpec = serde_json::from_str(json)
        .map_err(|e| ModelError::BadMetadata(format!("{SPEC}: {e}: {json}")))?;
    spec.validate()?;
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_round_trips_the_spec() {
        let m = standard(&JohnsonSpec::half(), "mosaic");
        let get = |k: &str| m.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
        assert_eq!(get(RANGE), Some("0-255"));
        assert_eq!(get(STYLE), Some("mosaic"));
        assert_eq!(get(ARCH), Some("johnson"));
        assert_eq!(parse_spec(get(SPEC).unwrap()).unwrap(), JohnsonSpec::half());
        assert!(parse_spec("{\"widths\":[1,2]}").is_err());
        let m = standard(&JohnsonSpec::lite(), "lite");
        let get = |k: &str| m.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
        assert_eq!(parse_spec(get(SPEC).unwrap()).unwrap(), JohnsonSpec::lite());
        // Files written before space-to-depth existed carry no such field.
        let old = parse_spec(r#"{"widths":[16,32,64],"res_blocks":5,"end_kernel":9}"#).unwrap();
        assert_eq!(old, JohnsonSpec::half());
    }

    #[test]
    fn multi_style_names() {
        let names = ["candy".to_string(), "mosaic".to_string()];
        let m = standard_multi(&JohnsonSpec::lite().with_styles(2), &names);
        let get = |k: &str| m.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
        assert_eq!(get(STYLE), Some("candy+mosaic"));
        assert_eq!(parse_styles(get(STYLES).unwrap()), names);
        assert_eq!(parse_spec(get(SPEC).unwrap()).unwrap().styles, 2);
        assert_eq!(standard_multi(&JohnsonSpec::lite(), &names[..1]), standard(&JohnsonSpec::lite(), "candy"));
    }
}
