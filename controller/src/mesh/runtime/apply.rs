//! Running the steps of the change under way, one at a time, each saved in the journal once
//! done; then the change is finished: the placement becomes the current one, its folder is
//! written and the history gets a record. A step runs beside the task's loop (a drain can
//! take minutes), which keeps answering `runtime status` meanwhile.

use aisprint_runtime::clock::now_s;
use aisprint_space4aid::{from_app, solution_json};
use tokio_util::sync::CancellationToken;

use super::journal::{Record, HISTORY_KEPT};
use super::plan::Step;
use super::step::{Running, Stepper};
use super::task::Runtime;
use super::{folders, service_of, Wait};

/// Attempts of a step before the change is abandoned.
const ATTEMPTS: u32 = 5;

impl Runtime {
    /// The pending change's next step, started; `None` when there is none to start now (the
    /// change is finished here when every step is done).
    pub(super) async fn next_step(&mut self, cancel: &CancellationToken) -> Option<Running> {
        let p = self.journal.pending.as_ref()?;
        let Some(step) = p.steps.get(p.done).cloned() else {
            self.finish().await;
            return None;
        };
        let i = p.done;
        let stepper = Stepper { hub: self.hub.clone(), app: self.app.clone() };
        let cancel = cancel.clone();
        Some(Box::pin(async move { (i, stepper.run(step, cancel).await) }))
    }

    /// A step ended: recorded when done; a refusal counts towards abandoning the change.
    /// True when the next step may start at once.
    pub(super) fn step_ended(&mut self, i: usize, r: Result<(), Wait>) -> bool {
        let Some(step) = self.journal.pending.as_ref().and_then(|p| p.steps.get(i).cloned()) else { return false };
        match r {
            Ok(()) => {
                tracing::info!(step = %step.describe(), "SPACE4AI-R step done");
                self.failures = 0;
                if let Step::Route { unit, node } = &step {
                    // In the journal with the step: a restart routes the same way.
                    self.journal.routes.insert(service_of(unit), node.clone());
                }
                if let Some(p) = &mut self.journal.pending {
                    p.done = i + 1;
                    p.waiting = None;
                    if i == p.serving_step() {
                        p.serving_unix_s = Some(now_s());
                    }
                }
                if let Err(e) = self.journal.save(&self.journal_path) {
                    tracing::error!(error = %e, "the runtime journal cannot be written");
                    return false;
                }
                true
            }
            Err(Wait(why, fatal)) => {
                self.failures += u32::from(fatal);
                // Once a route changed, undoing is a change of its own: the change keeps
                // trying, said in `runtime status`, until it goes through.
                let routed = self
                    .journal
                    .pending
                    .as_ref()
                    .is_some_and(|p| p.steps.iter().take(p.done).any(|s| matches!(s, Step::Route { .. })));
                if self.failures >= ATTEMPTS && !routed {
                    tracing::error!(step = %step.describe(), error = %why, "SPACE4AI-R change abandoned");
                    self.record_abandoned(&why);
                    return false;
                }
                if let Some(p) = &mut self.journal.pending {
                    if p.waiting.as_deref() != Some(why.as_str()) {
                        tracing::warn!(step = %step.describe(), reason = %why, "SPACE4AI-R change waits");
                        p.waiting = Some(why);
                        let _ = self.journal.save(&self.journal_path);
                    }
                }
                false
            }
        }
    }

    /// The change is done: the placement is the current one, its folder is written.
    async fn finish(&mut self) {
        let Some(p) = self.journal.pending.take() else { return };
        let now = now_s();
        let mut target = p.target.clone();
        target.at_unix_s = now;
        let from = self.journal.current.as_ref().map_or_else(|| "nothing".to_string(), |c| c.deployment.clone());
        let old_cost = self.journal.current.as_ref().map_or(0.0, |c| c.cost);
        let folder = self.write_folder(&p, &target, now).await;
        let record = Record {
            id: p.id,
            at_unix_s: now,
            trigger: p.trigger.clone(),
            via: p.via.clone(),
            reason: p.reason.clone(),
            lambda: p.lambda,
            from,
            to: target.deployment.clone(),
            old_cost,
            new_cost: target.cost,
            took_s: now - p.started_unix_s,
            serving_after_s: p.serving_unix_s.map(|t| t - p.started_unix_s),
            folder,
        };
        tracing::info!(to = %record.to, took_s = record.took_s, via = %record.via, "SPACE4AI-R change applied");
        // What was notified during the change spoke of the placement before.
        self.notified.clear();
        self.journal.previous = self.journal.current.replace(target);
        self.journal.history.push(record);
        if self.journal.history.len() > HISTORY_KEPT {
            self.journal.history.remove(0);
        }
        if let Err(e) = self.journal.save(&self.journal_path) {
            tracing::error!(error = %e, "the runtime journal cannot be written");
        }
    }

    /// `current_deployment_<date>/` of the change; its path, or why it was not written.
    async fn write_folder(&self, p: &super::journal::Pending, target: &super::journal::Applied, now: f64) -> String {
        let Some(i) = self.app.candidates.iter().position(|c| c.name == target.deployment) else {
            return String::new();
        };
        let model = &self.app.candidates[i].model;
        let Ok(sol) = solution_json::read(model, &target.solution) else { return String::new() };
        let prod = from_app::production(&self.app.app, &self.app.deployments[i], model, &sol);
        let production_yaml = aisprint_model::yaml::to_string(&prod).unwrap_or_default();
        let old = self.journal.current.as_ref();
        let decision = serde_yaml::to_value(serde_json::json!({
            "trigger": p.trigger, "via": p.via, "reason": p.reason, "observed_lambda": p.lambda,
            "observed": self.last.as_ref().map(|l| &l.1),
            "from": old.map(|c| c.deployment.clone()), "to": target.deployment,
            "old_cost": old.map(|c| c.cost), "new_cost": target.cost,
            "old_response_s": old.and_then(|c| {
                let j = self.app.candidates.iter().position(|x| x.name == c.deployment)?;
                let s = solution_json::read(&self.app.candidates[j].model, &c.solution).ok()?;
                Some(aisprint_space4aid::reopt::responses(&self.app.candidates[j].model, &s, p.lambda.max(1e-9)))
            }),
            "new_response_s": aisprint_space4aid::reopt::responses(model, &sol, p.lambda.max(1e-9)),
            "units": target.units, "nodes": target.nodes,
            "steps": p.steps.iter().map(|s| s.describe()).collect::<Vec<_>>(),
            "took_s": now - p.started_unix_s,
        }))
        .unwrap_or_default();
        let w = folders::Written { at_unix_s: now, production_yaml, solution: target.solution.clone(), decision };
        let dir = self.app.dir.clone();
        match tokio::task::spawn_blocking(move || folders::write(&dir, &w)).await {
            Ok(Ok(rel)) => rel.display().to_string(),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "the deployment's folder is not written");
                String::new()
            }
            Err(e) => {
                tracing::error!(error = %e, "the deployment's folder is not written");
                String::new()
            }
        }
    }

    fn record_abandoned(&mut self, why: &str) {
        let Some(p) = self.journal.pending.take() else { return };
        self.journal.history.push(Record {
            id: p.id,
            at_unix_s: now_s(),
            trigger: p.trigger,
            via: format!("{} (abandoned at step {}: {why})", p.via, p.done + 1),
            reason: p.reason,
            lambda: p.lambda,
            from: self.journal.current.as_ref().map_or_else(String::new, |c| c.deployment.clone()),
            to: p.target.deployment,
            old_cost: 0.0,
            new_cost: p.target.cost,
            took_s: now_s() - p.started_unix_s,
            serving_after_s: None,
            folder: String::new(),
        });
        self.failures = 0;
        let _ = self.journal.save(&self.journal_path);
    }
}
