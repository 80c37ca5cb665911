//! Drift detection on a stream of values. Without a test named, the Page-Hinkley test,
//! two-sided, on values standardised by a reference window (the first `reference` values, as
//! the AMS's detector takes its reference from the first monitoring period). With one
//! (`@detect_metric_drift(statistical_test=...)`), [`WindowTest`]: the first `window` values
//! against the latest `window`, by that two-sample test, every `detection_interval` (or each
//! time a window of new values is in). After a drift either takes a new reference from the
//! values that follow.

use std::collections::VecDeque;

use crate::stattest::Test;

/// Page-Hinkley parameters, in units of the reference's standard deviation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DriftParams {
    /// Values in the reference window.
    pub reference: usize,
    /// Changes smaller than this many standard deviations are tolerated.
    pub delta: f64,
    /// The alarm threshold of the cumulative statistic.
    pub lambda: f64,
}

impl Default for DriftParams {
    fn default() -> Self {
        DriftParams { reference: 30, delta: 0.5, lambda: 8.0 }
    }
}

#[derive(Debug, Clone)]
pub struct PageHinkley {
    p: DriftParams,
    ref_n: usize,
    ref_mean: f64,
    ref_m2: f64,
    sd: f64,
    up: f64,
    down: f64,
    /// Values seen since the reference was taken.
    pub seen: u64,
    pub drifts: u64,
}

/// A detected drift: the direction and the mean of the reference it departs from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Drift {
    pub increase: bool,
    pub reference_mean: f64,
    /// Page-Hinkley's statistic, or the test's p-value.
    pub statistic: f64,
}

impl PageHinkley {
    pub fn new(p: DriftParams) -> Self {
        PageHinkley { p, ref_n: 0, ref_mean: 0.0, ref_m2: 0.0, sd: 0.0, up: 0.0, down: 0.0, seen: 0, drifts: 0 }
    }

    /// Feeds one value; returns the drift it completes, if any.
    pub fn update(&mut self, x: f64) -> Option<Drift> {
        if !x.is_finite() {
            return None;
        }
        if self.ref_n < self.p.reference.max(2) {
            // Welford's mean and variance of the reference.
            self.ref_n += 1;
            let d = x - self.ref_mean;
            self.ref_mean += d / self.ref_n as f64;
            self.ref_m2 += d * (x - self.ref_mean);
            if self.ref_n == self.p.reference.max(2) {
                let var = self.ref_m2 / (self.ref_n - 1) as f64;
                // A constant reference: any change of a tenth of its size (or 1e-9) is a change.
                self.sd = var.sqrt().max(self.ref_mean.abs() * 0.1).max(1e-9);
            }
            return None;
        }
        self.seen += 1;
        let z = (x - self.ref_mean) / self.sd;
        self.up = (self.up + z - self.p.delta).max(0.0);
        self.down = (self.down - z - self.p.delta).max(0.0);
        let stat = self.up.max(self.down);
        if stat > self.p.lambda {
            let d = Drift { increase: self.up >= self.down, reference_mean: self.ref_mean, statistic: stat };
            self.drifts += 1;
            *self = PageHinkley { drifts: self.drifts, ..PageHinkley::new(self.p) };
            return Some(d);
        }
        None
    }
}

/// A two-sample test between a reference window and the latest one.
#[derive(Debug, Clone)]
pub struct WindowTest {
    test: Test,
    threshold: f64,
    window: usize,
    /// Seconds between tests; 0: each time `window` new values are in.
    interval_s: f64,
    reference: Vec<f64>,
    latest: VecDeque<f64>,
    new_since_test: usize,
    last_test: f64,
    pub drifts: u64,
}

impl WindowTest {
    pub fn new(test: Test, threshold: f64, window: usize, interval_s: Option<f64>) -> Self {
        let window = window.max(2);
        WindowTest {
            test,
            threshold,
            window,
            interval_s: interval_s.unwrap_or(0.0),
            reference: Vec::with_capacity(window),
            latest: VecDeque::with_capacity(window),
            new_since_test: 0,
            last_test: f64::NEG_INFINITY,
            drifts: 0,
        }
    }

    /// Feeds one value observed at `t` (seconds); returns the drift a test finds, if any.
    pub fn update(&mut self, x: f64, t: f64) -> Option<Drift> {
        if !x.is_finite() {
            return None;
        }
        if self.reference.len() < self.window {
            self.reference.push(x);
            return None;
        }
        if self.latest.len() == self.window {
            self.latest.pop_front();
        }
        self.latest.push_back(x);
        self.new_since_test += 1;
        let due = if self.interval_s > 0.0 {
            t - self.last_test >= self.interval_s
        } else {
            self.new_since_test >= self.window
        };
        if self.latest.len() < self.window || !due {
            return None;
        }
        self.last_test = t;
        self.new_since_test = 0;
        let latest: Vec<f64> = self.latest.iter().copied().collect();
        let p = self.test.p_value(&self.reference, &latest);
        if p >= self.threshold {
            return None;
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let d = Drift {
            increase: mean(&latest) >= mean(&self.reference),
            reference_mean: mean(&self.reference),
            statistic: p,
        };
        self.drifts += 1;
        self.reference.clear();
        self.latest.clear();
        Some(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic noisy sequence around `mean`.
    fn noisy(mean: f64, n: usize, seed: &mut u64) -> Vec<f64> {
        (0..n)
            .map(|_| {
                *seed ^= *seed << 13;
                *seed ^= *seed >> 7;
                *seed ^= *seed << 17;
                mean + ((*seed % 1000) as f64 / 1000.0 - 0.5)
            })
            .collect()
    }

    #[test]
    fn stable_stream_no_drift_then_shift_detected_quickly() {
        let mut seed = 7;
        let mut ph = PageHinkley::new(DriftParams::default());
        for x in noisy(5.0, 2000, &mut seed) {
            assert_eq!(ph.update(x), None);
        }
        let mut at = None;
        for (i, x) in noisy(6.0, 200, &mut seed).into_iter().enumerate() {
            if let Some(d) = ph.update(x) {
                assert!(d.increase);
                assert!((d.reference_mean - 5.0).abs() < 0.1);
                at = Some(i);
                break;
            }
        }
        let at = at.expect("the shift is detected");
        assert!(at < 20, "detected after {at} values");
    }

    #[test]
    fn decrease_is_detected_too() {
        let mut seed = 3;
        let mut ph = PageHinkley::new(DriftParams::default());
        let mut found = false;
        for x in noisy(10.0, 100, &mut seed).into_iter().chain(noisy(8.0, 100, &mut seed)) {
            if let Some(d) = ph.update(x) {
                assert!(!d.increase);
                found = true;
                break;
            }
        }
        assert!(found);
    }

    #[test]
    fn a_window_test_finds_a_shift_and_not_noise() {
        let mut seed = 11;
        let mut w = WindowTest::new(Test::KolmogorovSmirnov, 0.01, 50, None);
        for (i, x) in noisy(5.0, 1000, &mut seed).into_iter().enumerate() {
            assert_eq!(w.update(x, i as f64), None, "no drift in noise (value {i})");
        }
        let mut at = None;
        for (i, x) in noisy(5.5, 200, &mut seed).into_iter().enumerate() {
            if let Some(d) = w.update(x, 1000.0 + i as f64) {
                assert!(d.increase && d.statistic < 0.01, "{d:?}");
                at = Some(i);
                break;
            }
        }
        // Tested once per window of 50 new values: found at the first full window after the shift.
        assert_eq!(at, Some(49));
        // With a detection interval, tests run at most that often whatever the values.
        let mut w = WindowTest::new(Test::KolmogorovSmirnov, 0.01, 10, Some(100.0));
        let mut found = Vec::new();
        for i in 0..400 {
            let wobble = ((i * 37) % 11) as f64 * 1e-3;
            let x = if i < 10 { 1.0 + wobble } else { 50.0 + wobble };
            if w.update(x, i as f64).is_some() {
                found.push(i);
            }
        }
        // The first test at t=20 (reference 0..10, then 10 new values) finds it; a new
        // reference follows, and the shifted values are no drift against themselves.
        assert_eq!(found, vec![19]);
    }
}
