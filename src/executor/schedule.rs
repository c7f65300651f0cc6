//! When VUs start and stop (closed model) and when iterations arrive (open model).
//! Pure functions of the spec, so they are tested without a clock.

use crate::executor::Stage;
use std::time::Duration;

/// The instants at which the number of active VUs changes, as k6's ramping-vus
/// computes them: a linear ramp from `a` to `b` adds (or removes) one VU each
/// time the line crosses a whole number.
pub fn vu_steps(start_vus: u32, stages: &[Stage]) -> Vec<(Duration, u32)> {
    let mut steps = vec![(Duration::ZERO, start_vus)];
    let mut stage_start = Duration::ZERO;
    let mut from = start_vus;
    for stage in stages {
        let to = stage.target as u32;
        if stage.duration.is_zero() {
            steps.push((stage_start, to));
        } else if to != from {
            let span = from.abs_diff(to) as f64;
            let levels: Vec<u32> = if to > from { (from + 1..=to).collect() } else { (to..from).rev().collect() };
            for (k, level) in levels.into_iter().enumerate() {
                let at = stage.duration.mul_f64((k + 1) as f64 / span);
                steps.push((stage_start + at, level));
            }
        }
        stage_start += stage.duration;
        from = to;
    }
    steps
}

/// Total length of a list of stages.
pub fn stages_length(stages: &[Stage]) -> Duration {
    stages.iter().map(|s| s.duration).sum()
}

/// Arrival instants of an open model: iteration `n` is scheduled at the
/// instant the expected number of arrivals (the integral of the rate) reaches
/// `n`. A constant rate is a single stage from `rate` to `rate`.
#[derive(Clone)]
pub struct Arrivals {
    /// (start offset s, duration s, rate at start /s, rate at end /s, arrivals before this stage)
    stages: Vec<(f64, f64, f64, f64, f64)>,
    stage: usize,
    next: u64,
}

impl Arrivals {
    pub fn new(start_rate: f64, time_unit: Duration, stages: &[Stage]) -> Arrivals {
        let unit = time_unit.as_secs_f64();
        let mut out = Vec::with_capacity(stages.len());
        let (mut start, mut before, mut from) = (0.0, 0.0, start_rate / unit);
        for stage in stages {
            let length = stage.duration.as_secs_f64();
            let to = stage.target / unit;
            out.push((start, length, from, to, before));
            before += (from + to) / 2.0 * length;
            start += length;
            from = to;
        }
        Arrivals { stages: out, stage: 0, next: 0 }
    }

    pub fn constant(rate: f64, time_unit: Duration, duration: Duration) -> Arrivals {
        Arrivals::new(rate, time_unit, &[Stage { duration, target: rate }])
    }
}

impl Iterator for Arrivals {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let n = self.next as f64;
        while let Some(&(start, length, r0, r1, before)) = self.stages.get(self.stage) {
            let area = (r0 + r1) / 2.0 * length;
            let k = n - before;
            if k < area {
                // Solve r0*t + (r1-r0)/(2*length)*t^2 = k in a form stable when r0 is 0 or r1 == r0.
                let a = (r1 - r0) / (2.0 * length);
                let t = if k <= 0.0 { 0.0 } else { 2.0 * k / (r0 + (r0 * r0 + 4.0 * a * k).max(0.0).sqrt()) };
                self.next += 1;
                return Some(Duration::from_secs_f64(start + t.min(length)));
            }
            self.stage += 1;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    fn stage(s: u64, target: f64) -> Stage {
        Stage { duration: Duration::from_secs(s), target }
    }

    #[test]
    fn ramping_vus_steps_like_k6() {
        let steps = vu_steps(0, &[stage(4, 4.0), stage(2, 4.0), stage(2, 0.0)]);
        let expected: Vec<(Duration, u32)> = vec![
            (secs(0.0), 0),
            (secs(1.0), 1),
            (secs(2.0), 2),
            (secs(3.0), 3),
            (secs(4.0), 4),
            (secs(6.5), 3),
            (secs(7.0), 2),
            (secs(7.5), 1),
            (secs(8.0), 0),
        ];
        assert_eq!(steps, expected);
    }

    #[test]
    fn zero_length_stage_jumps() {
        assert_eq!(vu_steps(2, &[stage(0, 7.0)]), vec![(secs(0.0), 2), (secs(0.0), 7)]);
    }

    #[test]
    fn constant_rate_is_evenly_spaced() {
        let times: Vec<Duration> = Arrivals::constant(4.0, secs(1.0), secs(1.0)).collect();
        assert_eq!(times, vec![secs(0.0), secs(0.25), secs(0.5), secs(0.75)]);
        let per_minute: Vec<Duration> = Arrivals::constant(120.0, secs(60.0), secs(2.0)).collect();
        assert_eq!(per_minute.len(), 4);
    }

    #[test]
    fn ramp_from_zero_follows_the_integral() {
        // rate goes 0 -> 10/s over 10 s: 50 arrivals, n-th at sqrt(2n) s.
        let times: Vec<Duration> = Arrivals::new(0.0, secs(1.0), &[stage(10, 10.0)]).collect();
        assert_eq!(times.len(), 50);
        for (n, t) in times.iter().enumerate() {
            let expected = (2.0 * n as f64).sqrt();
            assert!((t.as_secs_f64() - expected).abs() < 1e-9, "n={n} t={t:?}");
        }
    }

    #[test]
    fn stages_chain_without_losing_arrivals() {
        // 10/s for 2 s, then ramp down to 0 over 2 s: 20 + 10 arrivals.
        let times: Vec<Duration> = Arrivals::new(10.0, secs(1.0), &[stage(2, 10.0), stage(2, 0.0)]).collect();
        assert_eq!(times.len(), 30);
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(times[20], secs(2.0));
    }
}
