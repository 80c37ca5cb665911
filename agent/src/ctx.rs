//! What every task of the agent is given: the node's name, the way into the buffer, the one
//! cancellation token and the tracker that `run` waits on before it returns.

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::batch::BatchWriter;

#[derive(Debug, Clone)]
pub struct Ctx {
    pub batches: BatchWriter,
    /// Cancelled at SIGINT/SIGTERM; every task stops at its next await point.
    pub cancel: CancellationToken,
    /// Every task the agent starts, the late ones too (service runners, S3 mirrors,
    /// connections): `run` returns once all have ended.
    pub tasks: TaskTracker,
}

impl Ctx {
    pub fn node(&self) -> &str {
        self.batches.node()
    }
}
