//! `aisprint toscarizer`: from a chosen deployment to infrastructure. `tosca` writes one TOSCA
//! document per component (`aisprint/deployments/<base|optimal_deployment>/im/`), `fdl` the
//! OSCAR FDL of the pipeline, `deploy`/`outputs`/`delete` drive the Infrastructure Manager,
//! `docker` writes (and, with a Docker engine, builds and pushes) one image per design.
//! The documents themselves come from [`aisprint_shared::toscarizer`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aisprint_shared::app::annotations::AnnotationsFile;
use aisprint_shared::app::dag::ApplicationDag;
use aisprint_shared::app::physical::PhysicalNodes;
use aisprint_shared::app::production::ProductionDeployment;
use aisprint_shared::app::resources::{CandidateResources, ResourcesSystem};
use aisprint_shared::app::{paths, Flag};
use aisprint_shared::im::{parse_auth, AuthFile, InfraRecord, Infras};
use aisprint_shared::toscarizer::{self as model, scone, Placement};
use aisprint_shared::{Diagnostic, Diagnostics};

use crate::im_client::ImClient;
use crate::output::OutputSet;

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

fn failed(msg: impl Into<String>) -> ToscarizerError {
    ToscarizerError::Failed(msg.into())
}

fn read_text(app: &Path, rel: &str) -> Result<Option<String>, Diagnostic> {
    match std::fs::read_to_string(app.join(rel)) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Diagnostic::error(rel, "", format!("cannot read: {e}"))),
    }
}

fn parse_file<T: serde::de::DeserializeOwned + serde::Serialize>(rel: &str, text: &str) -> Result<T, Diagnostics> {
    aisprint_shared::yaml::parse::<T>(rel, text).map(|(doc, _)| doc.value)
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
            let (doc, _) =
                aisprint_shared::yaml::parse::<PhysicalNodes>(paths::PHYSICAL_NODES, &t).map_err(unquoted)?;
            let d = aisprint_shared::app::physical::validate(&doc);
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
    Ok(Target { which, rel, production_file, production, dag, resources, physical, annotations })
}

impl Target {
    /// The security a component asks for: its annotations, and its container's flags.
    fn shields(&self, component: &str, cont: &aisprint_shared::app::production::SelectedContainer) -> scone::Shields {
        let mut s = self.security(component);
        let set = |f: &Option<Flag>| f.as_ref().is_some_and(Flag::is_true);
        s.trusted_execution |= set(&cont.trusted_execution);
        s.network_shield |= set(&cont.network_protection);
        s.filesystem_shield |= set(&cont.file_system_protection);
        s
    }

    /// The security the annotations ask for, per component name.
    fn security(&self, component: &str) -> scone::Shields {
        let base = component.split("_partition").next().unwrap_or(component);
        let Some(a) = &self.annotations else { return scone::Shields::default() };
        a.values()
            .find(|c| c.name() == Some(base))
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
            let Some(image) = cont.image.clone().filter(|i| !i.trim().is_empty()) else {
                diags.push(Diagnostic::error(
                    file,
                    format!("{key}.Containers.{cont_key}.image"),
                    "missing: the container image (run `aisprint toscarizer docker` and copy its image from aisprint/designs/containers.yaml into common_config/candidate_deployments.yaml, then `aisprint design`)",
                ));
                continue;
            };
            let shields = self.shields(c, cont);
            if shields.any() && !resource.is_trusted() {
                diags.push(Diagnostic::error(
                    file,
                    format!("{key}.Containers.{cont_key}.selectedExecutionResource"),
                    format!(
                        "component `{c}` asks for trusted execution or SCONE shields and resource `{res_name}` has neither SGX processors (SGXFlag) nor secureBoot/measuredBoot: place it on a resource that has"
                    ),
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
    fn container_of(&self, component: &str) -> Option<&aisprint_shared::app::production::SelectedContainer> {
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
    let auth = read_auth_file(path)?;
    auth.im().map_err(|e| failed(format!("{}: {e}", path.display())))?;
    Ok(auth)
}

/// Reads a file in auth.dat's format, warning when others may read it.
pub fn read_auth_file(path: &Path) -> Result<AuthFile, ToscarizerError> {
    let shown = path.display();
    let text =
        std::fs::read_to_string(path).map_err(|e| failed(format!("{shown}: cannot read the IM credentials: {e}")))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = std::fs::metadata(path) {
            if m.permissions().mode() & 0o077 != 0 {
                eprintln!(
                    "warning: {shown} can be read by other users (mode {:o}); it holds credentials: chmod 600 {shown}",
                    m.permissions().mode() & 0o777
                );
            }
        }
    }
    parse_auth(&text).map_err(|e| failed(format!("{shown}: {e}")))
}

#[derive(Debug, Clone)]
pub struct ToscaOptions {
    pub domain: Option<String>,
    pub elastic: u32,
    pub artifacts_url: Option<String>,
    pub im_auth: Option<PathBuf>,
}

/// `toscarizer tosca`: writes `<deployment>/im/<component>.yaml` (mode 0600: they hold the
/// clusters' passwords) and, for components that ask for SCONE, `<deployment>/scone/`.
/// Returns the files written.
pub fn tosca(app: &Path, which: Which, o: &ToscaOptions) -> Result<Vec<PathBuf>, ToscarizerError> {
    let target = load_target(app, which)?;
    let placements = target.placements()?;
    let im_auth = if o.elastic > 0 {
        let p = o.im_auth.clone().unwrap_or_else(|| app.join("im/auth.dat"));
        Some(read_auth(&p)?.header_value().expose().to_string())
    } else {
        None
    };
    let opts = model::Options {
        domain: o.domain.clone().unwrap_or_else(|| model::DEFAULT_DOMAIN.into()),
        elastic: o.elastic,
        artifacts_url: o.artifacts_url.clone().unwrap_or_else(|| model::DEFAULT_ARTIFACTS_URL.into()),
        im_auth,
    };
    let mut rand = random_chars;
    let docs = model::generate(&placements, &target.edges(), target.physical.as_ref(), &opts, &mut rand)?;
    let mut out = OutputSet::new();
    let mut written = Vec::new();
    for d in &docs {
        let rel = format!("{}/im/{}.yaml", target.rel, d.component);
        out.private_file(&rel, d.text.clone());
        written.push(PathBuf::from(rel));
    }
    let mut scone_cmds = Vec::new();
    for p in &placements {
        let Some(cont) = target.container_of(&p.component) else { continue };
        let shields = target.shields(&p.component, cont);
        if !shields.any() {
            continue;
        }
        let native = cont.image.clone().unwrap_or_default();
        let rel = format!("{}/scone/{}-session.yaml", target.rel, p.component);
        out.file(&rel, scone::session_policy(&p.component, &native, &shields, p.resource.has_sgx(), &random_chars(4)));
        written.push(PathBuf::from(rel));
        scone_cmds.push(scone::sconify_command(&native, &app.display().to_string()));
    }
    if !scone_cmds.is_empty() {
        let rel = format!("{}/scone/sconify.sh", target.rel);
        let mut script = String::from("#!/bin/sh\n# Builds the confidential (SCONE) images of the components annotated with `security`.\nset -e\n");
        for c in &scone_cmds {
            script.push_str(c);
            script.push('\n');
        }
        out.file(&rel, script);
        written.push(PathBuf::from(rel));
    }
    out.commit(app).map_err(|e| failed(e.to_string()))?;
    #[cfg(unix)]
    if !scone_cmds.is_empty() {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(
            app.join(format!("{}/scone/sconify.sh", target.rel)),
            std::fs::Permissions::from_mode(0o755),
        );
    }
    for d in &docs {
        println!(
            "DONE. TOSCA file {}/{}/im/{}.yaml has been generated for Component: {} ({:?}, cluster {}).",
            app.display(),
            target.rel,
            d.component,
            d.component,
            d.layer_type,
            d.cluster
        );
    }
    for c in &scone_cmds {
        println!("SCONE: session policy written; build the confidential image with: {c}");
    }
    Ok(written)
}

/// The TOSCA documents of a deployment, in DAG order: `(component, file name, text)`.
fn read_documents(app: &Path, target: &Target) -> Result<Vec<(String, String, String)>, ToscarizerError> {
    let mut out = Vec::new();
    for c in &target.dag.system.components {
        let rel = format!("{}/im/{c}.yaml", target.rel);
        match std::fs::read_to_string(app.join(&rel)) {
            Ok(t) => out.push((c.clone(), rel, t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(failed(format!(
                    "{rel}: missing: run `aisprint toscarizer tosca --application_dir {} {}` first",
                    app.display(),
                    flag(target.which)
                )))
            }
            Err(e) => return Err(failed(format!("{rel}: cannot read: {e}"))),
        }
    }
    Ok(out)
}

fn flag(w: Which) -> &'static str {
    match w {
        Which::Base => "--base",
        Which::Optimal => "--optimal",
    }
}

/// `toscarizer fdl`: `<deployment>/oscar/fdl.yaml` from the TOSCA documents (mode 0600: it
/// holds the storage credentials).
pub fn fdl(app: &Path, which: Which) -> Result<PathBuf, ToscarizerError> {
    let target = load_target(app, which)?;
    let docs = read_documents(app, &target)?;
    let pairs: Vec<(String, String)> = docs.into_iter().map(|(_, f, t)| (f, t)).collect();
    let fdl = model::fdl::from_tosca(&pairs).map_err(|e| failed(e.to_string()))?;
    let text = serde_yaml::to_string(&fdl).map_err(|e| failed(e.to_string()))?;
    let rel = format!("{}/oscar/fdl.yaml", target.rel);
    let mut out = OutputSet::new();
    out.private_file(&rel, text);
    out.commit(app).map_err(|e| failed(e.to_string()))?;
    println!("DONE. FDL file {}/{rel} has been generated.", app.display());
    Ok(PathBuf::from(rel))
}

#[derive(Debug, Clone)]
pub struct ImOptions {
    pub im_url: String,
    pub im_auth: Option<PathBuf>,
    /// How long `deploy` waits for all infrastructures.
    pub timeout: Duration,
    /// Take `unconfigured` (VMs up, a configuration step failed) as deployed.
    pub allow_unconfigured: bool,
    /// First wait between two state polls (doubling up to 15 s).
    pub poll: Duration,
}

fn infras_rel(which: Which) -> String {
    format!("{}/im/infras.yaml", which.dir())
}

fn load_infras(app: &Path, which: Which) -> Result<Infras, ToscarizerError> {
    let rel = infras_rel(which);
    match std::fs::read_to_string(app.join(&rel)) {
        Ok(t) => serde_yaml::from_str(&t).map_err(|e| failed(format!("{rel}: {e}"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Infras::default()),
        Err(e) => Err(failed(format!("{rel}: cannot read: {e}"))),
    }
}

fn save_infras(app: &Path, which: Which, infras: &Infras) -> Result<(), ToscarizerError> {
    let rel = infras_rel(which);
    let mut out = OutputSet::new();
    let text = serde_yaml::to_string(infras).map_err(|e| failed(e.to_string()))?;
    out.private_file(&rel, text);
    out.commit(app).map_err(|e| failed(e.to_string()))
}

fn now_rfc3339() -> String {
    aisprint_shared::ams::engine::rfc3339(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64()),
    )
}

/// Whether component `c` can be launched: not launched yet, and every component it writes to
/// deployed.
fn launchable(
    c: &str,
    infras: &Infras,
    edges: &[(String, String, f64)],
    order: &[String],
    deployed: &dyn Fn(&str) -> bool,
) -> bool {
    infras.get(c).is_none()
        && edges
            .iter()
            .filter(|e| e.0 == c)
            .all(|e| infras.get(&e.1).is_some_and(|r| deployed(&r.state)) || !order.contains(&e.1))
}

/// After this many failed state reads in a row, a component's deployment is given up.
const MAX_POLL_ERRORS: u32 = 5;

/// Records that a component's infrastructure could not be followed.
fn rec_failed(infras: &mut Infras, c: &str, why: &str) {
    if let Some(mut r) = infras.get(c).cloned() {
        r.state = "failed".into();
        r.message = Some(why.to_string());
        infras.upsert(r);
    }
}

fn client(app: &Path, o: &ImOptions) -> Result<ImClient, ToscarizerError> {
    let path = o.im_auth.clone().unwrap_or_else(|| app.join("im/auth.dat"));
    let auth = read_auth(&path)?;
    ImClient::new(&o.im_url, &auth, Duration::from_secs(60)).map_err(|e| failed(e.to_string()))
}

/// The last lines of IM's contextualisation log.
fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    all[all.len().saturating_sub(lines)..].join("\n    ")
}

/// `toscarizer deploy`: creates one infrastructure per component, the successors of a
/// component before it, and waits until each is configured. `im/infras.yaml` records every
/// infrastructure as soon as IM accepts it, with its last state. Returns whether all are
/// deployed.
pub async fn deploy(app: &Path, which: Which, o: &ImOptions) -> Result<bool, ToscarizerError> {
    let target = load_target(app, which)?;
    let docs = read_documents(app, &target)?;
    let im = client(app, o)?.with_secrets(docs.iter().flat_map(|d| model::secrets_in(&d.2)).collect());
    let mut infras = load_infras(app, which)?;
    let order = target.successors_first();
    let edges = target.edges();
    let ok_state = |s: &str| s == "configured" || (o.allow_unconfigured && s == "unconfigured");
    // An infrastructure recorded for other documents (`tosca` ran again since: new cluster
    // names and passwords) cannot be kept or resumed: its peers would write to clusters that
    // do not exist.
    for c in &order {
        let (Some(r), Some(d)) = (infras.get(c), docs.iter().find(|d| &d.0 == c)) else { continue };
        let now = model::cluster_of(&d.2);
        if r.cluster.is_some() && r.cluster != now {
            return Err(failed(format!(
                "component {c}: infrastructure {} was created from an earlier `toscarizer tosca` run (cluster {}; the documents now say {}): run `aisprint toscarizer delete` first, or generate the documents again only after deleting",
                r.url,
                r.cluster.as_deref().unwrap_or("?"),
                now.as_deref().unwrap_or("?")
            )));
        }
    }
    // Components already deployed by an earlier run are kept, those still being built are
    // followed again; failed ones are deleted and created again.
    for c in &order {
        if let Some(r) = infras.get(c).cloned() {
            if ok_state(&r.state) {
                println!("Component {c}: already deployed ({}), kept", r.url);
            } else if r.state == "unconfigured" {
                return Err(failed(format!(
                    "component {c}: infrastructure {} is unconfigured (from an earlier run): `--allow_unconfigured` keeps it, `aisprint toscarizer delete` removes it",
                    r.url
                )));
            } else if r.state != "failed" {
                println!("Component {c}: infrastructure {} was {} when last seen: following it again", r.url, r.state);
            } else {
                println!("Component {c}: the earlier infrastructure ended {}; deleting it to create it again", r.state);
                if let Err(e) = im.destroy(&r.url).await {
                    if e.status() != Some(404) {
                        return Err(failed(format!("component {c}: {e}")));
                    }
                }
                infras.remove(c);
                save_infras(app, which, &infras)?;
            }
        }
    }
    let start = Instant::now();
    let mut wait = o.poll;
    let mut failures: Vec<String> = Vec::new();
    let mut last_shown: BTreeMap<String, String> = BTreeMap::new();
    let mut last_line = Instant::now();
    // Consecutive failed state reads per component: IM or the network may blink.
    let mut poll_errors: BTreeMap<String, u32> = BTreeMap::new();
    loop {
        // Launch what can be launched: components whose successors are all deployed.
        let launched_before = infras.infrastructures.len();
        if failures.is_empty() {
            for c in &order {
                if !launchable(c, &infras, &edges, &order, &ok_state) {
                    continue;
                }
                let Some((_, file, text)) = docs.iter().find(|d| &d.0 == c) else { continue };
                println!("Launching deployment for component {c}");
                match im.create(&format!("create the infrastructure of component {c} ({file})"), text).await {
                    Ok(url) => {
                        println!("Infrastructure {url} created for component {c}; waiting for it to be configured.");
                        infras.upsert(InfraRecord {
                            component: c.clone(),
                            url,
                            state: "pending".into(),
                            created: now_rfc3339(),
                            message: None,
                            cluster: model::cluster_of(text),
                        });
                        save_infras(app, which, &infras)?;
                    }
                    Err(e) => {
                        failures.push(format!("component {c}: {e}"));
                        break;
                    }
                }
            }
        }
        // Poll what is in progress.
        let mut in_progress = Vec::new();
        for c in &order {
            let Some(r) = infras.get(c).cloned() else { continue };
            if ok_state(&r.state) || r.state == "failed" || r.state == "unconfigured" {
                continue;
            }
            let st = match im.state(&r.url).await {
                Ok(s) => {
                    poll_errors.remove(c);
                    s
                }
                Err(e) => {
                    let n = poll_errors.entry(c.clone()).or_insert(0);
                    *n += 1;
                    if *n >= MAX_POLL_ERRORS || e.status() == Some(404) {
                        failures.push(format!("component {c}: {e}"));
                        rec_failed(&mut infras, c, &e.to_string());
                        save_infras(app, which, &infras)?;
                    } else {
                        eprintln!("  {c}: cannot read the state ({e}); trying again");
                        in_progress.push(format!("{c} {}", r.state));
                    }
                    continue;
                }
            };
            let mut rec = r.clone();
            rec.state = st.state.clone();
            if st.state == "failed" || (st.state == "unconfigured" && !o.allow_unconfigured) {
                let why = match im.contmsg(&r.url).await {
                    Ok(log) => tail(&log, 6),
                    Err(e) => format!("(IM's log could not be read: {e})"),
                };
                rec.message = Some(why.clone());
                let hint = if st.state == "unconfigured" {
                    " (its VMs exist but a configuration step failed; `--allow_unconfigured` takes that as deployed)"
                } else {
                    ""
                };
                failures.push(format!("component {c}: infrastructure {} ended {}{hint}:\n    {why}", r.url, st.state));
            } else if !ok_state(&st.state) {
                in_progress.push(format!("{c} {}", st.state));
            }
            if last_shown.get(c) != Some(&st.state) {
                eprintln!("  {c}: {} ({}s)", st.state, start.elapsed().as_secs());
                last_shown.insert(c.clone(), st.state.clone());
            }
            infras.upsert(rec);
            save_infras(app, which, &infras)?;
        }
        let all_done = order.iter().all(|c| infras.get(c).is_some_and(|r| ok_state(&r.state)));
        if all_done {
            break;
        }
        if infras.infrastructures.len() > launched_before {
            wait = o.poll; // a new infrastructure: follow it closely again
        }
        if failures.is_empty() && order.iter().any(|c| launchable(c, &infras, &edges, &order, &ok_state)) {
            continue; // a component's successors just became ready
        }
        if !failures.is_empty() && in_progress.is_empty() {
            break;
        }
        if start.elapsed() > o.timeout {
            failures.push(format!(
                "gave up after {}s waiting for: {} (the infrastructures go on; run `deploy` again to follow them, raise --timeout, or read IM's log at <infrastructure URL>/contmsg)",
                o.timeout.as_secs(),
                if in_progress.is_empty() { "components not launched".to_string() } else { in_progress.join(", ") }
            ));
            break;
        }
        if last_line.elapsed() > Duration::from_secs(30) {
            eprintln!("  waiting ({}s): {}", start.elapsed().as_secs(), in_progress.join(", "));
            last_line = Instant::now();
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(15));
    }
    println!("Infrastructures of {} ({}):", target.rel, infras_rel(which));
    for r in &infras.infrastructures {
        println!("  {}: {} {}", r.component, r.state, r.url);
    }
    for c in &order {
        if infras.get(c).is_none() {
            println!("  {c}: not launched");
        }
    }
    if failures.is_empty() {
        Ok(true)
    } else {
        for f in &failures {
            eprintln!("error: {f}");
        }
        Ok(false)
    }
}

/// `toscarizer outputs`: the TOSCA outputs of each infrastructure (endpoints, credentials),
/// as YAML `{component: outputs}`.
pub async fn outputs(app: &Path, which: Which, o: &ImOptions) -> Result<(serde_yaml::Value, bool), ToscarizerError> {
    let infras = load_infras(app, which)?;
    if infras.infrastructures.is_empty() {
        return Err(failed(format!(
            "{}: no infrastructure recorded: run `aisprint toscarizer deploy` first",
            infras_rel(which)
        )));
    }
    let im = client(app, o)?;
    let mut out = serde_yaml::Mapping::new();
    let mut ok = true;
    for r in &infras.infrastructures {
        let v = match im.outputs(&r.url).await {
            Ok(v) => serde_yaml::to_value(v).unwrap_or(serde_yaml::Value::Null),
            Err(e) => {
                ok = false;
                eprintln!("error: component {}: {e}", r.component);
                serde_yaml::Value::String(format!("Error: {e}"))
            }
        };
        out.insert(serde_yaml::Value::String(r.component.clone()), v);
    }
    Ok((serde_yaml::Value::Mapping(out), ok))
}

/// `toscarizer delete`: deletes the infrastructures, the last created first, and forgets each
/// one IM deleted (or no longer knows). Returns whether all are gone.
pub async fn delete(app: &Path, which: Which, o: &ImOptions) -> Result<bool, ToscarizerError> {
    let mut infras = load_infras(app, which)?;
    if infras.infrastructures.is_empty() {
        println!("{}: no infrastructure recorded, nothing to delete", infras_rel(which));
        return Ok(true);
    }
    let im = client(app, o)?;
    let mut ok = true;
    for r in infras.infrastructures.clone().iter().rev() {
        println!("Deleting infrastructure for component {}", r.component);
        match im.destroy_and_wait(&r.url, o.timeout).await {
            Ok(()) => {
                println!("Infrastructure successfully deleted.");
                infras.remove(&r.component);
            }
            Err(e) if e.status() == Some(404) => {
                println!("IM no longer knows {} (already deleted).", r.url);
                infras.remove(&r.component);
            }
            Err(e) => {
                eprintln!("error: component {}: {e}", r.component);
                ok = false;
            }
        }
        save_infras(app, which, &infras)?;
    }
    if infras.infrastructures.is_empty() {
        let _ = std::fs::remove_file(app.join(infras_rel(which)));
    }
    Ok(ok)
}

/// The image component images start from by default: Python 3 with pip, for amd64 and arm64.
pub const DEFAULT_BASE_IMAGE: &str = "python:3.11-slim";

#[derive(Debug, Clone)]
pub struct DockerOptions {
    pub registry: String,
    pub registry_folder: String,
    pub base_image: String,
    pub dry_run: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DockerOutcome {
    Built,
    DryRun,
    /// The contexts are written; no Docker engine could build them.
    NoEngine,
}

/// The aisprint Python package, copied into every build context (the components import it).
pub(crate) const PY_PACKAGE: &[(&str, &str)] = &[
    ("pyproject.toml", include_str!("../../python/aisprint/pyproject.toml")),
    ("aisprint/__init__.py", include_str!("../../python/aisprint/aisprint/__init__.py")),
    ("aisprint/annotations.py", include_str!("../../python/aisprint/aisprint/annotations.py")),
    ("aisprint/monitoring.py", include_str!("../../python/aisprint/aisprint/monitoring.py")),
];

/// The Docker platform name of a resource architecture.
fn platform(arch: &str) -> Option<&'static str> {
    match arch.trim().to_ascii_lowercase().as_str() {
        "amd64" | "x86_64" | "x86-64" => Some("amd64"),
        "arm64" | "aarch64" | "armv8" => Some("arm64"),
        "armv7" | "arm" | "armhf" | "arm/v7" => Some("arm/v7"),
        _ => None,
    }
}

fn dockerfile(base_image: &str, component: &str, unit: &str) -> String {
    // The documents run /opt/<unit>/script.sh: a partition's folder is the component's.
    let link = if unit == component { String::new() } else { format!("RUN ln -s /opt/{component} /opt/{unit}\n") };
    format!(
        "# Written by `aisprint toscarizer docker`: the image of one design of component {component}.\n\
         FROM {base_image}\n\
         WORKDIR /opt/{component}\n\
         # The AI-SPRINT annotations package the component imports.\n\
         COPY .aisprint-python /tmp/aisprint-python\n\
         RUN pip install --no-cache-dir /tmp/aisprint-python && rm -rf /tmp/aisprint-python\n\
         COPY . /opt/{component}/\n\
         # System packages (requirements.sys, one per line) and Python ones (requirements.txt), if any.\n\
         RUN if [ -s requirements.sys ]; then apt-get update && xargs -a requirements.sys apt-get install -y --no-install-recommends && rm -rf /var/lib/apt/lists/*; fi\n\
         RUN if [ -s requirements.txt ]; then pip install --no-cache-dir -r requirements.txt; fi\n\
         RUN chmod +x /opt/{component}/script.sh\n\
         {link}"
    )
}

/// The OSCAR script of a design folder's component (as `toscarizer docker` writes it into
/// the image's build context): `main.py` run in `/opt/<component>` on the input file.
pub(crate) fn oscar_script(design: &Path, component: &str) -> String {
    let main = std::fs::read_to_string(design.join("main.py")).unwrap_or_default();
    user_script(component, main.contains("'-i'") || main.contains("\"-i\""))
}

/// The OSCAR user script: run once per input file, with `INPUT_FILE_PATH` and
/// `TMP_OUTPUT_DIR` set by OSCAR (or the agent). A file named `aisprint-<uuid>...` keeps its
/// session id along the pipeline.
fn user_script(component: &str, dash_flags: bool) -> String {
    let args = if dash_flags { " -i \"$INPUT_FILE_PATH\" -o \"$OUTPUT_FILE\"" } else { "" };
    format!(
        "#!/bin/sh\n\
         # Written by `aisprint toscarizer docker`: runs component {component} on one input file.\n\
         set -e\n\
         name=$(basename \"$INPUT_FILE_PATH\")\n\
         name=${{name%.*}}\n\
         case \"$name\" in\n\
         \x20 aisprint-*) UUID=$(printf '%s' \"$name\" | cut -c10-45) ;;\n\
         \x20 *) UUID=$(cat /proc/sys/kernel/random/uuid); name=\"aisprint-$UUID\" ;;\n\
         esac\n\
         export UUID\n\
         export OUTPUT_FILE=\"$TMP_OUTPUT_DIR/$name\"\n\
         export COMPONENT_NAME=\"${{COMPONENT_NAME:-{component}}}\"\n\
         cd /opt/{component}\n\
         exec python3 main.py{args}\n"
    )
}

/// `toscarizer docker`.
pub fn docker(app: &Path, o: &DockerOptions) -> Result<DockerOutcome, ToscarizerError> {
    use aisprint_shared::app::deployments::{CandidateDeployments, ComponentPartitions};
    let one = |d: Diagnostic| -> Diagnostics { d.into() };
    let need = |rel: &str| -> Result<String, ToscarizerError> {
        read_text(app, rel).map_err(one)?.ok_or_else(|| {
            ToscarizerError::Invalid(one(Diagnostic::error(rel, "", "missing: run `aisprint design` first")))
        })
    };
    let deployments: CandidateDeployments = parse_file(paths::DEPLOYMENTS, &need(paths::DEPLOYMENTS)?)?;
    let resources: CandidateResources = parse_file(paths::RESOURCES, &need(paths::RESOURCES)?)?;
    let partitions: ComponentPartitions = parse_file(paths::COMPONENT_PARTITIONS, &need(paths::COMPONENT_PARTITIONS)?)?;
    let folder = o.registry_folder.trim_matches('/');
    let prefix = if folder.is_empty() {
        o.registry.trim_end_matches('/').to_string()
    } else {
        format!("{}/{folder}", o.registry.trim_end_matches('/'))
    };
    let mut out = OutputSet::new();
    let mut images: Vec<(String, String, String)> = Vec::new(); // (tag, platform, context)
    let mut containers = serde_yaml::Mapping::new();
    let mut diags = Diagnostics::new();
    for (comp, list) in &partitions.components {
        let mut tags = Vec::new();
        for part in &list.partitions {
            let unit = if part == "base" { comp.clone() } else { format!("{comp}_{part}") };
            let ctx = format!("{}/{comp}/{part}", paths::DESIGNS);
            if !app.join(&ctx).join("main.py").is_file() {
                diags.push(Diagnostic::error(
                    paths::COMPONENT_PARTITIONS,
                    format!("components.{comp}.partitions"),
                    format!("design `{part}` has no {ctx}/main.py: run `aisprint design` again"),
                ));
                continue;
            }
            let mut platforms: Vec<&'static str> = Vec::new();
            if let Some((key, spec)) = deployments.for_unit(&unit) {
                for (ck, c) in &spec.containers {
                    for rname in &c.candidate_execution_resources {
                        let Some((_, r)) = resources.resource(rname) else { continue };
                        let archs: Vec<String> = r
                            .architecture
                            .iter()
                            .cloned()
                            .chain(r.processors.iter().flat_map(|p| p.values().filter_map(|x| x.architecture.clone())))
                            .collect();
                        for a in archs {
                            match platform(&a) {
                                Some(p) if !platforms.contains(&p) => platforms.push(p),
                                Some(_) => {}
                                None => diags.push(Diagnostic::error(
                                    paths::RESOURCES,
                                    format!("resource {rname}"),
                                    format!("architecture `{a}` (for {key}.Containers.{ck}): expected amd64, arm64 or armv7"),
                                )),
                            }
                        }
                    }
                }
            }
            if platforms.is_empty() {
                platforms.push("amd64");
            }
            out.file(format!("{ctx}/Dockerfile"), dockerfile(&o.base_image, comp, &unit));
            out.file(format!("{ctx}/script.sh"), oscar_script(&app.join(&ctx), comp));
            for (f, body) in PY_PACKAGE {
                out.file(format!("{ctx}/.aisprint-python/{f}"), *body);
            }
            for p in platforms {
                let name = format!("{comp}_{part}_{}", p.replace('/', ""));
                let tag = format!("{prefix}/{name}:latest");
                tags.push(serde_yaml::Value::String(tag.clone()));
                images.push((tag, p.to_string(), ctx.clone()));
            }
        }
        let mut entry = serde_yaml::Mapping::new();
        entry.insert("docker_images".into(), serde_yaml::Value::Sequence(tags));
        containers.insert(serde_yaml::Value::String(comp.clone()), serde_yaml::Value::Mapping(entry));
    }
    if diags.has_errors() {
        return Err(diags.into());
    }
    let mut doc = serde_yaml::Mapping::new();
    doc.insert("components".into(), serde_yaml::Value::Mapping(containers));
    let containers_rel = format!("{}/containers.yaml", paths::DESIGNS);
    out.file(&containers_rel, serde_yaml::to_string(&doc).map_err(|e| failed(e.to_string()))?);
    out.commit(app).map_err(|e| failed(e.to_string()))?;
    // The script must be executable in the context (COPY keeps the mode).
    #[cfg(unix)]
    for (_, _, ctx) in &images {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(app.join(ctx).join("script.sh"), std::fs::Permissions::from_mode(0o755));
    }
    println!("Build contexts written for {} image(s); {} lists them.", images.len(), containers_rel);
    if o.dry_run {
        for (tag, p, ctx) in &images {
            println!("  docker build --platform linux/{p} -t {tag} {}/{ctx}", app.display());
        }
        return Ok(DockerOutcome::DryRun);
    }
    if let Err(why) = docker_engine() {
        eprintln!(
            "No Docker engine is reachable ({why}): no image was built or pushed. Build them where one is, with:"
        );
        for (tag, p, ctx) in &images {
            eprintln!("  docker build --platform linux/{p} -t {tag} {}/{ctx} && docker push {tag}", app.display());
        }
        return Ok(DockerOutcome::NoEngine);
    }
    for (tag, p, ctx) in &images {
        println!("Building image: {tag} ({p}) ...");
        run_docker(&["build", "--platform", &format!("linux/{p}"), "-t", tag, &app.join(ctx).display().to_string()])?;
        println!("Pushing image: {tag} ...");
        run_docker(&["push", tag])?;
    }
    println!("Docker images generated and pushed to the registry.\nDONE. {}/{containers_rel} file created with new image URLs.", app.display());
    Ok(DockerOutcome::Built)
}

/// Whether a Docker engine answers (`docker version` reaches the server).
fn docker_engine() -> Result<(), String> {
    let out = std::process::Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("the `docker` command cannot be run: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        Err(err.lines().find(|l| !l.trim().is_empty()).unwrap_or("the server does not answer").trim().to_string())
    }
}

fn run_docker(args: &[&str]) -> Result<(), ToscarizerError> {
    let out = std::process::Command::new("docker")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| failed(format!("docker {}: {e}", args[0])))?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    Err(failed(format!("docker {} failed ({}): {}", args.join(" "), out.status, tail(&err, 8))))
}
