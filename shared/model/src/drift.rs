//! `@detect_metric_drift`'s arguments, read the same way at design (from the annotation) and by
//! the agent (from the record the annotations package sends): which fields of which metrics
//! to watch, and how.
//!
//! As upstream's drift detector takes them: `metric` is a name or a list; `field` a name (for
//! every metric), a list (the fields of the only metric, or one per metric) or a list of lists
//! (per metric); `statistical_test`, `test_threshold` (the p-value under which the null
//! hypothesis, no drift, is rejected) and `monitoring_period` (the window, in samples) one
//! value for all, or per metric, or per metric and field; `detection_interval` and
//! `data_collection_period` in hours. Without `statistical_test` a field is watched with the
//! Page-Hinkley test.

use serde_json::Value;

/// The tests the annotation may name.
pub const TESTS: &[&str] = &["kolmogorov-smirnov", "cramer-von-mises", "fisher-exact-test", "chi-squared"];
/// Fields one annotation may watch at most.
pub const MAX_FIELDS: usize = 32;
/// The largest window (`monitoring_period`, samples): two windows are kept per series.
pub const MAX_WINDOW: usize = 1_000;
/// The default p-value threshold and window when a test is named without them.
pub const DEFAULT_THRESHOLD: f64 = 0.05;
pub const DEFAULT_WINDOW: usize = 30;

/// A two-sample test on a field: its name, threshold and window.
#[derive(Debug, Clone, PartialEq)]
pub struct TestSpec {
    pub test: String,
    pub threshold: f64,
    pub window: usize,
}

/// One field of one metric, watched.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldWatch {
    pub metric: String,
    pub field: String,
    /// None: the Page-Hinkley test.
    pub test: Option<TestSpec>,
}

/// Everything one annotation asks.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftSpec {
    pub fields: Vec<FieldWatch>,
    /// How often the test runs (seconds; None: each time a window of new samples is in).
    pub interval_s: Option<f64>,
    /// How long data is collected after a drift (seconds), said in the drift alert.
    pub collect_s: Option<f64>,
}

/// `v` as a list of names (`"a"` is `["a"]`).
fn names(v: &Value, key: &str) -> Result<Vec<String>, String> {
    match v {
        Value::String(s) if !s.is_empty() => Ok(vec![s.clone()]),
        Value::Array(a) if !a.is_empty() => a
            .iter()
            .map(|x| x.as_str().filter(|s| !s.is_empty()).map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| format!("`{key}`: expected a name or a list of names")),
        _ => Err(format!("`{key}`: expected a name or a list of names")),
    }
}

/// The value of a per-(metric, field) argument for metric `m` (of `nm`) and its field `f`.
fn at(v: &Value, m: usize, nm: usize, f: usize) -> &Value {
    match v {
        Value::Array(per_metric) if nm > 1 || per_metric.iter().any(Value::is_array) => {
            match per_metric.get(m).unwrap_or(&Value::Null) {
                Value::Array(per_field) => per_field.get(f).unwrap_or(&Value::Null),
                one => one,
            }
        }
        // One metric: a flat list is per field.
        Value::Array(per_field) => per_field.get(f).unwrap_or(&Value::Null),
        one => one,
    }
}

fn hours(v: Option<&Value>, key: &str) -> Result<Option<f64>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(x) => match x.as_f64() {
            Some(h) if h > 0.0 && h.is_finite() => Ok(Some(h * 3600.0)),
            _ => Err(format!("`{key}`: expected a positive number of hours, found {x}")),
        },
    }
}

/// Reads the arguments (a JSON object); the error names the argument and what was expected.
pub fn parse(v: &Value) -> Result<DriftSpec, String> {
    let get = |k: &str| v.get(k).filter(|x| !x.is_null());
    let metrics = names(get("metric").ok_or("`metric` is missing: the metric (or metrics) to watch")?, "metric")?;
    let nm = metrics.len();
    // Fields per metric.
    let fields: Vec<Vec<String>> = match get("field") {
        None => vec![vec!["value".to_string()]; nm],
        Some(Value::String(s)) => vec![vec![s.clone()]; nm],
        Some(Value::Array(a)) if a.iter().all(Value::is_string) && nm == 1 => {
            vec![names(&Value::Array(a.clone()), "field")?]
        }
        Some(Value::Array(a)) if a.len() == nm => a.iter().map(|x| names(x, "field")).collect::<Result<Vec<_>, _>>()?,
        Some(other) => {
            return Err(format!("`field`: expected a name, or a list with one entry per metric ({nm}), found {other}"))
        }
    };
    let total: usize = fields.iter().map(Vec::len).sum();
    if total > MAX_FIELDS {
        return Err(format!("{total} fields: one annotation watches at most {MAX_FIELDS}"));
    }
    let null = Value::Null;
    let (tests, thresholds, windows) = (
        get("statistical_test").unwrap_or(&null),
        get("test_threshold").unwrap_or(&null),
        get("monitoring_period").unwrap_or(&null),
    );
    let mut out = Vec::new();
    for (m, metric) in metrics.iter().enumerate() {
        for (f, field) in fields[m].iter().enumerate() {
            let place = format!("{metric}.{field}");
            let test = match at(tests, m, nm, f) {
                Value::Null => None,
                Value::String(t) if TESTS.contains(&t.as_str()) => Some(t.clone()),
                other => {
                    return Err(format!("`statistical_test` for {place}: {other} is not one of {}", TESTS.join(", ")))
                }
            };
            let threshold = match at(thresholds, m, nm, f) {
                Value::Null => DEFAULT_THRESHOLD,
                x => x.as_f64().filter(|t| *t > 0.0 && *t < 1.0).ok_or_else(|| {
                    format!("`test_threshold` for {place}: expected a p-value between 0 and 1, found {x}")
                })?,
            };
            let window = match at(windows, m, nm, f) {
                Value::Null => DEFAULT_WINDOW,
                x => x
                    .as_f64()
                    .filter(|w| w.fract() == 0.0 && *w >= 2.0 && *w <= MAX_WINDOW as f64)
                    .map(|w| w as usize)
                    .ok_or_else(|| {
                        format!("`monitoring_period` for {place}: expected a number of samples from 2 to {MAX_WINDOW}, found {x}")
                    })?,
            };
            if test.is_none() && (!at(thresholds, m, nm, f).is_null() || !at(windows, m, nm, f).is_null()) {
                return Err(format!(
                    "`test_threshold` and `monitoring_period` for {place} need a `statistical_test` (without one, the Page-Hinkley test watches the field)"
                ));
            }
            out.push(FieldWatch {
                metric: metric.clone(),
                field: field.clone(),
                test: test.map(|test| TestSpec { test, threshold, window }),
            });
        }
    }
    Ok(DriftSpec {
        fields: out,
        interval_s: hours(get("detection_interval"), "detection_interval")?,
        collect_s: hours(get("data_collection_period"), "data_collection_period")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shapes_as_upstream_takes_them() {
        let s = parse(&json!({"metric": "masks"})).expect("one");
        assert_eq!(s.fields, vec![FieldWatch { metric: "masks".into(), field: "value".into(), test: None }]);
        let s = parse(&json!({
            "metric": ["masks", "light"],
            "field": [["masks_count", "no_masks_count"], ["lux"]],
            "statistical_test": [["kolmogorov-smirnov", "chi-squared"], "cramer-von-mises"],
            "test_threshold": 0.01,
            "monitoring_period": [[50, 20], 100],
            "detection_interval": 0.5,
            "data_collection_period": 24,
        }))
        .expect("lists");
        let got: Vec<(String, String, String, f64, usize)> = s
            .fields
            .iter()
            .map(|f| {
                let t = f.test.clone().expect("test");
                (f.metric.clone(), f.field.clone(), t.test, t.threshold, t.window)
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("masks".into(), "masks_count".into(), "kolmogorov-smirnov".into(), 0.01, 50),
                ("masks".into(), "no_masks_count".into(), "chi-squared".into(), 0.01, 20),
                ("light".into(), "lux".into(), "cramer-von-mises".into(), 0.01, 100),
            ]
        );
        assert_eq!((s.interval_s, s.collect_s), (Some(1800.0), Some(86400.0)));
        // One metric, a flat list of fields.
        let s = parse(&json!({"metric": ["m"], "field": ["a", "b"], "statistical_test": "fisher-exact-test"}))
            .expect("flat");
        assert_eq!(s.fields.len(), 2);
        assert_eq!(
            s.fields[1].test.as_ref().map(|t| (t.threshold, t.window)),
            Some((DEFAULT_THRESHOLD, DEFAULT_WINDOW))
        );
    }

    #[test]
    fn what_cannot_be_honoured_is_refused_by_name() {
        let bad = |v: Value| parse(&v).expect_err("refused");
        assert!(bad(json!({"field": "x"})).contains("`metric` is missing"));
        assert!(bad(json!({"metric": "m", "statistical_test": "t-test"}))
            .contains("`statistical_test` for m.value: \"t-test\" is not one of"));
        assert!(bad(json!({"metric": "m", "statistical_test": "chi-squared", "test_threshold": 5}))
            .contains("between 0 and 1"));
        assert!(bad(json!({"metric": "m", "statistical_test": "chi-squared", "monitoring_period": 5000}))
            .contains("from 2 to 1000"));
        assert!(bad(json!({"metric": "m", "test_threshold": 0.1})).contains("need a `statistical_test`"));
        assert!(bad(json!({"metric": ["a", "b"], "field": ["x", "y", "z"]})).contains("one entry per metric (2)"));
        assert!(bad(json!({"metric": "m", "detection_interval": -1})).contains("positive number of hours"));
    }
}
