//! The two-sample tests `@detect_metric_drift(statistical_test=...)` names, with their
//! p-values: the reference window against the latest one. The null hypothesis is that both
//! come from one distribution; a p-value under `test_threshold` is a drift.
//!
//! - `kolmogorov-smirnov`: the largest distance between the two empirical distributions,
//!   with the asymptotic Kolmogorov distribution (continuous values);
//! - `cramer-von-mises`: Anderson's two-sample statistic, normalised by its mean and
//!   variance and read against the limiting distribution (as SciPy's `cramervonmises_2samp`
//!   does for large samples);
//! - `fisher-exact-test`: binary values (zero or not), the 2×2 table, two-sided;
//! - `chi-squared`: categorical values, the 2×k contingency table (with Yates' correction
//!   when k = 2, as SciPy's `chi2_contingency`).

/// The tests, by the names the annotation uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Test {
    KolmogorovSmirnov,
    CramerVonMises,
    Fisher,
    ChiSquared,
}

impl Test {
    pub const NAMES: [&'static str; 4] = ["kolmogorov-smirnov", "cramer-von-mises", "fisher-exact-test", "chi-squared"];

    pub fn parse(name: &str) -> Option<Test> {
        match name {
            "kolmogorov-smirnov" => Some(Test::KolmogorovSmirnov),
            "cramer-von-mises" => Some(Test::CramerVonMises),
            "fisher-exact-test" => Some(Test::Fisher),
            "chi-squared" => Some(Test::ChiSquared),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Test::KolmogorovSmirnov => Self::NAMES[0],
            Test::CramerVonMises => Self::NAMES[1],
            Test::Fisher => Self::NAMES[2],
            Test::ChiSquared => Self::NAMES[3],
        }
    }

    /// The p-value of `a` and `b` coming from one distribution (1 when either is empty).
    pub fn p_value(self, a: &[f64], b: &[f64]) -> f64 {
        if a.is_empty() || b.is_empty() {
            return 1.0;
        }
        let p = match self {
            Test::KolmogorovSmirnov => ks(a, b),
            Test::CramerVonMises => cvm(a, b),
            Test::Fisher => fisher(a, b),
            Test::ChiSquared => chi_squared(a, b),
        };
        p.clamp(0.0, 1.0)
    }
}

fn sorted(v: &[f64]) -> Vec<f64> {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s
}

fn ks(a: &[f64], b: &[f64]) -> f64 {
    let (a, b) = (sorted(a), sorted(b));
    let (n, m) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j, mut d) = (0usize, 0usize, 0.0f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / n - j as f64 / m).abs());
    }
    let en = (n * m / (n + m)).sqrt();
    kolmogorov_q((en + 0.12 + 0.11 / en) * d)
}

/// Q_KS(λ) = 2 Σ (-1)^(j-1) exp(-2 j² λ²).
fn kolmogorov_q(lambda: f64) -> f64 {
    if lambda < 1e-3 {
        return 1.0;
    }
    let mut sum = 0.0;
    let mut sign = 1.0;
    for j in 1..=100 {
        let term = sign * 2.0 * (-2.0 * (j as f64 * lambda).powi(2)).exp();
        sum += term;
        if term.abs() < 1e-12 {
            return sum;
        }
        sign = -sign;
    }
    1.0
}

/// Ranks (1-based) of `x` in the sorted pool, ties given their mean rank.
fn ranks(pool: &[f64], x: &[f64]) -> Vec<f64> {
    x.iter()
        .map(|v| {
            let below = pool.partition_point(|p| p < v) as f64;
            let upto = pool.partition_point(|p| p <= v) as f64;
            (below + 1.0 + upto) / 2.0
        })
        .collect()
}

fn cvm(a: &[f64], b: &[f64]) -> f64 {
    let (a, b) = (sorted(a), sorted(b));
    let mut pool: Vec<f64> = a.iter().chain(&b).copied().collect();
    pool.sort_by(f64::total_cmp);
    let (nx, ny) = (a.len() as f64, b.len() as f64);
    let (n, k) = (nx + ny, nx * ny);
    let sq = |r: Vec<f64>| r.iter().enumerate().map(|(i, r)| (r - (i + 1) as f64).powi(2)).sum::<f64>();
    let u = nx * sq(ranks(&pool, &a)) + ny * sq(ranks(&pool, &b));
    let t = u / (k * n) - (4.0 * k - 1.0) / (6.0 * n);
    let et = (1.0 + 1.0 / n) / 6.0;
    let vt = (n + 1.0) * (4.0 * k * n - 3.0 * (nx * nx + ny * ny) - 2.0 * k) / (45.0 * n * n * 4.0 * k);
    if vt <= 0.0 {
        return 1.0;
    }
    let tn = 1.0 / 6.0 + (t - et) / (45.0 * vt).sqrt();
    1.0 - cvm_limit_cdf(tn)
}

/// The limiting distribution of the Cramér–von Mises statistic (Csörgő and Faraway, 1996):
/// Σ_k Γ(k+½)/(Γ(k+1) π^{3/2} √x) √(4k+1) e^{-q} K_{1/4}(q), q = (4k+1)²/(16x).
fn cvm_limit_cdf(x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    let mut total = 0.0;
    for k in 0..200 {
        let kf = k as f64;
        let u = (ln_gamma(kf + 0.5) - ln_gamma(kf + 1.0)).exp() / (std::f64::consts::PI.powf(1.5) * x.sqrt());
        let y = 4.0 * kf + 1.0;
        let q = y * y / (16.0 * x);
        let z = u * y.sqrt() * (-q).exp() * bessel_k(0.25, q);
        total += z;
        if z.abs() < 1e-10 {
            break;
        }
    }
    total.min(1.0)
}

/// K_ν(z) = ∫₀^∞ e^{-z cosh t} cosh(νt) dt, by the trapezoid rule (the integrand falls off
/// doubly exponentially).
fn bessel_k(nu: f64, z: f64) -> f64 {
    let h = 0.01f64;
    let mut sum = 0.5 * (-z).exp();
    let mut t: f64 = h;
    loop {
        let e = -z * t.cosh();
        if e < -745.0 {
            break;
        }
        sum += e.exp() * (nu * t).cosh();
        t += h;
    }
    sum * h
}

/// ln Γ(x), Lanczos (g = 7, n = 9), x > 0.
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

fn ln_choose(n: u64, k: u64) -> f64 {
    ln_gamma(n as f64 + 1.0) - ln_gamma(k as f64 + 1.0) - ln_gamma((n - k) as f64 + 1.0)
}

fn fisher(a: &[f64], b: &[f64]) -> f64 {
    let ones = |v: &[f64]| v.iter().filter(|x| **x != 0.0).count() as u64;
    let (a1, b1) = (ones(a), ones(b));
    let (na, nb) = (a.len() as u64, b.len() as u64);
    let k = a1 + b1;
    let n = na + nb;
    // P(X = x): x ones in `a` given the margins (hypergeometric).
    let p = |x: u64| (ln_choose(na, x) + ln_choose(nb, k - x) - ln_choose(n, k)).exp();
    let lo = k.saturating_sub(nb);
    let hi = k.min(na);
    let observed = p(a1);
    (lo..=hi).map(p).filter(|q| *q <= observed * (1.0 + 1e-7)).sum()
}

fn chi_squared(a: &[f64], b: &[f64]) -> f64 {
    let mut cats: Vec<f64> = a.iter().chain(b).copied().collect();
    cats.sort_by(f64::total_cmp);
    cats.dedup();
    if cats.len() < 2 {
        return 1.0;
    }
    let count = |v: &[f64], c: f64| v.iter().filter(|x| **x == c).count() as f64;
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let n = na + nb;
    let yates = cats.len() == 2;
    let mut stat = 0.0;
    for &c in &cats {
        let total = count(a, c) + count(b, c);
        for (obs, rows) in [(count(a, c), na), (count(b, c), nb)] {
            let e = rows * total / n;
            let d = (obs - e).abs();
            let d = if yates { (d - 0.5).max(0.0) } else { d };
            stat += d * d / e;
        }
    }
    gamma_q((cats.len() - 1) as f64 / 2.0, stat / 2.0)
}

/// The regularised upper incomplete gamma function Q(s, x).
fn gamma_q(s: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    let lg = ln_gamma(s);
    if x < s + 1.0 {
        // Series for P.
        let (mut sum, mut term, mut ap) = (1.0 / s, 1.0 / s, s);
        for _ in 0..1000 {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * 1e-15 {
                break;
            }
        }
        1.0 - sum * (-x + s * x.ln() - lg).exp()
    } else {
        // Continued fraction for Q (Lentz).
        let tiny = 1e-300;
        let mut b = x + 1.0 - s;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..1000 {
            let an = -(i as f64) * (i as f64 - s);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < 1e-15 {
                break;
            }
        }
        (-x + s * x.ln() - lg).exp() * h
    }
}

#[cfg(test)]
mod tests;
