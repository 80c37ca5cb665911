//! Loading an AI-SPRINT application directory: reads every file the design tools use,
//! parses the component scripts, and validates each file and all of them together. Every
//! problem is reported at once.

pub mod pysource;

use std::path::{Path, PathBuf};

use aisprint_model::app::check::{Application, ComponentSource};
use aisprint_model::app::{annotations, dag, deployments, oscarp, paths, physical, qos, resources, space4aid_config};
use aisprint_model::diag::{Diagnostic, Diagnostics};
use aisprint_model::json;
use aisprint_model::yaml::{self, YamlDoc};
use serde::de::DeserializeOwned;
use serde::Serialize;

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

/// The application's files, each parsed when present.
struct Files {
    dag_text: Option<String>,
    dag: Option<YamlDoc<dag::ApplicationDag>>,
    resources: Option<YamlDoc<resources::CandidateResources>>,
    deployments: Option<YamlDoc<deployments::CandidateDeployments>>,
    partitions: Option<YamlDoc<deployments::ComponentPartitions>>,
    physical_nodes: Option<YamlDoc<physical::PhysicalNodes>>,
    run_parameters: Option<YamlDoc<oscarp::RunParameters>>,
    data_sizes: Option<YamlDoc<oscarp::DataSizes>>,
    space4aid: Option<YamlDoc<space4aid_config::Space4aidConfig>>,
    performance_models: Option<json::JsonDoc<oscarp::PerformanceModels>>,
}

impl Files {
    /// Reads and parses every file (problems recorded in `r`).
    fn read(r: &mut Reader) -> Files {
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
        let dag = dag_text.as_deref().and_then(|t| r.parse_yaml::<dag::ApplicationDag>(dag_rel, t));
        let resources = r.yaml::<resources::CandidateResources>(
            paths::RESOURCES,
            Some("it lists the network domains, layers and resources the components may run on"),
        );
        let deployments = r.yaml::<deployments::CandidateDeployments>(
            paths::DEPLOYMENTS,
            Some("it says where each component (and partition) may run and with which container"),
        );
        let performance_models = r.text(paths::PERFORMANCE_MODELS, None).and_then(|t| {
            match json::parse::<oscarp::PerformanceModels>(&r.name(paths::PERFORMANCE_MODELS), &t) {
                Ok((doc, w)) => {
                    r.diags.extend(w);
                    Some(doc)
                }
                Err(e) => {
                    r.diags.extend(e);
                    None
                }
            }
        });
        let files = Files {
            dag_text,
            dag,
            resources,
            deployments,
            partitions: r.yaml(paths::COMPONENT_PARTITIONS, None),
            physical_nodes: r.yaml(paths::PHYSICAL_NODES, None),
            run_parameters: r.yaml(paths::RUN_PARAMETERS, None),
            data_sizes: r.yaml(paths::DATA_SIZE, None),
            space4aid: r.yaml(paths::SPACE4AID_CONFIG, None),
            performance_models,
        };
        // A QoS file a user edited by hand is checked too, but not needed.
        if let Some(q) = r.yaml::<qos::QosConstraints>(paths::SPACE4AID_QOS, None) {
            r.diags.extend(qos::validate(&q));
        }
        files
    }

    /// Each file's own checks (the trained models the performance models name are read
    /// here: the optimizer does no IO).
    fn validate(&mut self, dir: &Path) -> Diagnostics {
        fn check<T>(d: &mut Diagnostics, doc: &Option<YamlDoc<T>>, f: impl FnOnce(&YamlDoc<T>) -> Diagnostics) {
            if let Some(doc) = doc {
                d.extend(f(doc));
            }
        }
        let mut d = Diagnostics::new();
        check(&mut d, &self.dag, dag::validate);
        check(&mut d, &self.resources, resources::validate);
        let res = self.resources.as_ref().map(|r| &r.value);
        check(&mut d, &self.deployments, |doc| deployments::validate(doc, res));
        check(&mut d, &self.partitions, deployments::validate_partitions);
        check(&mut d, &self.physical_nodes, physical::validate);
        check(&mut d, &self.run_parameters, oscarp::validate_run_parameters);
        check(&mut d, &self.data_sizes, oscarp::validate_data_sizes);
        check(&mut d, &self.space4aid, space4aid_config::validate);
        if let Some(doc) = &mut self.performance_models {
            let mut pd = oscarp::validate_performance_models(&doc.file, &doc.value);
            load_regressors(dir, &doc.file.clone(), &mut doc.value, &mut pd);
            doc.locate(&mut pd);
            d.extend(pd);
        }
        d
    }
}

/// Reads the trained models the entries of performance_models.json name (`regressor_file`);
/// one that cannot be read is a warning here (SPACE4AI-D names the entry where it is used).
fn load_regressors(dir: &Path, file: &str, models: &mut oscarp::PerformanceModels, pd: &mut Diagnostics) {
    for (c, units) in models.iter_mut() {
        for (u, rs) in units.iter_mut() {
            for (res, m) in rs.iter_mut() {
                let Some(rel) = m.regressor_file.clone() else { continue };
                let key = format!("{c}.{u}.{res}.regressor_file");
                match read_regressor(dir, &rel) {
                    Ok(r) => m.regressor = Some(r),
                    Err(e) => pd.push(Diagnostic::warning(file, key, e)),
                }
            }
        }
    }
}

/// A trained model (JSON, as `aisprint models train` writes), checked.
fn read_regressor(dir: &Path, rel: &str) -> Result<aisprint_model::perfmodel::Regressor, String> {
    let t = std::fs::read_to_string(dir.join(rel)).map_err(|e| format!("`{rel}`: cannot read: {e}"))?;
    if rel.ends_with(".pickle") || rel.ends_with(".pkl") {
        return Err(format!(
            "`{rel}` is a pickled (Python) model, which is not read here: train JSON models with `aisprint models train`"
        ));
    }
    let r = serde_json::from_str::<aisprint_model::perfmodel::Regressor>(&t).map_err(|e| format!("`{rel}`: {e}"))?;
    r.check().map_err(|e| format!("`{rel}`: {e}"))?;
    Ok(r)
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
    let mut files = Files::read(&mut r);
    let d = files.validate(dir);
    r.diags.extend(d);
    // The component scripts.
    let (sources, folders, incomplete_sources) = read_sources(&mut r);
    let Files { dag_text, dag, resources, deployments, .. } = files;
    let (Some(dag_doc), Some(res_doc), Some(dep_doc), Some(dag_text)) = (dag, resources, deployments, dag_text) else {
        return Err(r.diags.sorted());
    };
    let app = Application {
        dag: dag_doc,
        resources: res_doc,
        deployments: dep_doc,
        partitions: files.partitions,
        physical_nodes: files.physical_nodes,
        run_parameters: files.run_parameters,
        data_sizes: files.data_sizes,
        performance_models: files.performance_models,
        space4aid: files.space4aid,
        sources,
        incomplete_sources,
    };
    r.diags.extend(app.check());
    match r.diags.into_result() {
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
