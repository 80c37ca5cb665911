//! The AMS configuration files: `monitoring_setup.yaml` (host metrics, the evaluation period
//! and window, the default notification endpoint, infrastructure alerts) and
//! `custom_setup.yaml` (the application's custom metrics and their alerts).

use serde::{Deserialize, Serialize};

use aisprint_model::diag::Diagnostics;
use aisprint_model::yaml::{self, YamlDoc};

/// A duration as the AMS files write it: `20s`, `2m`, `1h`, `500ms`, `1d`, or a number of
/// seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Duration {
    Seconds(f64),
    Text(String),
}

impl Duration {
    /// Seconds, or what was expected.
    pub fn seconds(&self) -> Result<f64, String> {
        let s = match self {
            Duration::Seconds(s) => *s,
            Duration::Text(t) => parse_duration(t)?,
        };
        if s.is_finite() && s > 0.0 {
            Ok(s)
        } else {
            Err(format!("{s}: expected a positive duration"))
        }
    }
}

/// `20s`, `2m`, `1h30m`, `500ms`, `1d`, `15` (seconds).
pub fn parse_duration(t: &str) -> Result<f64, String> {
    let expected = || format!("`{t}`: expected a duration such as 20s, 2m, 1h or 500ms");
    let t = t.trim();
    if let Ok(v) = t.parse::<f64>() {
        return Ok(v);
    }
    let mut total = 0.0;
    let mut rest = t;
    if rest.is_empty() {
        return Err(expected());
    }
    while !rest.is_empty() {
        let n = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(expected)?;
        if n == 0 {
            return Err(expected());
        }
        let v: f64 = rest[..n].parse().map_err(|_| expected())?;
        rest = &rest[n..];
        let u = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let scale = match &rest[..u] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86_400.0,
            "w" => 604_800.0,
            _ => return Err(expected()),
        };
        total += v * scale;
        rest = &rest[u..];
    }
    Ok(total)
}

/// `monitoring_setup.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitoringSetup {
    pub monitoring: MonitoringSection,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitoringSection {
    /// Host metric families (`cpu: {}`, `disk: {ignore_fs: ...}`); options are kept as given.
    #[serde(default)]
    pub metrics: indexmap::IndexMap<String, serde_yaml::Value>,
    /// How often constraints are evaluated (and, in the AMS, metrics collected).
    #[serde(default = "default_period")]
    pub time_period: Duration,
    #[serde(default)]
    pub parameters: Parameters,
    #[serde(default)]
    pub alerts: indexmap::IndexMap<String, AlertSpec>,
}

fn default_period() -> Duration {
    Duration::Text("20s".into())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parameters {
    #[serde(default = "default_window")]
    pub performance_metrics_time_window_width: Duration,
    /// Where notifications go when an alert names no endpoint ('' for none).
    #[serde(default)]
    pub default_notification_endpoint: String,
}

impl Default for Parameters {
    fn default() -> Self {
        Parameters {
            performance_metrics_time_window_width: default_window(),
            default_notification_endpoint: String::new(),
        }
    }
}

fn default_window() -> Duration {
    Duration::Text("120s".into())
}

impl Default for MonitoringSetup {
    fn default() -> Self {
        MonitoringSetup {
            monitoring: MonitoringSection {
                metrics: Default::default(),
                time_period: default_period(),
                parameters: Parameters::default(),
                alerts: Default::default(),
            },
        }
    }
}

/// `custom_setup.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomSetup {
    pub monitoring: CustomSection,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomSection {
    #[serde(default)]
    pub name: Option<String>,
    /// metric -> its fields (for the dashboards).
    #[serde(default)]
    pub metrics: indexmap::IndexMap<String, CustomMetric>,
    #[serde(default)]
    pub alerts: indexmap::IndexMap<String, AlertSpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomMetric {
    #[serde(default)]
    pub fields: Vec<String>,
}

/// An alert of either file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertSpec {
    pub condition: Condition,
    #[serde(default = "default_every")]
    pub every: Duration,
    #[serde(default)]
    pub notification_endpoint: Option<Endpoint>,
}

fn default_every() -> Duration {
    Duration::Text("30s".into())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    #[serde(default)]
    pub metric: Option<MetricRef>,
    /// The AMS's raw Flux query: not supported here (refused with an explanation).
    #[serde(default)]
    pub flux_query: Option<String>,
    pub threshold: ThresholdSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricRef {
    pub name: String,
    pub field: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdSpec {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: serde_yaml::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    #[serde(default)]
    pub url: Option<String>,
}

/// A checked threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Threshold {
    Below(f64),
    Above(f64),
    /// Fires inside `[lo, hi]` (the AMS semantics of `range`).
    Range(f64, f64),
}

impl Threshold {
    pub fn fires(&self, v: f64) -> bool {
        match *self {
            Threshold::Below(t) => v < t,
            Threshold::Above(t) => v > t,
            Threshold::Range(lo, hi) => lo <= v && v <= hi,
        }
    }
}

/// Whose alert: the body's first key says it (`alert` for infrastructure, `custom_alert`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertKind {
    Infrastructure,
    Custom,
}

impl AlertKind {
    pub fn key(self) -> &'static str {
        match self {
            AlertKind::Infrastructure => "alert",
            AlertKind::Custom => "custom_alert",
        }
    }
}

/// A checked alert rule.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    pub name: String,
    pub kind: AlertKind,
    pub metric: String,
    pub field: String,
    pub threshold: Threshold,
    pub every_s: f64,
    /// None: the default endpoint.
    pub url: Option<String>,
}

/// The checked content of `monitoring_setup.yaml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Monitoring {
    pub period_s: f64,
    pub window_s: f64,
    pub default_endpoint: Option<String>,
    pub alerts: Vec<AlertRule>,
    pub families: Vec<String>,
}

impl Default for Monitoring {
    fn default() -> Self {
        Monitoring { period_s: 20.0, window_s: 120.0, default_endpoint: None, alerts: Vec::new(), families: Vec::new() }
    }
}

fn check_url<T>(doc: &YamlDoc<T>, key: &str, url: &str, out: &mut Diagnostics) -> Option<String> {
    let u = url.trim();
    if u.is_empty() {
        return None;
    }
    if !aisprint_model::url::is_http_url(u) || u.len() < 10 {
        out.push(doc.error(key, format!("`{u}`: expected an http:// or https:// URL")));
        return None;
    }
    Some(u.to_string())
}

fn check_alerts<T>(
    doc: &YamlDoc<T>,
    prefix: &str,
    kind: AlertKind,
    alerts: &indexmap::IndexMap<String, AlertSpec>,
    out: &mut Diagnostics,
) -> Vec<AlertRule> {
    let mut rules = Vec::new();
    for (name, a) in alerts {
        let key = format!("{prefix}.alerts.{name}");
        let every_s = match a.every.seconds() {
            Ok(s) => s,
            Err(e) => {
                out.push(doc.error(format!("{key}.every"), e));
                continue;
            }
        };
        let Some(m) = &a.condition.metric else {
            let why = if a.condition.flux_query.is_some() {
                "flux_query is an InfluxDB query and there is no InfluxDB here: name the metric instead (`metric: {name: cpu, field: usage_user}`)"
            } else {
                "missing: `metric: {name: ..., field: ...}`"
            };
            out.push(doc.error(format!("{key}.condition.metric"), why));
            continue;
        };
        let tkey = format!("{key}.condition.threshold");
        let num = |v: &serde_yaml::Value| v.as_f64().filter(|x| x.is_finite());
        let threshold = match (a.condition.threshold.kind.as_str(), &a.condition.threshold.value) {
            ("<", v) | (">", v) => match num(v) {
                Some(x) if a.condition.threshold.kind == "<" => Threshold::Below(x),
                Some(x) => Threshold::Above(x),
                None => {
                    out.push(doc.error(format!("{tkey}.value"), "expected a number"));
                    continue;
                }
            },
            ("range", serde_yaml::Value::Sequence(s))
                if s.len() == 2 && num(&s[0]).is_some() && num(&s[1]).is_some() =>
            {
                let (lo, hi) = (num(&s[0]).unwrap_or_default(), num(&s[1]).unwrap_or_default());
                if lo > hi {
                    out.push(
                        doc.error(format!("{tkey}.value"), format!("[{lo}, {hi}]: the lower bound is above the upper")),
                    );
                    continue;
                }
                Threshold::Range(lo, hi)
            }
            ("range", _) => {
                out.push(doc.error(format!("{tkey}.value"), "a range takes two numbers: [low, high]"));
                continue;
            }
            (other, _) => {
                out.push(doc.error(format!("{tkey}.type"), format!("`{other}`: expected `<`, `>` or `range`")));
                continue;
            }
        };
        let url = a
            .notification_endpoint
            .as_ref()
            .and_then(|e| e.url.as_deref())
            .and_then(|u| check_url(doc, &format!("{key}.notification_endpoint.url"), u, out));
        rules.push(AlertRule {
            name: name.clone(),
            kind,
            metric: m.name.clone(),
            field: m.field.clone(),
            threshold,
            every_s,
            url,
        });
    }
    rules
}

/// Parses and checks `monitoring_setup.yaml`.
pub fn monitoring(file: &str, text: &str) -> Result<(Monitoring, Diagnostics), Diagnostics> {
    let (doc, mut diags) = yaml::parse::<MonitoringSetup>(file, text)?;
    let m = &doc.value.monitoring;
    let mut out = Monitoring::default();
    match m.time_period.seconds() {
        Ok(s) => out.period_s = s,
        Err(e) => diags.push(doc.error("monitoring.time_period", e)),
    }
    match m.parameters.performance_metrics_time_window_width.seconds() {
        Ok(s) => out.window_s = s,
        Err(e) => diags.push(doc.error("monitoring.parameters.performance_metrics_time_window_width", e)),
    }
    out.default_endpoint = check_url(
        &doc,
        "monitoring.parameters.default_notification_endpoint",
        &m.parameters.default_notification_endpoint,
        &mut diags,
    );
    out.alerts = check_alerts(&doc, "monitoring", AlertKind::Infrastructure, &m.alerts, &mut diags);
    out.families = m.metrics.keys().cloned().collect();
    if diags.has_errors() {
        return Err(diags.sorted());
    }
    Ok((out, diags))
}

/// The checked content of `custom_setup.yaml`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Custom {
    pub name: Option<String>,
    pub metrics: Vec<(String, Vec<String>)>,
    pub alerts: Vec<AlertRule>,
}

/// Parses and checks `custom_setup.yaml`.
pub fn custom(file: &str, text: &str) -> Result<(Custom, Diagnostics), Diagnostics> {
    let (doc, mut diags) = yaml::parse::<CustomSetup>(file, text)?;
    let m = &doc.value.monitoring;
    let alerts = check_alerts(&doc, "monitoring", AlertKind::Custom, &m.alerts, &mut diags);
    for a in &alerts {
        if let Some((_, fields)) = m.metrics.iter().find(|(n, _)| **n == a.metric) {
            if !fields.fields.is_empty() && !fields.fields.contains(&a.field) {
                diags.push(doc.warning(
                    format!("monitoring.alerts.{}.condition.metric.field", a.name),
                    format!(
                        "`{}` is not among the fields of metric `{}` ({})",
                        a.field,
                        a.metric,
                        fields.fields.join(", ")
                    ),
                ));
            }
        }
    }
    if diags.has_errors() {
        return Err(diags.sorted());
    }
    let metrics = m.metrics.iter().map(|(k, v)| (k.clone(), v.fields.clone())).collect();
    Ok((Custom { name: m.name.clone(), metrics, alerts }, diags))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("20s"), Ok(20.0));
        assert_eq!(parse_duration("2m"), Ok(120.0));
        assert_eq!(parse_duration("1h30m"), Ok(5400.0));
        assert_eq!(parse_duration("500ms"), Ok(0.5));
        assert_eq!(parse_duration("30"), Ok(30.0));
        assert!(parse_duration("20 parsecs").is_err());
        assert!(parse_duration("s").is_err());
        assert!(Duration::Seconds(-1.0).seconds().is_err());
    }

    #[test]
    fn guide_custom_setup() {
        let text = "monitoring:\n  name: ai-sprint-mask-detection-app\n  metrics:\n    masks:\n      fields:\n      - no_masks_count\n      - masks_count\n  alerts:\n    no_mask_detected:\n      condition:\n        metric:\n          name: masks\n          field: no_masks_count\n        threshold:\n          type: '>'\n          value: 1\n      every: 30\n      notification_endpoint:\n        url: http://127.0.0.1:9000/alerts\n";
        let (c, d) = custom("custom_setup.yaml", text).expect("valid");
        assert!(d.is_empty(), "{d}");
        assert_eq!(c.alerts.len(), 1);
        let a = &c.alerts[0];
        assert_eq!((a.metric.as_str(), a.field.as_str(), a.every_s), ("masks", "no_masks_count", 30.0));
        assert_eq!(a.threshold, Threshold::Above(1.0));
        assert!(a.threshold.fires(2.0) && !a.threshold.fires(1.0));
        assert_eq!(a.url.as_deref(), Some("http://127.0.0.1:9000/alerts"));
    }

    #[test]
    fn bad_rules_name_the_key() {
        let text = "monitoring:\n  alerts:\n    a:\n      condition:\n        metric: {name: m, field: f}\n        threshold: {type: '>=', value: 1}\n    b:\n      condition:\n        flux_query: 'from(bucket: \"x\")'\n        threshold: {type: '>', value: 1}\n    c:\n      condition:\n        metric: {name: m, field: f}\n        threshold: {type: range, value: [5, 1]}\n      every: soon\n";
        let e = custom("custom_setup.yaml", text).expect_err("invalid");
        let s = e.to_string();
        assert!(s.contains("monitoring.alerts.a.condition.threshold.type"), "{s}");
        assert!(s.contains("`>=`: expected `<`, `>` or `range`"), "{s}");
        assert!(s.contains("monitoring.alerts.b.condition.metric") && s.contains("flux_query"), "{s}");
        assert!(s.contains("monitoring.alerts.c.every"), "{s}");
    }

    #[test]
    fn monitoring_setup_defaults_and_values() {
        let text = "monitoring:\n  metrics:\n    cpu: {}\n    mem: {}\n  time_period: 10s\n  parameters:\n    performance_metrics_time_window_width: 1m\n    default_notification_endpoint: http://127.0.0.1:5000/ams-alert\n  alerts:\n    cpu_high:\n      condition:\n        metric: {name: cpu, field: usage_user}\n        threshold: {type: range, value: [75, 100]}\n      every: 30s\n";
        let (m, d) = monitoring("monitoring_setup.yaml", text).expect("valid");
        assert!(d.is_empty(), "{d}");
        assert_eq!((m.period_s, m.window_s), (10.0, 60.0));
        assert_eq!(m.default_endpoint.as_deref(), Some("http://127.0.0.1:5000/ams-alert"));
        assert_eq!(m.alerts[0].threshold, Threshold::Range(75.0, 100.0));
        assert_eq!(m.alerts[0].kind, AlertKind::Infrastructure);
        assert_eq!(m.families, vec!["cpu", "mem"]);
        let (m, _) = monitoring("m.yaml", "monitoring:\n  metrics: {cpu: {}}\n").expect("valid");
        assert_eq!((m.period_s, m.window_s, m.default_endpoint), (20.0, 120.0, None));
    }
}
