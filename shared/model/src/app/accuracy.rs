//! `@model_performance`: how accurate each version of the application is, from the confusion
//! matrices its components bring (`src/<component>/classification_performance/`), as upstream's
//! design computes it for degraded-performance deployments. The result is
//! `space4ai-r/deployments_performance.yaml`: every deployment with its metric, the most
//! accurate first; SPACE4AI-D chooses among the most accurate, SPACE4AI-R falls back to less
//! accurate ones under load and never below `metric_thr`.
//!
//! The pipeline is upstream's: a *filter* (the component whose annotation has `filtered_class`
//! and no `metric`) drops the samples of one class, and a *classifier* (the one with `metric`)
//! labels what passes. The filter's rates are shares of all samples: TP (passed, and should
//! be), FP (passed, should not), FN (dropped, should not), TN (dropped, should). With the
//! classifier's matrix C of total S, for each class c of the classifier:
//!
//! - precision = TPf·TP / (TPf·TP + TPf·FP + FPf·(TP+FP)/S);
//! - recall = TPf·TP / (TPf·TP + TPf·FN + FNf·(TP+FN)/S);
//! - for the filtered class, precision TNf/(TNf+FNf) and recall TNf/(TNf+FPf) (upstream's
//!   other formulas when the classifier also predicts the filtered class).
//!
//! The averages are over the filtered class and the classifier's classes. Without a filter,
//! the classifier's own averages. `accuracy` is the share of samples labelled right (upstream's
//! code fails on it). The filter's successor is reached with probability TPf + FPf: the
//! deployment DAG says so.

use serde::{Deserialize, Serialize};

use super::check::Application;
pub use super::confusion::{Confusion, Confusions, FOLDER};
use super::dag::Dependency;
use super::Map;
use crate::diag::{Diagnostic, Diagnostics};

/// `space4ai-r/deployments_performance.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentsPerformance {
    #[serde(rename = "System")]
    pub system: PerformanceSystem,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerformanceSystem {
    pub metric_name: String,
    #[serde(default)]
    pub metric_thr: Option<f64>,
    /// One `{deployment: entry}` per deployment, the most accurate first.
    pub sorted_deployments_performance: Vec<Map<PerformanceEntry>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerformanceEntry {
    pub components: Vec<String>,
    pub dependencies: Vec<Dependency>,
    pub metric_value: f64,
}

impl DeploymentsPerformance {
    /// The accuracy rank of each of `names`: how many distinct better metric values there are
    /// among the deployments at or above `metric_thr` (0: the most accurate);
    /// `None` below the threshold. A deployment the file does not list ranks 0
    /// (`original_deployment`, upstream's name, is `base`).
    pub fn ranks(&self, names: &[&str]) -> Vec<Option<usize>> {
        let thr = self.system.metric_thr.unwrap_or(f64::NEG_INFINITY);
        let value = |name: &str| {
            self.system.sorted_deployments_performance.iter().flatten().find_map(|(n, e)| {
                let n = if n == "original_deployment" { "base" } else { n.as_str() };
                (n == name).then_some(e.metric_value)
            })
        };
        let values: Vec<Option<f64>> = names.iter().map(|n| value(n)).collect();
        let mut kept: Vec<f64> = values.iter().flatten().copied().filter(|v| *v >= thr).collect();
        kept.sort_by(|a, b| b.total_cmp(a));
        kept.dedup();
        values
            .iter()
            .map(|v| match v {
                None => Some(0),
                Some(v) if *v >= thr => Some(kept.iter().filter(|w| *w > v).count()),
                Some(_) => None,
            })
            .collect()
    }
}

/// Who does what in the pipeline, from the annotations.
#[derive(Debug, Clone)]
pub struct Roles {
    pub metric: String,
    pub metric_thr: Option<f64>,
    pub classifier: String,
    /// The class the classifier also predicts for what the filter should have dropped.
    pub classifier_filtered: Option<String>,
    /// The filter and the class it drops.
    pub filter: Option<(String, String)>,
}

/// The roles, when some component has `@model_performance` with a metric.
pub fn roles(app: &Application) -> Result<Option<Roles>, Diagnostics> {
    let mut d = Diagnostics::new();
    let mut classifier: Option<(&str, &super::annotations::ModelPerformance, &str)> = None;
    let mut filter: Option<(String, String)> = None;
    for s in &app.sources {
        let (Some(m), Some(name)) = (&s.annotations.model_performance, s.annotations.name()) else { continue };
        if m.metric.is_some() {
            if let Some((other, _, _)) = classifier {
                d.push(Diagnostic::error(
                    &s.script,
                    "model_performance.metric",
                    format!("`{other}` already has a metric: one component (the classifier) names it"),
                ));
            }
            classifier = Some((name, m, &s.script));
        } else if let Some(f) = &m.filtered_class {
            filter = Some((name.to_string(), f.clone()));
        }
    }
    let Some((name, m, _)) = classifier else {
        if let Some((f, _)) = &filter {
            if let Some(s) = app.source(f) {
                d.push(Diagnostic::warning(
                    &s.script,
                    "model_performance",
                    "a filter (`filtered_class`) without a classifier (a component with `metric`): no accuracy is computed",
                ));
            }
        }
        return if d.has_errors() { Err(d) } else { Ok(None) };
    };
    if d.has_errors() {
        return Err(d);
    }
    Ok(Some(Roles {
        metric: m.metric.clone().unwrap_or_default(),
        metric_thr: m.metric_thr.as_ref().and_then(serde_yaml::Number::as_f64),
        classifier: name.to_string(),
        classifier_filtered: m.filtered_class.clone(),
        filter,
    }))
}

/// The filter's rates (shares of all samples).
#[derive(Debug, Clone, Copy)]
pub struct FilterRates {
    pub tp: f64,
    pub fp: f64,
    pub fn_: f64,
    pub tn: f64,
}

impl FilterRates {
    /// From a two-class matrix where `filtered` is the class dropped; normalised to shares.
    pub fn of(c: &Confusion, filtered: &str) -> Result<FilterRates, String> {
        if c.classes.len() != 2 {
            return Err(format!("{}: a filter has two classes, this matrix has {}", c.file, c.classes.len()));
        }
        let f = c.index(filtered)?;
        let p = 1 - f;
        let t = c.total();
        if t <= 0.0 {
            return Err(format!("{}: the matrix is all zeros", c.file));
        }
        let m = &c.matrix;
        Ok(FilterRates { tn: m[f][f] / t, fn_: m[p][f] / t, tp: m[p][p] / t, fp: m[f][p] / t })
    }

    /// The share of samples the filter passes on: the probability of its DAG edge.
    pub fn pass(&self) -> f64 {
        self.tp + self.fp
    }
}

/// The metric of a pipeline: the filter's rates (None: no filter) and the classifier's matrix.
pub fn metric(roles: &Roles, filter: Option<(FilterRates, &str)>, cls: &Confusion) -> Result<f64, String> {
    let s = cls.total();
    if s <= 0.0 {
        return Err(format!("{}: the matrix is all zeros", cls.file));
    }
    let m = &cls.matrix;
    let n = cls.classes.len();
    let (r, filtered) = match filter {
        Some((r, f)) => (r, Some(f)),
        None => (FilterRates { tp: 1.0, fp: 0.0, fn_: 0.0, tn: 0.0 }, None),
    };
    let tp = |i: usize| m[i][i] / s;
    let fp = |i: usize| (0..n).filter(|&k| k != i).map(|k| m[k][i]).sum::<f64>() / s;
    let fn_ = |i: usize| (0..n).filter(|&k| k != i).map(|k| m[i][k]).sum::<f64>() / s;
    // The classifier's index of the class it predicts for filtered samples, if it has one.
    let cf = match &roles.classifier_filtered {
        Some(c) => Some(cls.index(c)?),
        None => None,
    };
    let fi = match (filtered, cf) {
        (Some(f), Some(_)) => Some(cls.index(f)?),
        _ => None,
    };
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    // (precision, recall, share labelled right) of each class.
    let mut per: Vec<(f64, f64, f64)> = Vec::new();
    if filtered.is_some() && fi.is_none() {
        per.push((ratio(r.tn, r.tn + r.fn_), ratio(r.tn, r.tn + r.fp), r.tn));
    }
    #[allow(clippy::needless_range_loop)] // i indexes rows and columns alike
    for i in 0..n {
        let (t, p, q) = (tp(i), fp(i), fn_(i));
        per.push(match (fi, cf) {
            (Some(f), _) if i == f => (
                ratio(r.tn + r.fp * t, r.tn + r.fp * t + r.fn_ + r.tp * p),
                ratio(r.tn + r.fp * t, r.tn + r.fp * t + r.fp * q),
                r.tn + r.fp * t,
            ),
            (Some(_), Some(c)) => {
                let from_filtered = m[c][i] / s;
                (
                    ratio(r.tp * t, r.tp * t + r.tp * (p - from_filtered) + r.fp * from_filtered),
                    ratio(r.tp * t, r.tp * t + r.tp * q + r.fn_ * (t + q)),
                    r.tp * t,
                )
            }
            _ => (
                ratio(r.tp * t, r.tp * t + r.tp * p + r.fp * (t + p)),
                ratio(r.tp * t, r.tp * t + r.tp * q + r.fn_ * (t + q)),
                r.tp * t,
            ),
        });
    }
    let k = per.len() as f64;
    Ok(match roles.metric.as_str() {
        "average_precision" => per.iter().map(|x| x.0).sum::<f64>() / k,
        "average_recall" => per.iter().map(|x| x.1).sum::<f64>() / k,
        "accuracy" => per.iter().map(|x| x.2).sum::<f64>(),
        _ => per.iter().map(|x| ratio(2.0 * x.0 * x.1, x.0 + x.1)).sum::<f64>() / k,
    })
}

/// Rounded as upstream writes it (four decimals).
pub fn round4(v: f64) -> f64 {
    (v * 1e4).round() / 1e4
}

/// The versions whose matrices the metric needs: the classifier's and the filter's, with
/// their alternatives.
pub fn needed(app: &Application, roles: &Roles) -> Vec<String> {
    let mut out = Vec::new();
    for c in std::iter::once(&roles.classifier).chain(roles.filter.as_ref().map(|f| &f.0)) {
        out.push(c.clone());
        out.extend(app.dag.value.alternatives(c).iter().cloned());
    }
    out
}

/// What the metric of one version of the pipeline takes.
#[derive(Debug)]
pub struct Pipeline<'a> {
    pub roles: &'a Roles,
    pub confusions: &'a Confusions,
}

impl Pipeline<'_> {
    fn confusion(&self, version: &str) -> Result<&Confusion, String> {
        self.confusions.get(version).ok_or_else(|| {
            format!("`{version}` has no src/{version}/{FOLDER}/confusion_matrix.npy and class_names_dictionary.csv: @model_performance needs them for every version")
        })
    }

    /// The filter's rates of the filter version `version`.
    pub fn filter_rates(&self, version: &str) -> Result<FilterRates, String> {
        let (_, class) = self.roles.filter.as_ref().ok_or("no filter")?;
        FilterRates::of(self.confusion(version)?, class)
    }

    /// The metric of the versions `versions` (component -> the version it runs).
    pub fn metric(&self, versions: &Map<String>) -> Result<f64, String> {
        fn at<'v>(versions: &'v Map<String>, c: &'v str) -> &'v str {
            versions.get(c).map_or(c, String::as_str)
        }
        let cls = self.confusion(at(versions, &self.roles.classifier))?;
        let filter = match &self.roles.filter {
            Some((f, class)) => Some((self.filter_rates(at(versions, f))?, class.as_str())),
            None => None,
        };
        metric(self.roles, filter, cls)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::npy::Matrix;

    fn confusion(classes: &[&str], matrix: Matrix) -> Confusion {
        let csv: String = std::iter::once(",class,index".to_string())
            .chain(classes.iter().enumerate().map(|(i, c)| format!("{i},{c},{i}")))
            .collect::<Vec<_>>()
            .join("\n");
        Confusion::new("cm.npy".into(), &csv, "names.csv", matrix).expect("valid")
    }

    fn roles(metric: &str, filter: bool) -> Roles {
        Roles {
            metric: metric.into(),
            metric_thr: Some(0.65),
            classifier: "classifier".into(),
            classifier_filtered: None,
            filter: filter.then(|| ("filter".into(), "object".into())),
        }
    }

    /// The filter_classifier fixture's matrices: the values upstream's formulas give
    /// (tests/fixtures/make_confusion_matrices.py).
    #[test]
    fn upstream_formulas_on_the_fixture() {
        let filter = confusion(&["object", "animal"], vec![vec![0.32, 0.0636], vec![0.0464, 0.57]]);
        let cls = confusion(
            &["bird", "cat", "dog"],
            vec![vec![0.30, 0.02, 0.01], vec![0.02, 0.29, 0.02], vec![0.01, 0.03, 0.30]],
        );
        let rates = FilterRates::of(&filter, "object").expect("rates");
        assert_eq!(round4(rates.pass()), 0.6336);
        let f1 = metric(&roles("average_f1", true), Some((rates, "object")), &cls).expect("f1");
        assert_eq!(round4(f1), 0.8222);
        // Counts instead of shares give the same metric.
        let counts = confusion(
            &["bird", "cat", "dog"],
            vec![vec![300.0, 20.0, 10.0], vec![20.0, 290.0, 20.0], vec![10.0, 30.0, 300.0]],
        );
        let f1c = metric(&roles("average_f1", true), Some((rates, "object")), &counts).expect("f1");
        assert!((f1 - f1c).abs() < 1e-12);
        // Accuracy: the share of samples labelled right.
        let acc = metric(&roles("accuracy", true), Some((rates, "object")), &cls).expect("acc");
        assert!((acc - (0.32 + 0.57 * 0.89)).abs() < 1e-12, "{acc}");
        // Without a filter: the classifier's own precision and recall.
        let p = metric(&roles("average_precision", false), None, &cls).expect("p");
        let want = (0.30 / 0.33 + 0.29 / 0.34 + 0.30 / 0.33) / 3.0;
        assert!((p - want).abs() < 1e-12, "{p} {want}");
    }

    #[test]
    fn bad_matrices_and_names_are_refused_by_file() {
        let csv = ",class,index\n0,a,0\n1,b,1\n";
        let square = |m: Matrix| Confusion::new("cm.npy".into(), csv, "names.csv", m);
        assert!(square(vec![vec![1.0, 2.0]]).unwrap_err().message.contains("square"));
        assert!(square(vec![vec![1.0, -2.0], vec![0.0, 1.0]]).unwrap_err().message.contains("≥ 0"));
        let e = Confusion::new("cm.npy".into(), ",class,index\n0,a,0\n1,b,5\n", "names.csv", vec![vec![1.0; 2]; 2])
            .unwrap_err();
        assert_eq!((e.file.as_str(), e.key.as_str()), ("names.csv", "line 3"));
        let e = Confusion::new("cm.npy".into(), "name,idx\n", "names.csv", vec![vec![1.0; 2]; 2]).unwrap_err();
        assert!(e.message.contains("`class` and `index`"));
        let three = confusion(&["a", "b", "c"], vec![vec![1.0; 3]; 3]);
        assert!(FilterRates::of(&three, "a").unwrap_err().contains("two classes"));
        let two = confusion(&["a", "b"], vec![vec![1.0; 2]; 2]);
        assert!(FilterRates::of(&two, "z").unwrap_err().contains("class `z` is not among its classes (a, b)"));
    }

    #[test]
    fn ranks_leave_out_what_is_below_the_threshold() {
        let entry = |v: f64| PerformanceEntry { components: vec![], dependencies: vec![], metric_value: v };
        let list = [("original_deployment", 0.9), ("deployment2", 0.8), ("deployment1", 0.8), ("deployment3", 0.4)];
        let p = DeploymentsPerformance {
            system: PerformanceSystem {
                metric_name: "average_f1".into(),
                metric_thr: Some(0.5),
                sorted_deployments_performance: list
                    .iter()
                    .map(|(n, v)| std::iter::once((n.to_string(), entry(*v))).collect())
                    .collect(),
            },
        };
        let r = p.ranks(&["base", "deployment1", "deployment2", "deployment3", "deployment9"]);
        assert_eq!(r, vec![Some(0), Some(1), Some(1), None, Some(0)]);
    }
}
