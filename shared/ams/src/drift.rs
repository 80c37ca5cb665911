//! Drift detection on a stream of values: the Page-Hinkley test, two-sided, on values
//! standardised by a reference window (the first `reference` values, as the AMS's detector
//! takes its reference from the first monitoring period). After a drift the detector takes a
//! new reference from the values that follow.

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
}
