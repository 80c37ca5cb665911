//! The monitoring subsystem's model (the AMS of the mesh): records that applications report,
//! the AMS configuration files, and the evaluation of QoS constraints, alerts and drift.

pub mod dashboards;
pub mod drift;
pub mod engine;
pub mod line;
pub mod prometheus;
pub mod record;
pub mod setup;

use crate::app::qos::{self as qosfile, QosConstraints};

/// Whether `u` names an HTTP endpoint (`http://` or `https://`).
pub fn is_http_url(u: &str) -> bool {
    u.starts_with("http://") || u.starts_with("https://")
}

/// A URL fit for logs and messages: without user information (`user:password@`) and query
/// (tokens), which may be secrets.
pub fn redact(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").map_or(("", url), |(s, r)| (s, r));
    // The authority ends at the first `/`, `?` or `#`; what follows a `?` or `#` is dropped.
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let host = rest[..end].rsplit_once('@').map_or(&rest[..end], |(_, h)| h);
    let path = rest[end..].split(['?', '#']).next().unwrap_or("");
    if scheme.is_empty() {
        format!("{host}{path}")
    } else {
        format!("{scheme}://{host}{path}")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacted_urls_keep_no_secret() {
        assert_eq!(super::redact("https://user:s3cret@host:5000/ams-alert?token=abc"), "https://host:5000/ams-alert");
        assert_eq!(super::redact("http://127.0.0.1:9000/x"), "http://127.0.0.1:9000/x");
        assert_eq!(super::redact("http://h"), "http://h");
        assert_eq!(super::redact("https://h:5000?token=abc"), "https://h:5000");
        assert_eq!(super::redact("https://u:p@h#frag"), "https://h");
    }
}
use crate::diag::Diagnostics;

/// The monitoring files of an agent or the controller, read and checked together.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub monitoring: setup::Monitoring,
    pub custom: setup::Custom,
    pub constraints: Vec<engine::Constraint>,
    pub throughput_component: Option<String>,
}

/// Checks the files given as (name, text): `monitoring_setup.yaml`, `custom_setup.yaml` and
/// QoS constraint files. Every problem of every file comes back together; warnings beside a
/// good result.
pub fn load(
    monitoring: Option<(&str, &str)>,
    custom: Option<(&str, &str)>,
    qos: &[(String, String)],
) -> Result<(Loaded, Diagnostics), Diagnostics> {
    let mut diags = Diagnostics::new();
    let mut out = Loaded::default();
    if let Some((f, t)) = monitoring {
        match setup::monitoring(f, t) {
            Ok((m, w)) => {
                out.monitoring = m;
                diags.extend(w);
            }
            Err(d) => diags.extend(d),
        }
    }
    if let Some((f, t)) = custom {
        match setup::custom(f, t) {
            Ok((c, w)) => {
                out.custom = c;
                diags.extend(w);
            }
            Err(d) => diags.extend(d),
        }
    }
    for (f, t) in qos {
        match crate::yaml::parse::<QosConstraints>(f, t) {
            Ok((doc, w)) => {
                diags.extend(w);
                let d = qosfile::validate(&doc);
                let bad = d.has_errors();
                diags.extend(d);
                if !bad {
                    let (c, tc) = engine::constraints_of(&doc.value);
                    out.constraints.extend(c);
                    out.throughput_component = out.throughput_component.take().or(tc);
                }
            }
            Err(d) => diags.extend(d),
        }
    }
    if diags.has_errors() {
        return Err(diags.sorted());
    }
    Ok((out, diags))
}
