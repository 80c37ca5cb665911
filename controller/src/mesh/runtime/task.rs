//! The runtime's one task: it owns the journal and makes one decision at a time. Triggers
//! (notifications of violations, `POST /ams-alert`, the periodic check) lead to an
//! observation and a decision; a decision to change becomes a change in the journal, whose
//! steps run one by one (`apply`), each recorded before and after. A change that needs an
//! agent not connected waits, said in `runtime status`, and goes on when it connects.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aisprint_model::config::RuntimeSection;
use aisprint_runtime::clock::{now_ms, now_s};
use aisprint_space4aid::eval::{evaluate, Solution};
use aisprint_space4aid::reopt::{self, Current, Decision, Settings, Situation};
use aisprint_space4aid::solution_json;
use serde_json::json;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::app::RuntimeApp;
use super::journal::{Applied, Journal, Pending};
use super::observe::{entries, observe, Link, Observed};
use super::plan::{placed, steps, with_scaling, Nodes};
use super::step::Running;
use super::{service_of, RuntimeError};
use crate::mesh::hub::Hub;
use crate::mesh::qos::{QosInput, JOBS_KEPT};
use crate::mesh::state::State;

/// A violation notified (by an agent, the controller's own checks, or `POST /ams-alert`):
/// who, and the AMS body.
pub type Notified = (String, serde_json::Value);

/// What the task is asked.
#[derive(Debug)]
pub enum RuntimeInput {
    /// `runtime status`: the journal's state and the last observation, as JSON.
    Status(oneshot::Sender<serde_json::Value>),
    /// `runtime plan`: what would change now and why, not applied.
    Plan(oneshot::Sender<serde_json::Value>),
    /// `runtime rollback`: the previous placement, applied as a change.
    Rollback(oneshot::Sender<Result<String, String>>),
}

/// Notifications waiting for the task at most (more are dropped: one decision covers them).
const QUEUE: usize = 1_024;

/// The task's own state.
pub(super) struct Runtime {
    pub(super) section: RuntimeSection,
    pub(super) app: Arc<RuntimeApp>,
    pub(super) journal: Journal,
    pub(super) journal_path: PathBuf,
    pub(super) hub: Hub,
    qos: mpsc::Sender<QosInput>,
    state: Arc<State>,
    settings: Settings,
    started: f64,
    /// Violations notified since the last decision.
    pub(super) notified: Vec<String>,
    /// The last observation: when, what, the decision's reason.
    pub(super) last: Option<(f64, Observed, String)>,
    /// Failed attempts of the pending change's current step.
    pub(super) failures: u32,
    /// A change decided whose resources have no agent yet: made when they have one.
    deferred: Option<Deferred>,
}

/// A change waiting for agents before its steps can be known.
#[derive(Debug, Clone)]
struct Deferred {
    candidate: usize,
    solution: Solution,
    trigger: String,
    via: String,
    reason: String,
    lambda: f64,
    /// What it waits for.
    waiting: String,
}

/// Violations notified kept until the next decision at most.
const NOTIFIED_KEPT: usize = 100;

/// The channel of notifications into the task (given to whoever notifies before it starts).
pub fn notifications() -> (mpsc::Sender<Notified>, mpsc::Receiver<Notified>) {
    mpsc::channel(QUEUE)
}

/// What the task works with.
#[derive(Debug)]
pub struct Wiring {
    pub hub: Hub,
    pub qos: mpsc::Sender<QosInput>,
    pub state: Arc<State>,
    pub notes: mpsc::Receiver<Notified>,
}

/// Reads the journal and starts the task; the sender asks it.
pub fn start(
    section: RuntimeSection,
    app: RuntimeApp,
    state_path: &std::path::Path,
    w: Wiring,
    cancel: CancellationToken,
    tasks: &TaskTracker,
) -> Result<mpsc::Sender<RuntimeInput>, RuntimeError> {
    let Wiring { hub, qos, state, notes } = w;
    let journal_path = super::journal::path_of(state_path);
    let journal = Journal::open(&journal_path)?;
    for (cluster, node) in &journal.routes {
        hub.set_route(cluster, node);
    }
    let settings = Settings { min_dwell_s: section.min_dwell_s, cooldown_s: section.cooldown_s, ..Settings::default() };
    let rt = Runtime {
        section,
        app: Arc::new(app),
        journal,
        journal_path,
        hub,
        qos,
        state,
        settings,
        started: now_s(),
        notified: Vec::new(),
        last: None,
        failures: 0,
        deferred: None,
    };
    let (tx, rx) = mpsc::channel(16);
    tasks.spawn(rt.run(rx, notes, cancel));
    Ok(tx)
}

/// The name of what an AMS body says was violated.
pub fn violation_of(body: &serde_json::Value) -> Option<String> {
    let m = body.as_object()?;
    for k in ["constraint", "drift_alert", "alert", "threshold_alert"] {
        if let Some(n) = m.get(k).and_then(|v| v.as_str()) {
            return Some(n.to_string());
        }
    }
    m.get("Throughput").and_then(serde_json::Value::as_f64).map(|t| format!("throughput {t}"))
}

impl Runtime {
    async fn run(
        mut self,
        mut rx: mpsc::Receiver<RuntimeInput>,
        mut notes: mpsc::Receiver<Notified>,
        cancel: CancellationToken,
    ) {
        tracing::info!(application = %self.app.display, period_s = self.section.period_s, dry_run = self.section.dry_run, "SPACE4AI-R keeps the application placed");
        if self.journal.current.is_none() && self.journal.pending.is_none() {
            let (i, sol) = self.app.start.clone();
            self.change(i, &sol, "start", "placement", "the placement SPACE4AI-D chose".into(), 0.0).await;
        }
        let period = Duration::from_secs_f64(self.section.period_s);
        let mut next_check = tokio::time::Instant::now() + period;
        let mut running: Option<Running> = None;
        let mut retry_at = tokio::time::Instant::now();
        loop {
            if running.is_none() && tokio::time::Instant::now() >= retry_at {
                if let Some(d) = self.deferred.take().filter(|_| self.journal.pending.is_none()) {
                    self.change(d.candidate, &d.solution, &d.trigger, &d.via, d.reason, d.lambda).await;
                }
                running = self.next_step(&cancel).await;
                retry_at = tokio::time::Instant::now() + Duration::from_millis(500);
            }
            // A change that waits (an agent away) is tried again every half second.
            let waits = self.journal.pending.is_some() || self.deferred.is_some();
            let wait = if waits && running.is_none() { Duration::from_millis(500) } else { Duration::from_secs(3600) };
            tokio::select! {
                _ = cancel.cancelled() => break,
                m = rx.recv() => match m {
                    Some(m) => self.take(m).await,
                    None => break,
                },
                Some((source, body)) = notes.recv() => self.notified(source, body).await,
                _ = tokio::time::sleep_until(next_check) => {
                    next_check = tokio::time::Instant::now() + period;
                    self.check("periodic").await;
                }
                (i, r) = async { running.as_mut().expect("guarded").await }, if running.is_some() => {
                    running = None;
                    if !self.step_ended(i, r) {
                        retry_at = tokio::time::Instant::now() + Duration::from_millis(500);
                    }
                }
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    async fn take(&mut self, m: RuntimeInput) {
        match m {
            RuntimeInput::Status(tx) => {
                let _ = tx.send(self.status());
            }
            RuntimeInput::Plan(tx) => {
                let v = match self.decide_now().await {
                    Some((obs, d)) => self.describe(&obs, &d),
                    None => json!({"decision": "none", "reason": "no placement applied yet"}),
                };
                let _ = tx.send(v);
            }
            RuntimeInput::Rollback(tx) => {
                let _ = tx.send(self.rollback().await);
            }
        }
    }

    async fn notified(&mut self, source: String, body: serde_json::Value) {
        if let Some(rate) = body.get("Throughput").and_then(serde_json::Value::as_f64) {
            // The reference runtime's observation: a check now, not a violation.
            self.check(&format!("throughput reported by {source}: {rate}")).await;
            return;
        }
        let Some(what) = violation_of(&body) else {
            tracing::debug!(%source, %body, "notification without a violation: ignored");
            return;
        };
        if self.journal.pending.is_some() {
            tracing::info!(%source, %what, "violation notified during a change: not acted on");
            return;
        }
        // Checks over windows that began before the last change speak of the placement before.
        let since = self.journal.current.as_ref().map_or(f64::INFINITY, |c| now_s() - c.at_unix_s);
        if since < self.section.min_dwell_s {
            tracing::info!(%source, %what, since_s = since, "violation notified within min_dwell_s of a change: not acted on");
            return;
        }
        if !self.notified.contains(&what) && self.notified.len() < NOTIFIED_KEPT {
            self.notified.push(what.clone());
        }
        self.check(&format!("notification from {source}: {what}")).await;
    }

    /// The current placement's candidate and solution.
    fn current(&self) -> Option<(usize, Solution)> {
        let cur = self.journal.current.as_ref()?;
        let i = self.app.candidates.iter().position(|c| c.name == cur.deployment)?;
        let sol = solution_json::read(&self.app.candidates[i].model, &cur.solution).ok()?;
        Some((i, sol))
    }

    /// Observes now over the window (shorter at first); `i` is the current candidate.
    async fn observe(&self, i: usize) -> Option<Observed> {
        let cur = self.journal.current.as_ref()?;
        let now = now_s();
        let window = self.section.window_s.min((now - self.started).max(1.0));
        let since_ms = now_ms() - (window * 1000.0) as i64;
        let arrivals: usize =
            entries(&cur.units).iter().map(|u| self.hub.arrivals_since(&service_of(u), since_ms)).sum();
        let (tx, rx) = oneshot::channel();
        let jobs = match self.qos.send(QosInput::Jobs(String::new(), JOBS_KEPT, tx)).await {
            Ok(()) => rx.await.unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        let model = &self.app.candidates[i].model;
        let mut o = observe(model, (&cur.units, &cur.nodes), arrivals, &jobs, (now, window), cur.at_unix_s);
        let nodes: std::collections::BTreeSet<&String> = cur.nodes.values().collect();
        for n in nodes {
            let s = self.hub.shipped_since(n, since_ms);
            if let Some(link) = Link::of(s.files, s.bytes, s.seconds) {
                o.links.insert(n.clone(), link);
            }
        }
        Some(o)
    }

    /// Observes and decides, applying nothing.
    async fn decide_now(&self) -> Option<(Observed, Decision)> {
        let (i, sol) = self.current()?;
        let obs = self.observe(i).await?;
        let mut violated = obs.violated.clone();
        violated.extend(self.notified.iter().cloned());
        let since = self.journal.current.as_ref().map_or(f64::INFINITY, |c| now_s() - c.at_unix_s);
        let limits = self
            .journal
            .limits
            .iter()
            .filter_map(|(dep, sol, lambda)| {
                let candidate = self.app.candidates.iter().position(|c| c.name == *dep)?;
                let solution = solution_json::read(&self.app.candidates[candidate].model, sol).ok()?;
                Some(reopt::Limit { candidate, solution, lambda: *lambda })
            })
            .collect();
        let now = Situation { lambda: obs.lambda, violated, since_applied_s: since, limits };
        // SPACE4AI-D's search runs threads of its own: off the runtime's workers.
        let (app, settings) = (self.app.clone(), self.settings.clone());
        let d = tokio::task::spawn_blocking(move || {
            let (di, dsol) = &app.start;
            reopt::decide(
                &app.candidates,
                Current { candidate: *di, solution: dsol },
                Current { candidate: i, solution: &sol },
                &app.table,
                &now,
                &settings,
            )
        })
        .await
        .ok()?;
        Some((obs, d))
    }

    /// A check: observe, decide, and start the change decided (one at a time).
    async fn check(&mut self, trigger: &str) {
        if self.journal.pending.is_some() {
            tracing::debug!(%trigger, "a change is under way: the check waits for it");
            return;
        }
        let Some((obs, d)) = self.decide_now().await else { return };
        let measured = !obs.violated.is_empty() || !self.notified.is_empty();
        self.notified.clear();
        // What set it off, as the history says it.
        let trigger = if trigger == "periodic" && !obs.violated.is_empty() {
            format!("violation: {}", obs.violated.join("; "))
        } else if trigger == "periodic" && !d.current_feasible {
            format!("load: {:.2} req/s, beyond the placement's capacity", obs.lambda)
        } else {
            trigger.to_string()
        };
        let trigger = trigger.as_str();
        tracing::info!(%trigger, lambda = obs.lambda, violated = ?obs.violated, decision = %d.reason, "SPACE4AI-R check");
        self.last = Some((now_s(), obs.clone(), d.reason.clone()));
        let Some(c) = d.choice else { return };
        if measured && obs.lambda > 0.0 && !self.section.dry_run {
            // The model found this placement feasible or not: it broke a constraint at this rate.
            if let Some(cur) = &self.journal.current {
                self.journal.limits.push((cur.deployment.clone(), cur.solution.clone(), obs.lambda));
                if self.journal.limits.len() > super::journal::LIMITS_KEPT {
                    self.journal.limits.remove(0);
                }
            }
        }
        if self.section.dry_run {
            tracing::info!(to = %self.app.candidates[c.candidate].name, via = c.via.name(), "dry run: not applied");
            return;
        }
        self.change(c.candidate, &c.solution, trigger, c.via.name(), d.reason, obs.lambda).await;
    }

    /// The node that runs each resource of `units`; the resources without one.
    async fn nodes_for(&self, resources: &[String]) -> (Nodes, Vec<String>) {
        let state = self.state.clone();
        let agents =
            tokio::task::spawn_blocking(move || state.agents()).await.ok().and_then(Result::ok).unwrap_or_default();
        let mut nodes = Nodes::new();
        let mut missing = Vec::new();
        for r in resources {
            let named = self.section.agents.get(r).cloned();
            let registered = || {
                let of: Vec<&str> = agents.iter().filter(|a| a.resource == *r).map(|a| a.node_id.as_str()).collect();
                of.iter().find(|n| self.hub.connected(n)).or(of.first()).map(|n| n.to_string())
            };
            match named.or_else(registered) {
                Some(n) => {
                    nodes.insert(r.clone(), n);
                }
                None => missing.push(r.clone()),
            }
        }
        (nodes, missing)
    }

    /// Starts a change to solution `sol` of candidate `i`: its steps in the journal.
    async fn change(&mut self, i: usize, sol: &Solution, trigger: &str, via: &str, reason: String, lambda: f64) {
        let model = &self.app.candidates[i].model;
        let units = placed(model, sol);
        let mut resources: Vec<String> = units.iter().map(|u| u.resource.clone()).collect();
        resources.sort();
        resources.dedup();
        let (nodes, missing) = self.nodes_for(&resources).await;
        if !missing.is_empty() {
            // Its steps name nodes: it is made once every resource has an agent.
            let waiting = format!("no agent stands for resource(s) {}", missing.join(", "));
            if self.deferred.as_ref().is_none_or(|d| d.waiting != waiting) {
                tracing::warn!(%trigger, %waiting, "SPACE4AI-R change waits for agents");
            }
            self.deferred = Some(Deferred {
                candidate: i,
                solution: sol.clone(),
                trigger: trigger.to_string(),
                via: via.to_string(),
                reason,
                lambda,
                waiting,
            });
            return;
        }
        self.deferred = None;
        let mut at = model.clone();
        at.set_lambda(lambda.max(model.lambda));
        let ev = evaluate(&at, sol);
        let target = Applied {
            deployment: self.app.candidates[i].name.clone(),
            solution: solution_json::write(&at, sol, &ev, None),
            units: units.clone(),
            nodes: nodes.clone(),
            cost: ev.cost,
            at_unix_s: 0.0,
        };
        let old = self.journal.current.as_ref().map(|c| (c.units.as_slice(), &c.nodes));
        let scalable = self.app.im.as_ref().map(|s| s.resources()).unwrap_or_default();
        let steps = with_scaling(steps(old, (&units, &nodes)), old.map(|o| o.0), &units, &scalable);
        self.journal.next_id += 1;
        tracing::info!(%trigger, to = %target.deployment, %via, %reason, steps = steps.len(), "SPACE4AI-R change");
        self.journal.pending = Some(Pending {
            id: self.journal.next_id,
            trigger: trigger.to_string(),
            via: via.to_string(),
            reason,
            lambda,
            target,
            steps,
            done: 0,
            started_unix_s: now_s(),
            waiting: None,
            serving_unix_s: None,
        });
        self.failures = 0;
        if let Err(e) = self.journal.save(&self.journal_path) {
            tracing::error!(error = %e, "the runtime journal cannot be written: the change is not started");
            self.journal.pending = None;
        }
    }

    async fn rollback(&mut self) -> Result<String, String> {
        if self.journal.pending.is_some() || self.deferred.is_some() {
            return Err("a change is under way: roll back once it is done".into());
        }
        let prev = self.journal.previous.clone().ok_or("no previous placement to go back to")?;
        let i = self
            .app
            .candidates
            .iter()
            .position(|c| c.name == prev.deployment)
            .ok_or("the previous deployment is gone")?;
        let sol = solution_json::read(&self.app.candidates[i].model, &prev.solution).map_err(|e| e.to_string())?;
        let lambda = self.last.as_ref().map_or(0.0, |l| l.1.lambda);
        self.change(i, &sol, "rollback", "rollback", format!("back to {}", prev.deployment), lambda).await;
        Ok(format!("rolling back to the placement of {} (deployment {})", prev.at_unix_s, prev.deployment))
    }

    fn status(&self) -> serde_json::Value {
        let last =
            self.last.as_ref().map(|(at, obs, reason)| json!({"at_unix_s": at, "observed": obs, "decision": reason}));
        json!({
            "application": self.app.display,
            "dry_run": self.section.dry_run,
            "current": self.journal.current.as_ref().map(|c| json!({
                "deployment": c.deployment, "units": c.units, "nodes": c.nodes, "cost": c.cost, "since_unix_s": c.at_unix_s,
            })),
            "pending": self.journal.pending.as_ref().map(|p| json!({
                "id": p.id, "trigger": p.trigger, "via": p.via, "reason": p.reason, "to": p.target.deployment,
                "steps": p.steps.iter().map(|s| s.describe()).collect::<Vec<_>>(), "done": p.done, "waiting": p.waiting,
            })),
            "deferred": self.deferred.as_ref().map(|d| json!({
                "trigger": d.trigger, "via": d.via, "reason": d.reason,
                "to": self.app.candidates[d.candidate].name, "waiting": d.waiting,
            })),
            "last_check": last,
            "history": self.journal.history.iter().rev().take(20).collect::<Vec<_>>(),
        })
    }

    /// A decision as `runtime plan` shows it.
    fn describe(&self, obs: &Observed, d: &Decision) -> serde_json::Value {
        let to = d.choice.as_ref().map(|c| {
            let model = &self.app.candidates[c.candidate].model;
            json!({
                "deployment": self.app.candidates[c.candidate].name, "via": c.via.name(), "cost": c.cost,
                "units": placed(model, &c.solution),
                "response_s": reopt::responses(model, &c.solution, d.target_lambda),
            })
        });
        json!({
            "observed": obs, "reason": d.reason, "target_lambda": d.target_lambda,
            "current_cost": d.current_cost, "current_feasible": d.current_feasible, "change": to,
        })
    }
}
