//! SPACE4AI-R's journal: what runs, the change under way with its steps and how many are
//! done, the routes, and the changes applied. It is written whole and synced before each
//! step runs and after it, so a controller killed mid-change resumes it at the step it was
//! at (every step can run twice: an apply replaces a node's set, a route is set, a drain of
//! a drained bucket answers at once).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::plan::{Placed, Step};
use super::RuntimeError;

/// A placement as applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Applied {
    /// The design deployment.
    pub deployment: String,
    /// The SPACE4AI-D solution JSON.
    pub solution: serde_json::Value,
    pub units: Vec<Placed>,
    /// Resource -> node, as applied.
    pub nodes: BTreeMap<String, String>,
    pub cost: f64,
    pub at_unix_s: f64,
}

/// A change under way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    pub id: u64,
    pub trigger: String,
    pub via: String,
    pub reason: String,
    pub lambda: f64,
    pub target: Applied,
    pub steps: Vec<Step>,
    /// Steps done.
    pub done: usize,
    pub started_unix_s: f64,
    /// Why it does not go on (an agent not connected), when it waits.
    #[serde(default)]
    pub waiting: Option<String>,
    /// When the new placement took its first files (its last route changed; a change
    /// without a move: its apply done).
    #[serde(default)]
    pub serving_unix_s: Option<f64>,
}

impl Pending {
    /// The step after which the new placement takes the files: the last route change, else
    /// the last step that is not a scale (VMs removed after the services shrank serve
    /// nothing).
    pub fn serving_step(&self) -> usize {
        self.steps
            .iter()
            .rposition(|s| matches!(s, Step::Route { .. }))
            .or_else(|| self.steps.iter().rposition(|s| !matches!(s, Step::Scale { .. })))
            .unwrap_or(self.steps.len().saturating_sub(1))
    }
}

/// A change applied, for `runtime history`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub id: u64,
    pub at_unix_s: f64,
    pub trigger: String,
    pub via: String,
    pub reason: String,
    pub lambda: f64,
    pub from: String,
    pub to: String,
    pub old_cost: f64,
    pub new_cost: f64,
    pub took_s: f64,
    /// Seconds from the decision until the new placement took files.
    #[serde(default)]
    pub serving_after_s: Option<f64>,
    pub folder: String,
}

/// Changes kept in the journal's history.
pub const HISTORY_KEPT: usize = 1_000;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Journal {
    pub current: Option<Applied>,
    /// The placement before the current one (`runtime rollback`).
    #[serde(default)]
    pub previous: Option<Applied>,
    pub pending: Option<Pending>,
    pub routes: BTreeMap<String, String>,
    pub history: Vec<Record>,
    pub next_id: u64,
    /// Placements measured to break a constraint: (deployment, solution JSON, rate).
    #[serde(default)]
    pub limits: Vec<(String, serde_json::Value, f64)>,
}

/// Placements measured to fail kept at most.
pub const LIMITS_KEPT: usize = 100;

/// The journal's file: beside the controller's state.
pub fn path_of(state: &Path) -> PathBuf {
    let name = state.file_name().map_or_else(|| "state".into(), |n| n.to_string_lossy().to_string());
    state.with_file_name(format!("{name}.runtime.json"))
}

impl Journal {
    /// The journal at `path`, or an empty one when there is none yet.
    pub fn open(path: &Path) -> Result<Journal, RuntimeError> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                RuntimeError::Journal(format!("{}: unreadable ({e}); move it away to start afresh", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Journal::default()),
            Err(e) => Err(RuntimeError::Journal(format!("{}: {e}", path.display()))),
        }
    }

    /// Writes the journal whole and syncs it.
    pub fn save(&self, path: &Path) -> Result<(), RuntimeError> {
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| RuntimeError::Journal(e.to_string()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let name = path.file_name().map_or_else(String::new, |n| n.to_string_lossy().to_string());
        aisprint_runtime::fsutil::write_durably(dir, &name, &bytes)
            .map(|_| ())
            .map_err(|e| RuntimeError::Journal(format!("{}: {e}", path.display())))
    }
}
