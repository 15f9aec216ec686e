//! Dense optical flow between two grey frames: OpenCV's DIS (Kroeger et al. 2016) through the opencv crate
//! (the `temporal` feature, on Debian's libopencv-video-dev). Without the feature, asking for flow is an error
//! that says how to get it.

use crate::error::{Error, Result};

/// DIS's speed/quality presets (OpenCV's `PRESET_ULTRAFAST`, `PRESET_FAST`, `PRESET_MEDIUM`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    UltraFast = 0,
    Fast = 1,
    Medium = 2,
}

/// One DIS instance (it keeps buffers for its frame size between calls).
pub struct Dis {
    #[cfg(feature = "temporal")]
    dis: opencv::core::Ptr<opencv::video::DISOpticalFlow>,
    #[cfg(feature = "temporal")]
    flow: opencv::core::Mat,
}

#[cfg(feature = "temporal")]
fn flow_error(what: &str, e: opencv::Error) -> Error {
    let first = e.message.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("no reason given").to_string();
    Error::Invalid(format!("optical flow (OpenCV DIS) {what}: {first}"))
}

impl Dis {
    #[cfg(feature = "temporal")]
    pub fn new(preset: Preset) -> Result<Dis> {
        // OpenCV's own thread pool would compete with the engine's threads for the same cores.
        opencv::core::set_num_threads(1).map_err(|e| flow_error("could not start", e))?;
        let dis = opencv::video::DISOpticalFlow::create(preset as i32).map_err(|e| flow_error("could not start", e))?;
        Ok(Dis { dis, flow: opencv::core::Mat::default() })
    }

    /// Runs the coarse-to-fine search down to `finest_scale` (0: the full size of the frames given; each step
    /// halves it) and smooths each scale's flow with `iterations` of variational refinement.
    #[cfg(feature = "temporal")]
    pub fn refined(mut self, finest_scale: i32, iterations: i32) -> Result<Dis> {
        use opencv::prelude::*;
        self.dis.set_finest_scale(finest_scale).map_err(|e| flow_error("could not start", e))?;
        self.dis.set_variational_refinement_iterations(iterations).map_err(|e| flow_error("could not start", e))?;
        Ok(self)
    }

    #[cfg(not(feature = "temporal"))]
    pub fn refined(self, _finest_scale: i32, _iterations: i32) -> Result<Dis> {
        Ok(self)
    }

    #[cfg(not(feature = "temporal"))]
    pub fn new(_preset: Preset) -> Result<Dis> {
        Err(Error::Invalid("this build has no optical flow for --temporal (it was built without OpenCV: install libopencv-video-dev and build with the default features), so use --temporal off".into()))
    }

    /// The flow from `from` to `to` (grey, `w` x `h`) into `flow` (`w * h * 2`: x, y per pixel).
    #[cfg(feature = "temporal")]
    pub fn calc(&mut self, from: &[u8], to: &[u8], w: usize, h: usize, flow: &mut [f32]) -> Result<()> {
        use opencv::prelude::*;
        assert!(from.len() == w * h && to.len() == w * h && flow.len() == w * h * 2, "flow buffers do not match {w}x{h}");
        let fail = |e| flow_error("failed", e);
        let a = opencv::core::Mat::new_rows_cols_with_data(h as i32, w as i32, from).map_err(fail)?;
        let b = opencv::core::Mat::new_rows_cols_with_data(h as i32, w as i32, to).map_err(fail)?;
        self.dis.calc(&a, &b, &mut self.flow).map_err(fail)?;
        let out = self.flow.data_typed::<opencv::core::Vec2f>().map_err(fail)?;
        for (dst, v) in flow.chunks_exact_mut(2).zip(out) {
            dst.copy_from_slice(&v.0);
        }
        Ok(())
    }

    #[cfg(not(feature = "temporal"))]
    pub fn calc(&mut self, _from: &[u8], _to: &[u8], _w: usize, _h: usize, _flow: &mut [f32]) -> Result<()> {
        unreachable!("Dis::new fails without the temporal feature")
    }
}

#[cfg(all(test, feature = "temporal"))]
mod tests {
    use super::*;

    /// A smooth texture shifted by a known amount: DIS finds the shift where there is texture.
    #[test]
    fn flow_finds_a_known_shift() {
        let (w, h) = (96usize, 64usize);
        let tex = |x: f32, y: f32| (128.0 + 60.0 * (x * 0.21).sin() * (y * 0.17).cos() + 40.0 * ((x + 2.0 * y) * 0.09).sin()) as u8;
        let (dx, dy) = (3.0f32, -2.0f32);
        let a: Vec<u8> = (0..w * h).map(|i| tex((i % w) as f32, (i / w) as f32)).collect();
        let b: Vec<u8> = (0..w * h).map(|i| tex((i % w) as f32 - dx, (i / w) as f32 - dy)).collect();
        let mut dis = Dis::new(Preset::Medium).unwrap();
        let mut flow = vec![0f32; w * h * 2];
        dis.calc(&a, &b, w, h, &mut flow).unwrap();
        // The middle, away from the borders the shift uncovers.
        let (mut sx, mut sy, mut n) = (0.0, 0.0, 0.0);
        for y in 16..h - 16 {
            for x in 16..w - 16 {
                sx += flow[(y * w + x) * 2];
                sy += flow[(y * w + x) * 2 + 1];
                n += 1.0;
            }
        }
        let (mx, my) = (sx / n, sy / n);
        assert!((mx - dx).abs() < 0.3 && (my - dy).abs() < 0.3, "mean flow ({mx:.2}, {my:.2}), expected ({dx}, {dy})");
    }

    #[test]
    fn a_refusal_of_opencv_is_a_one_line_error() {
        let mut dis = Dis::new(Preset::UltraFast).unwrap();
        let mut flow = vec![0f32; 4 * 4 * 2];
        let e = dis.calc(&[0; 16], &[0; 16], 4, 4, &mut flow).unwrap_err().to_string();
        assert!(e.starts_with("optical flow (OpenCV DIS) failed: ") && !e.contains('\n'), "{e}");
    }
}
