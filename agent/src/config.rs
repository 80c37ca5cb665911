//! `agent.yaml`, read once before anything starts: parsed and checked (every problem at once),
//! its relative paths taken from its folder, and the files it names (monitoring setup, QoS
//! constraints, custom setup, the services' FDLs) read and checked too. Nothing starts with a
//! bad rule or service, and nothing is read twice.

use std::path::Path;

use aisprint_model::config::{self, AgentConfig};
use aisprint_model::diag::Diagnostics;
use aisprint_model::yaml::{self, YamlDoc};

use crate::error::AgentError;
use crate::monitoring;
#[cfg(feature = "services")]
use crate::services;

/// The configuration and what its files hold, checked.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub agent: AgentConfig,
    /// The `monitoring` section's files (None without the section).
    pub monitoring: Option<monitoring::Setup>,
    /// The `mqtt` section's TLS files and password, read.
    pub mqtt: Option<crate::sinks::mqtt_tls::Ready>,
    /// The services of this node: the configured FDLs' and those applied before.
    #[cfg(feature = "services")]
    pub services: services::fdl::Found,
}

impl Loaded {
    /// Reads the files of a configuration whose paths are already resolved.
    pub fn from_config(agent: AgentConfig) -> Result<Loaded, AgentError> {
        let monitoring = monitoring::Setup::load(&agent)?;
        let mqtt = match &agent.mqtt {
            Some(m) => Some(crate::sinks::mqtt_tls::prepare("agent.yaml", m).map_err(AgentError::Invalid)?),
            None => None,
        };
        Ok(Loaded {
            mqtt,
            #[cfg(feature = "services")]
            services: services::load(&agent)?,
            agent,
            monitoring,
        })
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
    let mut d = config::validate_agent(&doc);
    d.extend(left_out(&doc));
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
    if let Some(m) = &mut c.mqtt {
        let t = m.tls.iter_mut().flat_map(|t| [&mut t.ca, &mut t.cert, &mut t.key]).flatten();
        t.chain(m.password_file.iter_mut()).for_each(resolve);
    }
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

/// What agent.yaml asks for that this build left out (agent/Cargo.toml's features).
fn left_out(doc: &YamlDoc<AgentConfig>) -> Diagnostics {
    let mut d = Diagnostics::new();
    let Some(s) = &doc.value.services else { return d };
    if !cfg!(feature = "services") {
        d.push(doc.error(
            "services",
            "this agent was built without services (cargo feature `services`): remove the section, or install the default build",
        ));
    } else if !cfg!(feature = "s3") && !s.s3.is_empty() {
        d.push(doc.error(
            "services.s3",
            "this agent was built without S3 stores (cargo feature `s3`): remove the stores, or install the default build",
        ));
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `aisprint-agent run --config agent.yaml` from the config's folder: the job folders the
    /// scripts get must not depend on where a script changes directory to.
    #[cfg(feature = "services")]
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

    /// A build without a feature (`--no-default-features`, `--features services`) refuses the
    /// section that asks for it, naming the file and the key; the default build takes it.
    /// tests/run runs this in each of the three builds.
    #[test]
    fn sections_this_build_left_out_are_refused_with_their_key() {
        let d = tempfile::tempdir().expect("tmp");
        let p = d.path().join("agent.yaml");
        std::fs::write(
            &p,
            "node_id: n\ncontroller:\n  address: http://127.0.0.1:1\n  insecure: true\nbuffer:\n  path: b.redb\nservices:\n  cluster: n\n  buckets: buckets\n  s3:\n    minio.m:\n      endpoint: http://127.0.0.1:9000\n      access_key: a\n      secret_key: s3cr3t-value\n",
        )
        .expect("write");
        let r = read(&p).map_err(|e| e.to_string());
        let file = p.display().to_string();
        match (cfg!(feature = "services"), cfg!(feature = "s3")) {
            (true, true) => assert!(r.is_ok(), "{r:?}"),
            (false, _) => {
                let e = r.expect_err("refused");
                assert!(e.contains(&format!("{file}:7:1: services: this agent was built without services")), "{e}");
            }
            (true, false) => {
                let e = r.expect_err("refused");
                assert!(
                    e.contains(&format!("{file}:")) && e.contains("services.s3: this agent was built without S3"),
                    "{e}"
                );
                assert!(!e.contains("s3cr3t-value"), "{e}");
            }
        }
    }
}
