//! `toscarizer deploy`, `outputs` and `delete`: the deployment's infrastructures through the
//! Infrastructure Manager, recorded in `<deployment>/im/infras.yaml`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aisprint_tosca::im::{InfraRecord, Infras};
use aisprint_tosca::{self as model};

use super::tosca::read_documents;
use super::{failed, load_target, read_auth, ToscarizerError, Which};
use crate::clients::im::ImClient;
use crate::output::OutputSet;

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
    aisprint_ams::engine::rfc3339(aisprint_runtime::clock::now_s())
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
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    all[all.len().saturating_sub(lines)..].join("\n    ")
}

/// One `deploy` run: the documents, IM, the record of the infrastructures, what failed.
struct Run<'a> {
    app: &'a Path,
    which: Which,
    o: &'a ImOptions,
    im: ImClient,
    /// (component, file, text), in DAG order.
    docs: Vec<(String, String, String)>,
    /// The components, the successors of a component before it.
    order: Vec<String>,
    edges: Vec<(String, String, f64)>,
    infras: Infras,
    failures: Vec<String>,
    /// The last state shown per component (a line per change).
    last_shown: BTreeMap<String, String>,
    /// Consecutive failed state reads per component: IM or the network may blink.
    poll_errors: BTreeMap<String, u32>,
    start: Instant,
}

impl Run<'_> {
    /// Deployed: configured, or unconfigured when that is allowed.
    fn ok_state(&self, s: &str) -> bool {
        s == "configured" || (self.o.allow_unconfigured && s == "unconfigured")
    }

    fn save(&self) -> Result<(), ToscarizerError> {
        save_infras(self.app, self.which, &self.infras)
    }

    /// Whether component `c` can be launched: not launched yet, and every component it
    /// writes to deployed.
    fn launchable(&self, c: &str) -> bool {
        self.infras.get(c).is_none()
            && self
                .edges
                .iter()
                .filter(|e| e.0 == c)
                .all(|e| self.infras.get(&e.1).is_some_and(|r| self.ok_state(&r.state)) || !self.order.contains(&e.1))
    }

    /// An infrastructure recorded for other documents (`tosca` ran again since: new cluster
    /// names and passwords) cannot be kept or resumed: its peers would write to clusters that
    /// do not exist.
    fn check_documents(&self) -> Result<(), ToscarizerError> {
        for c in &self.order {
            let (Some(r), Some(d)) = (self.infras.get(c), self.docs.iter().find(|d| &d.0 == c)) else { continue };
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
        Ok(())
    }

    /// Components already deployed by an earlier run are kept, those still being built are
    /// followed again; failed ones are deleted and created again.
    async fn resume(&mut self) -> Result<(), ToscarizerError> {
        for c in self.order.clone() {
            let Some(r) = self.infras.get(&c).cloned() else { continue };
            if self.ok_state(&r.state) {
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
                if let Err(e) = self.im.destroy(&r.url).await {
                    if e.status() != Some(404) {
                        return Err(failed(format!("component {c}: {e}")));
                    }
                }
                self.infras.remove(&c);
                self.save()?;
            }
        }
        Ok(())
    }

    /// Launches what can be launched: components whose successors are all deployed.
    async fn launch(&mut self) -> Result<(), ToscarizerError> {
        for c in self.order.clone() {
            if !self.launchable(&c) {
                continue;
            }
            let Some((_, file, text)) = self.docs.iter().find(|d| d.0 == c).cloned() else { continue };
            println!("Launching deployment for component {c}");
            match self.im.create(&format!("create the infrastructure of component {c} ({file})"), &text).await {
                Ok(url) => {
                    println!("Infrastructure {url} created for component {c}; waiting for it to be configured.");
                    self.infras.upsert(InfraRecord {
                        component: c.clone(),
                        url,
                        state: "pending".into(),
                        created: now_rfc3339(),
                        message: None,
                        cluster: model::cluster_of(&text),
                    });
                    self.save()?;
                }
                Err(e) => {
                    self.failures.push(format!("component {c}: {e}"));
                    break;
                }
            }
        }
        Ok(())
    }

    /// Reads the state of what is in progress; what still is (`component state`).
    async fn poll(&mut self) -> Result<Vec<String>, ToscarizerError> {
        let mut in_progress = Vec::new();
        for c in self.order.clone() {
            let Some(r) = self.infras.get(&c).cloned() else { continue };
            if self.ok_state(&r.state) || r.state == "failed" || r.state == "unconfigured" {
                continue;
            }
            if let Some(p) = self.poll_one(&c, r).await? {
                in_progress.push(p);
            }
        }
        Ok(in_progress)
    }

    /// One component's state: recorded, shown when it changed, and IM's reason when it
    /// ended badly; `Some` while it is still in progress.
    async fn poll_one(&mut self, c: &str, r: InfraRecord) -> Result<Option<String>, ToscarizerError> {
        let st = match self.im.state(&r.url).await {
            Ok(s) => {
                self.poll_errors.remove(c);
                s
            }
            Err(e) => {
                let n = self.poll_errors.entry(c.to_string()).or_insert(0);
                *n += 1;
                if *n >= MAX_POLL_ERRORS || e.status() == Some(404) {
                    self.failures.push(format!("component {c}: {e}"));
                    rec_failed(&mut self.infras, c, &e.to_string());
                    self.save()?;
                    return Ok(None);
                }
                eprintln!("  {c}: cannot read the state ({e}); trying again");
                return Ok(Some(format!("{c} {}", r.state)));
            }
        };
        let mut rec = r.clone();
        rec.state = st.state.clone();
        let mut in_progress = None;
        if st.state == "failed" || (st.state == "unconfigured" && !self.o.allow_unconfigured) {
            let why = match self.im.contmsg(&r.url).await {
                Ok(log) => tail(&log, 6),
                Err(e) => format!("(IM's log could not be read: {e})"),
            };
            rec.message = Some(why.clone());
            let hint = if st.state == "unconfigured" {
                " (its VMs exist but a configuration step failed; `--allow_unconfigured` takes that as deployed)"
            } else {
                ""
            };
            self.failures.push(format!("component {c}: infrastructure {} ended {}{hint}:\n    {why}", r.url, st.state));
        } else if !self.ok_state(&st.state) {
            in_progress = Some(format!("{c} {}", st.state));
        }
        if self.last_shown.get(c) != Some(&st.state) {
            eprintln!("  {c}: {} ({}s)", st.state, self.start.elapsed().as_secs());
            self.last_shown.insert(c.to_string(), st.state.clone());
        }
        self.infras.upsert(rec);
        self.save()?;
        Ok(in_progress)
    }

    /// Prints the infrastructures and the failures; whether all are deployed.
    fn report(&self, rel: &str) -> bool {
        println!("Infrastructures of {rel} ({}):", infras_rel(self.which));
        for r in &self.infras.infrastructures {
            println!("  {}: {} {}", r.component, r.state, r.url);
        }
        for c in &self.order {
            if self.infras.get(c).is_none() {
                println!("  {c}: not launched");
            }
        }
        for f in &self.failures {
            eprintln!("error: {f}");
        }
        self.failures.is_empty()
    }
}

/// `toscarizer deploy`: creates one infrastructure per component, the successors of a
/// component before it, and waits until each is configured. `im/infras.yaml` records every
/// infrastructure as soon as IM accepts it, with its last state. Returns whether all are
/// deployed.
pub async fn deploy(app: &Path, which: Which, o: &ImOptions) -> Result<bool, ToscarizerError> {
    let target = load_target(app, which)?;
    let docs = read_documents(app, &target)?;
    let im = client(app, o)?.with_secrets(docs.iter().flat_map(|d| model::secrets_in(&d.2)).collect());
    let mut run = Run {
        app,
        which,
        o,
        im,
        docs,
        order: target.successors_first(),
        edges: target.edges(),
        infras: load_infras(app, which)?,
        failures: Vec::new(),
        last_shown: BTreeMap::new(),
        poll_errors: BTreeMap::new(),
        start: Instant::now(),
    };
    run.check_documents()?;
    run.resume().await?;
    run.start = Instant::now();
    let mut wait = o.poll;
    let mut last_line = Instant::now();
    loop {
        let launched_before = run.infras.infrastructures.len();
        if run.failures.is_empty() {
            run.launch().await?;
        }
        let in_progress = run.poll().await?;
        if run.order.iter().all(|c| run.infras.get(c).is_some_and(|r| run.ok_state(&r.state))) {
            break;
        }
        if run.infras.infrastructures.len() > launched_before {
            wait = o.poll; // a new infrastructure: follow it closely again
        }
        if run.failures.is_empty() && run.order.iter().any(|c| run.launchable(c)) {
            continue; // a component's successors just became ready
        }
        if !run.failures.is_empty() && in_progress.is_empty() {
            break;
        }
        if run.start.elapsed() > o.timeout {
            run.failures.push(format!(
                "gave up after {}s waiting for: {} (the infrastructures go on; run `deploy` again to follow them, raise --timeout, or read IM's log at <infrastructure URL>/contmsg)",
                o.timeout.as_secs(),
                if in_progress.is_empty() { "components not launched".to_string() } else { in_progress.join(", ") }
            ));
            break;
        }
        if last_line.elapsed() > Duration::from_secs(30) {
            eprintln!("  waiting ({}s): {}", run.start.elapsed().as_secs(), in_progress.join(", "));
            last_line = Instant::now();
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(15));
    }
    Ok(run.report(&target.rel))
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
