//! What applications report to the agent: execution records of `exec_time`, custom metrics,
//! drift watches; as JSON (the annotations package) or InfluxDB lines (applications that
//! send to Telegraf). Execution records keep the AMS names (measurement `execution_time`,
//! tags `component_name`, `session_id`, `kubernetes_cluster_id`, `resource_id`, fields in
//! seconds) so that the stored points read like the AMS's.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::line::{FieldValue, Line};

pub const EXECUTION: &str = "execution_time";

/// A measurement ready to store: the agent turns it into a `Point`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub measurement: String,
    pub tags: BTreeMap<String, String>,
    pub fields: BTreeMap<String, f64>,
    /// Nanoseconds since the Unix epoch.
    pub time_ns: i64,
}

/// One execution of a component (Unix seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    pub component: String,
    pub session: String,
    pub cluster: String,
    pub resource: String,
    pub job_start: f64,
    pub function_start: f64,
    pub job_end: f64,
    pub failed: bool,
}

impl Execution {
    pub fn function_duration(&self) -> f64 {
        self.job_end - self.function_start
    }

    pub fn job_duration(&self) -> f64 {
        self.job_end - self.job_start
    }

    pub fn job_overhead(&self) -> f64 {
        self.function_start - self.job_start
    }

    /// The AMS point, with the derived durations.
    pub fn to_sample(&self) -> Sample {
        let tags = BTreeMap::from([
            ("component_name".to_string(), self.component.clone()),
            ("session_id".to_string(), self.session.clone()),
            ("kubernetes_cluster_id".to_string(), self.cluster.clone()),
            ("resource_id".to_string(), self.resource.clone()),
        ]);
        let mut fields = BTreeMap::from([
            ("job_start_time".to_string(), self.job_start),
            ("function_start_time".to_string(), self.function_start),
            ("job_end_time".to_string(), self.job_end),
            ("function_duration".to_string(), self.function_duration()),
            ("job_duration".to_string(), self.job_duration()),
            ("job_overhead".to_string(), self.job_overhead()),
        ]);
        if self.failed {
            fields.insert("failed".into(), 1.0);
        }
        Sample { measurement: EXECUTION.into(), tags, fields, time_ns: secs_to_ns(self.job_end) }
    }

    /// Reads a stored `execution_time` point back.
    pub fn from_point(tags: &BTreeMap<String, String>, fields: &BTreeMap<String, f64>) -> Result<Execution, String> {
        let tag = |k: &str| tags.get(k).cloned().unwrap_or_default();
        let field = |k: &str| fields.get(k).copied().ok_or_else(|| format!("field `{k}` is missing"));
        let function_start = field("function_start_time")?;
        let job_end = match field("job_end_time") {
            Ok(v) => v,
            Err(e) => fields.get("function_duration").map(|d| function_start + d).ok_or(e)?,
        };
        let e = Execution {
            component: tag("component_name"),
            session: tag("session_id"),
            cluster: tag("kubernetes_cluster_id"),
            resource: tag("resource_id"),
            job_start: field("job_start_time").unwrap_or(function_start),
            function_start,
            job_end,
            failed: fields.get("failed").is_some_and(|v| *v != 0.0),
        };
        e.check()?;
        Ok(e)
    }

    /// The record's own consistency.
    pub fn check(&self) -> Result<(), String> {
        if self.component.is_empty() {
            return Err("`component_name` is missing or empty".into());
        }
        if self.session.is_empty() {
            return Err("`session_id` is missing or empty".into());
        }
        for (k, v) in [
            ("job_start_time", self.job_start),
            ("function_start_time", self.function_start),
            ("job_end_time", self.job_end),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(format!("`{k}`: {v} is not a time in Unix seconds"));
            }
        }
        if self.job_end < self.function_start {
            return Err(format!(
                "`job_end_time` ({}) is before `function_start_time` ({})",
                self.job_end, self.function_start
            ));
        }
        if self.function_start < self.job_start {
            return Err(format!(
                "`function_start_time` ({}) is before `job_start_time` ({})",
                self.function_start, self.job_start
            ));
        }
        Ok(())
    }
}

pub fn secs_to_ns(s: f64) -> i64 {
    (s * 1e9).round() as i64
}

/// A watch for drift on one field of a custom metric (`detect_metric_drift`).
#[derive(Debug, Clone, PartialEq)]
pub struct DriftWatch {
    pub component: String,
    pub metric: String,
    pub field: String,
    /// The two-sample test, threshold and window; None: Page-Hinkley.
    pub test: Option<aisprint_model::drift::TestSpec>,
    /// Seconds between tests (`detection_interval`).
    pub interval_s: Option<f64>,
    /// Seconds of data to collect after a drift (`data_collection_period`), said in the alert.
    pub collect_s: Option<f64>,
}

impl DriftWatch {
    /// A Page-Hinkley watch of `metric.field`.
    pub fn simple(component: &str, metric: &str, field: &str) -> DriftWatch {
        DriftWatch {
            component: component.into(),
            metric: metric.into(),
            field: field.into(),
            test: None,
            interval_s: None,
            collect_s: None,
        }
    }
}

/// What one report carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Execution(Execution),
    Metric(Sample),
    /// One watch per field the annotation names.
    Drift(Vec<DriftWatch>),
}

/// A record that was refused: its place (`records[3]`, `line 2`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub at: String,
    pub message: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

#[derive(Deserialize)]
struct Body {
    records: Vec<serde_json::Value>,
}

/// Fills in what the reporter did not know: the node's resource and cluster.
#[derive(Debug, Clone, Default)]
pub struct Defaults {
    pub resource: String,
    pub cluster: String,
}

/// Checks one record against the [limits](super::limits) and the reserved names.
pub fn check_limits(r: &Record) -> Result<(), String> {
    use super::limits::{key, reserved, short, value, MAX_FIELDS, MAX_TAGS};
    match r {
        Record::Execution(e) => {
            value("`component_name`", &e.component)?;
            value("`session_id`", &e.session)?;
            value("`kubernetes_cluster_id`", &e.cluster)?;
            value("`resource_id`", &e.resource)
        }
        Record::Metric(s) => {
            key("the measurement name", &s.measurement)?;
            reserved(&s.measurement)?;
            if s.tags.len() > MAX_TAGS {
                return Err(format!("{} tags; the limit is {MAX_TAGS}", s.tags.len()));
            }
            if s.fields.len() > MAX_FIELDS {
                return Err(format!("{} fields; the limit is {MAX_FIELDS}", s.fields.len()));
            }
            for (k, v) in &s.tags {
                key(&format!("tag key `{}`", short(k)), k)?;
                value(&format!("the value of tag `{}`", short(k)), v)?;
            }
            for k in s.fields.keys() {
                key(&format!("field key `{}`", short(k)), k)?;
            }
            Ok(())
        }
        Record::Drift(ws) => {
            for w in ws {
                value("`component_name`", &w.component)?;
                key("`metric`", &w.metric)?;
                key("`field`", &w.field)?;
            }
            Ok(())
        }
    }
}

/// Parses a JSON body `{"records": [...]}`; each record is checked on its own, against the
/// [limits](super::limits) too.
pub fn from_json(text: &[u8], d: &Defaults) -> Result<(Vec<Record>, Vec<Refused>), Refused> {
    let body: Body = serde_json::from_slice(text)
        .map_err(|e| Refused { at: "body".into(), message: format!("expected {{\"records\": [...]}} in JSON: {e}") })?;
    let mut ok = Vec::with_capacity(body.records.len());
    let mut refused = Vec::new();
    for (i, r) in body.records.iter().enumerate() {
        if let Some(message) = super::limits::too_many(i) {
            refused.push(Refused { at: format!("records[{i}..]"), message });
            break;
        }
        match one_json(r, d).and_then(|r| check_limits(&r).map(|()| r)) {
            Ok(r) => ok.push(r),
            Err(message) => refused.push(Refused { at: format!("records[{i}]"), message }),
        }
    }
    Ok((ok, refused))
}

fn text_of(v: &serde_json::Value, key: &str) -> Result<Option<String>, String> {
    match v.get(key) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!("`{key}`: expected a string, found {other}")),
    }
}

fn number_of(v: &serde_json::Value, key: &str) -> Result<Option<f64>, String> {
    match v.get(key) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Number(n)) => Ok(n.as_f64()),
        Some(other) => Err(format!("`{key}`: expected a number of seconds, found {other}")),
    }
}

fn one_json(v: &serde_json::Value, d: &Defaults) -> Result<Record, String> {
    if !v.is_object() {
        return Err(format!("expected an object, found {v}"));
    }
    let kind = text_of(v, "type")?.ok_or("`type` is missing (execution, metric or drift)")?;
    match kind.as_str() {
        "execution" => {
            let need = |k: &str| number_of(v, k)?.ok_or_else(|| format!("`{k}` is missing"));
            let function_start = need("function_start_time")?;
            let e = Execution {
                component: text_of(v, "component_name")?.unwrap_or_default(),
                session: text_of(v, "session_id")?.unwrap_or_default(),
                cluster: text_of(v, "kubernetes_cluster_id")?
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| d.cluster.clone()),
                resource: text_of(v, "resource_id")?.filter(|s| !s.is_empty()).unwrap_or_else(|| d.resource.clone()),
                job_start: number_of(v, "job_start_time")?.unwrap_or(function_start),
                function_start,
                job_end: need("job_end_time")?,
                failed: v.get("failed").and_then(|f| f.as_bool()).unwrap_or(false),
            };
            e.check()?;
            Ok(Record::Execution(e))
        }
        "metric" => {
            let name = text_of(v, "name")?.filter(|s| !s.is_empty()).ok_or("`name` is missing")?;
            let mut fields = BTreeMap::new();
            match v.get("fields") {
                Some(serde_json::Value::Object(m)) if !m.is_empty() => {
                    for (k, x) in m {
                        let n = match x {
                            serde_json::Value::Number(n) => n.as_f64().filter(|f| f.is_finite()),
                            serde_json::Value::Bool(b) => Some(f64::from(u8::from(*b))),
                            _ => None,
                        };
                        let n = n.ok_or_else(|| format!("`fields.{k}`: expected a number or a boolean, found {x}"))?;
                        fields.insert(k.clone(), n);
                    }
                }
                Some(serde_json::Value::Number(n)) => {
                    fields.insert("value".into(), n.as_f64().unwrap_or(f64::NAN));
                }
                _ => return Err("`fields`: expected an object of numbers, e.g. {\"masks_count\": 3}".into()),
            }
            let mut tags = BTreeMap::new();
            if let Some(t) = v.get("tags") {
                let m = t.as_object().ok_or("`tags`: expected an object of strings")?;
                for (k, x) in m {
                    let s = match x {
                        serde_json::Value::String(s) => s.clone(),
                        serde_json::Value::Number(n) => n.to_string(),
                        serde_json::Value::Bool(b) => b.to_string(),
                        _ => return Err(format!("`tags.{k}`: expected a string")),
                    };
                    tags.insert(k.clone(), s);
                }
            }
            if let Some(c) = text_of(v, "component_name")? {
                tags.insert("component_name".into(), c);
            }
            let time = number_of(v, "time")?.ok_or("`time` is missing (Unix seconds)")?;
            if !(time.is_finite() && time > 0.0) {
                return Err(format!("`time`: {time} is not a time in Unix seconds"));
            }
            Ok(Record::Metric(Sample { measurement: name, tags, fields, time_ns: secs_to_ns(time) }))
        }
        "drift" => {
            let component = text_of(v, "component_name")?.unwrap_or_default();
            let spec = aisprint_model::drift::parse(v)?;
            Ok(Record::Drift(
                spec.fields
                    .into_iter()
                    .map(|f| DriftWatch {
                        component: component.clone(),
                        metric: f.metric,
                        field: f.field,
                        test: f.test,
                        interval_s: spec.interval_s,
                        collect_s: spec.collect_s,
                    })
                    .collect(),
            ))
        }
        other => Err(format!("`type`: `{other}`; expected execution, metric or drift")),
    }
}

/// An InfluxDB line as a record: `execution_time` lines as execution records (AMS tags and
/// fields; a line without timestamp is stamped `now_ns`, as Telegraf does), anything else as
/// a custom metric (string fields are dropped: only numbers are stored).
pub fn from_line(l: Line, now_ns: i64, d: &Defaults) -> Result<Record, String> {
    let tags: BTreeMap<String, String> = l.tags.into_iter().collect();
    let fields: BTreeMap<String, f64> = l
        .fields
        .into_iter()
        .filter_map(|(k, v)| match v {
            FieldValue::Number(n) => Some((k, n)),
            FieldValue::Text(_) => None,
        })
        .collect();
    if l.measurement == EXECUTION {
        let mut e = Execution::from_point(&tags, &fields)?;
        if e.cluster.is_empty() {
            e.cluster = d.cluster.clone();
        }
        if e.resource.is_empty() {
            e.resource = d.resource.clone();
        }
        let r = Record::Execution(e);
        check_limits(&r)?;
        return Ok(r);
    }
    if fields.is_empty() {
        return Err(format!("`{}`: no numeric field", l.measurement));
    }
    let r = Record::Metric(Sample { measurement: l.measurement, tags, fields, time_ns: l.time_ns.unwrap_or(now_ns) });
    check_limits(&r)?;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Defaults {
        Defaults { resource: "RaspPi".into(), cluster: "edge".into() }
    }

    #[test]
    fn json_records_each_checked() {
        let body = br#"{"records": [
            {"type": "execution", "component_name": "c1", "session_id": "s1", "job_start_time": 10.0, "function_start_time": 10.5, "job_end_time": 12.0},
            {"type": "execution", "component_name": "c1", "session_id": "s1", "function_start_time": 13.0, "job_end_time": 12.0},
            {"type": "metric", "name": "masks", "fields": {"masks_count": 3, "no_masks_count": 1}, "time": 12.0, "component_name": "c2"},
            {"type": "metric", "name": "masks", "fields": {"masks_count": "three"}, "time": 12.0},
            {"type": "tick"},
            {"type": "drift", "component_name": "c2", "metric": "masks", "field": "masks_count"}
        ]}"#;
        let (ok, bad) = from_json(body, &defaults()).expect("a body");
        assert_eq!(ok.len(), 3);
        let Record::Execution(e) = &ok[0] else { panic!("{:?}", ok[0]) };
        assert_eq!((e.resource.as_str(), e.cluster.as_str()), ("RaspPi", "edge"));
        assert_eq!((e.job_duration(), e.function_duration(), e.job_overhead()), (2.0, 1.5, 0.5));
        let s = e.to_sample();
        assert_eq!(s.fields["job_duration"], 2.0);
        assert_eq!(Execution::from_point(&s.tags, &s.fields).as_ref(), Ok(e));
        assert_eq!(bad.len(), 3);
        assert_eq!(bad[0].at, "records[1]");
        assert!(bad[0].message.contains("before `function_start_time`"), "{}", bad[0]);
        assert!(bad[1].message.contains("fields.masks_count"), "{}", bad[1]);
        assert!(bad[2].message.contains("`tick`"), "{}", bad[2]);
        assert!(from_json(b"not json", &defaults()).is_err());
    }

    /// The annotation's lists: a watch per (metric, field), each with its test.
    #[test]
    fn drift_records_with_lists_of_metrics() {
        let body = br#"{"records": [
            {"type": "drift", "component_name": "c", "metric": ["masks", "light"], "field": [["masks_count", "no_masks_count"], "lux"],
             "statistical_test": "kolmogorov-smirnov", "test_threshold": [0.01, 0.05], "monitoring_period": 40, "detection_interval": 1, "data_collection_period": 2},
            {"type": "drift", "component_name": "c", "metric": "m", "statistical_test": "wilcoxon"}
        ]}"#;
        let (ok, bad) = from_json(body, &defaults()).expect("a body");
        let [Record::Drift(ws)] = ok.as_slice() else { panic!("{ok:?}") };
        let got: Vec<(&str, &str, f64, usize)> = ws
            .iter()
            .map(|w| {
                let t = w.test.as_ref().expect("test");
                (w.metric.as_str(), w.field.as_str(), t.threshold, t.window)
            })
            .collect();
        assert_eq!(
            got,
            vec![("masks", "masks_count", 0.01, 40), ("masks", "no_masks_count", 0.01, 40), ("light", "lux", 0.05, 40)]
        );
        assert_eq!((ws[0].interval_s, ws[0].collect_s), (Some(3600.0), Some(7200.0)));
        assert_eq!(bad.len(), 1);
        assert!(bad[0].message.contains("\"wilcoxon\" is not one of kolmogorov-smirnov"), "{}", bad[0]);
    }

    #[test]
    fn ams_lines() {
        let (lines, e) = super::super::line::parse(
            "execution_time,component_name=mask-detector,kubernetes_cluster_id=k,resource_id=r,session_id=u1 function_duration=1.5,function_start_time=100.5,job_duration=2,job_end_time=102,job_overhead=0.5,job_start_time=100\nmasks masks_count=2i,label=\"x\"\n",
        );
        assert!(e.is_empty());
        let mut it = lines.into_iter();
        let Ok(Record::Execution(x)) = from_line(it.next().expect("line"), 5, &defaults()) else { panic!() };
        assert_eq!((x.component.as_str(), x.session.as_str(), x.cluster.as_str()), ("mask-detector", "u1", "k"));
        assert_eq!(x.job_duration(), 2.0);
        let Ok(Record::Metric(m)) = from_line(it.next().expect("line"), 5, &defaults()) else { panic!() };
        assert_eq!((m.fields.len(), m.time_ns), (1, 5));
    }
}

#[cfg(test)]
mod limit_tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::limits::{too_many, MAX_FIELDS, MAX_RECORDS, MAX_TAGS, MAX_VALUE_BYTES, RESERVED};

    fn metric(name: &str, tags: usize, fields: usize, value_len: usize) -> Record {
        Record::Metric(Sample {
            measurement: name.into(),
            tags: (0..tags).map(|i| (format!("t{i}"), "v".repeat(value_len))).collect(),
            fields: (0..fields).map(|i| (format!("f{i}"), 1.0)).collect::<BTreeMap<_, _>>(),
            time_ns: 1,
        })
    }

    #[test]
    fn each_limit_named() {
        assert_eq!(check_limits(&metric("m", MAX_TAGS, MAX_FIELDS, MAX_VALUE_BYTES)), Ok(()));
        let e = check_limits(&metric("m", MAX_TAGS + 1, 1, 1)).unwrap_err();
        assert_eq!(e, "33 tags; the limit is 32");
        let e = check_limits(&metric("m", 1, MAX_FIELDS + 1, 1)).unwrap_err();
        assert_eq!(e, "257 fields; the limit is 256");
        let e = check_limits(&metric("m", 1, 1, MAX_VALUE_BYTES + 1)).unwrap_err();
        assert_eq!(e, "the value of tag `t0` is 1025 bytes long; the limit is 1024");
        let e = check_limits(&metric(&"m".repeat(129), 1, 1, 1)).unwrap_err();
        assert!(e.starts_with("the measurement name is 129 bytes"), "{e}");
        for r in RESERVED {
            let e = check_limits(&metric(r, 1, 1, 1)).unwrap_err();
            assert!(e.contains("is reserved"), "{e}");
        }
        assert_eq!(too_many(MAX_RECORDS - 1), None);
        assert!(too_many(MAX_RECORDS).is_some());
    }
}
