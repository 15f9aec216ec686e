//! The temporal stage on synthetic scenes with known motion, noise, cuts and fades.

use super::*;
use super::blend::{HELD, MIXED, STILL};
use crate::temporal::warp::sample_rgb;

/// A textured scene (smooth shapes, as a camera sees them), with `(dx, dy)` the offset of its content.
fn scene(w: usize, h: usize, dx: f32, dy: f32, noise_seed: u32, noise: f32) -> Frame {
    let mut f = Frame::new(w, h);
    let mut state = noise_seed.wrapping_mul(2654435761).wrapping_add(1);
    for y in 0..h {
        for x in 0..w {
            let (u, v) = (x as f32 - dx, y as f32 - dy);
            let base = 128.0 + 50.0 * (u * 0.11).sin() * (v * 0.07).cos() + 30.0 * ((u + v) * 0.05).sin();
            for c in 0..3 {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let n = (state as f32 / u32::MAX as f32 - 0.5) * 2.0 * noise;
                f.data[(y * w + x) * 3 + c] = (base + 10.0 * c as f32 + n).clamp(0.0, 255.0) as u8;
            }
        }
    }
    f
}

/// A "network" that amplifies noise: the output is the input with a random per-frame texture on top.
fn stylize(input: &Frame, seed: u32) -> Frame {
    let mut out = input.clone();
    let mut state = seed.wrapping_mul(747796405).wrapping_add(7);
    for v in out.data.iter_mut() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        *v = (f32::from(*v) + (state % 25) as f32 - 12.0).clamp(0.0, 255.0) as u8;
    }
    out
}

fn mean_abs(a: &Frame, b: &Frame) -> f64 {
    a.data.iter().zip(&b.data).map(|(&p, &q)| f64::from(p.abs_diff(q))).sum::<f64>() / a.data.len() as f64
}

#[test]
fn a_still_noisy_scene_stops_boiling_and_keeps_its_first_look() {
    let (w, h) = (160, 96);
    let mut t = Temporal::new().unwrap();
    let mut outs = Vec::new();
    for i in 0..12 {
        let input = scene(w, h, 0.0, 0.0, i, 1.5);
        let mut styled = stylize(&input, i);
        t.apply(&input, &mut styled).unwrap();
        outs.push(styled);
    }
    // Per frame the "network" changes pixels by ~8 levels; kept, the output does not change.
    let per_frame = mean_abs(&stylize(&scene(w, h, 0.0, 0.0, 1, 1.5), 1), &stylize(&scene(w, h, 0.0, 0.0, 2, 1.5), 2));
    let kept = mean_abs(&outs[10], &outs[11]);
    assert!(per_frame > 5.0 && kept < per_frame / 10.0, "output change {kept:.2} vs {per_frame:.2} per frame");
    // Held, not averaged: the strokes of the first frame, not a blur of many.
    assert!(mean_abs(&outs[11], &outs[0]) < 0.5, "the still scene drifted by {:.2}", mean_abs(&outs[11], &outs[0]));
    assert_eq!(t.stats().fresh, 1);
}

#[test]
fn a_cut_starts_afresh() {
    let (w, h) = (160, 96);
    let mut t = Temporal::new().unwrap();
    let a = scene(w, h, 0.0, 0.0, 1, 1.0);
    for i in 0..3 {
        t.apply(&a, &mut stylize(&a, i)).unwrap();
    }
    // Another scene: inverted.
    let mut b = a.clone();
    b.data.iter_mut().for_each(|v| *v = 255 - *v);
    let fresh = stylize(&b, 9);
    let mut out = fresh.clone();
    t.apply(&b, &mut out).unwrap();
    assert_eq!(out, fresh, "a cut must show the new frame as it is");
    assert_eq!(t.stats().fresh, 2);
}

/// `--temporal on`, a panning camera: the picture carries the anchor's strokes with it (read once from the
/// anchor, at whole pixels: the first frame's output shifted exactly), and shows new strokes every
/// [`RENEW_EVERY`] frames; a pan is not a cut, and a still scene after it is held.
#[test]
fn a_pan_carries_the_strokes_and_renews_them() {
    let (w, h) = (192, 128);
    let mut t = Temporal::new().unwrap();
    let first = scene(w, h, 0.0, 0.0, 1, 0.5);
    let anchor = stylize(&first, 1);
    t.apply(&first, &mut anchor.clone()).unwrap();
    // The middle, and the anchor's pixels `shift` to the left of it.
    let middle = |f: &Frame, shift: usize| (40..h - 40).flat_map(|y| f.data[(y * w + 56 - shift) * 3..(y * w + w - 56 - shift) * 3].to_vec()).collect::<Vec<u8>>();
    // The share of equal bytes (not all: a pixel or two where the flow's error rounds to the next pixel).
    let same = |a: Vec<u8>, b: Vec<u8>| a.iter().zip(&b).filter(|(p, q)| p == q).count() as f64 / a.len() as f64;
    let mut out = anchor.clone();
    for k in 1..=RENEW_EVERY as usize {
        let input = scene(w, h, 4.0 * k as f32, 0.0, k as u32 + 1, 0.5);
        let styled = stylize(&input, k as u32 + 1);
        out = styled.clone();
        t.apply(&input, &mut out).unwrap();
        let (carried, new) = (same(middle(&out, 0), middle(&anchor, 4 * k)), same(middle(&out, 0), middle(&styled, 0)));
        if k < RENEW_EVERY as usize {
            assert!(carried > 0.99 && new < 0.2, "frame {k}: {:.1}% of the first frame's strokes moved {} px, {:.1}% new ones", 100.0 * carried, 4 * k, 100.0 * new);
        } else {
            assert!(new > 0.99, "frame {k}: the strokes should be renewed ({:.1}% are)", 100.0 * new);
        }
    }
    assert_eq!(t.stats().fresh, 1, "a pan is not a cut");
    // The same scene again: held as the last output showed it.
    let last = scene(w, h, 4.0 * RENEW_EVERY as f32, 0.0, 99, 0.5);
    let mut held = stylize(&last, 99);
    t.apply(&last, &mut held).unwrap();
    assert!(mean_abs(&held, &out) < 0.5, "a still scene should be held: {:.2}", mean_abs(&held, &out));
}

/// A camera that stood still and starts to pan carries the strokes the network drew for the frame before (the
/// anchor is not followed while nothing is carried).
#[test]
fn a_pan_after_a_still_shot_carries_the_last_frame_strokes() {
    let (w, h) = (192, 128);
    let mut t = Temporal::new().unwrap();
    let still = scene(w, h, 0.0, 0.0, 1, 0.5);
    let mut last = Frame::new(0, 0);
    for k in 0..4 {
        last = stylize(&still, 10 + k);
        t.apply(&still, &mut last.clone()).unwrap();
    }
    let input = scene(w, h, 4.0, 0.0, 2, 0.5);
    let styled = stylize(&input, 20);
    let mut out = styled.clone();
    t.apply(&input, &mut out).unwrap();
    let middle = |f: &Frame, shift: usize| (40..h - 40).flat_map(|y| f.data[(y * w + 56 - shift) * 3..(y * w + w - 56 - shift) * 3].to_vec()).collect::<Vec<u8>>();
    let (a, b) = (middle(&out, 0), middle(&last, 4));
    let carried = a.iter().zip(&b).filter(|(p, q)| p == q).count() as f64 / a.len() as f64;
    assert!(carried > 0.99, "{:.1}% of the last still frame's strokes moved 4 px", 100.0 * carried);
}

/// `--temporal on` before a still camera: what moves (here a textured square, a small part of the frame) shows
/// the network's new frame as it is, nothing of the last frame's strokes blended into it; the rest is held.
#[test]
fn what_moves_before_a_still_camera_is_stylized_afresh() {
    let (w, h) = (192, 128);
    let background = scene(w, h, 0.0, 0.0, 1, 0.5);
    // The square at x0 (its texture moving with it).
    let with_square = |x0: usize, seed: u32| {
        let mut f = background.clone();
        let texture = scene(40, 40, 0.0, 0.0, seed, 0.5);
        for y in 0..40 {
            for x in 0..40 {
                let (o, p) = (((44 + y) * w + x0 + x) * 3, (y * 40 + x) * 3);
                f.data[o..o + 3].copy_from_slice(&[texture.data[p].saturating_add(60), texture.data[p + 1] / 2, 255 - texture.data[p + 2]]);
            }
        }
        f
    };
    let mut t = Temporal::new().unwrap();
    let mut last = Frame::new(w, h);
    for k in 0..4usize {
        let input = with_square(40 + 8 * k, k as u32 + 1);
        let styled = stylize(&input, k as u32 + 1);
        last = styled.clone();
        t.apply(&input, &mut last).unwrap();
        if k > 0 {
            for y in 52..76 {
                let (a, b) = (((y * w) + 40 + 8 * k + 8) * 3, ((y * w) + 40 + 8 * k + 32) * 3);
                assert!(last.data[a..b] == styled.data[a..b], "frame {k}, row {y}: the moving square should show the new frame");
            }
        }
    }
    let corner = |f: &Frame| (0..40).flat_map(|y| f.data[y * w * 3..(y * w + 40) * 3].to_vec()).collect::<Vec<u8>>();
    assert!(corner(&last) == corner(&stylize(&with_square(40, 1), 1)), "the still background should keep the first frame's strokes");
}

/// Dark parts are compared in square-root levels: a fade-in from black to a dark scene (levels 0..6, a few
/// levels a frame) shows the network's new strokes, not those of the black frames held as "the same".
#[test]
fn a_fade_from_black_shows_new_strokes_in_the_dark() {
    let (w, h) = (160, 96);
    let mut t = Temporal::new().unwrap();
    let black = Frame::new(w, h);
    for i in 0..2 {
        t.apply(&black, &mut stylize(&black, i)).unwrap();
    }
    let scene = scene(w, h, 0.0, 0.0, 1, 0.0);
    let mut last = 0.0;
    for k in 1..=4u32 {
        let mut dark = scene.clone();
        dark.data.iter_mut().for_each(|v| *v = (u32::from(*v) * k / 160) as u8);
        let styled = stylize(&dark, 2 + k);
        let mut out = styled.clone();
        t.apply(&dark, &mut out).unwrap();
        last = mean_abs(&out, &styled);
    }
    // (In plain levels 3.7: most of the black frames' output held; in square-root levels 2.0, the rest where the
    // scene is as black as they were.)
    assert!(last < 2.8, "the faded-in dark scene should show its own strokes: {last:.2} levels from them");
}

/// `--temporal smooth`: moving pixels carry the last frame's strokes along the flow.
#[test]
fn panned_content_keeps_its_strokes_where_they_moved() {
    let (w, h) = (192, 128);
    let mut t = Temporal::smooth().unwrap();
    let first = scene(w, h, 0.0, 0.0, 1, 0.5);
    let mut out0 = stylize(&first, 1);
    t.apply(&first, &mut out0).unwrap();
    // The content moves 4 px right: the output's texture should move with it.
    let second = scene(w, h, 4.0, 0.0, 2, 0.5);
    let styled = stylize(&second, 2);
    let mut out1 = styled.clone();
    t.apply(&second, &mut out1).unwrap();
    // Compare the middle of out1 with out0 shifted by 4 px and unshifted.
    let diff = |shift: usize| {
        let mut s = 0.0;
        let mut n = 0.0;
        for y in 24..h - 24 {
            for x in 24..w - 24 {
                for c in 0..3 {
                    s += f64::from(out1.data[(y * w + x) * 3 + c].abs_diff(out0.data[(y * w + x - shift) * 3 + c]));
                    n += 1.0;
                }
            }
        }
        s / n
    };
    let (moved, unmoved) = (diff(4), diff(0));
    assert!(moved < unmoved * 0.7, "kept texture should follow the motion: {moved:.2} moved vs {unmoved:.2} in place");
    // Moving pixels still renew: the new frame's share is there.
    assert!(mean_abs(&out1, &styled) > 0.5);
}

#[test]
fn blending_in_bands_of_rows_gives_the_same_frames() {
    let (w, h) = (192, 131);
    let run = |threads: usize| {
        let mut t = Temporal::smooth().unwrap();
        t.set_threads(threads);
        (0..4)
            .map(|k| {
                let input = scene(w, h, 2.0 * k as f32, k as f32, k + 1, 0.5);
                let mut out = stylize(&input, k + 1);
                t.apply(&input, &mut out).unwrap();
                out
            })
            .collect::<Vec<_>>()
    };
    let one = run(1);
    assert_eq!(run(3), one);
    assert_eq!(run(200), one, "more threads than rows");
}

/// The blend (fixed point, stretches copied or left) is the mix it describes, worked out in floats pixel by
/// pixel: alpha and the flow interpolated bilinearly from the small maps, the previous output sampled
/// bilinearly where the flow moves (clamped at the border) and taken as it is where it is still.
#[test]
fn the_blend_is_the_bilinear_mix_in_floats() {
    let (w, h) = (700, 300);
    let mut t = Temporal::new().unwrap();
    t.resize(w, h);
    let (sw, sh) = t.grid.small;
    assert!(t.grid.k > 1, "the test needs a shrunk grid");
    for sy in 0..sh {
        for sx in 0..sw {
            let i = sy * sw + sx;
            let (u, v) = (sx as f32, sy as f32);
            // Bands of new, held and mixed pixels; still and moving flow, some of it far outside the frame.
            let a = ((u * 0.05).sin() * (v * 0.08).cos() * 1.6).clamp(0.0, 1.0);
            let moving = (u * 0.03 + v * 0.02).sin() > -0.2;
            let (fx, fy) = if moving { (6.0 * (v * 0.1).sin() + if sx < 5 { -90.0 } else { 0.0 }, 3.0 * (u * 0.07).cos()) } else { (0.0, 0.0) };
            t.alpha[i] = a;
            t.flow[2 * i] = fx;
            t.flow[2 * i + 1] = fy;
            t.class[i] = match a {
                0.0 => NEW,
                1.0 if !moving => HELD,
                _ => MIXED,
            } | if moving { 0 } else { STILL };
        }
    }
    t.prev_out = scene(w, h, 0.0, 0.0, 3, 4.0);
    let styled = stylize(&scene(w, h, 1.0, 0.0, 4, 4.0), 9);
    let mut out = styled.clone();
    let inputs = Blend { grid: &t.grid, class: &t.class, alpha: &t.alpha, flow: &t.flow, prev: &t.prev_out, nearest: false, mean: None, gain: &[256; 257] };
    blend(&inputs, t.threads, &mut out, &mut t.sources);

    let k = t.grid.k as f32;
    let lerp2 = |v: &[f32], n: usize, c: usize, x: usize, y: usize| {
        let ((x0, wx), (y0, wy)) = (t.grid.cols[x], t.grid.rows[y]);
        let (x1, y1) = ((x0 + 1).min(sw - 1), (y0 + 1).min(sh - 1));
        let g = |xx: usize, yy: usize| v[(yy * sw + xx) * n + c];
        let top = g(x0, y0) + wx * (g(x1, y0) - g(x0, y0));
        let bottom = g(x0, y1) + wx * (g(x1, y1) - g(x0, y1));
        top + wy * (bottom - top)
    };
    let (mut worst, mut moved) = (0u8, 0);
    for y in 0..h {
        for x in 0..w {
            let a = lerp2(&t.alpha, 1, 0, x, y);
            let (fx, fy) = (k * lerp2(&t.flow, 2, 0, x, y), k * lerp2(&t.flow, 2, 1, x, y));
            let o = (y * w + x) * 3;
            let new = &styled.data[o..o + 3];
            let expected: [u8; 3] = if a < 1.0 / 512.0 {
                [new[0], new[1], new[2]]
            } else {
                let old = if fx.abs() < STILL_FLOW && fy.abs() < STILL_FLOW {
                    std::array::from_fn(|c| f32::from(t.prev_out.data[o + c]))
                } else {
                    moved += 1;
                    sample_rgb(&t.prev_out, (x as f32 + fx).clamp(0.0, (w - 1) as f32), (y as f32 + fy).clamp(0.0, (h - 1) as f32))
                };
                std::array::from_fn(|c| (a * old[c] + (1.0 - a) * f32::from(new[c]) + 0.5) as u8)
            };
            for (&got, want) in out.data[o..o + 3].iter().zip(expected) {
                worst = worst.max(got.abs_diff(want));
            }
        }
    }
    assert!(moved > w * h / 4, "too few moving pixels to test the warp: {moved}");
    assert!(worst <= 1, "the blend is {worst} levels from the float mix");
}

/// prepare (the input's half, run beside the network by some callers) then finish is apply; finish without a
/// prepared frame leaves the frame as it is and the next one starts afresh.
#[test]
fn prepare_then_finish_is_apply() {
    let (w, h) = (160, 96);
    let frames: Vec<(Frame, Frame)> = (0..4u32)
        .map(|k| {
            let input = scene(w, h, 2.0 * k as f32, 0.0, k + 1, 0.5);
            let styled = stylize(&input, k + 1);
            (input, styled)
        })
        .collect();
    let (mut whole, mut halves) = (Temporal::smooth().unwrap(), Temporal::smooth().unwrap());
    for (input, styled) in &frames {
        let (mut a, mut b) = (styled.clone(), styled.clone());
        whole.apply(input, &mut a).unwrap();
        halves.prepare(input).unwrap();
        halves.finish(&mut b);
        assert_eq!(a, b);
    }
    assert!(halves.stats().kept > 0.0, "the frames after the first should keep some of the last");
    let mut unprepared = frames[0].1.clone();
    halves.finish(&mut unprepared);
    assert_eq!(unprepared, frames[0].1);
    let (input, styled) = &frames[1];
    let mut next = styled.clone();
    halves.apply(input, &mut next).unwrap();
    assert_eq!(&next, styled, "after an unprepared finish the next frame is taken whole");
}

#[test]
fn an_appearing_object_is_not_ghosted() {
    let (w, h) = (160, 96);
    let mut t = Temporal::new().unwrap();
    let base = scene(w, h, 0.0, 0.0, 1, 0.5);
    for i in 0..3 {
        t.apply(&base, &mut stylize(&base, i)).unwrap();
    }
    // A bright square appears in the middle.
    let mut with = base.clone();
    for y in 32..64 {
        for x in 64..96 {
            with.data[(y * w + x) * 3..(y * w + x) * 3 + 3].copy_from_slice(&[250, 250, 250]);
        }
    }
    let styled = stylize(&with, 7);
    let mut out = styled.clone();
    t.apply(&with, &mut out).unwrap();
    // Inside the square (away from its edge) the output is the new frame's.
    for y in 38..58 {
        for x in 70..90 {
            let o = (y * w + x) * 3;
            assert_eq!(out.data[o..o + 3], styled.data[o..o + 3], "ghost at {x},{y}");
        }
    }
}

#[test]
fn the_box_mean_is_the_window_average() {
    for (w, h, r) in [(37, 23, 2), (5, 4, 2), (3, 2, 2), (1, 1, 1), (20, 9, 3)] {
        let f = stylize(&scene(w, h, 0.0, 0.0, 1, 30.0), 5);
        let (mut out, mut sums, mut col) = (Frame::new(0, 0), Vec::new(), Vec::new());
        box_mean(&f, &mut out, (&mut sums, &mut col), r);
        let at = |v: isize, n: usize| v.clamp(0, n as isize - 1) as usize;
        let n = (2 * r + 1) as u32;
        for y in 0..h {
            for x in 0..w {
                for c in 0..3 {
                    let mut s = 0u32;
                    for dy in -(r as isize)..=r as isize {
                        for dx in -(r as isize)..=r as isize {
                            s += u32::from(f.data[(at(y as isize + dy, h) * w + at(x as isize + dx, w)) * 3 + c]);
                        }
                    }
                    assert_eq!(out.data[(y * w + x) * 3 + c], ((s + n * n / 2) / (n * n)) as u8, "{w}x{h} r {r} at {x},{y}");
                }
            }
        }
    }
}

#[test]
fn mixing_two_paintings_keeps_the_contrast_of_one() {
    // Two unrelated stroke textures over one still picture, mixed half and half: plainly, their strokes lose
    // 1 - 0.71 of their contrast; with the gain, most of it comes back.
    let (w, h) = (320, 180);
    let mut t = Temporal::new().unwrap();
    t.resize(w, h);
    t.alpha.fill(0.5);
    t.flow.fill(0.0);
    t.class.fill(MIXED | STILL);
    let picture = scene(w, h, 0.0, 0.0, 1, 0.0);
    t.prev_out = stylize(&picture, 11);
    let styled = stylize(&picture, 12);
    let mut mean = Frame::new(0, 0);
    box_mean(&styled, &mut mean, (&mut Vec::new(), &mut Vec::new()), CONTRAST_RADIUS);
    // Strokes: the difference to the picture under them; their contrast, its standard deviation.
    let strokes = |f: &Frame| {
        let d: Vec<f64> = f.data.iter().zip(&picture.data).map(|(&o, &p)| f64::from(o) - f64::from(p)).collect();
        let m = d.iter().sum::<f64>() / d.len() as f64;
        (d.iter().map(|v| (v - m).powi(2)).sum::<f64>() / d.len() as f64).sqrt()
    };
    let mut contrast = |gain: Option<&[u16; 257]>| {
        let mut out = styled.clone();
        let inputs = Blend { grid: &t.grid, class: &t.class, alpha: &t.alpha, flow: &t.flow, prev: &t.prev_out, nearest: false, mean: gain.map(|_| &mean), gain: gain.unwrap_or(&[256; 257]) };
        blend(&inputs, 1, &mut out, &mut t.sources);
        strokes(&out)
    };
    let one = strokes(&styled);
    let (plain, kept) = (contrast(None), contrast(Some(&gains().0)));
    eprintln!("stroke contrast: one painting {one:.2}, mixed {plain:.2}, mixed with the gain {kept:.2}");
    assert!(plain < 0.78 * one, "plain mixing should pale the strokes: {plain:.2} of {one:.2}");
    assert!(kept > 0.82 * one && kept > 1.12 * plain, "the gain should give the contrast back: {kept:.2} (plain {plain:.2}, one {one:.2})");
}
