//! A virtual layer that scales, through the Infrastructure Manager that built it (`runtime.im`):
//! the worker VMs of each infrastructure `aisprint toscarizer deploy` recorded for the units on
//! the resource are brought to the solution's count. VMs are added with a RADL that names the
//! infrastructure's worker system and networks (IM fills in their definitions) and removed by
//! id, the newest first; then the step waits until every worker is configured. The count is
//! absolute, so the step can run twice (a controller killed mid-step runs it again).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use aisprint_model::config::RuntimeIm;
use aisprint_tosca::im::Infras;
use tokio_util::sync::CancellationToken;

use super::plan::Placed;
use super::{invalid, RuntimeError, Wait};
use crate::clients::im::{ImClient, ImError};

/// An infrastructure whose workers run a unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Infra {
    pub component: String,
    pub url: String,
}

/// The IM client and the infrastructures of each virtual resource.
#[derive(Debug)]
pub struct Scaler {
    im: ImClient,
    infras: BTreeMap<String, Vec<Infra>>,
    allow_unconfigured: bool,
    timeout: Duration,
}

/// What one scale did to an infrastructure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scaled {
    pub component: String,
    pub from: usize,
    pub to: usize,
}

/// Reads `runtime.im`: auth.dat and the infrastructures recorded for `deployment`, each kept
/// when its component runs (at start) on a virtual resource (`virtual_resource`).
pub fn load(
    im: &RuntimeIm,
    dir: &Path,
    display: &str,
    deployment: &str,
    start: &[Placed],
    virtual_resource: impl Fn(&str) -> bool,
) -> Result<Scaler, RuntimeError> {
    let auth_rel = im.auth.clone().unwrap_or_else(|| "im/auth.dat".into());
    let auth = crate::provision::read_auth(&dir.join(&auth_rel))
        .map_err(|e| invalid("controller.yaml", "runtime.im.auth", e.to_string()))?;
    let client = ImClient::new(&im.url, &auth, Duration::from_secs(60))
        .map_err(|e| invalid("controller.yaml", "runtime.im.url", e.to_string()))?;
    let rel = format!("{}/{deployment}/im/infras.yaml", aisprint_model::app::paths::DEPLOYMENTS_DIR);
    let file = format!("{display}/{rel}");
    let text = match std::fs::read_to_string(dir.join(&rel)) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(invalid(
                &file,
                "",
                format!(
                    "missing: runtime.im scales the infrastructures `aisprint toscarizer deploy` built for deployment {deployment}; deploy it first, or remove runtime.im"
                ),
            ))
        }
        Err(e) => return Err(invalid(&file, "", format!("cannot read: {e}"))),
    };
    let recorded: Infras = serde_yaml::from_str(&text).map_err(|e| invalid(&file, "", e.to_string()))?;
    let mut infras: BTreeMap<String, Vec<Infra>> = BTreeMap::new();
    for r in &recorded.infrastructures {
        let Some(p) = start.iter().find(|p| p.unit == r.component) else { continue };
        if virtual_resource(&p.resource) {
            infras
                .entry(p.resource.clone())
                .or_default()
                .push(Infra { component: r.component.clone(), url: r.url.clone() });
        }
    }
    Ok(Scaler {
        im: client,
        infras,
        allow_unconfigured: im.allow_unconfigured,
        timeout: Duration::from_secs_f64(im.timeout_s),
    })
}

/// The worker systems (`wn_*`) and the networks a RADL text defines.
pub fn radl_names(radl: &str) -> (Vec<String>, Vec<String>) {
    let name = |line: &str, kw: &str| -> Option<String> {
        let rest = line.trim_start().strip_prefix(kw)?.strip_prefix(' ')?;
        let n: String = rest.trim_start().chars().take_while(|c| !c.is_whitespace() && *c != '(').collect();
        (!n.is_empty()).then_some(n)
    };
    let mut systems = Vec::new();
    let mut networks = Vec::new();
    for line in radl.lines() {
        if let Some(s) = name(line, "system").filter(|s| s.starts_with("wn_")) {
            if !systems.contains(&s) {
                systems.push(s);
            }
        } else if let Some(n) = name(line, "network") {
            if !networks.contains(&n) {
                networks.push(n);
            }
        }
    }
    (systems, networks)
}

/// The RADL that adds `n` VMs of `system`, naming the networks it connects to.
pub fn add_radl(system: &str, networks: &[String], n: usize) -> String {
    let mut out: String = networks.iter().map(|w| format!("network {w}\n")).collect();
    out.push_str(&format!("system {system}\ndeploy {system} {n}\n"));
    out
}

/// The ids of the `n` VMs to remove: the newest (highest ids) first.
pub fn to_remove(ids: &[String], n: usize) -> Vec<String> {
    let mut sorted: Vec<&String> = ids.iter().collect();
    sorted.sort_by_key(|id| (id.parse::<u64>().unwrap_or(u64::MAX), id.to_string()));
    sorted.into_iter().rev().take(n).cloned().collect()
}

fn vm_id(url: &str) -> String {
    url.trim_end_matches('/').rsplit('/').next().unwrap_or(url).to_string()
}

impl Scaler {
    /// The resources with an infrastructure to scale.
    pub fn resources(&self) -> std::collections::BTreeSet<String> {
        self.infras.keys().cloned().collect()
    }

    pub fn infras(&self, resource: &str) -> &[Infra] {
        self.infras.get(resource).map_or(&[], Vec::as_slice)
    }

    /// Brings the worker VMs of every infrastructure of `resource` to `workers`.
    pub(super) async fn scale(
        &self,
        resource: &str,
        workers: usize,
        cancel: &CancellationToken,
    ) -> Result<Vec<Scaled>, Wait> {
        let mut out = Vec::new();
        for infra in self.infras(resource) {
            out.push(self.scale_one(infra, workers, cancel).await?);
        }
        Ok(out)
    }

    fn im_error(&self, infra: &Infra, e: ImError) -> Wait {
        // IM answered (a refusal) or not (a wait: IM may be away for a while).
        let refused = e.status().is_some_and(|s| s != 502 && s != 503 && s != 504);
        Wait(format!("component {}: {e}", infra.component), refused)
    }

    /// The worker system's VM ids, and its name and the networks of the infrastructure.
    async fn workers(&self, infra: &Infra) -> Result<(String, Vec<String>, Vec<String>), Wait> {
        let radl = self.im.radl(&infra.url).await.map_err(|e| self.im_error(infra, e))?;
        let (systems, networks) = radl_names(&radl);
        let [system] = systems.as_slice() else {
            return Err(Wait(
                format!(
                    "component {}: infrastructure {} has {} worker systems ({}): expected one (wn_<resource>)",
                    infra.component,
                    infra.url,
                    systems.len(),
                    systems.join(", ")
                ),
                true,
            ));
        };
        let mut ids = Vec::new();
        for vm in self.im.vms(&infra.url).await.map_err(|e| self.im_error(infra, e))? {
            match self.im.vm_system(&vm).await {
                Ok(s) if &s == system => ids.push(vm_id(&vm)),
                Ok(_) => {}
                // Removed meanwhile.
                Err(e) if e.status() == Some(404) => {}
                Err(e) => return Err(self.im_error(infra, e)),
            }
        }
        Ok((system.clone(), ids, networks))
    }

    async fn scale_one(&self, infra: &Infra, want: usize, cancel: &CancellationToken) -> Result<Scaled, Wait> {
        let (system, mut ids, networks) = self.workers(infra).await?;
        let from = ids.len();
        if want > from {
            let radl = add_radl(&system, &networks, want - from);
            let added = self.im.add_vms(&infra.url, &radl).await.map_err(|e| self.im_error(infra, e))?;
            tracing::info!(component = %infra.component, infrastructure = %infra.url, from, to = want, added = added.len(), "IM: worker VMs added");
            ids.extend(added.iter().map(|u| vm_id(u)));
        } else if want < from {
            let gone = to_remove(&ids, from - want);
            self.im.remove_vms(&infra.url, &gone).await.map_err(|e| self.im_error(infra, e))?;
            tracing::info!(component = %infra.component, infrastructure = %infra.url, from, to = want, removed = %gone.join(","), "IM: worker VMs removed");
            ids.retain(|id| !gone.contains(id));
        }
        self.configured(infra, &system, ids, cancel).await?;
        Ok(Scaled { component: infra.component.clone(), from, to: want })
    }

    /// Waits until every worker VM (`ids`: those the scale left) is configured (or
    /// unconfigured, when allowed); only the infrastructure's state is read meanwhile.
    async fn configured(
        &self,
        infra: &Infra,
        system: &str,
        mut ids: Vec<String>,
        cancel: &CancellationToken,
    ) -> Result<(), Wait> {
        let until = tokio::time::Instant::now() + self.timeout;
        let mut wait = Duration::from_millis(500);
        loop {
            let st = self.im.state(&infra.url).await.map_err(|e| self.im_error(infra, e))?;
            // A VM IM no longer lists was removed meanwhile.
            ids.retain(|id| st.vm_states.iter().any(|(v, _)| v == id));
            let of = |id: &String| st.vm_states.iter().find(|(v, _)| v == id).map_or("unknown", |(_, s)| s.as_str());
            if let Some(id) = ids.iter().find(|id| matches!(of(id), "failed" | "off" | "stopped")) {
                let log = self.im.contmsg(&infra.url).await.unwrap_or_default();
                let tail = crate::provision::log_tail(&log, 5);
                return Err(Wait(
                    format!("component {}: worker VM {id} of {system} is {}: {tail}", infra.component, of(id)),
                    true,
                ));
            }
            let ready = |s: &str| s == "configured" || (self.allow_unconfigured && s == "unconfigured");
            if ids.iter().all(|id| ready(of(id))) {
                return Ok(());
            }
            if tokio::time::Instant::now() >= until {
                let states: Vec<String> = ids.iter().map(|id| format!("{id} {}", of(id))).collect();
                return Err(Wait(
                    format!(
                        "component {}: the workers of {system} are not configured after {} s ({}); IM goes on{}",
                        infra.component,
                        self.timeout.as_secs(),
                        states.join(", "),
                        if self.allow_unconfigured {
                            ""
                        } else {
                            " (runtime.im.allow_unconfigured takes unconfigured VMs as ready)"
                        }
                    ),
                    false,
                ));
            }
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = cancel.cancelled() => return Err(Wait("the controller is stopping".into(), false)),
            }
            wait = (wait * 2).min(Duration::from_secs(10));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_radl_names_its_worker_system_and_networks() {
        let radl = "network private_net ( outbound = 'no' )\nnetwork public_net ( outbound = 'yes' and\n outports = '80/tcp' )\nsystem front (\n cpu.count >= 2\n)\nsystem wn_resource1 (\n net_interface.0.connection = 'private_net'\n)\nconfigure wn_node_resource1_wn_resource1_conf (\n)\ncontextualize (\nsystem wn_resource1 configure wn_node_resource1_wn_resource1_conf step 2\n)\ndeploy front 1\ndeploy wn_resource1 2\n";
        let (systems, networks) = radl_names(radl);
        assert_eq!(systems, ["wn_resource1"]);
        assert_eq!(networks, ["private_net", "public_net"]);
        assert_eq!(
            add_radl("wn_resource1", &networks, 3),
            "network private_net\nnetwork public_net\nsystem wn_resource1\ndeploy wn_resource1 3\n"
        );
    }

    #[test]
    fn the_newest_workers_go_first() {
        let ids: Vec<String> = ["1", "10", "2", "7"].iter().map(|s| s.to_string()).collect();
        assert_eq!(to_remove(&ids, 2), ["10", "7"]);
        assert_eq!(to_remove(&ids, 0), Vec::<String>::new());
        assert_eq!(vm_id("http://im/infrastructures/x/vms/12"), "12");
    }
}
