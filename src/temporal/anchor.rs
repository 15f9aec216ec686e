//! The anchor of `--temporal on`: a stylized frame that moving parts of the picture are carried from, along the
//! optical flow, for a few frames. Each frame the flow is followed back into it (the offsets of the current frame's
//! pixels compose with those of the frame before), so a pixel is read from the anchor once, at its true position,
//! however many frames it has moved since: strokes travel with what moves and stay as sharp as the network drew
//! them (the warp of the frame before, resampled frame after frame, blurred them away within a few frames). The
//! anchor's own input says where it still shows the scene.

use super::blend::{class_of, NEW};
use super::{box3, RENEW_EVERY};
use super::warp::sample;
use crate::frame::Frame;

/// A stylized frame as the network made it, and where the current frame's pixels are in it.
#[derive(Default)]
pub(super) struct Anchor {
    pub(super) out: Frame,
    /// Its input, small and grey (square-root levels).
    grey: Vec<f32>,
    /// Per small pixel of the current frame: its offset into the anchor, in small pixels (x, y).
    pub(super) to: Vec<f32>,
    /// How much of the anchor the blend takes per small pixel, and the class of each (see `blend`).
    pub(super) alpha: Vec<f32>,
    pub(super) class: Vec<u8>,
    /// Frames since it was set.
    pub(super) age: u32,
    /// Scratch: the offsets if the pixel moved with the flow, and the input's difference to the anchor's input at
    /// those and at the offsets it had.
    moved_to: Vec<f32>,
    moved: Vec<f32>,
    in_place: Vec<f32>,
    scratch: Vec<f32>,
}

/// The differences (grey, square-root levels) within which an input shows the same thing, and from which
/// something new.
#[derive(Clone, Copy)]
pub(super) struct Levels {
    pub(super) same: f32,
    pub(super) new: f32,
}

impl Levels {
    /// 1 where `d` is within `same`, 0 from `new` on, linear between.
    pub(super) fn trust(&self, d: f32) -> f32 {
        ((self.new - d) / (self.new - self.same)).clamp(0.0, 1.0)
    }

    /// Whether a pixel whose flow reads a little motion (`flow`, under twice `still` each way) is better taken as
    /// standing where it was: there (`stay`, the input's difference) it explains the input as well as where the
    /// flow points (`moved`), within the noise. In flat parts the flow is a guess, and strokes moved or renewed on a
    /// guess boil.
    pub(super) fn explained_in_place(&self, (fx, fy): (f32, f32), still: f32, stay: f32, moved: f32) -> bool {
        fx.abs() < 2.0 * still && fy.abs() < 2.0 * still && stay <= self.same.min(moved)
    }
}

impl Anchor {
    pub(super) fn resize(&mut self, sw: usize, sh: usize) {
        let n = sw * sh;
        for v in [&mut self.grey, &mut self.alpha, &mut self.moved, &mut self.in_place] {
            v.clear();
            v.resize(n, 0.0);
        }
        for v in [&mut self.to, &mut self.moved_to] {
            v.clear();
            v.resize(2 * n, 0.0);
        }
        self.class.clear();
        self.class.resize(n, NEW);
        self.age = 0;
    }

    /// Sets the anchor to `out` (copied), whose input is `grey`; the current frame's pixels are where they are.
    pub(super) fn set(&mut self, out: &Frame, grey: &[u8]) {
        self.out.resize(out.width, out.height);
        self.out.data.copy_from_slice(&out.data);
        self.grey.iter_mut().zip(grey).for_each(|(g, &v)| *g = f32::from(v));
        self.to.iter_mut().for_each(|v| *v = 0.0);
        self.age = 0;
    }

    /// Takes nothing from the anchor this frame, and has it set afresh from this frame's output.
    pub(super) fn pass(&mut self) {
        self.alpha.fill(0.0);
        self.class.fill(NEW);
        self.age = RENEW_EVERY;
    }

    /// Follows `flow` (from the current frame's small pixels to the frame before) into the anchor and decides, per
    /// small pixel, what the anchor shows there and how far it is trusted (`levels`, against the new input
    /// `grey`). A pixel stays where it was in the anchor where the flow is below `still` and the input still matches
    /// there, or below twice that where staying explains the input as well, within the noise (noisy still footage
    /// reads up to about a pixel of motion, and in flat parts the flow is a guess); else it moves with the flow.
    /// The blend takes the anchor only where `carried` says so (moving pixels).
    pub(super) fn follow(&mut self, flow: &[f32], grey: &[u8], (sw, sh): (usize, usize), still: f32, levels: Levels, carried: impl Fn(usize) -> bool) {
        let (xmax, ymax) = ((sw - 1) as f32, (sh - 1) as f32);
        let inside = |x: f32, y: f32| (0.0..=xmax).contains(&x) && (0.0..=ymax).contains(&y);
        for i in 0..sw * sh {
            let (x, y) = ((i % sw) as f32, (i / sw) as f32);
            let (fx, fy) = (flow[2 * i], flow[2 * i + 1]);
            let g = f32::from(grey[i]);
            self.in_place[i] = (g - sample(&self.grey, sw, 1, 0, x + self.to[2 * i], y + self.to[2 * i + 1])).abs();
            // Where the flow leaves the frame, or leads to offsets that leave the anchor, the pixel is lost.
            let (mx, my) = if inside(x + fx, y + fy) { (fx + sample(&self.to, sw, 2, 0, x + fx, y + fy), fy + sample(&self.to, sw, 2, 1, x + fx, y + fy)) } else { (f32::NAN, f32::NAN) };
            let found = inside(x + mx, y + my);
            self.moved[i] = if found { (g - sample(&self.grey, sw, 1, 0, x + mx, y + my)).abs() } else { 255.0 };
            (self.moved_to[2 * i], self.moved_to[2 * i + 1]) = if found { (mx, my) } else { (0.0, 0.0) };
        }
        box3(&mut self.in_place, &mut self.scratch, sw, sh);
        box3(&mut self.moved, &mut self.scratch, sw, sh);
        for i in 0..sw * sh {
            let (fx, fy) = (flow[2 * i], flow[2 * i + 1]);
            let (stay, moved) = (self.in_place[i], self.moved[i]);
            let stays = fx.abs() < still && fy.abs() < still && stay <= levels.same || levels.explained_in_place((fx, fy), still, stay, moved);
            let d = if stays {
                stay
            } else {
                self.to[2 * i] = self.moved_to[2 * i];
                self.to[2 * i + 1] = self.moved_to[2 * i + 1];
                moved
            };
            let a = if carried(i) { levels.trust(d) } else { 0.0 };
            let in_place = self.to[2 * i] == 0.0 && self.to[2 * i + 1] == 0.0;
            self.alpha[i] = a;
            self.class[i] = class_of(a, in_place, in_place);
        }
    }
}
