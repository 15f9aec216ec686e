//! What the display counted: frames shown, latency, fps; the per-second lines and the end-of-run summary.

use super::*;

/// What the display counted; the pipeline's counters live in [`Counters`].
pub(super) struct Stats {
    pub(super) started: Instant,
    pub(super) first_shown: Option<Instant>,
    pub(super) last_shown: Option<Instant>,
    pub(super) shown: u64,
    pub(super) latencies_ms: Vec<f64>,
    /// Recent display times, for the HUD's fps.
    pub(super) recent: VecDeque<Instant>,
    pub(super) second: SecondStats,
}

/// The current second, for `-v`.
pub(super) struct SecondStats {
    pub(super) index: u64,
    pub(super) shown: u64,
    pub(super) latency_sum: f64,
    pub(super) dropped_base: u64,
}

impl Stats {
    pub(super) fn new() -> Self {
        Stats {
            started: Instant::now(),
            first_shown: None,
            last_shown: None,
            shown: 0,
            latencies_ms: Vec::with_capacity(1024),
            recent: VecDeque::with_capacity(64),
            second: SecondStats { index: 1, shown: 0, latency_sum: 0.0, dropped_base: 0 },
        }
    }

    pub(super) fn shown(&mut self, captured_at: Instant) {
        let now = Instant::now();
        let latency = now.saturating_duration_since(captured_at).as_secs_f64() * 1e3;
        self.latencies_ms.push(latency);
        self.shown += 1;
        self.first_shown.get_or_insert(now);
        self.last_shown = Some(now);
        if self.recent.len() == 30 {
            self.recent.pop_front();
        }
        self.recent.push_back(now);
        self.second.shown += 1;
        self.second.latency_sum += latency;
    }

    /// Display rate over the frames of the last 3 s, but at least the last two (slow models run under 1 fps).
    pub(super) fn fps_now(&self) -> f64 {
        let n = self.recent.len();
        if n < 2 {
            return 0.0;
        }
        let now = Instant::now();
        let start = self.recent.iter().position(|t| now.duration_since(*t) < Duration::from_secs(3)).unwrap_or(n).min(n - 2);
        (n - 1 - start) as f64 / self.recent[n - 1].duration_since(self.recent[start]).as_secs_f64().max(1e-6)
    }

    pub(super) fn latency_now(&self) -> f64 {
        let n = self.latencies_ms.len().min(10);
        if n == 0 {
            return 0.0;
        }
        self.latencies_ms[self.latencies_ms.len() - n..].iter().sum::<f64>() / n as f64
    }

    /// Steady display rate: from the first shown frame to the last.
    pub(super) fn fps(&self) -> f64 {
        match (self.first_shown, self.last_shown) {
            (Some(a), Some(b)) if self.shown > 1 => (self.shown - 1) as f64 / b.duration_since(a).as_secs_f64().max(1e-6),
            _ => 0.0,
        }
    }

    /// `-v`: one line per elapsed second.
    /// `last`: also the partial second at the end.
    pub(super) fn per_second(&mut self, counters: &Counters, last: bool) {
        let elapsed = self.started.elapsed().as_secs();
        if elapsed < self.second.index && !(last && self.second.shown > 0) {
            return;
        }
        let dropped = counters.dropped_before_stylize.load(Relaxed) + counters.dropped_before_display.load(Relaxed);
        let s = &mut self.second;
        let mean = if s.shown > 0 { s.latency_sum / s.shown as f64 } else { 0.0 };
        eprintln!("[{:>4} s] shown {:>3}  latency mean {:>6.1} ms  dropped {:>3} (total {dropped})", s.index, s.shown, mean, dropped - s.dropped_base);
        *s = SecondStats { index: elapsed + 1, shown: 0, latency_sum: 0.0, dropped_base: dropped };
    }

    pub(super) fn summary(&self, info: &SourceInfo, model: &str, counters: &Counters, leftover_captured: u64, leftover_styled: u64) -> String {
        let c = |a: &AtomicU64| a.load(Relaxed);
        let (captured, stylized) = (c(&counters.captured), c(&counters.stylized));
        let mut lat = self.latencies_ms.clone();
        lat.sort_by(f64::total_cmp);
        let mean = if lat.is_empty() { 0.0 } else { lat.iter().sum::<f64>() / lat.len() as f64 };
        let p95 = if lat.is_empty() { 0.0 } else { lat[((lat.len() - 1) as f64 * 0.95).round() as usize] };
        let stylize_ms = if stylized > 0 { c(&counters.stylize_nanos) as f64 / 1e6 / stylized as f64 } else { 0.0 };
        let mut s = String::new();
        let _ = writeln!(
            s,
            "live: {} frames shown, {:.2} fps, {}x{} from {}, {model} ({:.1} s in all)",
            self.shown,
            self.fps(),
            info.width,
            info.height,
            info.label,
            self.started.elapsed().as_secs_f64()
        );
        let _ = writeln!(s, "  captured {captured} = stylized {stylized} + dropped before stylizing {} + left at exit {leftover_captured}", c(&counters.dropped_before_stylize));
        let _ = writeln!(
            s,
            "  stylized {stylized} = shown {} + dropped before display {} + left at exit {}",
            self.shown,
            c(&counters.dropped_before_display),
            leftover_styled + c(&counters.unshown_at_exit)
        );
        let _ = write!(s, "  latency (capture to display): mean {mean:.1} ms, p95 {p95:.1} ms; stylize alone: mean {stylize_ms:.1} ms");
        if counters.temporal_on.load(Relaxed) && stylized > 0 {
            let _ = write!(s, "; temporal stage: mean {:.1} ms", c(&counters.temporal_nanos) as f64 / 1e6 / stylized as f64);
        }
        s
    }
}
