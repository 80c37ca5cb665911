//! A job record's time split, as the campaigns' tables and `aisprint oscar jobs|logs` show it.

use aisprint_proto::v1::JobInfo;

/// A job's time split as OSCAR-P's (seconds): waiting for a free slot, creating the process,
/// the overhead until the component's function starts (interpreter, imports), the function
/// itself, and the write-back after it (the script's end, outputs moved). The last three are
/// known when the component's function is annotated with `exec_time`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Phases {
    pub wait: f64,
    pub process_creation: Option<f64>,
    pub overhead: Option<f64>,
    pub compute: Option<f64>,
    pub write_back: Option<f64>,
}

pub fn phases(j: &JobInfo) -> Phases {
    let known = |t: f64| (t > 0.0).then_some(t);
    let spawned = known(j.spawned);
    let func = known(j.function_start).zip(known(j.function_end));
    Phases {
        wait: j.started - j.created,
        process_creation: spawned.map(|s| s - j.started),
        overhead: spawned.zip(func).map(|(s, (a, _))| a - s),
        compute: func.map(|(a, b)| b - a),
        write_back: func.map(|(_, b)| j.finished - b),
    }
}
