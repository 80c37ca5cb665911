//! Performance models trained from profiling data: response time of a component (or
//! partition) on a resource, predicted from the cores it gets and, optionally, the rate it
//! serves. Three techniques (ridge regression, a regression tree, a random forest of
//! bagged trees), the features of the reference tools (the raw inputs, their inverse and
//! natural log, products of two), forward feature selection, and k-fold cross-validation
//! choosing the technique, its hyper-parameters and its features by the mean absolute
//! percentage error (MAPE) on the held-out folds. The chosen model is retrained on all the
//! data and written as plain JSON ([`Regressor`]) that [`Regressor::predict`] evaluates.
//!
//! The data sets are small (one row per profiling run, tens of rows), so the methods are
//! written here, exactly and deterministically (a seeded generator draws the folds and the
//! forest's samples), and the model stays readable: coefficients, or tree nodes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const FORMAT: &str = "aisprint-regressor/1";

/// The raw columns a model may use: `cores` (CPU cores given to the service) and
/// `observed_throughput` (requests per second it served).
pub const CORES: &str = "cores";
pub const THROUGHPUT: &str = "observed_throughput";

/// A trained model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Regressor {
    pub format: String,
    /// What it predicts (`avg_response_time`, seconds).
    pub target: String,
    /// The raw inputs a prediction needs.
    pub inputs: Vec<String>,
    /// The features the model reads, built from the inputs (`cores`, `log_cores`,
    /// `inverse_cores`, `cores__observed_throughput`, ...).
    pub features: Vec<String>,
    pub technique: Technique,
    pub validation: Validation,
    /// The range of each input in the training data. A prediction takes inputs clamped into
    /// it: beyond what was profiled the model answers with its edge (more cores than were
    /// tried are not predicted faster than the most that were), not a free extrapolation.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub domain: BTreeMap<String, (f64, f64)>,
    /// The model this one was converted from (`aisprint models import`: the pickled model's
    /// class), when it was not trained here; its `validation` is then empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported_from: Option<String>,
}

/// How the model was chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Validation {
    pub folds: usize,
    pub rows: usize,
    /// Cross-validated MAPE of the chosen model (a fraction: 0.05 is 5%).
    pub mape: f64,
    /// The best cross-validated MAPE of each technique.
    pub per_technique: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Technique {
    /// `y = intercept + sum coef_i * (x_i - mean_i) / scale_i`.
    Ridge {
        alpha: f64,
        mean: Vec<f64>,
        scale: Vec<f64>,
        coef: Vec<f64>,
        intercept: f64,
    },
    DecisionTree {
        max_depth: usize,
        min_leaf: usize,
        tree: Tree,
    },
    /// The mean of its trees.
    RandomForest {
        max_depth: usize,
        trees: Vec<Tree>,
    },
}

impl Technique {
    pub fn name(&self) -> &'static str {
        match self {
            Technique::Ridge { .. } => "ridge",
            Technique::DecisionTree { .. } => "decision_tree",
            Technique::RandomForest { .. } => "random_forest",
        }
    }
}

/// A regression tree: node 0 is the root; a split sends `x[feature] <= threshold` left.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    pub nodes: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Node {
    Split { feature: usize, threshold: f64, left: usize, right: usize },
    Leaf { value: f64 },
}

impl Tree {
    fn predict(&self, x: &[f64]) -> f64 {
        let mut i = 0;
        // A tree built here has no cycle; the bound guards a hand-edited file.
        for _ in 0..=self.nodes.len() {
            match self.nodes.get(i) {
                Some(Node::Leaf { value }) => return *value,
                Some(Node::Split { feature, threshold, left, right }) => {
                    i = if x.get(*feature).copied().unwrap_or(f64::NAN) <= *threshold { *left } else { *right };
                }
                None => break,
            }
        }
        f64::NAN
    }
}

/// The value of a feature for raw inputs: an atom (`x`, `inverse_x`, `log_x`) or a product of
/// two atoms joined by `__`. `None` when an input is missing or the value is not finite.
pub fn feature_value(name: &str, raw: &BTreeMap<String, f64>) -> Option<f64> {
    let atom = |a: &str| -> Option<f64> {
        let v = if let Some(x) = a.strip_prefix("inverse_") {
            1.0 / raw.get(x)?
        } else if let Some(x) = a.strip_prefix("log_") {
            raw.get(x)?.ln()
        } else {
            *raw.get(a)?
        };
        v.is_finite().then_some(v)
    };
    let mut v = 1.0;
    for a in name.split("__") {
        v *= atom(a)?;
    }
    v.is_finite().then_some(v)
}

/// The candidate features of some inputs: each input, its inverse and log, and the products
/// of two of those (squares included; an input times its own inverse left out).
pub fn candidate_features(inputs: &[&str]) -> Vec<String> {
    let mut atoms = Vec::new();
    for x in inputs {
        atoms.push(x.to_string());
        atoms.push(format!("inverse_{x}"));
        atoms.push(format!("log_{x}"));
    }
    let base = |a: &str| a.trim_start_matches("inverse_").trim_start_matches("log_").to_string();
    let mut out = atoms.clone();
    for (i, a) in atoms.iter().enumerate() {
        for b in &atoms[i..] {
            let inverse_pair = base(a) == base(b)
                && (a.starts_with("inverse_") != b.starts_with("inverse_"))
                && !a.starts_with("log_")
                && !b.starts_with("log_");
            if !inverse_pair {
                out.push(format!("{a}__{b}"));
            }
        }
    }
    out
}

impl Regressor {
    /// Predicts from the raw inputs (`cores`, `observed_throughput`); NaN when one is
    /// missing or out of the model's domain (a log or inverse of zero).
    pub fn predict(&self, raw: &BTreeMap<String, f64>) -> f64 {
        let clamped;
        let raw = if self.domain.is_empty() {
            raw
        } else {
            clamped = raw
                .iter()
                .map(|(k, v)| (k.clone(), self.domain.get(k).map_or(*v, |(lo, hi)| v.clamp(*lo, *hi))))
                .collect::<BTreeMap<_, _>>();
            &clamped
        };
        let mut x = Vec::with_capacity(self.features.len());
        for f in &self.features {
            match feature_value(f, raw) {
                Some(v) => x.push(v),
                None => return f64::NAN,
            }
        }
        self.technique.predict(&x)
    }

    /// Prediction from `cores` and an optional throughput, the two inputs SPACE4AI-D gives.
    pub fn predict_cores(&self, cores: f64, throughput: Option<f64>) -> f64 {
        let mut raw = BTreeMap::new();
        raw.insert(CORES.to_string(), cores);
        if let Some(t) = throughput {
            raw.insert(THROUGHPUT.to_string(), t);
        }
        self.predict(&raw)
    }

    /// Checks a model read from a file: its format and that its parts fit together.
    pub fn check(&self) -> Result<(), String> {
        if self.format != FORMAT {
            return Err(format!("format `{}`: expected `{FORMAT}`", self.format));
        }
        let p = self.features.len();
        for f in &self.features {
            let atoms_ok = f.split("__").all(|a| {
                let x = a.trim_start_matches("inverse_").trim_start_matches("log_");
                self.inputs.iter().any(|i| i == x)
            });
            if !atoms_ok {
                return Err(format!("feature `{f}` uses an input not listed in `inputs`"));
            }
        }
        let tree_ok = |t: &Tree| {
            !t.nodes.is_empty()
                && t.nodes.iter().all(|n| match n {
                    Node::Split { feature, left, right, .. } => {
                        *feature < p && *left < t.nodes.len() && *right < t.nodes.len()
                    }
                    Node::Leaf { value } => value.is_finite(),
                })
        };
        match &self.technique {
            Technique::Ridge { mean, scale, coef, .. } if mean.len() != p || scale.len() != p || coef.len() != p => {
                Err(format!("ridge: {p} features but {} coefficients", coef.len()))
            }
            Technique::DecisionTree { tree, .. } if !tree_ok(tree) => {
                Err("decision tree: a node points outside the tree".into())
            }
            Technique::RandomForest { trees, .. } if trees.is_empty() || !trees.iter().all(tree_ok) => {
                Err("random forest: no tree, or a node points outside its tree".into())
            }
            _ => Ok(()),
        }
    }
}

impl Technique {
    fn predict(&self, x: &[f64]) -> f64 {
        match self {
            Technique::Ridge { mean, scale, coef, intercept, .. } => {
                intercept + x.iter().zip(mean).zip(scale).zip(coef).map(|(((v, m), s), c)| c * (v - m) / s).sum::<f64>()
            }
            Technique::DecisionTree { tree, .. } => tree.predict(x),
            Technique::RandomForest { trees, .. } => {
                trees.iter().map(|t| t.predict(x)).sum::<f64>() / trees.len().max(1) as f64
            }
        }
    }
}

/// One row of profiling data.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub raw: BTreeMap<String, f64>,
    pub y: f64,
}

#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub folds: usize,
    pub max_features: usize,
    pub seed: u64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self { folds: 5, max_features: 5, seed: 1 }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrainError {
    #[error("{0} row(s): at least 3 profiling runs are needed to train and validate a model")]
    TooFew(usize),
    #[error("row {0}: {1}")]
    BadRow(usize, String),
}

/// A small deterministic generator (splitmix64): folds and bootstrap samples.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Mean absolute percentage error (a fraction).
pub fn mape(pred: &[f64], y: &[f64]) -> f64 {
    let n = y.len().max(1) as f64;
    pred.iter().zip(y).map(|(p, t)| if p.is_finite() { (p - t).abs() / t.abs().max(1e-9) } else { 1e9 }).sum::<f64>()
        / n
}

/// A technique with its hyper-parameters, before fitting.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Config {
    Ridge { alpha: f64 },
    Tree { max_depth: usize, min_leaf: usize },
    Forest { max_depth: usize, trees: usize },
}

impl Config {
    fn family(&self) -> &'static str {
        match self {
            Config::Ridge { .. } => "ridge",
            Config::Tree { .. } => "decision_tree",
            Config::Forest { .. } => "random_forest",
        }
    }

    fn grid() -> Vec<Config> {
        let mut g: Vec<Config> = [1e-4, 1e-2, 0.1, 1.0].iter().map(|&alpha| Config::Ridge { alpha }).collect();
        for max_depth in [2, 3, 4] {
            for min_leaf in [1, 2] {
                g.push(Config::Tree { max_depth, min_leaf });
            }
        }
        for max_depth in [3, 5] {
            g.push(Config::Forest { max_depth, trees: 25 });
        }
        g
    }

    fn fit(&self, x: &[Vec<f64>], y: &[f64], rng: &mut Rng) -> Technique {
        match *self {
            Config::Ridge { alpha } => fit_ridge(x, y, alpha),
            Config::Tree { max_depth, min_leaf } => {
                let idx: Vec<usize> = (0..y.len()).collect();
                Technique::DecisionTree { max_depth, min_leaf, tree: fit_tree(x, y, &idx, max_depth, min_leaf) }
            }
            Config::Forest { max_depth, trees } => {
                let n = y.len();
                let trees = (0..trees)
                    .map(|_| {
                        let idx: Vec<usize> = (0..n).map(|_| rng.below(n)).collect();
                        fit_tree(x, y, &idx, max_depth, 1)
                    })
                    .collect();
                Technique::RandomForest { max_depth, trees }
            }
        }
    }
}

fn fit_ridge(x: &[Vec<f64>], y: &[f64], alpha: f64) -> Technique {
    let n = y.len() as f64;
    let p = x.first().map_or(0, Vec::len);
    let mean: Vec<f64> = (0..p).map(|j| x.iter().map(|r| r[j]).sum::<f64>() / n).collect();
    let scale: Vec<f64> = (0..p)
        .map(|j| {
            let v = x.iter().map(|r| (r[j] - mean[j]).powi(2)).sum::<f64>() / n;
            if v > 1e-24 {
                v.sqrt()
            } else {
                1.0
            }
        })
        .collect();
    let ym = y.iter().sum::<f64>() / n;
    let z: Vec<Vec<f64>> = x.iter().map(|r| (0..p).map(|j| (r[j] - mean[j]) / scale[j]).collect()).collect();
    // (Z'Z + alpha n I) b = Z'(y - ym)
    let mut a = vec![vec![0.0; p + 1]; p];
    for i in 0..p {
        for k in 0..p {
            a[i][k] = z.iter().map(|r| r[i] * r[k]).sum::<f64>() + if i == k { alpha * n } else { 0.0 };
        }
        a[i][p] = z.iter().zip(y).map(|(r, t)| r[i] * (t - ym)).sum::<f64>();
    }
    let coef = solve(a).unwrap_or_else(|| vec![0.0; p]);
    Technique::Ridge { alpha, mean, scale, coef, intercept: ym }
}

/// Gaussian elimination with partial pivoting on an augmented matrix.
fn solve(mut a: Vec<Vec<f64>>) -> Option<Vec<f64>> {
    let p = a.len();
    for c in 0..p {
        let piv = (c..p).max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))?;
        if a[piv][c].abs() < 1e-12 {
            return None;
        }
        a.swap(c, piv);
        let pivot_row = a[c].clone();
        for (r, row) in a.iter_mut().enumerate() {
            if r != c {
                let f = row[c] / pivot_row[c];
                for (x, pv) in row.iter_mut().zip(&pivot_row).skip(c) {
                    *x -= f * pv;
                }
            }
        }
    }
    Some((0..p).map(|i| a[i][p] / a[i][i]).collect())
}

fn fit_tree(x: &[Vec<f64>], y: &[f64], idx: &[usize], max_depth: usize, min_leaf: usize) -> Tree {
    let mut nodes = Vec::new();
    grow(x, y, idx, max_depth, min_leaf.max(1), &mut nodes);
    Tree { nodes }
}

fn grow(x: &[Vec<f64>], y: &[f64], idx: &[usize], depth: usize, min_leaf: usize, nodes: &mut Vec<Node>) -> usize {
    let me = nodes.len();
    let mean = idx.iter().map(|&i| y[i]).sum::<f64>() / idx.len().max(1) as f64;
    nodes.push(Node::Leaf { value: mean });
    if depth == 0 || idx.len() < 2 * min_leaf {
        return me;
    }
    let sse = |v: &[usize]| {
        let m = v.iter().map(|&i| y[i]).sum::<f64>() / v.len() as f64;
        v.iter().map(|&i| (y[i] - m).powi(2)).sum::<f64>()
    };
    let parent = sse(idx);
    let p = x.first().map_or(0, Vec::len);
    let mut best: Option<(f64, usize, f64)> = None;
    #[allow(clippy::needless_range_loop)] // `f` indexes the columns of every row
    for f in 0..p {
        let mut order = idx.to_vec();
        order.sort_by(|&a, &b| x[a][f].total_cmp(&x[b][f]));
        for cut in min_leaf..=order.len() - min_leaf {
            if cut == 0 || cut == order.len() {
                continue;
            }
            let (lo, hi) = (x[order[cut - 1]][f], x[order[cut]][f]);
            if lo >= hi {
                continue;
            }
            let cost = sse(&order[..cut]) + sse(&order[cut..]);
            if best.is_none_or(|b| cost < b.0 - 1e-15) {
                best = Some((cost, f, (lo + hi) / 2.0));
            }
        }
    }
    let Some((cost, feature, threshold)) = best else { return me };
    if cost >= parent - 1e-15 {
        return me;
    }
    let (l, r): (Vec<usize>, Vec<usize>) = idx.iter().partition(|&&i| x[i][feature] <= threshold);
    let left = grow(x, y, &l, depth - 1, min_leaf, nodes);
    let right = grow(x, y, &r, depth - 1, min_leaf, nodes);
    nodes[me] = Node::Split { feature, threshold, left, right };
    me
}

/// The folds of `n` rows: `k` groups of shuffled row indices.
fn folds(n: usize, k: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut rng = Rng(seed);
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let mut out = vec![Vec::new(); k];
    for (i, r) in order.into_iter().enumerate() {
        out[i % k].push(r);
    }
    out
}

/// Cross-validated MAPE of a configuration on the given feature columns.
fn cv_mape(cols: &[Vec<f64>], y: &[f64], features: &[usize], cfg: Config, folds: &[Vec<usize>], seed: u64) -> f64 {
    let row = |i: usize| features.iter().map(|&f| cols[f][i]).collect::<Vec<f64>>();
    let mut pred = vec![f64::NAN; y.len()];
    let mut rng = Rng(seed ^ 0x5EED);
    for test in folds {
        if test.is_empty() {
            continue;
        }
        let train: Vec<usize> = (0..y.len()).filter(|i| !test.contains(i)).collect();
        let xt: Vec<Vec<f64>> = train.iter().map(|&i| row(i)).collect();
        let yt: Vec<f64> = train.iter().map(|&i| y[i]).collect();
        let m = cfg.fit(&xt, &yt, &mut rng);
        for &i in test {
            pred[i] = m.predict(&row(i));
        }
    }
    mape(&pred, y)
}

/// Trains a model of `target` from `samples`, using the raw `inputs`.
pub fn train(samples: &[Sample], inputs: &[&str], target: &str, o: &TrainOptions) -> Result<Regressor, TrainError> {
    if samples.len() < 3 {
        return Err(TrainError::TooFew(samples.len()));
    }
    for (i, s) in samples.iter().enumerate() {
        if !(s.y.is_finite() && s.y > 0.0) {
            return Err(TrainError::BadRow(
                i + 1,
                format!("{target} must be a positive number of seconds, found {}", s.y),
            ));
        }
        for x in inputs {
            match s.raw.get(*x) {
                Some(v) if v.is_finite() && *v > 0.0 => {}
                Some(v) => return Err(TrainError::BadRow(i + 1, format!("{x} must be positive, found {v}"))),
                None => return Err(TrainError::BadRow(i + 1, format!("no `{x}` value"))),
            }
        }
    }
    let y: Vec<f64> = samples.iter().map(|s| s.y).collect();
    let names: Vec<String> = candidate_features(inputs)
        .into_iter()
        .filter(|f| samples.iter().all(|s| feature_value(f, &s.raw).is_some()))
        .collect();
    let cols: Vec<Vec<f64>> =
        names.iter().map(|f| samples.iter().map(|s| feature_value(f, &s.raw).unwrap_or(f64::NAN)).collect()).collect();
    let k = o.folds.clamp(2, samples.len());
    let fs = folds(samples.len(), k, o.seed);
    // Per configuration: forward selection of the features by cross-validated MAPE.
    let mut best: Option<(f64, Config, Vec<usize>)> = None;
    let mut per_technique: BTreeMap<String, f64> = BTreeMap::new();
    for cfg in Config::grid() {
        let mut chosen: Vec<usize> = Vec::new();
        let mut chosen_err = f64::INFINITY;
        while chosen.len() < o.max_features.min(names.len()) {
            let mut step: Option<(f64, usize)> = None;
            for f in 0..names.len() {
                if chosen.contains(&f) {
                    continue;
                }
                let mut trial = chosen.clone();
                trial.push(f);
                let e = cv_mape(&cols, &y, &trial, cfg, &fs, o.seed);
                if step.is_none_or(|s| e < s.0) {
                    step = Some((e, f));
                }
            }
            match step {
                Some((e, f)) if e < chosen_err - 1e-9 => {
                    chosen.push(f);
                    chosen_err = e;
                }
                _ => break,
            }
        }
        if chosen.is_empty() {
            continue;
        }
        let slot = per_technique.entry(cfg.family().to_string()).or_insert(f64::INFINITY);
        *slot = slot.min(chosen_err);
        if best.as_ref().is_none_or(|b| chosen_err < b.0 - 1e-12) {
            best = Some((chosen_err, cfg, chosen));
        }
    }
    let Some((err, cfg, chosen)) = best else { return Err(TrainError::TooFew(samples.len())) };
    let x: Vec<Vec<f64>> = (0..y.len()).map(|i| chosen.iter().map(|&f| cols[f][i]).collect()).collect();
    let technique = cfg.fit(&x, &y, &mut Rng(o.seed ^ 0xF17));
    let domain = inputs
        .iter()
        .map(|i| {
            let vals = samples.iter().filter_map(|s| s.raw.get(*i).copied());
            let (lo, hi) = vals.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
            (i.to_string(), (lo, hi))
        })
        .collect();
    Ok(Regressor {
        format: FORMAT.into(),
        target: target.into(),
        inputs: inputs.iter().map(|s| s.to_string()).collect(),
        features: chosen.iter().map(|&f| names[f].clone()).collect(),
        technique,
        validation: Validation { folds: k, rows: samples.len(), mape: err, per_technique },
        domain,
        imported_from: None,
    })
}

/// A service demand for the queueing models from profiling runs: each run's response time
/// R, throughput X and parallelism p give `D = R / (1 + X R / p)` (R = D / (1 - X D / p)
/// inverted); the median over the runs.
pub fn demand_estimate(runs: &[(f64, f64, f64)]) -> Option<f64> {
    let mut d: Vec<f64> = runs
        .iter()
        .filter(|(r, x, p)| *r > 0.0 && *x >= 0.0 && *p > 0.0)
        .map(|(r, x, p)| r / (1.0 + x * r / p))
        .collect();
    if d.is_empty() {
        return None;
    }
    d.sort_by(f64::total_cmp);
    let m = d.len() / 2;
    Some(if d.len() % 2 == 1 { d[m] } else { (d[m - 1] + d[m]) / 2.0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(f: impl Fn(f64, f64) -> f64, noise: f64) -> Vec<Sample> {
        let mut rng = Rng(7);
        let mut out = Vec::new();
        for cores in [1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 10.0, 12.0] {
            for thr in [0.5, 1.0, 2.0] {
                let e = 1.0 + noise * ((rng.below(1000) as f64 / 1000.0) - 0.5);
                let mut raw = BTreeMap::new();
                raw.insert(CORES.to_string(), cores);
                raw.insert(THROUGHPUT.to_string(), thr);
                out.push(Sample { raw, y: f(cores, thr) * e });
            }
        }
        out
    }

    #[test]
    fn features_are_built_from_the_inputs() {
        let c = candidate_features(&["cores"]);
        assert!(c.contains(&"log_cores".to_string()) && c.contains(&"inverse_cores__log_cores".to_string()), "{c:?}");
        assert!(!c.contains(&"cores__inverse_cores".to_string()), "x times 1/x is constant");
        let mut raw = BTreeMap::new();
        raw.insert("cores".to_string(), 4.0);
        raw.insert("observed_throughput".to_string(), 2.0);
        assert_eq!(feature_value("inverse_cores__observed_throughput", &raw), Some(0.5));
        assert!((feature_value("log_cores", &raw).expect("log") - 4f64.ln()).abs() < 1e-12);
        raw.insert("cores".to_string(), 0.0);
        assert_eq!(feature_value("inverse_cores", &raw), None);
    }

    #[test]
    fn a_time_inverse_in_the_cores_is_learnt_and_predicts_held_out_runs() {
        // Amdahl-like: 0.2 s serial plus 2.4 s of parallel work.
        let data = samples(|c, _| 0.2 + 2.4 / c, 0.04);
        let (train_rows, test_rows): (Vec<_>, Vec<_>) = data.iter().cloned().enumerate().partition(|(i, _)| i % 4 != 0);
        let train_rows: Vec<Sample> = train_rows.into_iter().map(|x| x.1).collect();
        let m = train(&train_rows, &[CORES], "avg_response_time", &TrainOptions::default()).expect("train");
        m.check().expect("check");
        let err = mape(
            &test_rows.iter().map(|(_, s)| m.predict(&s.raw)).collect::<Vec<_>>(),
            &test_rows.iter().map(|(_, s)| s.y).collect::<Vec<_>>(),
        );
        assert!(err < 0.05, "held-out MAPE {err}: {m:?}");
        assert_eq!(m.validation.per_technique.len(), 3, "{:?}", m.validation.per_technique);
        // The JSON round trip predicts the same.
        let back: Regressor = serde_json::from_str(&serde_json::to_string(&m).expect("json")).expect("parse");
        assert!((back.predict_cores(5.0, None) - m.predict_cores(5.0, None)).abs() < 1e-12);
    }

    #[test]
    fn a_step_is_learnt_by_a_tree() {
        let data = samples(|c, _| if c < 5.0 { 3.0 } else { 1.0 }, 0.0);
        let m = train(&data, &[CORES], "avg_response_time", &TrainOptions::default()).expect("train");
        assert!(m.validation.mape < 0.01, "{m:?}");
        assert!(matches!(m.technique, Technique::DecisionTree { .. } | Technique::RandomForest { .. }), "{m:?}");
        assert!((m.predict_cores(2.0, None) - 3.0).abs() < 1e-9 && (m.predict_cores(9.0, None) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn the_throughput_can_be_an_input() {
        // Queue-like: grows with the load per core.
        let data = samples(|c, x| 0.5 / (1.0 - 0.4 * x / c), 0.02);
        let m = train(&data, &[CORES, THROUGHPUT], "avg_response_time", &TrainOptions::default()).expect("train");
        assert!(m.validation.mape < 0.06, "{m:?}");
        assert!(m.predict_cores(1.0, Some(2.0)) > m.predict_cores(8.0, Some(0.5)));
        assert!(m.predict_cores(2.0, None).is_nan() || !m.inputs.contains(&THROUGHPUT.to_string()));
    }

    #[test]
    fn bad_data_is_named() {
        assert_eq!(train(&[], &[CORES], "t", &TrainOptions::default()), Err(TrainError::TooFew(0)));
        let mut d = samples(|c, _| 1.0 / c, 0.0);
        d[2].y = -1.0;
        let e = train(&d, &[CORES], "avg_response_time", &TrainOptions::default()).expect_err("bad");
        assert!(e.to_string().contains("row 3") && e.to_string().contains("avg_response_time"), "{e}");
        let mut m = train(&samples(|c, _| 1.0 / c, 0.0), &[CORES], "t", &TrainOptions::default()).expect("train");
        m.features.push("log_memory".into());
        assert!(m.check().is_err());
    }

    #[test]
    fn predictions_stay_within_the_profiled_range() {
        let data = samples(|c, _| 0.2 + 2.4 / c, 0.0);
        let m = train(&data, &[CORES], "avg_response_time", &TrainOptions::default()).expect("train");
        assert_eq!(m.domain.get(CORES), Some(&(1.0, 12.0)));
        // 48 cores were never tried: the answer is the one at 12.
        assert_eq!(m.predict_cores(48.0, None), m.predict_cores(12.0, None));
        assert!(m.predict_cores(0.5, None) == m.predict_cores(1.0, None));
    }

    #[test]
    fn demand_from_runs() {
        // D = 0.5, p = 2, X = 2: U = 0.5, R = 1.0.
        let d = demand_estimate(&[(1.0, 2.0, 2.0), (0.5, 0.0, 1.0)]).expect("d");
        assert!((d - 0.5).abs() < 1e-12, "{d}");
        assert_eq!(demand_estimate(&[]), None);
    }
}
