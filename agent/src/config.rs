//! `agent.yaml`, read once before anything starts: parsed and checked (every problem at once),
//! its relative paths taken from its folder, and the files it names (monitoring setup, QoS
//! constraints, custom setup, the services' FDLs) read and checked too. Nothing starts with a
//! bad rule or service, and nothing is read twice.

use std::path::Path;

use aisprint_model::config::{self, AgentConfig};
use aisprint_model::yaml;

use crate::error::AgentError;
use crate::monitoring;
use crate::services;

/// The configuration and what its files hold, checked.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub agent: AgentConfig,
    /// The `monitoring` section's files (None without the section).
    pub monitoring: Option<monitoring::Setup>,
    /// The services of this node: the configured FDLs' and those applied before.
    pub services: Vec<services::Prepared>,
}

impl Loaded {
    /// Reads the files of a configuration whose paths are already resolved.
    pub fn from_config(agent: AgentConfig) -> Result<Loaded, AgentError> {
        let monitoring = monitoring::Setup::load(&agent)?;
        let services = services::load(&agent)?;
        Ok(Loaded { agent, monitoring, services })
    }
}

/// Reads and checks `agent.yaml` and the files it names.
pub fn load(path: &Path) -> Result<Loaded, AgentError> {
    Loaded::from_config(read(path)?)
}

/// Reads and checks `agent.yaml` alone; relative paths in it are taken from its folder.
pub fn read(path: &Path) -> Result<AgentConfig, AgentError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| AgentError::Read { path: path.to_path_buf(), source })?;
    let (doc, _) = yaml::parse::<AgentConfig>(&file, &text).map_err(AgentError::Invalid)?;
    let d = config::validate_agent(&doc);
    if d.has_errors() {
        return Err(AgentError::Invalid(d.sorted()));
    }
    // Absolute: a job's folders are given to scripts that may change directory first.
    let parent = path.parent().unwrap_or(Path::new(""));
    let base = if parent.is_absolute() {
        parent.to_path_buf()
    } else {
        std::env::current_dir().map_or_else(|_| parent.to_path_buf(), |cwd| cwd.join(parent))
    };
    let mut c = doc.value;
    let resolve = |x: &mut String| *x = base.join(&*x).display().to_string();
    [&mut c.controller.ca, &mut c.controller.cert, &mut c.controller.key].into_iter().flatten().for_each(resolve);
    resolve(&mut c.buffer.path);
    if let Some(m) = &mut c.monitoring {
        m.qos_constraints
            .iter_mut()
            .chain(m.monitoring_setup.iter_mut())
            .chain(m.custom_setup.iter_mut())
            .chain(m.outbox.iter_mut())
            .for_each(resolve);
    }
    if let Some(s) = &mut c.services {
        s.fdl.iter_mut().chain(std::iter::once(&mut s.buckets)).chain(s.state.iter_mut()).for_each(resolve);
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `aisprint-agent run --config agent.yaml` from the config's folder: the job folders the
    /// scripts get must not depend on where a script changes directory to.
    #[test]
    fn paths_are_absolute_even_from_a_relative_config_path() {
        let cwd = std::env::current_dir().expect("cwd");
        let d = tempfile::tempdir_in(&cwd).expect("tmp");
        let rel = d.path().strip_prefix(&cwd).expect("inside").join("agent.yaml");
        std::fs::write(
            &rel,
            "node_id: n\ncontroller:\n  address: http://127.0.0.1:1\n  insecure: true\nbuffer:\n  path: b.redb\nservices:\n  cluster: n\n  buckets: buckets\n  state: state\n",
        )
        .expect("write");
        let c = read(&rel).expect("read");
        let s = c.services.expect("services");
        for p in [&c.buffer.path, &s.buckets, s.state.as_ref().expect("state")] {
            assert!(Path::new(p).is_absolute(), "{p}");
            assert!(Path::new(p).starts_with(d.path()), "{p}");
        }
    }
}
