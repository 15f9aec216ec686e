//! The display side: composes the shown frame, applies hotkeys, draws the HUD, feeds the recorder and the outputs.

use super::*;

/// `left | right` in one frame of twice the width.
pub(super) fn side_by_side(left: &Frame, right: &Frame, out: &mut Frame) {
    let (w, h) = (left.width, left.height);
    out.resize(w * 2, h);
    for (y, row) in out.data.chunks_exact_mut(w * 6).enumerate() {
        row[..w * 3].copy_from_slice(&left.data[y * w * 3..][..w * 3]);
        row[w * 3..].copy_from_slice(&right.data[y * w * 3..][..w * 3]);
    }
}

/// What the user controls with the hotkeys.
pub(super) struct ViewState {
    pub(super) effects: Effects,
    pub(super) split: bool,
    pub(super) hud: bool,
}

/// The display thread's working set: the current frame, composed views, the recorder.
pub(super) struct Display<'a> {
    pub(super) args: &'a LiveArgs,
    pub(super) info: SourceInfo,
    pub(super) shared: &'a Shared,
    pub(super) pool: &'a Pool,
    pub(super) window: Option<Window>,
    pub(super) view: ViewState,
    pub(super) current: Option<Styled>,
    /// The blended frame (what is recorded) and the side-by-side view.
    pub(super) blended: Frame,
    pub(super) split: Frame,
    pub(super) recorder: Option<Sink>,
    /// The `--output` targets.
    pub(super) outputs: Vec<Sink>,
    pub(super) recordings: u32,
    pub(super) stats: Stats,
    pub(super) hud_text: String,
    pub(super) n_models: usize,
}

impl Display<'_> {
    pub(super) fn compose(&mut self) {
        if let Some(cur) = &self.current {
            self.view.effects.render(&cur.original, &cur.styled, &mut self.blended);
            if self.view.split {
                side_by_side(&cur.original, &self.blended, &mut self.split);
            }
        }
    }

    pub(super) fn shown_frame(&self) -> Option<&Frame> {
        self.current.as_ref()?;
        Some(if self.view.split { &self.split } else { &self.blended })
    }

    pub(super) fn toggle_recording(&mut self) {
        if let Some(rec) = self.recorder.take() {
            self.finish_recording(rec);
            return;
        }
        self.recordings += 1;
        let dest = recording_path(self.args, self.recordings);
        match Sink::start(Target::File(dest.clone()), &self.info, StreamOptions::default(), false) {
            Ok(rec) => {
                self.recorder = Some(rec);
                self.shared.notify(format!("recording to {}", dest.display()), false);
            }
            Err(e) => self.shared.notify(format!("cannot record: {e}"), true),
        }
    }

    pub(super) fn finish_recording(&self, rec: Sink) {
        let report = rec.finish();
        match report.result {
            Ok(Some(path)) => self.shared.notify(format!("recorded {} frames to {}", report.sent, path.display()), false),
            Ok(None) => {}
            Err(e) => self.shared.notify(format!("the recording failed: {e}"), true),
        }
    }

    /// Passes on what the outputs' threads have to say (lost connections, failures).
    fn relay_output_messages(&self) {
        for sink in self.outputs.iter().chain(&self.recorder) {
            for (text, error) in sink.messages() {
                self.shared.notify(text, error);
            }
        }
    }

    pub(super) fn snapshot(&self) {
        let Some(frame) = self.shown_frame() else { return };
        let model = self.current.as_ref().map(|c| model_name(Path::new(&self.args.models[c.model]))).unwrap_or_default();
        let dest = self.args.snapshot_dir.join(format!("stylize-{model}-{}.png", unix_millis()));
        match images::save(frame, &dest, &[]) {
            Ok(()) => self.shared.notify(format!("snapshot saved to {}", dest.display()), false),
            Err(e) => self.shared.notify(format!("snapshot failed: {e}"), true),
        }
    }

    /// Applies a hotkey; false means quit.
    pub(super) fn key(&mut self, key: Hotkey) -> bool {
        let shared = self.shared;
        let n = self.n_models;
        let wanted = shared.wanted_model.load(Relaxed);
        match key {
            Hotkey::Model(i) if i < n => shared.wanted_model.store(i, Relaxed),
            Hotkey::Model(i) => shared.notify(format!("there is no model {} ({n} loaded with -m)", i + 1), true),
            Hotkey::NextModel => shared.wanted_model.store((wanted + 1) % n, Relaxed),
            Hotkey::PrevModel => shared.wanted_model.store((wanted + n - 1) % n, Relaxed),
            Hotkey::Stronger => self.view.effects.strength = ((self.view.effects.strength * 10.0).round() + 1.0).min(10.0) / 10.0,
            Hotkey::Weaker => self.view.effects.strength = ((self.view.effects.strength * 10.0).round() - 1.0).max(0.0) / 10.0,
            Hotkey::PreserveColor => self.view.effects.preserve_color = !self.view.effects.preserve_color,
            Hotkey::NextStyle | Hotkey::PrevStyle | Hotkey::Morph => self.style_key(key),
            Hotkey::SideBySide => self.view.split = !self.view.split,
            Hotkey::Pause => {
                shared.paused.fetch_xor(true, Relaxed);
            }
            Hotkey::Snapshot => self.snapshot(),
            Hotkey::Record => self.toggle_recording(),
            Hotkey::ToggleHud => self.view.hud = !self.view.hud,
            Hotkey::Quit => return false,
        }
        if matches!(key, Hotkey::Stronger | Hotkey::Weaker | Hotkey::PreserveColor | Hotkey::SideBySide) {
            self.compose();
        }
        true
    }

    /// ] [ M: pick the style a multi-style model glides to, or morph through them.
    pub(super) fn style_key(&self, key: Hotkey) {
        let shared = self.shared;
        let n = shared.style_count.load(Relaxed);
        if n == 0 {
            shared.notify("this model has one style: ] [ and M blend the styles of a multi-style model (e.g. styles4-lite)".into(), true);
            return;
        }
        let t = shared.style_target.load(Relaxed);
        let next = match (key, t) {
            (Hotkey::Morph, _) => {
                let on = !shared.morph.fetch_xor(true, Relaxed);
                shared.notify(format!("morphing through the styles {}", if on { "on" } else { "off" }), false);
                return;
            }
            (Hotkey::NextStyle, STARTING_MIX) => 0,
            (Hotkey::PrevStyle, STARTING_MIX) => n - 1,
            (Hotkey::NextStyle, t) => (t + 1) % n,
            (_, t) => (t % n + n - 1) % n,
        };
        shared.style_target.store(next, Relaxed);
    }

    pub(super) fn present(&mut self) -> Result<()> {
        let Some(mut window) = self.window.take() else { return Ok(()) };
        let mut text = std::mem::take(&mut self.hud_text);
        let frame = if self.view.split { &self.split } else { &self.blended };
        let frame = self.current.as_ref().map(|_| frame);
        let result = window.present(frame, |canvas| self.draw_hud(canvas, &mut text));
        self.hud_text = text;
        self.window = Some(window);
        result
    }

    pub(super) fn draw_hud(&self, canvas: &mut Canvas, text: &mut String) {
        let shared = self.shared;
        let notice = lock(&shared.notice);
        let fresh = notice.as_ref().filter(|n| n.at.elapsed() < Duration::from_secs(if n.error { 10 } else { 4 }));
        if !self.view.hud {
            if let Some(n) = fresh.filter(|n| n.error) {
                for (i, part) in hud::wrap(&n.text, canvas.columns()).into_iter().take(4).enumerate() {
                    canvas.line(i, false, part, hud::RED);
                }
            }
            return;
        }
        text.clear();
        let c = &shared.counters;
        match &self.current {
            None => text.push_str("waiting for the first stylized frame..."),
            Some(cur) => {
                let dropped = c.dropped_before_stylize.load(Relaxed) + c.dropped_before_display.load(Relaxed);
                let _ = write!(
                    text,
                    "[{}/{}] {}  {:.1} fps  latency {:.0} ms  dropped {dropped}  strength {:.0}%{}",
                    cur.model + 1,
                    self.n_models,
                    shared.label(cur.model),
                    self.stats.fps_now(),
                    self.stats.latency_now(),
                    self.view.effects.strength * 100.0,
                    if self.view.effects.preserve_color { "  colours kept" } else { "" }
                );
            }
        }
        canvas.line(0, false, text, hud::WHITE);
        let mut line = 1;
        // On a line of its own: the first is full at 640 pixels.
        if c.temporal_on.load(Relaxed) {
            text.clear();
            let frames = c.stylized.load(Relaxed).max(1);
            let _ = write!(text, "temporal stage: {:.1} ms a frame", c.temporal_nanos.load(Relaxed) as f64 / 1e6 / frames as f64);
            canvas.line(line, false, text, hud::WHITE);
            line += 1;
        }
        let mix = lock(&shared.style_label);
        if !mix.is_empty() {
            text.clear();
            let _ = write!(text, "styles: {mix}{}", if shared.morph.load(Relaxed) { "  (morphing)" } else { "" });
            canvas.line(line, false, text, hud::WHITE);
            line += 1;
        }
        drop(mix);
        if shared.paused.load(Relaxed) {
            canvas.line(line, false, "PAUSED (Space resumes)", hud::YELLOW);
            line += 1;
        }
        for (sink, colour) in self.recorder.iter().map(|r| (r, hud::RED)).chain(self.outputs.iter().map(|o| (o, hud::WHITE))) {
            text.clear();
            sink.hud_line(text);
            canvas.line(line, false, text, colour);
            line += 1;
        }
        if let Some(n) = fresh {
            for (i, part) in hud::wrap(&n.text, canvas.columns()).into_iter().take(4).enumerate() {
                canvas.line(line + i, false, part, if n.error { hud::RED } else { hud::YELLOW });
            }
        }
        canvas.line(0, true, HOTKEYS_HUD, hud::GREY);
    }

    /// Runs until quit, the end of the input, `--frames`, Ctrl-C or a pipeline error.
    pub(super) fn run(&mut self, slot: &Slot<Styled>) -> Result<()> {
        let mut dirty = true;
        let mut last_present = Instant::now();
        loop {
            if interrupted() {
                if !self.shared.quiet {
                    eprintln!("interrupted ({}): stopping", crate::stop::received_name());
                }
                return Ok(());
            }
            if let Some(window) = &self.window {
                if !window.is_open() {
                    return Ok(());
                }
                for key in window.hotkeys() {
                    dirty = true;
                    if !self.key(key) {
                        return Ok(());
                    }
                }
            }
            match slot.take(Duration::from_millis(15)) {
                Take::Item(next) => {
                    if let Some(old) = self.current.replace(next) {
                        self.pool.give(old.original);
                        self.pool.give(old.styled);
                    }
                    self.compose();
                    let at = self.current.as_ref().expect("just set").at;
                    for sink in self.outputs.iter().chain(&self.recorder) {
                        sink.push(&self.blended, at);
                    }
                    self.present()?;
                    last_present = Instant::now();
                    self.stats.shown(at);
                    dirty = false;
                    if self.args.frames > 0 && self.stats.shown >= self.args.frames {
                        return Ok(());
                    }
                }
                Take::Empty if self.window.is_some() => {
                    // Redraw after a key press, and a few times a second for the HUD (notices, pause);
                    // otherwise just keep the window's events flowing.
                    if dirty || last_present.elapsed() > Duration::from_millis(250) {
                        self.present()?;
                        last_present = Instant::now();
                        dirty = false;
                    } else if let Some(w) = self.window.as_mut() {
                        w.poll();
                    }
                }
                Take::Empty => {}
                Take::Closed => return Ok(()),
            }
            self.relay_output_messages();
            if self.args.verbose {
                self.stats.per_second(&self.shared.counters, false);
            }
        }
    }
}
