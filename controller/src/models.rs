//! `aisprint models train`: performance models from a profiling campaign's results.
//!
//! Reads, in the campaign folder (OSCAR-P's layout), every
//! `deployment_<i>/<unit>/results/Dataframes/<service>_response_time_dataframe.csv` of a
//! unit tested alone (`C1@VM1`, `C1P1.2@VM1`; columns `run_name, observed_throughput,
//! avg_response_time, requested_parallelism, cores`), trains for each unit a model of the
//! response time from the cores (CoreBasedPredictor) and one from the cores and the
//! observed throughput (LambdaBasedPredictor) with [`aisprint_model::perfmodel`], and
//! writes the models (`oscarp/models/<unit>.<kind>.json`) and `oscarp/performance_models.json`
//! (component -> component or partition -> resource -> {model, regressor_file, meanTime,
//! demand, mape}) with the core-based one (see [`Trained::chosen`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aisprint_model::app::check::Application;
use aisprint_model::perfmodel::{self, Regressor, Sample, TrainOptions, CORES, THROUGHPUT};
use aisprint_model::{Diagnostic, Diagnostics};

use crate::output::OutputSet;

pub const TARGET: &str = "avg_response_time";

/// One row of a response-time CSV.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub run: String,
    pub throughput: f64,
    pub response: f64,
    pub parallelism: f64,
    pub cores: f64,
}

/// The CSV's columns, in the reference's order.
pub const COLUMNS: [&str; 5] =
    ["run_name", "observed_throughput", "avg_response_time", "requested_parallelism", "cores"];

/// Parses a response-time CSV; errors name the line and the column.
pub fn parse_csv(text: &str) -> Result<Vec<Row>, String> {
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else { return Err("empty file".into()) };
    let cols: Vec<&str> = header.split(',').map(str::trim).collect();
    let at = |name: &str| {
        cols.iter()
            .position(|c| *c == name)
            .ok_or_else(|| format!("no `{name}` column (expected {})", COLUMNS.join(", ")))
    };
    let (ir, it, iy, ip, ic) = (at(COLUMNS[0])?, at(COLUMNS[1])?, at(COLUMNS[2])?, at(COLUMNS[3])?, at(COLUMNS[4])?);
    let mut out = Vec::new();
    for (i, l) in lines {
        let f: Vec<&str> = l.split(',').map(str::trim).collect();
        let num = |k: usize, name: &str| -> Result<f64, String> {
            f.get(k)
                .ok_or_else(|| format!("line {}: no `{name}` value", i + 1))?
                .parse::<f64>()
                .map_err(|_| format!("line {}: `{name}` is not a number", i + 1))
        };
        out.push(Row {
            run: f.get(ir).unwrap_or(&"").to_string(),
            throughput: num(it, COLUMNS[1])?,
            response: num(iy, COLUMNS[2])?,
            parallelism: num(ip, COLUMNS[3])?,
            cores: num(ic, COLUMNS[4])?,
        });
    }
    Ok(out)
}

/// Writes rows as a response-time CSV.
pub fn write_csv(rows: &[Row]) -> String {
    let mut s = COLUMNS.join(",");
    s.push('\n');
    for r in rows {
        s.push_str(&format!("{},{:.5},{:.5},{},{:.5}\n", r.run, r.throughput, r.response, r.parallelism, r.cores));
    }
    s
}

/// What was trained for one unit.
#[derive(Debug, Clone)]
pub struct Trained {
    pub unit: String,
    pub component: String,
    /// The names the optimizer knows the unit by (a `partitionX` entry stands for each
    /// partitioning of its component).
    pub partitions: Vec<String>,
    pub resource: String,
    pub rows: usize,
    pub core_based: Regressor,
    pub lambda_based: Regressor,
    pub mean_time: f64,
    pub demand: Option<f64>,
    /// For a unit on a FaaS resource: the warm and cold service times (s) the serverless
    /// model (PACSLTK) takes, from the jobs' run times (median and 95th percentile).
    pub faas: Option<(f64, f64)>,
}

/// The warm and cold service times of a FaaS unit: the median and the 95th percentile of its
/// jobs' run times (`<service>_jobs.csv` beside the table), else the smallest and largest
/// response time of its runs.
fn faas_times(table: &Path, service: &str, rows: &[Row]) -> (f64, f64) {
    let jobs = table.with_file_name(format!("{service}_jobs.csv"));
    let mut times: Vec<f64> = std::fs::read_to_string(jobs)
        .map(|t| {
            // By the header's name: campaigns before the time split had fewer columns.
            let Some(col) = t.lines().next().and_then(|h| h.split(',').position(|c| c == "run_time")) else {
                return Vec::new();
            };
            t.lines().skip(1).filter_map(|l| l.split(',').nth(col)?.parse::<f64>().ok()).filter(|v| *v > 0.0).collect()
        })
        .unwrap_or_default();
    if times.is_empty() {
        let lo = rows.iter().map(|r| r.response).fold(f64::INFINITY, f64::min);
        let hi = rows.iter().map(|r| r.response).fold(0.0, f64::max);
        return (lo, hi.max(lo));
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.95).max(at(0.5)))
}

impl Trained {
    /// The model the entry uses: the core-based one, as OSCAR-P writes. A campaign's
    /// throughput is the rate a burst of uploads was served at, not an arrival rate the
    /// optimizer would give: the throughput-based model is written beside it, for a user who
    /// profiled at steady rates to name instead.
    pub fn chosen(&self) -> (&'static str, &Regressor) {
        ("CoreBasedPredictor", &self.core_based)
    }
}

/// The response-time CSVs of the units tested alone in a campaign folder: (unit, file).
pub fn find_csvs(campaign: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let Ok(deps) = std::fs::read_dir(campaign) else { return out };
    let mut deps: Vec<PathBuf> = deps.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
    deps.sort();
    for d in deps {
        if !d.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("deployment_")) {
            continue;
        }
        let Ok(units) = std::fs::read_dir(&d) else { continue };
        let mut units: Vec<PathBuf> = units.flatten().map(|e| e.path()).collect();
        units.sort();
        for u in units {
            let Some(unit) = u.file_name().and_then(|n| n.to_str()).map(str::to_string) else { continue };
            if !unit.contains('@') {
                continue; // Full_workflow: the pipeline, not a unit
            }
            let Ok(files) = std::fs::read_dir(u.join("results/Dataframes")) else { continue };
            let mut files: Vec<PathBuf> = files
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with("_response_time_dataframe.csv"))
                })
                .collect();
            files.sort();
            for f in files {
                out.push((unit.clone(), f));
            }
        }
    }
    out
}

/// The optimizer's names of a unit: its entry's name, or for a `_partitionX_<h>` entry, each
/// partitioning of the component that has that half.
fn partition_names(app: &Application, entry_name: &str) -> Vec<String> {
    let Some((base, rest)) = entry_name.split_once("_partitionX_") else { return vec![entry_name.to_string()] };
    let designs = app
        .partitions
        .as_ref()
        .and_then(|p| p.value.components.get(base))
        .map(|p| p.partitions.clone())
        .unwrap_or_default();
    let mut out: Vec<String> = designs
        .iter()
        .filter(|d| d.starts_with("partition") && d.ends_with(&format!("_{rest}")))
        .map(|d| format!("{base}_{d}"))
        .collect();
    if out.is_empty() {
        out.push(entry_name.to_string());
    }
    out
}

/// Trains the models of every unit the campaign tested alone. Units are named as the
/// campaign plan names them (`aisprint profile --dry_run`).
pub fn train(app: &Application, campaign: &Path, opts: &TrainOptions) -> Result<Vec<Trained>, Diagnostics> {
    let plan = aisprint_model::profile::plan(app)?;
    let csvs = find_csvs(campaign);
    let mut diags = Diagnostics::new();
    if csvs.is_empty() {
        diags.push(Diagnostic::error(
            campaign.display().to_string(),
            "",
            "no deployment_<i>/<unit>/results/Dataframes/<service>_response_time_dataframe.csv here: run the campaign first (aisprint profile)",
        ));
        return Err(diags);
    }
    let mut out: Vec<Trained> = Vec::new();
    for (unit, file) in csvs {
        let shown = file.display().to_string();
        let Some(u) = plan.deployments.iter().flat_map(|d| d.units.iter()).find(|x| x.id == unit) else {
            diags.push(Diagnostic::error(
                &shown,
                "",
                format!("unit `{unit}` is not in the campaign plan of this application"),
            ));
            continue;
        };
        if out.iter().any(|t| t.unit == unit) {
            continue; // tested in several deployments: the first one's data
        }
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                diags.push(Diagnostic::error(&shown, "", format!("cannot read: {e}")));
                continue;
            }
        };
        let rows = match parse_csv(&text) {
            Ok(r) => r,
            Err(e) => {
                diags.push(Diagnostic::error(&shown, "", e));
                continue;
            }
        };
        let sample = |r: &Row, thr: bool| {
            let mut raw = BTreeMap::new();
            raw.insert(CORES.to_string(), r.cores);
            if thr {
                raw.insert(THROUGHPUT.to_string(), r.throughput);
            }
            Sample { raw, y: r.response }
        };
        let core: Vec<Sample> = rows.iter().map(|r| sample(r, false)).collect();
        let lam: Vec<Sample> = rows.iter().map(|r| sample(r, true)).collect();
        let fit = |s: &[Sample], inputs: &[&str]| perfmodel::train(s, inputs, TARGET, opts);
        let (core_based, lambda_based) = match (fit(&core, &[CORES]), fit(&lam, &[CORES, THROUGHPUT])) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => {
                diags.push(Diagnostic::error(&shown, "", e.to_string()));
                continue;
            }
        };
        let mean_time = rows.iter().map(|r| r.response).sum::<f64>() / rows.len() as f64;
        let demand = perfmodel::demand_estimate(
            &rows.iter().map(|r| (r.response, r.throughput, r.parallelism)).collect::<Vec<_>>(),
        );
        let component = u.name.split("_partition").next().unwrap_or(&u.name).to_string();
        let faas = u.faas.then(|| faas_times(&file, &u.name, &rows));
        out.push(Trained {
            unit: unit.clone(),
            component,
            partitions: partition_names(app, &u.name),
            resource: u.resource.clone(),
            rows: rows.len(),
            core_based,
            lambda_based,
            mean_time,
            demand,
            faas,
        });
    }
    if diags.has_errors() {
        return Err(diags);
    }
    Ok(out)
}

/// The file name of a unit's model (`C1P1.2@VM1` -> `C1P1.2@VM1.core.json`).
pub fn model_file(unit: &str, kind: &str) -> String {
    format!("oscarp/models/{unit}.{kind}.json")
}

/// Writes the models and `oscarp/performance_models.json` (entries of the trained units
/// replace the file's; the others are kept) in one all-or-nothing set.
pub fn write(app_dir: &Path, app: &Application, trained: &[Trained]) -> Result<Vec<String>, String> {
    let mut doc: serde_json::Map<String, serde_json::Value> = match &app.performance_models {
        Some(pm) => serde_json::to_value(&pm.value).ok().and_then(|v| v.as_object().cloned()).unwrap_or_default(),
        None => serde_json::Map::new(),
    };
    let mut out = OutputSet::new();
    let mut written = Vec::new();
    for t in trained {
        for (kind, m) in [("core", &t.core_based), ("lambda", &t.lambda_based)] {
            let rel = model_file(&t.unit, kind);
            out.file(&rel, serde_json::to_string_pretty(m).map_err(|e| e.to_string())? + "\n");
            written.push(rel);
        }
        let (model, chosen) = t.chosen();
        let kind = if model == "CoreBasedPredictor" { "core" } else { "lambda" };
        let mut entry = serde_json::json!({
            "model": model,
            "regressor_file": model_file(&t.unit, kind),
            "meanTime": t.mean_time,
            "mape": chosen.validation.mape,
        });
        if let Some(d) = t.demand {
            entry["demand"] = serde_json::json!(d);
        }
        if let Some((warm, cold)) = t.faas {
            // A FaaS resource takes the serverless model (a trained predictor models nodes).
            entry = serde_json::json!({"model": "PACSLTK", "demandWarm": warm, "demandCold": cold, "meanTime": t.mean_time});
        }
        let comp = doc.entry(t.component.clone()).or_insert_with(|| serde_json::json!({}));
        for p in &t.partitions {
            if let Some(c) = comp.as_object_mut() {
                let part = c.entry(p.clone()).or_insert_with(|| serde_json::json!({}));
                if let Some(pm) = part.as_object_mut() {
                    pm.insert(t.resource.clone(), entry.clone());
                }
            }
        }
    }
    let text = serde_json::to_string_pretty(&serde_json::Value::Object(doc)).map_err(|e| e.to_string())? + "\n";
    out.file(aisprint_model::app::paths::PERFORMANCE_MODELS, text);
    written.push(aisprint_model::app::paths::PERFORMANCE_MODELS.to_string());
    out.commit(app_dir).map_err(|e| e.to_string())?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_round_trip_and_errors() {
        let rows = vec![Row { run: "Run #1".into(), throughput: 0.5, response: 2.25, parallelism: 4.0, cores: 3.6 }];
        let text = write_csv(&rows);
        assert!(
            text.starts_with("run_name,observed_throughput,avg_response_time,requested_parallelism,cores\n"),
            "{text}"
        );
        assert_eq!(parse_csv(&text).expect("parse"), rows);
        assert!(parse_csv("run_name,cores\n").expect_err("columns").contains("observed_throughput"));
        let e = parse_csv(&format!("{}\nRun #1,x,1,1,1\n", COLUMNS.join(","))).expect_err("number");
        assert!(e.contains("line 2") && e.contains("observed_throughput"), "{e}");
    }
}
