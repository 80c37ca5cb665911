//! The campaign's tables, in OSCAR-P's layout: per run a row of the response-time table
//! (`run_name, observed_throughput, avg_response_time, requested_parallelism, cores`), and per
//! job a row of the jobs table, with its time split as OSCAR-P's.

use std::path::{Path, PathBuf};

use aisprint_model::profile::Unit;
use aisprint_proto::v1::JobInfo;

use super::CampaignError;
use crate::jobs::phases;
use crate::models::{write_csv, Row};

/// The per-job table's columns.
pub const JOBS_HEADER: &str = "job,run_name,file,created,started,finished,wait,process_creation,overhead,compute_time,write_back,run_time,full_time,exit_status\n";

/// A CSV field: quoted when it holds a comma, a quote or a line break (RFC 4180), and with a
/// leading `'` when a spreadsheet would take it for a formula (`=`, `+`, `-`, `@`).
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) { format!("'{s}") } else { s.to_string() };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// One row of the per-job table (unknown parts left empty).
pub(super) fn job_row(j: &JobInfo, run: &str) -> String {
    let p = phases(j);
    let opt = |v: Option<f64>| v.map(|v| format!("{v:.6}")).unwrap_or_default();
    format!(
        "{},{},{},{:.6},{:.6},{:.6},{:.6},{},{},{},{},{:.6},{:.6},{}\n",
        j.job,
        csv_field(run),
        csv_field(&j.file),
        j.created,
        j.started,
        j.finished,
        p.wait,
        opt(p.process_creation),
        opt(p.overhead),
        opt(p.compute),
        opt(p.write_back),
        j.finished - j.started,
        j.finished - j.created,
        j.exit_status
    )
}

/// A run's row: throughput = jobs / (last end - first creation), response = mean of end -
/// creation.
pub(super) fn row_of(done: &[JobInfo], run: &str, parallelism: f64, cores: f64) -> Row {
    let first = done.iter().map(|j| j.created).fold(f64::INFINITY, f64::min);
    let end = done.iter().map(|j| j.finished).fold(f64::NEG_INFINITY, f64::max);
    let span = (end - first).max(1e-6);
    Row {
        run: run.to_string(),
        throughput: done.len() as f64 / span,
        response: done.iter().map(|j| j.finished - j.created).sum::<f64>() / done.len().max(1) as f64,
        parallelism,
        cores,
    }
}

/// The response-time rows and the jobs table of one unit (or one pipeline stage).
#[derive(Debug, Clone)]
pub(super) struct Tables {
    pub rows: Vec<Row>,
    pub jobs: String,
}

impl Default for Tables {
    fn default() -> Self {
        Tables { rows: Vec::new(), jobs: String::from(JOBS_HEADER) }
    }
}

impl Tables {
    /// A run's jobs: its row, and a row per job.
    pub fn add_run(&mut self, done: &[JobInfo], run: &str, parallelism: f64, cores: f64) {
        self.rows.push(row_of(done, run, parallelism, cores));
        for j in done {
            self.jobs.push_str(&job_row(j, run));
        }
    }
}

pub(super) fn write(path: &Path, text: impl AsRef<[u8]>) -> Result<(), CampaignError> {
    std::fs::write(path, text).map_err(|source| CampaignError::Io { path: path.to_path_buf(), source })
}

pub(super) fn folder(dir: &Path) -> Result<(), CampaignError> {
    std::fs::create_dir_all(dir).map_err(|source| CampaignError::Io { path: dir.to_path_buf(), source })
}

/// Writes a unit's tables (`deployment_<i>/<unit>/results/Dataframes/`); the response-time
/// table's path.
pub(super) fn write_unit(campaign: &Path, dep_i: usize, unit: &Unit, t: &Tables) -> Result<PathBuf, CampaignError> {
    let dir = campaign.join(format!("deployment_{dep_i}")).join(&unit.id).join("results/Dataframes");
    folder(&dir)?;
    let table = dir.join(format!("{}_response_time_dataframe.csv", unit.name));
    write(&table, write_csv(&t.rows))?;
    write(&dir.join(format!("{}_jobs.csv", unit.name)), &t.jobs)?;
    Ok(table)
}

/// Writes a pipeline's tables (`deployment_<i>/Full_workflow/results/Dataframes/`): each
/// stage's, then the pipeline's own rows.
pub(super) fn write_pipeline(
    campaign: &Path,
    dep_i: usize,
    units: &[Unit],
    stages: &[Tables],
    whole: &[Row],
) -> Result<(), CampaignError> {
    let dir = campaign.join(format!("deployment_{dep_i}")).join("Full_workflow/results/Dataframes");
    folder(&dir)?;
    for (u, t) in units.iter().zip(stages) {
        write(&dir.join(format!("{}_response_time_dataframe.csv", u.name)), write_csv(&t.rows))?;
        write(&dir.join(format!("{}_jobs.csv", u.name)), &t.jobs)?;
    }
    write(&dir.join("full_workflow_response_time_dataframe.csv"), write_csv(whole))
}

#[cfg(test)]
mod tests {
    #[test]
    fn fields_cannot_break_the_table() {
        assert_eq!(super::csv_field("f001.jpg"), "f001.jpg");
        assert_eq!(super::csv_field("a,b\"c"), "\"a,b\"\"c\"");
        assert_eq!(super::csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    }
}
