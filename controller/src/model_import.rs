//! `aisprint models import`: upstream's pickled regressors (aMLLibrary's `best.pickle`, which
//! OSCAR-P names in `oscarp/performance_models.json`) turned into aisprint's JSON models, and
//! `MLLIBfaas` entries into `PACSLTK` ones. The pickles are read by `python/import_regressor.py`
//! in a Python process of its own (unpickling runs code the file names; aisprint never does
//! it), in `--python` or a virtual environment under the user's cache folder. Every entry is
//! converted and checked before anything is written; then the models, the updated file and
//! its backup are written together.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use aisprint_model::app::paths;
use aisprint_model::perfmodel::{Regressor, CORES, THROUGHPUT};
use aisprint_model::{Diagnostic, Diagnostics};
use serde_json::Value;

use crate::output::OutputSet;

/// The helper, run with `python -c`.
const HELPER: &str = include_str!("../../python/import_regressor.py");
/// What the helper's environment needs.
const PACKAGES: [&str; 2] = ["scikit-learn", "xgboost-cpu"];
/// Where imported models go, under the application.
const MODELS_DIR: &str = "oscarp/models/imported";

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Invalid(Diagnostics),
    #[error("{0}")]
    Failed(String),
}

/// What an import did.
#[derive(Debug, Default)]
pub struct Imported {
    pub models: usize,
    pub faas: usize,
}

/// The Python to run the helper with: `python`, else the import environment (created once).
fn interpreter(python: Option<&Path>, log: &mut dyn Write) -> Result<PathBuf, ImportError> {
    if let Some(p) = python {
        return Ok(p.to_path_buf());
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .ok_or_else(|| ImportError::Failed("neither XDG_CACHE_HOME nor HOME is set: give --python".into()))?;
    let venv = cache.join("aisprint/import-venv");
    let py = venv.join("bin/python");
    let ready = Command::new(&py)
        .args(["-c", "import sklearn, xgboost"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ready {
        return Ok(py);
    }
    let _ = writeln!(log, "Creating {} with {} (once; a few minutes)...", venv.display(), PACKAGES.join(" and "));
    let run = |cmd: &mut Command, what: &str| -> Result<(), ImportError> {
        let out = cmd.stdin(Stdio::null()).output().map_err(|e| ImportError::Failed(format!("{what}: {e}")))?;
        if out.status.success() {
            return Ok(());
        }
        let err = String::from_utf8_lossy(&out.stderr);
        Err(ImportError::Failed(format!(
            "{what} failed: {}; or give --python, a Python with {} installed",
            err.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no message").trim(),
            PACKAGES.join(" and ")
        )))
    };
    run(Command::new("python3").args(["-m", "venv"]).arg(&venv), "python3 -m venv")?;
    run(Command::new(venv.join("bin/pip")).args(["install", "-q"]).args(PACKAGES), "pip install scikit-learn xgboost")?;
    Ok(py)
}

/// Converts one pickle with the helper.
fn convert(python: &Path, pickle: &Path) -> Result<Regressor, String> {
    let out = Command::new(python)
        .arg("-c")
        .arg(HELPER)
        .arg(pickle)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let why = err.lines().find_map(|l| l.strip_prefix("error: ")).unwrap_or_else(|| err.trim());
        return Err(why.to_string());
    }
    let r: Regressor =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("the helper's model is not valid: {e}"))?;
    r.check()?;
    Ok(r)
}

/// The inputs SPACE4AI-D gives a model of `kind`.
fn allowed(kind: &str) -> &'static [&'static str] {
    if kind == "LambdaBasedPredictor" {
        &[CORES, THROUGHPUT]
    } else {
        &[CORES]
    }
}

/// Imports the pickled models and MLLIBfaas entries of the application in `dir`.
pub fn import(dir: &Path, python: Option<&Path>, log: &mut dyn Write) -> Result<Imported, ImportError> {
    let rel = paths::PERFORMANCE_MODELS;
    let file = dir.join(rel);
    let shown = format!("{}/{rel}", crate::appdir::display_dir(dir));
    let text = std::fs::read_to_string(&file)
        .map_err(|e| ImportError::Invalid(Diagnostic::error(&shown, "", format!("cannot read: {e}")).into()))?;
    let mut doc: Value = serde_json::from_str(&text)
        .map_err(|e| ImportError::Invalid(Diagnostic::error(&shown, "", format!("not JSON: {e}")).into()))?;
    let mut diags = Diagnostics::new();
    let mut out = OutputSet::new();
    let mut done = Imported::default();
    let mut py: Option<PathBuf> = None;
    let Some(components) = doc.as_object_mut() else {
        return Err(ImportError::Invalid(
            Diagnostic::error(&shown, "", "expected {component: {unit: {resource: model}}}").into(),
        ));
    };
    for (c, units) in components.iter_mut() {
        for (u, resources) in units.as_object_mut().into_iter().flatten() {
            for (r, entry) in resources.as_object_mut().into_iter().flatten() {
                let key = format!("{c}.{u}.{r}");
                let Some(m) = entry.as_object_mut() else { continue };
                let kind = m.get("model").and_then(Value::as_str).unwrap_or_default().to_string();
                if kind == "MLLIBfaas" {
                    let has = |k: &str| m.get(k).and_then(Value::as_f64).is_some_and(|v| v >= 0.0);
                    if has("demandWarm") && has("demandCold") {
                        m.insert("model".into(), "PACSLTK".into());
                        m.remove("regressor_file");
                        done.faas += 1;
                    } else {
                        diags.push(Diagnostic::error(&shown, key, "MLLIBfaas (aMLLibrary's FaaS surrogate) is read as PACSLTK: give `demandWarm` and `demandCold`, the warm and cold response times (s) measured on the FaaS platform"));
                    }
                    continue;
                }
                let Some(f) = m.get("regressor_file").and_then(Value::as_str).map(str::to_string) else { continue };
                if !(f.ends_with(".pickle") || f.ends_with(".pkl")) {
                    continue;
                }
                let path = if Path::new(&f).is_absolute() { PathBuf::from(&f) } else { dir.join(&f) };
                if !path.is_file() {
                    diags.push(Diagnostic::error(
                        &shown,
                        format!("{key}.regressor_file"),
                        format!(
                            "`{f}`: no such file (copy the pickle into the application and name it relative to it)"
                        ),
                    ));
                    continue;
                }
                let python = match &py {
                    Some(p) => p.clone(),
                    None => py.insert(interpreter(python, log)?).clone(),
                };
                let _ = writeln!(log, "Importing {key}: {f}");
                let model = match convert(&python, &path) {
                    Ok(m) => m,
                    Err(e) => {
                        diags.push(Diagnostic::error(&shown, format!("{key}.regressor_file"), format!("`{f}`: {e}")));
                        continue;
                    }
                };
                let ok = allowed(&kind);
                if let Some(bad) = model.inputs.iter().find(|i| !ok.contains(&i.as_str())) {
                    diags.push(Diagnostic::error(
                        &shown,
                        format!("{key}.regressor_file"),
                        format!(
                            "`{f}` predicts from `{bad}`, which SPACE4AI-D does not know for a {kind}: it gives {}",
                            ok.join(" and ")
                        ),
                    ));
                    continue;
                }
                let target = format!("{MODELS_DIR}/{u}@{r}.json");
                let body = serde_json::to_string_pretty(&model).map_err(|e| ImportError::Failed(e.to_string()))?;
                out.file(&target, body + "\n");
                m.insert("regressor_file".into(), target.into());
                done.models += 1;
            }
        }
    }
    if diags.has_errors() {
        return Err(ImportError::Invalid(diags));
    }
    if done.models + done.faas > 0 {
        let text_new = serde_json::to_string_pretty(&doc).map_err(|e| ImportError::Failed(e.to_string()))? + "\n";
        out.file(rel, text_new);
        out.file(format!("{rel}.bak"), text);
        out.commit(dir).map_err(|e| ImportError::Failed(e.to_string()))?;
    }
    Ok(done)
}
