//! One step of a change, run beside the runtime task's loop (a drain can take minutes, and
//! the loop keeps answering `runtime status`): what it needs is owned.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use aisprint_proto::commands::{AgentCommand, Drain};
use tokio_util::sync::CancellationToken;

use super::app::RuntimeApp;
use super::plan::Step;
use super::{input_of, service_of, services, Wait};
use crate::mesh::hub::Hub;

/// How long an agent has to answer an apply.
const APPLY_ANSWER: Duration = Duration::from_secs(60);

/// How long a drain may take (the files already in the old node's queue).
const DRAIN_S: f64 = 600.0;

/// How long to wait for files on their way to a node before draining it.
const SETTLE: Duration = Duration::from_secs(30);

/// What a step needs, owned: it runs beside the task's loop.
#[derive(Debug, Clone)]
pub(super) struct Stepper {
    pub(super) hub: Hub,
    pub(super) app: Arc<RuntimeApp>,
}

/// A step running: its index and its outcome.
pub(super) type Running = Pin<Box<dyn Future<Output = (usize, Result<(), Wait>)> + Send>>;

impl Stepper {
    pub(super) async fn run(self, step: Step, cancel: CancellationToken) -> Result<(), Wait> {
        let not_connected = |n: &str| Wait(format!("agent {n} is not connected"), false);
        match &step {
            Step::Apply { node, units } => {
                if !self.hub.connected(node) {
                    return Err(not_connected(node));
                }
                let apply = services::apply_for(&self.app.dir, &self.app.deployments, units)
                    .map_err(|e| Wait(e.to_string(), true))?;
                let r = self
                    .hub
                    .command(node, &AgentCommand::ServicesApply(apply), APPLY_ANSWER)
                    .await
                    .map_err(|e| Wait(e.to_string(), false))?;
                if !r.ok {
                    return Err(Wait(format!("agent {node} refused the services: {}", r.message), true));
                }
                Ok(())
            }
            Step::Route { unit, node } => {
                self.hub.set_route(&service_of(unit), node);
                Ok(())
            }
            Step::Drain { node, unit } => {
                if !self.hub.connected(node) {
                    return Err(not_connected(node));
                }
                // Files shipped before the route changed reach the old node first.
                let until = tokio::time::Instant::now() + SETTLE;
                while self.hub.in_flight(node) > 0 && tokio::time::Instant::now() < until && !cancel.is_cancelled() {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                let drain = AgentCommand::BucketDrain(Drain { bucket: input_of(unit), timeout_s: DRAIN_S });
                let wait = Duration::from_secs_f64(DRAIN_S + 10.0);
                let r = tokio::select! {
                    r = self.hub.command(node, &drain, wait) => r.map_err(|e| Wait(e.to_string(), false))?,
                    _ = cancel.cancelled() => return Err(Wait("the controller is stopping".into(), false)),
                };
                if !r.ok {
                    return Err(Wait(format!("agent {node} could not drain {unit}: {}", r.message), true));
                }
                Ok(())
            }
            Step::Scale { resource, workers } => {
                let Some(im) = &self.app.im else {
                    return Err(Wait("scaling VMs needs runtime.im in controller.yaml".into(), true));
                };
                let done = im
                    .scale(resource, *workers as usize, &cancel)
                    .await
                    .map_err(|Wait(why, fatal)| Wait(format!("scale {resource}: {why}"), fatal))?;
                for s in done {
                    tracing::info!(%resource, component = %s.component, from = s.from, to = s.to, "SPACE4AI-R: VMs scaled");
                }
                Ok(())
            }
        }
    }
}
