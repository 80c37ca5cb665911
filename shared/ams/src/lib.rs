//! The monitoring subsystem's model (the AMS of the mesh): records that applications report,
//! the AMS configuration files, and the evaluation of QoS constraints, alerts and drift.
//!
//! **Architecture invariant: no IO.** Time comes in as a number; notifications and check
//! samples come out as values. The agent's recorder and the controller's QoS task own an
//! [`engine::Engine`] each and do the IO around it.

pub mod dashboards;
pub mod drift;
pub mod engine;
pub mod limits;
pub mod line;
pub mod prometheus;
pub mod record;
pub mod setup;
pub mod stattest;

use aisprint_model::app::qos::{self as qosfile, QosConstraints};
use aisprint_model::diag::Diagnostics;

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
        match aisprint_model::yaml::parse::<QosConstraints>(f, t) {
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
