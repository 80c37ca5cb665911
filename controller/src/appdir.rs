//! Loading an AI-SPRINT application directory: reads every file the design tools use,
//! parses the component scripts, and validates each file and all of them together. Every
//! problem is reported at once.

use std::path::{Path, PathBuf};

use aisprint_shared::app::check::{Application, ComponentSource};
use aisprint_shared::app::{annotations, dag, deployments, oscarp, paths, physical, qos, resources, space4aid_config};
use aisprint_shared::diag::{Diagnostic, Diagnostics};
use aisprint_shared::json;
use aisprint_shared::yaml::{self, YamlDoc};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::pysource;

/// An application directory, loaded and checked.
#[derive(Debug)]
pub struct LoadedApp {
    pub app: Application,
    /// The directory as the user named it (used in messages and in annotations.yaml keys).
    pub display: String,
    pub dir: PathBuf,
    /// The DAG file's text, kept byte for byte in the base deployment.
    pub dag_text: String,
    /// `src/<folder>` of each component name.
    pub folders: Vec<(String, PathBuf)>,
    pub warnings: Diagnostics,
}

/// The directory as typed, without a trailing slash (`./app/` gives `./app`).
pub fn display_dir(dir: &Path) -> String {
    let s = dir.to_string_lossy().to_string();
    let t = s.trim_end_matches('/');
    if t.is_empty() {
        s
    } else {
        t.to_string()
    }
}

struct Reader<'a> {
    dir: &'a Path,
    display: &'a str,
    diags: Diagnostics,
}

impl Reader<'_> {
    fn name(&self, rel: &str) -> String {
        format!("{}/{rel}", self.display)
    }

    /// The text of a file; `None` when it does not exist (an error is recorded when it is
    /// required or unreadable).
    fn text(&mut self, rel: &str, required: Option<&str>) -> Option<String> {
        let path = self.dir.join(rel);
        match std::fs::read(&path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(t) => Some(t),
                Err(_) => {
                    self.diags.push(Diagnostic::error(self.name(rel), "", "the file is not UTF-8 text"));
                    None
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(why) = required {
                    self.diags.push(Diagnostic::error(self.name(rel), "", format!("the file is missing: {why}")));
                }
                None
            }
            Err(e) => {
                self.diags.push(Diagnostic::error(self.name(rel), "", format!("cannot read the file: {e}")));
                None
            }
        }
    }

    fn yaml<T: DeserializeOwned + Serialize>(&mut self, rel: &str, required: Option<&str>) -> Option<YamlDoc<T>> {
        let text = self.text(rel, required)?;
        self.parse_yaml(rel, &text)
    }

    fn parse_yaml<T: DeserializeOwned + Serialize>(&mut self, rel: &str, text: &str) -> Option<YamlDoc<T>> {
        match yaml::parse::<T>(&self.name(rel), text) {
            Ok((doc, warnings)) => {
                self.diags.extend(warnings);
                Some(doc)
            }
            Err(e) => {
                self.diags.extend(e);
                None
            }
        }
    }
}

/// Loads and checks the application in `dir`.
pub fn load(dir: &Path) -> Result<LoadedApp, Diagnostics> {
    let display = display_dir(dir);
    if !dir.is_dir() {
        return Err(Diagnostic::error(
            &display,
            "",
            "not a folder: give the application directory (the one with common_config/ and src/)",
        )
        .into());
    }
    let mut r = Reader { dir, display: &display, diags: Diagnostics::new() };

    // The DAG, under either of its names.
    let (dag_rel, dag_text) = match r.text(paths::DAG, None) {
        Some(t) => (paths::DAG, Some(t)),
        None => match r.text(paths::DAG_SHORT, None) {
            Some(t) => (paths::DAG_SHORT, Some(t)),
            None => {
                r.diags.push(Diagnostic::error(
                    r.name(paths::DAG),
                    "",
                    "the file is missing: the application DAG (System: {name, components, dependencies}) is required",
                ));
                (paths::DAG, None)
            }
        },
    };
    let dag_doc = dag_text.as_deref().and_then(|t| r.parse_yaml::<dag::ApplicationDag>(dag_rel, t));
    let res_doc = r.yaml::<resources::CandidateResources>(
        paths::RESOURCES,
        Some("it lists the network domains, layers and resources the components may run on"),
    );
    let dep_doc = r.yaml::<deployments::CandidateDeployments>(
        paths::DEPLOYMENTS,
        Some("it says where each component (and partition) may run and with which container"),
    );
    let partitions = r.yaml::<deployments::ComponentPartitions>(paths::COMPONENT_PARTITIONS, None);
    let physical_nodes = r.yaml::<physical::PhysicalNodes>(paths::PHYSICAL_NODES, None);
    let run_parameters = r.yaml::<oscarp::RunParameters>(paths::RUN_PARAMETERS, None);
    let data_sizes = r.yaml::<oscarp::DataSizes>(paths::DATA_SIZE, None);
    let space4aid = r.yaml::<space4aid_config::Space4aidConfig>(paths::SPACE4AID_CONFIG, None);
    let performance_models = match r.text(paths::PERFORMANCE_MODELS, None) {
        None => None,
        Some(t) => match json::parse::<oscarp::PerformanceModels>(&r.name(paths::PERFORMANCE_MODELS), &t) {
            Ok((doc, w)) => {
                r.diags.extend(w);
                Some(doc)
            }
            Err(e) => {
                r.diags.extend(e);
                None
            }
        },
    };
    // A QoS file a user edited by hand is checked too, but not needed.
    if let Some(q) = r.yaml::<qos::QosConstraints>(paths::SPACE4AID_QOS, None) {
        r.diags.extend(qos::validate(&q));
    }

    // Per-file checks.
    let mut d = Diagnostics::new();
    if let Some(doc) = &dag_doc {
        d.extend(dag::validate(doc));
    }
    if let Some(doc) = &res_doc {
        d.extend(resources::validate(doc));
    }
    if let Some(doc) = &dep_doc {
        d.extend(deployments::validate(doc, res_doc.as_ref().map(|r| &r.value)));
    }
    if let Some(doc) = &partitions {
        d.extend(deployments::validate_partitions(doc));
    }
    if let Some(doc) = &physical_nodes {
        d.extend(physical::validate(doc));
    }
    if let Some(doc) = &run_parameters {
        d.extend(oscarp::validate_run_parameters(doc));
    }
    if let Some(doc) = &data_sizes {
        d.extend(oscarp::validate_data_sizes(doc));
    }
    if let Some(doc) = &space4aid {
        d.extend(space4aid_config::validate(doc));
    }
    let mut performance_models = performance_models;
    if let Some(doc) = &mut performance_models {
        let mut pd = oscarp::validate_performance_models(&doc.file, &doc.value);
        // The trained models the entries name, read and checked here (the optimizer does no IO).
        for (c, units) in doc.value.iter_mut() {
            for (u, rs) in units.iter_mut() {
                for (res, m) in rs.iter_mut() {
                    let Some(rel) = m.regressor_file.clone() else { continue };
                    let key = format!("{c}.{u}.{res}.regressor_file");
                    let pickle = rel.ends_with(".pickle") || rel.ends_with(".pkl");
                    let loaded = std::fs::read_to_string(dir.join(&rel))
                        .map_err(|e| format!("`{rel}`: cannot read: {e}"))
                        .and_then(|t| {
                            if pickle {
                                Err(format!("`{rel}` is a pickled (Python) model, which is not read here: train JSON models with `aisprint models train`"))
                            } else {
                                Ok(t)
                            }
                        })
                        .and_then(|t| {
                            serde_json::from_str::<aisprint_shared::perfmodel::Regressor>(&t)
                                .map_err(|e| format!("`{rel}`: {e}"))
                        })
                        .and_then(|r| r.check().map(|()| r).map_err(|e| format!("`{rel}`: {e}")));
                    // A model that cannot be read is reported where it is used (SPACE4AI-D
                    // names the entry); here, why.
                    match loaded {
                        Ok(r) => m.regressor = Some(r),
                        Err(e) => pd.push(Diagnostic::warning(&doc.file, key, e)),
                    }
                }
            }
        }
        doc.locate(&mut pd);
        d.extend(pd);
    }
    r.diags.extend(d);

    // The component scripts.
    let (sources, folders, incomplete_sources) = read_sources(&mut r);

    let (Some(dag_doc), Some(res_doc), Some(dep_doc), Some(dag_text)) = (dag_doc, res_doc, dep_doc, dag_text) else {
        return Err(r.diags.sorted());
    };
    let app = Application {
        dag: dag_doc,
        resources: res_doc,
        deployments: dep_doc,
        partitions,
        physical_nodes,
        run_parameters,
        data_sizes,
        performance_models,
        space4aid,
        sources,
        incomplete_sources,
    };
    r.diags.extend(app.check());
    let diags = r.diags;
    match diags.into_result() {
        Ok(warnings) => Ok(LoadedApp { app, display, dir: dir.to_path_buf(), dag_text, folders, warnings }),
        Err(all) => Err(all),
    }
}

fn component_folders(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("src"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| !n.starts_with('.') && n != "__pycache__")
        .collect();
    names.sort();
    names
}

/// Parses `src/<folder>/main.py` of every component folder; the flag is set when a script
/// could not be read.
fn read_sources(r: &mut Reader<'_>) -> (Vec<ComponentSource>, Vec<(String, PathBuf)>, bool) {
    let src = r.dir.join("src");
    let mut sources = Vec::new();
    let mut folders = Vec::new();
    match std::fs::read_dir(&src) {
        Ok(_) => {}
        Err(e) => {
            let why = if e.kind() == std::io::ErrorKind::NotFound {
                "the folder is missing: it holds one folder per component, each with its main.py".to_string()
            } else {
                format!("cannot read the folder: {e}")
            };
            r.diags.push(Diagnostic::error(r.name("src"), "", why));
            return (sources, folders, true);
        }
    };
    let mut incomplete = false;
    for folder in component_folders(r.dir) {
        let rel = format!("src/{folder}/main.py");
        let Some(text) =
            r.text(&rel, Some("every component folder under src/ needs a main.py with an annotated `main` function"))
        else {
            incomplete = true;
            continue;
        };
        let script = r.name(&rel);
        let info = match pysource::read_script(&script, &text) {
            Ok(i) => i,
            Err(e) => {
                r.diags.extend(e);
                incomplete = true;
                continue;
            }
        };
        let (main_pos, decorators) = match info.mains.as_slice() {
            [] => {
                r.diags.push(Diagnostic::error(
                    &script,
                    "",
                    "no top-level function named `main`: a component's main.py must define exactly one",
                ));
                incomplete = true;
                continue;
            }
            [one] => one.clone(),
            [_, second, ..] => {
                r.diags.push(
                    Diagnostic::error(
                        &script,
                        "main",
                        "`main` is defined more than once: a component's main.py must define exactly one",
                    )
                    .at(Some(second.0)),
                );
                incomplete = true;
                continue;
            }
        };
        let (ann, diags) = annotations::interpret(&script, &decorators, &info.aisprint_imports);
        r.diags.extend(diags);
        if let Some(name) = ann.name() {
            folders.push((name.to_string(), r.dir.join("src").join(&folder)));
        }
        sources.push(ComponentSource { folder, script, main_pos, annotations: ann });
    }
    (sources, folders, incomplete)
}
