//! `aisprint toscarizer`: from a chosen deployment to infrastructure. `tosca` writes one TOSCA
//! document per component (`aisprint/deployments/<base|optimal_deployment>/im/`), `fdl` the
//! OSCAR FDL of the pipeline, `deploy`/`outputs`/`delete` drive the Infrastructure Manager,
//! `docker` writes (and, with a Docker engine, builds and pushes) one image per design.
//! The documents themselves come from [`aisprint_tosca`].
//!
//! This module reads a deployment ([`Target`]) and the credentials; `tosca` writes the
//! documents and the FDL, `deploy` drives IM, `docker` the images.

mod deploy;
mod docker;
mod images;
mod tosca;

pub use deploy::{delete, deploy, outputs, tail as log_tail, ImOptions};
pub use docker::{docker, oscar_script, DockerOptions, DockerOutcome, DEFAULT_BASE_IMAGE, PY_PACKAGE};
pub use tosca::{fdl, tosca, ToscaOptions};

use std::path::Path;

use aisprint_model::app::annotations::AnnotationsFile;
use aisprint_model::app::dag::ApplicationDag;
use aisprint_model::app::fit::Needs;
use aisprint_model::app::physical::PhysicalNodes;
use aisprint_model::app::production::ProductionDeployment;
use aisprint_model::app::resources::{CandidateResources, ResourcesSystem};
use aisprint_model::app::{paths, Flag};
use aisprint_model::{Diagnostic, Diagnostics};
use aisprint_tosca::im::AuthFile;
use aisprint_tosca::{scone, Placement};

/// Which deployment a command works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Base,
    Optimal,
}

impl Which {
    pub fn dir(self) -> &'static str {
        match self {
            Which::Base => "aisprint/deployments/base",
            Which::Optimal => paths::OPTIMAL,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ToscarizerError {
    #[error("the application has problems (see above)")]
    Invalid(Diagnostics),
    #[error("{0}")]
    Failed(String),
}

impl From<Diagnostics> for ToscarizerError {
    fn from(d: Diagnostics) -> Self {
        ToscarizerError::Invalid(d)
    }
}

pub(crate) fn failed(msg: impl Into<String>) -> ToscarizerError {
    ToscarizerError::Failed(msg.into())
}

pub(super) fn read_text(app: &Path, rel: &str) -> Result<Option<String>, Diagnostic> {
    match std::fs::read_to_string(app.join(rel)) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Diagnostic::error(rel, "", format!("cannot read: {e}"))),
    }
}

pub(super) fn parse_file<T: serde::de::DeserializeOwned + serde::Serialize>(
    rel: &str,
    text: &str,
) -> Result<T, Diagnostics> {
    aisprint_model::yaml::parse::<T>(rel, text).map(|(doc, _)| doc.value)
}

/// The diagnostics with the quoted parts of their messages (serde quotes the values it
/// refuses between backticks) left out.
fn unquoted(d: Diagnostics) -> Diagnostics {
    let mut out = Diagnostics::new();
    for mut x in d.0 {
        let mut msg = String::new();
        for (i, part) in x.message.split('`').enumerate() {
            msg.push_str(if i % 2 == 1 { "…" } else { part });
        }
        x.message = msg;
        out.push(x);
    }
    out
}

/// Everything a deployment's documents are made from.
#[derive(Debug)]
pub struct Target {
    pub which: Which,
    /// `aisprint/deployments/<base|optimal_deployment>`.
    pub rel: String,
    pub production_file: String,
    pub production: ProductionDeployment,
    pub dag: ApplicationDag,
    pub resources: CandidateResources,
    pub physical: Option<PhysicalNodes>,
    pub annotations: Option<AnnotationsFile>,
    /// `common_config/candidate_deployments.yaml`, for the images `toscarizer docker` wrote
    /// there after the deployment was chosen.
    pub candidates: Option<aisprint_model::app::deployments::CandidateDeployments>,
}

/// Reads the deployment: its production_deployment.yaml, its DAG, the resources it names,
/// and physical_nodes.yaml and annotations.yaml when present.
pub fn load_target(app: &Path, which: Which) -> Result<Target, Diagnostics> {
    let rel = which.dir().to_string();
    let production_file = format!("{rel}/production_deployment.yaml");
    let one = |d: Diagnostic| -> Diagnostics { d.into() };
    let text = read_text(app, &production_file).map_err(one)?.ok_or_else(|| {
        one(Diagnostic::error(
            &production_file,
            "",
            match which {
                Which::Base => "missing: run `aisprint design --application_dir DIR` first (it writes the base deployment)",
                Which::Optimal => "missing: run `aisprint design` (optimal_deployment then points at base) or `aisprint space4aid` first",
            },
        ))
    })?;
    let production: ProductionDeployment = parse_file(&production_file, &text)?;
    let mut dag_candidates = Vec::new();
    if let Some(name) = &production.system.deployment_name {
        dag_candidates.push(format!("{}/{name}/application_dag.yaml", paths::DEPLOYMENTS_DIR));
    }
    dag_candidates.push(format!("{rel}/application_dag.yaml"));
    dag_candidates.push(paths::DAG.to_string());
    let mut dag = None;
    for c in &dag_candidates {
        if let Some(t) = read_text(app, c).map_err(one)? {
            dag = Some(parse_file::<ApplicationDag>(c, &t)?);
            break;
        }
    }
    let dag =
        dag.ok_or_else(|| one(Diagnostic::error(&dag_candidates[0], "", "missing: no DAG for this deployment")))?;
    let domains = production
        .system
        .resources
        .as_ref()
        .map(|r| r.network_domains.clone())
        .or_else(|| production.system.network_domains.clone());
    let resources = match domains {
        Some(network_domains) if !network_domains.is_empty() => CandidateResources {
            system: ResourcesSystem { name: production.system.name.clone().unwrap_or_default(), network_domains },
        },
        _ => {
            let t = read_text(app, paths::RESOURCES).map_err(one)?.ok_or_else(|| {
                one(Diagnostic::error(paths::RESOURCES, "", "missing: the resources of the deployment"))
            })?;
            parse_file(paths::RESOURCES, &t)?
        }
    };
    let physical = match read_text(app, paths::PHYSICAL_NODES).map_err(one)? {
        Some(t) => {
            // The file holds keys and passwords: a parse error must not quote a value.
            let (doc, _) = aisprint_model::yaml::parse::<PhysicalNodes>(paths::PHYSICAL_NODES, &t).map_err(unquoted)?;
            let d = aisprint_model::app::physical::validate(&doc);
            if d.has_errors() {
                return Err(d);
            }
            Some(doc.value)
        }
        None => None,
    };
    let annotations = match read_text(app, paths::ANNOTATIONS).map_err(one)? {
        Some(t) => Some(parse_file::<AnnotationsFile>(paths::ANNOTATIONS, &t)?),
        None => None,
    };
    // Unreadable candidates only lose the fallback image: the production file is what counts.
    let candidates = read_text(app, paths::DEPLOYMENTS).ok().flatten().and_then(|t| {
        parse_file::<aisprint_model::app::deployments::CandidateDeployments>(paths::DEPLOYMENTS, &t).ok()
    });
    Ok(Target { which, rel, production_file, production, dag, resources, physical, annotations, candidates })
}

impl Target {
    /// The security a component asks for: its annotations, and its container's flags.
    fn shields(&self, component: &str, cont: &aisprint_model::app::production::SelectedContainer) -> scone::Shields {
        let mut s = self.security(component);
        let set = |f: &Option<Flag>| f.as_ref().is_some_and(Flag::is_true);
        s.trusted_execution |= set(&cont.trusted_execution);
        s.network_shield |= set(&cont.network_protection);
        s.filesystem_shield |= set(&cont.file_system_protection);
        s
    }

    /// The annotations of a component (or of the component a partition half is of).
    fn annotations_of(&self, component: &str) -> Option<&aisprint_model::app::annotations::ComponentAnnotations> {
        let base = component.split("_partition").next().unwrap_or(component);
        self.annotations.as_ref()?.values().find(|c| c.name() == Some(base))
    }

    /// The security the annotations ask for, per component name.
    fn security(&self, component: &str) -> scone::Shields {
        self.annotations_of(component)
            .and_then(|c| c.security.as_ref())
            .map(|s| scone::Shields {
                trusted_execution: s.trusted_execution.unwrap_or(false),
                network_shield: s.network_shield.unwrap_or(false),
                filesystem_shield: s.filesystem_shield.unwrap_or(false),
            })
            .unwrap_or_default()
    }

    /// Every DAG component placed on its resource, in DAG order; errors name the file and key.
    pub fn placements(&self) -> Result<Vec<Placement<'_>>, Diagnostics> {
        let mut diags = Diagnostics::new();
        let mut out = Vec::new();
        let file = &self.production_file;
        for c in &self.dag.system.components {
            let Some((ck, comp)) = self.production.system.components.iter().find(|(_, x)| &x.name == c) else {
                diags.push(Diagnostic::error(
                    file,
                    "System.Components",
                    format!("component `{c}` of the DAG is not placed in this deployment"),
                ));
                continue;
            };
            let key = format!("System.Components.{ck}");
            let Some((cont_key, cont)) = comp.containers.first() else {
                diags.push(Diagnostic::error(file, format!("{key}.Containers"), "no container"));
                continue;
            };
            let Some(res_name) = comp.resource() else {
                diags.push(Diagnostic::error(
                    file,
                    format!("{key}.Containers.{cont_key}.selectedExecutionResource"),
                    "missing: the resource the component runs on",
                ));
                continue;
            };
            let Some((layer, resource)) = self.resources.resource(res_name) else {
                diags.push(Diagnostic::error(
                    file,
                    format!("{key}.Containers.{cont_key}.selectedExecutionResource"),
                    format!("`{res_name}` is not a resource of the deployment's network domains"),
                ));
                continue;
            };
            // The production file's image, else the one candidate_deployments.yaml names now
            // for this unit and the resource's platform (`toscarizer docker` writes them there).
            let from_candidates = || {
                let (_, spec) = self.candidates.as_ref()?.for_unit(c)?;
                spec.containers.values().next()?.image.as_ref()?.pick(c, resource.arch())
            };
            let Some(image) = cont.image.clone().filter(|i| !i.trim().is_empty()).or_else(from_candidates) else {
                diags.push(Diagnostic::error(
                    file,
                    format!("{key}.Containers.{cont_key}.image"),
                    "missing: the container image (run `aisprint toscarizer docker`: it writes the images into common_config/candidate_deployments.yaml)",
                ));
                continue;
            };
            let shields = self.shields(c, cont);
            // The rule SPACE4AI-D places by (aisprint_model::app::fit): what it chose passes.
            let gpu = cont.gpu_requirement.as_ref().is_some_and(Flag::is_true);
            if let Some(why) = Needs::of(self.annotations_of(c), shields.any(), gpu).unmet(res_name, resource) {
                diags.push(Diagnostic::error(
                    file,
                    format!("{key}.Containers.{cont_key}.selectedExecutionResource"),
                    format!("component `{c}` cannot run on `{res_name}`: {why}; place it on a resource that can (`aisprint space4aid` does)"),
                ));
                continue;
            }
            // A component under SCONE runs its confidential image (what sconify.sh builds).
            let image = if shields.any() { scone::confidential_image(&image) } else { image };
            let resource_key = layer
                .layer
                .resources
                .iter()
                .find(|(_, r)| r.name == res_name)
                .map(|(k, _)| k.clone())
                .unwrap_or_default();
            out.push(Placement {
                component: c.clone(),
                image,
                memory: cont.memory_size,
                cpu: cont.computing_units,
                // SGX where the resource has it; on secure/measured boot alone, SCONE runs
                // without an enclave.
                trusted_execution: shields.trusted_execution && resource.has_sgx(),
                gpu: cont.gpu_requirement.as_ref().is_some_and(Flag::is_true),
                resource,
                resource_key,
                layer_type: layer.layer.layer_type,
                layer_number: layer.layer.number,
            });
        }
        if diags.has_errors() {
            Err(diags)
        } else {
            Ok(out)
        }
    }

    /// The (first) container of a component in the production deployment.
    fn container_of(&self, component: &str) -> Option<&aisprint_model::app::production::SelectedContainer> {
        self.production.system.components.values().find(|x| x.name == component)?.containers.values().next()
    }

    pub fn edges(&self) -> Vec<(String, String, f64)> {
        self.dag.system.dependencies.iter().map(|d| (d.0.clone(), d.1.clone(), d.probability())).collect()
    }

    /// Components in an order where every component comes after all of its successors.
    pub fn successors_first(&self) -> Vec<String> {
        let comps = &self.dag.system.components;
        let edges = self.edges();
        let mut done: Vec<String> = Vec::new();
        while done.len() < comps.len() {
            let before = done.len();
            for c in comps {
                if done.contains(c) {
                    continue;
                }
                if edges.iter().filter(|e| &e.0 == c).all(|e| done.contains(&e.1) || !comps.contains(&e.1)) {
                    done.push(c.clone());
                }
            }
            if done.len() == before {
                // A cycle (the DAG checks refuse them): keep the file order for the rest.
                done.extend(comps.iter().filter(|c| !done.contains(c)).cloned().collect::<Vec<_>>());
            }
        }
        done
    }
}

/// Random characters from `[a-z0-9]`, from the operating system's generator.
pub fn random_chars(n: usize) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(n);
    let mut buf = [0u8; 64];
    while out.len() < n {
        // The OS generator does not fail on Linux once booted; a failure is a broken system.
        if getrandom::getrandom(&mut buf).is_err() {
            panic!("the operating system's random generator is not available");
        }
        // 252 = 7 * 36: bytes above are dropped so that every character is equally likely.
        for b in buf.iter().filter(|b| **b < 252) {
            if out.len() == n {
                break;
            }
            out.push(CHARS[usize::from(*b) % CHARS.len()] as char);
        }
    }
    out
}

/// Reads auth.dat for IM (it must have an InfrastructureManager line), warning when others
/// may read it. Errors never show its content.
pub fn read_auth(path: &Path) -> Result<AuthFile, ToscarizerError> {
    let auth = crate::clients::auth::read(path).map_err(|e| failed(e.to_string()))?;
    auth.im().map_err(|e| failed(format!("{}: {e}", path.display())))?;
    Ok(auth)
}
