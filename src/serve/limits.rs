//! What one client may ask of the server: sizes, rates and counts, and the rate limiter for live frames.

use std::time::Instant;

use super::ServeArgs;

#[derive(Clone, Debug)]
pub struct Limits {
    pub max_upload_bytes: u64,
    /// Live frames: the larger side and the pixel count of `--max-frame`.
    pub max_frame: (u32, u32),
    pub max_job_frame: (u32, u32),
    pub max_fps: u32,
    pub max_clients: usize,
    pub jobs: usize,
    pub jobs_per_client: usize,
    pub queue: usize,
    pub keep_results: std::time::Duration,
}

/// The smallest side of a live frame (the networks need a few pixels to work on).
pub const MIN_SIDE: u32 = 8;

impl Limits {
    pub fn from_args(a: &ServeArgs) -> Limits {
        Limits {
            max_upload_bytes: a.max_upload_mb * 1_000_000,
            max_frame: a.max_frame,
            max_job_frame: a.max_job_frame,
            max_fps: a.max_fps,
            max_clients: a.max_clients as usize,
            jobs: a.jobs as usize,
            jobs_per_client: a.jobs_per_client as usize,
            queue: a.queue as usize,
            keep_results: std::time::Duration::from_secs(a.keep_results),
        }
    }

    /// The largest WebSocket message: an uncompressed frame of the largest size, plus the header.
    pub fn max_message_bytes(&self) -> usize {
        self.max_frame.0 as usize * self.max_frame.1 as usize * 3 + 4096
    }

    /// Why a live frame of this size is refused, if it is.
    pub fn check_frame(&self, w: u32, h: u32) -> Result<(), String> {
        check_size(w, h, self.max_frame, "--max-frame")
    }

    /// Why an upload whose frames are this size is refused, if it is.
    pub fn check_job_frame(&self, w: u32, h: u32) -> Result<(), String> {
        check_size(w, h, self.max_job_frame, "--max-job-frame")
    }
}

/// Either orientation fits: the longer side against the longer limit, and the pixel count.
fn check_size(w: u32, h: u32, max: (u32, u32), option: &str) -> Result<(), String> {
    if w < MIN_SIDE || h < MIN_SIDE {
        return Err(format!("{w}x{h} is too small (at least {MIN_SIDE}x{MIN_SIDE})"));
    }
    let (long, limit) = (w.max(h), max.0.max(max.1));
    if long > limit || u64::from(w) * u64::from(h) > u64::from(max.0) * u64::from(max.1) {
        return Err(format!("{w}x{h} is larger than the server's limit of {}x{} ({option})", max.0, max.1));
    }
    Ok(())
}

/// `--max-frame`, `--max-job-frame`: sides the live path and the jobs can take.
pub fn parse_size(s: &str) -> Result<(u32, u32), String> {
    crate::args::parse_size_within(s, MIN_SIDE..=16384)
}

/// A token bucket: `rate` frames per second on average, bursts of up to one second's worth.
pub struct RateLimit {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl RateLimit {
    pub fn new(rate: u32) -> Self {
        RateLimit { rate: f64::from(rate), tokens: f64::from(rate), last: Instant::now() }
    }

    /// Takes one frame's token; false when the client is over its rate.
    pub fn allow(&mut self) -> bool {
        self.allow_at(Instant::now())
    }

    fn allow_at(&mut self, now: Instant) -> bool {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + dt * self.rate).min(self.rate);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn sizes_fit_either_way_round() {
        let max = (1280, 720);
        assert!(check_size(1280, 720, max, "x").is_ok());
        assert!(check_size(720, 1280, max, "x").is_ok());
        assert!(check_size(1281, 720, max, "x").unwrap_err().contains("larger than"));
        assert!(check_size(1000, 1000, max, "x").is_err());
        assert!(check_size(4, 100, max, "x").unwrap_err().contains("too small"));
    }

    #[test]
    fn the_rate_limit_allows_a_second_of_burst_then_the_rate() {
        let mut r = RateLimit::new(10);
        let t0 = r.last;
        let allowed = (0..30).filter(|_| r.allow_at(t0)).count();
        assert_eq!(allowed, 10);
        // Half a second later: five more.
        let t1 = t0 + Duration::from_millis(500);
        let allowed = (0..30).filter(|_| r.allow_at(t1)).count();
        assert_eq!(allowed, 5);
    }
}
