//! The p-values against SciPy 1.x's on the same samples (`scipy.stats.ks_2samp(method='asymp')`,
//! `cramervonmises_2samp(method='asymptotic')`, `fisher_exact`, `chi2_contingency`), computed
//! once with SciPy from PyPI and written here.

use super::Test;

/// `((i * mul) % modulo) / modulo + shift` for i in 1..=n: spread-out values both sides can
/// make.
fn gen(n: usize, mul: usize, modulo: usize, shift: f64) -> Vec<f64> {
    (1..=n).map(|i| ((i * mul) % modulo) as f64 / modulo as f64 + shift).collect()
}

fn close(got: f64, want: f64, tol: f64) {
    assert!((got - want).abs() <= tol, "got {got}, SciPy gives {want}");
}

#[test]
fn continuous_tests_agree_with_scipy() {
    let a = gen(40, 37, 101, 0.0);
    let b = gen(35, 53, 97, 0.15);
    let c = gen(40, 41, 103, 0.0);
    let d = gen(35, 53, 97, 0.5);
    // Kolmogorov-Smirnov: the asymptotic distribution with Stephens' small-sample term; SciPy
    // reads the exact one-sample distribution at n = round(nm/(n+m)): a few hundredths apart
    // where nothing drifts, both far under any threshold where it does.
    close(Test::KolmogorovSmirnov.p_value(&a, &b), 0.679_202_502_841_227_9, 0.04);
    close(Test::KolmogorovSmirnov.p_value(&a, &c), 0.875_861_799_590_894_6, 0.04);
    close(Test::KolmogorovSmirnov.p_value(&a, &d), 2.910_563_355_387_84e-5, 3e-5);
    close(Test::CramerVonMises.p_value(&a, &b), 0.289_839_771_860_883_9, 1e-4);
    close(Test::CramerVonMises.p_value(&a, &c), 0.674_667_267_899_978_8, 1e-4);
    close(Test::CramerVonMises.p_value(&a, &d), 2.532_677_353_395_129_7e-7, 1e-8);
}

#[test]
fn discrete_tests_agree_with_scipy() {
    let a = gen(40, 37, 101, 0.0);
    let b = gen(35, 53, 97, 0.15);
    let x: Vec<f64> = a.iter().map(|v| f64::from(u8::from(*v > 0.5))).collect();
    let y: Vec<f64> = b.iter().map(|v| f64::from(u8::from(*v > 0.3))).collect();
    close(Test::Fisher.p_value(&x, &y), 0.008_525_165_474_431_901, 1e-9);
    let ca: Vec<f64> = a.iter().map(|v| (v * 3.0).floor()).collect();
    let cb: Vec<f64> = b.iter().map(|v| (v * 3.0).floor()).collect();
    close(Test::ChiSquared.p_value(&ca, &cb), 0.200_041_153_207_865_64, 1e-9);
    // 2×2: Yates' correction.
    let bx: Vec<f64> = a.iter().map(|v| (v * 2.0).floor() % 2.0).collect();
    let by: Vec<f64> = b.iter().map(|v| (v * 2.0 + 0.3).floor() % 2.0).collect();
    close(Test::ChiSquared.p_value(&bx, &by), 1.0, 1e-9);
}

#[test]
fn degenerate_samples_are_no_drift() {
    for t in [Test::KolmogorovSmirnov, Test::CramerVonMises, Test::Fisher, Test::ChiSquared] {
        assert_eq!(t.p_value(&[], &[1.0]), 1.0, "{t:?}");
        let same = [2.0; 10];
        assert!(t.p_value(&same, &same) > 0.9, "{t:?}: {}", t.p_value(&same, &same));
        assert_eq!(Test::parse(t.name()), Some(t));
    }
}
