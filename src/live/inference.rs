//! The inference thread: stylizes the latest captured frame with the model the user picked, gliding between styles.

use super::*;

pub(super) fn model_name(path: &Path) -> String {
    path.file_stem().unwrap_or_default().to_string_lossy().to_string()
}

pub(super) fn load_engine(path: &Path, opts: &EngineOptions, quiet: bool) -> Result<(Engine, String)> {
    let engine = Engine::load(path, opts)?;
    if !quiet {
        eprintln!("{}", engine.load_line());
    }
    let label = format!("{} on {}", model_name(path), engine.device().name().to_uppercase());
    Ok((engine, label))
}

pub(super) struct Models {
    pub(super) paths: Vec<PathBuf>,
    /// Loaded on first use: starting stays quick, and a model that fails to load only costs its switch.
    pub(super) engines: Vec<Option<Engine>>,
    pub(super) current: usize,
    pub(super) opts: EngineOptions,
    /// Style mixes of the current model if it has several styles.
    pub(super) mix: Option<MixState>,
    /// `--style-mix`, applied to each multi-style model whose style names it fits.
    pub(super) start_mix: Option<String>,
    pub(super) glide_seconds: f32,
    /// `--temporal on`: the stage after the network, started afresh on a change of model or style mix.
    pub(super) temporal: Option<Temporal>,
}

/// The style mix of a multi-style model as it glides towards the chosen style.
pub(super) struct MixState {
    pub(super) names: Vec<String>,
    pub(super) start: Vec<f32>,
    pub(super) glide: Glide,
    pub(super) last_step: Instant,
    /// When the mix reached its target (morphing holds each style a moment).
    pub(super) arrived_at: Option<Instant>,
}

impl MixState {
    /// The mix of a freshly selected model: `--style-mix` if it names this model's styles, else even.
    pub(super) fn new(engine: &Engine, start_mix: Option<&str>, shared: &Shared) -> Option<MixState> {
        let names = engine.style_names().to_vec();
        if names.is_empty() {
            return None;
        }
        let even = vec![1.0 / names.len() as f32; names.len()];
        let start = match start_mix.map(|m| engine.parse_style_mix(m)) {
            Some(Ok(mix)) => mix,
            Some(Err(e)) => {
                shared.notify(format!("{e}; starting with all styles evenly"), true);
                even
            }
            None => even,
        };
        Some(MixState { names, glide: Glide::new(start.clone()), start, last_step: Instant::now(), arrived_at: None })
    }

    /// Moves the mix one frame towards the style the display asked for; applies it to `engine`. Returns
    /// whether the mix changed.
    pub(super) fn advance(&mut self, engine: &mut Engine, shared: &Shared, glide_seconds: f32) -> Result<bool> {
        let n = self.names.len();
        let mut target = shared.style_target.load(Relaxed);
        let now = Instant::now();
        if shared.morph.load(Relaxed) && self.arrived_at.is_some_and(|t| now - t >= MORPH_HOLD) {
            target = if target == STARTING_MIX { 0 } else { (target + 1) % n };
            shared.style_target.store(target, Relaxed);
        }
        // In place: this runs every frame.
        if target == STARTING_MIX {
            self.glide.target.copy_from_slice(&self.start);
        } else {
            self.glide.target.iter_mut().enumerate().for_each(|(i, w)| *w = if i == target % n { 1.0 } else { 0.0 });
        }
        let dt = (now - self.last_step).as_secs_f32().min(0.25);
        self.last_step = now;
        // A switch between two pure styles moves 2 units of weight.
        let moved = self.glide.step(2.0 * dt / glide_seconds.max(1e-3));
        if moved {
            engine.set_style_mix(&self.glide.current)?;
            *lock(&shared.style_label) = styles::describe(&self.glide.current, &self.names);
            self.arrived_at = None;
        }
        if self.glide.arrived() {
            self.arrived_at.get_or_insert(now);
        }
        Ok(moved)
    }
}

/// How long morphing shows each style before gliding on.
pub(super) const MORPH_HOLD: Duration = Duration::from_millis(1500);

impl Models {
    /// Switches to the model the display asked for; on a load error stays with the current one.
    pub(super) fn follow(&mut self, shared: &Shared) {
        let wanted = shared.wanted_model.load(Relaxed).min(self.paths.len() - 1);
        if wanted == self.current {
            return;
        }
        if self.engines[wanted].is_none() {
            let path = &self.paths[wanted];
            match load_engine(path, &self.opts, shared.quiet) {
                Ok((engine, label)) => {
                    lock(&shared.labels)[wanted] = label;
                    self.engines[wanted] = Some(engine);
                }
                Err(e) => {
                    shared.notify(format!("model {} failed to load ({e}); still showing {}", wanted + 1, model_name(&self.paths[self.current])), true);
                    shared.wanted_model.store(self.current, Relaxed);
                    return;
                }
            }
        }
        self.current = wanted;
        self.select_mix(shared);
    }

    /// Sets up the style mix of the current model (after a switch, and at the start).
    pub(super) fn select_mix(&mut self, shared: &Shared) {
        let engine = self.engines[self.current].as_mut().expect("the current model is loaded");
        self.mix = MixState::new(engine, self.start_mix.as_deref(), shared);
        if let Some(m) = &self.mix {
            if let Err(e) = engine.set_style_mix(&m.glide.current) {
                shared.notify(format!("style mix: {e}"), true);
            }
        }
        shared.style_target.store(STARTING_MIX, Relaxed);
        shared.style_count.store(self.mix.as_ref().map_or(0, |m| m.names.len()), Relaxed);
        *lock(&shared.style_label) = self.mix.as_ref().map(|m| styles::describe(&m.glide.current, &m.names)).unwrap_or_default();
    }
}

pub(super) fn inference_thread(mut models: Models, input: &Slot<Captured>, output: &Slot<Styled>, pool: &Pool, shared: &Shared) {
    let counters = &shared.counters;
    loop {
        let Captured { frame, at } = match input.take(Duration::from_millis(100)) {
            Take::Item(c) => c,
            Take::Empty => continue,
            Take::Closed => break,
        };
        let before = models.current;
        models.follow(shared);
        let mut styled = pool.get();
        styled.resize(frame.width, frame.height);
        styled.data.copy_from_slice(&frame.data);
        let engine = models.engines[models.current].as_mut().expect("the current model is loaded");
        // A new model or a style on its way to another shows as it is: kept strokes would lag behind.
        let mut restyled = models.current != before;
        if let Some(mix) = models.mix.as_mut() {
            match mix.advance(engine, shared, models.glide_seconds) {
                Ok(moved) => restyled |= moved,
                Err(e) => {
                    shared.fail(e);
                    break;
                }
            }
        }
        if restyled {
            if let Some(temporal) = models.temporal.as_mut() {
                temporal.reset();
            }
        }
        // The temporal stage's look at the input (shrinking, flow, trust) runs on a thread of its own beside the
        // inference; only its blend waits for the stylized frame, so that is all it adds to the latency.
        let t = Instant::now();
        let (stylized, prepared) = prepare_beside(models.temporal.as_mut(), &frame, || engine.stylize(&mut styled).map(|_| t.elapsed()));
        let inferred = match stylized.and_then(|took| prepared.map(|()| took)) {
            Ok(took) => took,
            Err(e) => {
                shared.fail(e);
                break;
            }
        };
        counters.stylize_nanos.fetch_add(inferred.as_nanos() as u64, Relaxed);
        if let Some(temporal) = models.temporal.as_mut() {
            temporal.finish(&mut styled);
            counters.temporal_nanos.fetch_add((t.elapsed() - inferred).as_nanos() as u64, Relaxed);
            counters.temporal_on.store(true, Relaxed);
        }
        counters.stylized.fetch_add(1, Relaxed);
        match output.put(Styled { original: frame, styled, at, model: models.current }) {
            Put::Stored => {}
            Put::Replaced(old) => {
                counters.dropped_before_display.fetch_add(1, Relaxed);
                pool.give(old.original);
                pool.give(old.styled);
            }
            Put::Refused(s) => {
                counters.unshown_at_exit.fetch_add(1, Relaxed);
                pool.give(s.original);
                pool.give(s.styled);
                break;
            }
        }
    }
    output.finish();
}
