//! What one record from outside may hold, checked at ingestion before anything stores or
//! evaluates it (`docs/security.md` has the table). A record over a limit is refused with the
//! limit it broke; the others of its request are kept.

use super::record::Record;

/// Tags per record.
pub const MAX_TAGS: usize = 32;
/// Fields per record.
pub const MAX_FIELDS: usize = 256;
/// Bytes of a name: measurement, tag key, field key.
pub const MAX_KEY_BYTES: usize = 128;
/// Bytes of a value: tag value, component name, session id, cluster, resource.
pub const MAX_VALUE_BYTES: usize = 1024;
/// Records per request (one HTTP body, one datagram, one read of a TCP connection).
pub const MAX_RECORDS: usize = 10_000;

/// Measurement names the mesh writes itself: command answers, job reports, the checks, the
/// throughput and the notifications. A local client must not forge them.
pub const RESERVED: [&str; 5] = ["command_result", "oscar_job", "constraint_check", "throughput", "ams_notification"];

fn key(what: &str, s: &str) -> Result<(), String> {
    if s.len() > MAX_KEY_BYTES {
        return Err(format!("{what} is {} bytes long; the limit is {MAX_KEY_BYTES}", s.len()));
    }
    Ok(())
}

fn value(what: &str, s: &str) -> Result<(), String> {
    if s.len() > MAX_VALUE_BYTES {
        return Err(format!("{what} is {} bytes long; the limit is {MAX_VALUE_BYTES}", s.len()));
    }
    Ok(())
}

fn short(s: &str) -> String {
    match s.char_indices().nth(40) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

/// Checks one record against the limits and the reserved names.
pub fn check(r: &Record) -> Result<(), String> {
    match r {
        Record::Execution(e) => {
            value("`component_name`", &e.component)?;
            value("`session_id`", &e.session)?;
            value("`kubernetes_cluster_id`", &e.cluster)?;
            value("`resource_id`", &e.resource)
        }
        Record::Metric(s) => {
            key("the measurement name", &s.measurement)?;
            if RESERVED.contains(&s.measurement.as_str()) {
                return Err(format!(
                    "measurement `{}` is reserved for the mesh's own points ({})",
                    s.measurement,
                    RESERVED.join(", ")
                ));
            }
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
        Record::Drift(w) => {
            value("`component_name`", &w.component)?;
            key("`metric`", &w.metric)?;
            key("`field`", &w.field)
        }
    }
}

/// The refusal of the records after the first [`MAX_RECORDS`] of a request.
pub fn too_many(index: usize) -> Option<String> {
    (index >= MAX_RECORDS).then(|| format!("over {MAX_RECORDS} records in one request; send the rest in another"))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::record::Sample;

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
        assert_eq!(check(&metric("m", MAX_TAGS, MAX_FIELDS, MAX_VALUE_BYTES)), Ok(()));
        let e = check(&metric("m", MAX_TAGS + 1, 1, 1)).unwrap_err();
        assert_eq!(e, "33 tags; the limit is 32");
        let e = check(&metric("m", 1, MAX_FIELDS + 1, 1)).unwrap_err();
        assert_eq!(e, "257 fields; the limit is 256");
        let e = check(&metric("m", 1, 1, MAX_VALUE_BYTES + 1)).unwrap_err();
        assert_eq!(e, "the value of tag `t0` is 1025 bytes long; the limit is 1024");
        let e = check(&metric(&"m".repeat(129), 1, 1, 1)).unwrap_err();
        assert!(e.starts_with("the measurement name is 129 bytes"), "{e}");
        for r in RESERVED {
            let e = check(&metric(r, 1, 1, 1)).unwrap_err();
            assert!(e.contains("is reserved"), "{e}");
        }
        assert_eq!(too_many(MAX_RECORDS - 1), None);
        assert!(too_many(MAX_RECORDS).is_some());
    }
}
