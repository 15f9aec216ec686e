//! The engine's reused buffers give the same result as a fresh engine, frame after frame and across sizes.

mod common;

use stylize::{Engine, EngineOptions, Frame, FrameIo};

fn pattern(w: usize, h: usize, seed: usize) -> Frame {
    let mut f = Frame::new(w, h);
    for (i, v) in f.data.iter_mut().enumerate() {
        *v = ((i * 31 + seed * 17) % 251) as u8;
    }
    f
}

fn stylized(engine: &mut Engine, input: &Frame) -> Frame {
    let mut f = input.clone();
    engine.stylize(&mut f).expect("stylize");
    f
}

#[test]
fn reused_buffers_match_a_fresh_engine() {
    let dir = tempfile::tempdir().unwrap();
    let model = common::random_model(dir.path(), "half", 31);
    for frame_io in [FrameIo::U8, FrameIo::F32] {
        reused_buffers_match(&model, EngineOptions { threads: Some(1), frame_io, ..Default::default() });
    }
}

fn reused_buffers_match(model: &std::path::Path, opts: EngineOptions) {
    let model = model.to_path_buf();
    let mut engine = match Engine::load(&model, &opts) {
        Ok(e) => e,
        Err(e) => panic!("engine: {e}"),
    };
    let (a, b, c) = (pattern(40, 36, 1), pattern(40, 36, 2), pattern(29, 53, 3));
    let first = stylized(&mut engine, &a); // output allocated by ONNX Runtime
    let again = stylized(&mut engine, &a); // output written into the bound buffer
    assert_eq!(first, again);
    assert_ne!(stylized(&mut engine, &b), first);
    let other_size = stylized(&mut engine, &c); // new size: buffers rebuilt
    let fresh = stylized(&mut Engine::load(&model, &opts).unwrap(), &c);
    assert_eq!(other_size, fresh);
    assert_eq!(stylized(&mut engine, &a), first);
}
