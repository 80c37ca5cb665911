//! Loading an AI-SPRINT application directory: reads every file the design tools use,
//! parses the component scripts, and validates each file and all of them together. Every
//! problem is reported at once.

pub mod pysource;

use std::path::{Path, PathBuf};

use aisprint_model::app::check::{Application, ComponentSource};
use aisprint_model::app::{
    accuracy, annotations, dag, deployments, oscarp, paths, physical, qos, resources, space4aid_config,
};
use aisprint_model::diag::{Diagnostic, Diagnostics, Severity};
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

/// The optional files of an application. A command says which of them it uses: a problem in
/// one it does not use is a warning that names the file (upstream's tools never read it
/// there either), and the file is left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Optional {
    Partitions,
    PhysicalNodes,
    RunParameters,
    DataSizes,
    Space4aidConfig,
    PerformanceModels,
    /// `space4ai-d/qos_constraints.yaml`, which `design` writes.
    QosFile,
    /// `space4ai-r/deployments_performance.yaml`, which `design` writes for
    /// `@model_performance`.
    DeploymentsPerformance,
}

/// A command and the optional files it uses.
#[derive(Debug, Clone, Copy)]
pub struct Uses {
    /// The command as the user typed it (`design`), named in the warnings.
    pub command: &'static str,
    pub files: &'static [Optional],
}

impl Uses {
    /// Every file: `validate` and whatever reads the whole application.
    pub const ALL: Uses = Uses {
        command: "validate",
        files: &[
            Optional::Partitions,
            Optional::PhysicalNodes,
            Optional::RunParameters,
            Optional::DataSizes,
            Optional::Space4aidConfig,
            Optional::PerformanceModels,
            Optional::QosFile,
            Optional::DeploymentsPerformance,
        ],
    };

    /// `design` (upstream's reads the DAG, the candidates, the scripts and the partitions).
    pub const DESIGN: Uses = Uses { command: "design", files: &[Optional::Partitions] };

    /// `space4aid`, and SPACE4AI-R at runtime.
    pub const SPACE4AID: Uses = Uses {
        command: "space4aid",
        files: &[
            Optional::Partitions,
            Optional::PhysicalNodes,
            Optional::DataSizes,
            Optional::Space4aidConfig,
            Optional::PerformanceModels,
            Optional::QosFile,
            Optional::DeploymentsPerformance,
        ],
    };

    /// `profile`: the OSCAR-P campaign.
    pub const PROFILE: Uses =
        Uses { command: "profile", files: &[Optional::Partitions, Optional::RunParameters, Optional::DataSizes] };

    /// `models train`.
    pub const MODELS: Uses = Uses {
        command: "models",
        files: &[Optional::Partitions, Optional::RunParameters, Optional::PerformanceModels],
    };

    fn uses(&self, f: Optional) -> bool {
        self.files.contains(&f)
    }

    /// `d` as warnings when the command does not use the file.
    fn demote(&self, f: Optional, d: Diagnostics) -> Diagnostics {
        if self.uses(f) || !d.has_errors() {
            return d;
        }
        let why = format!("`{}` does not use this file, so it is left out", self.command);
        Diagnostics(
            d.0.into_iter()
                .map(|mut x| {
                    if x.severity == Severity::Error {
                        x.severity = Severity::Warning;
                        x.message = format!("{} ({why})", x.message);
                    }
                    x
                })
                .collect(),
        )
    }
}

struct Reader<'a> {
    dir: &'a Path,
    display: &'a str,
    uses: Uses,
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

    /// An optional file: an empty one is the same as none; a problem in one the command does
    /// not use is a warning.
    fn optional<T: DeserializeOwned + Serialize>(&mut self, which: Optional, rel: &str) -> Option<YamlDoc<T>> {
        let text = self.text(rel, None)?;
        if yaml::is_blank(&text) {
            return None;
        }
        match yaml::parse::<T>(&self.name(rel), &text) {
            Ok((doc, warnings)) => {
                self.diags.extend(warnings);
                Some(doc)
            }
            Err(e) => {
                let d = self.uses.demote(which, e);
                self.diags.extend(d);
                None
            }
        }
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
        let performance_models =
            r.text(paths::PERFORMANCE_MODELS, None).filter(|t| !t.trim().is_empty()).and_then(|t| {
                match json::parse::<oscarp::PerformanceModels>(&r.name(paths::PERFORMANCE_MODELS), &t) {
                    Ok((doc, w)) => {
                        r.diags.extend(w);
                        Some(doc)
                    }
                    Err(e) => {
                        let d = r.uses.demote(Optional::PerformanceModels, e);
                        r.diags.extend(d);
                        None
                    }
                }
            });
        let files = Files {
            dag_text,
            dag,
            resources,
            deployments,
            partitions: r.optional(Optional::Partitions, paths::COMPONENT_PARTITIONS),
            physical_nodes: r.optional(Optional::PhysicalNodes, paths::PHYSICAL_NODES),
            run_parameters: r.optional(Optional::RunParameters, paths::RUN_PARAMETERS),
            data_sizes: r.optional(Optional::DataSizes, paths::DATA_SIZE),
            space4aid: r.optional(Optional::Space4aidConfig, paths::SPACE4AID_CONFIG),
            performance_models,
        };
        // A QoS file a user edited by hand is checked too, but not needed.
        if let Some(q) = r.optional::<qos::QosConstraints>(Optional::QosFile, paths::SPACE4AID_QOS) {
            let d = r.uses.demote(Optional::QosFile, qos::validate(&q));
            r.diags.extend(d);
        }
        files
    }

    /// Each file's own checks (the trained models the performance models name are read
    /// here: the optimizer does no IO).
    fn validate(&mut self, dir: &Path, uses: Uses) -> Diagnostics {
        fn check<T>(d: &mut Diagnostics, doc: &Option<YamlDoc<T>>, f: impl FnOnce(&YamlDoc<T>) -> Diagnostics) {
            if let Some(doc) = doc {
                d.extend(f(doc));
            }
        }
        /// An optional file's own checks; one the command does not use is left out when wrong.
        fn optional<T>(
            d: &mut Diagnostics,
            uses: Uses,
            which: Optional,
            doc: &mut Option<YamlDoc<T>>,
            f: impl FnOnce(&YamlDoc<T>) -> Diagnostics,
        ) {
            let Some(found) = doc else { return };
            let own = f(found);
            if own.has_errors() && !uses.uses(which) {
                *doc = None;
            }
            d.extend(uses.demote(which, own));
        }
        let mut d = Diagnostics::new();
        check(&mut d, &self.dag, dag::validate);
        check(&mut d, &self.resources, resources::validate);
        let res = self.resources.as_ref().map(|r| &r.value);
        check(&mut d, &self.deployments, |doc| deployments::validate(doc, res));
        optional(&mut d, uses, Optional::Partitions, &mut self.partitions, deployments::validate_partitions);
        optional(&mut d, uses, Optional::PhysicalNodes, &mut self.physical_nodes, physical::validate);
        optional(&mut d, uses, Optional::RunParameters, &mut self.run_parameters, oscarp::validate_run_parameters);
        optional(&mut d, uses, Optional::DataSizes, &mut self.data_sizes, oscarp::validate_data_sizes);
        optional(&mut d, uses, Optional::Space4aidConfig, &mut self.space4aid, space4aid_config::validate);
        if let Some(doc) = &mut self.performance_models {
            let mut pd = oscarp::validate_performance_models(&doc.file, &doc.value);
            load_regressors(dir, &doc.file.clone(), &mut doc.value, &mut pd);
            doc.locate(&mut pd);
            let left_out = pd.has_errors() && !uses.uses(Optional::PerformanceModels);
            d.extend(uses.demote(Optional::PerformanceModels, pd));
            if left_out {
                self.performance_models = None;
            }
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
    if rel.ends_with(".pickle") || rel.ends_with(".pkl") {
        let found = if dir.join(rel).is_file() { "" } else { " (and the file is not there)" };
        return Err(format!(
            "`{rel}` is a pickled (Python) model{found}, which aisprint does not load: convert it with `aisprint models import`, or train JSON models with `aisprint models train`"
        ));
    }
    let t = std::fs::read_to_string(dir.join(rel)).map_err(|e| format!("`{rel}`: cannot read: {e}"))?;
    let r = serde_json::from_str::<aisprint_model::perfmodel::Regressor>(&t).map_err(|e| format!("`{rel}`: {e}"))?;
    r.check().map_err(|e| format!("`{rel}`: {e}"))?;
    Ok(r)
}

/// Loads and checks the application in `dir`, every file of it.
pub fn load(dir: &Path) -> Result<LoadedApp, Diagnostics> {
    load_for(dir, Uses::ALL)
}

/// Loads and checks the application in `dir` for a command that uses `uses`.
pub fn load_for(dir: &Path, uses: Uses) -> Result<LoadedApp, Diagnostics> {
    let display = display_dir(dir);
    if !dir.is_dir() {
        return Err(Diagnostic::error(
            &display,
            "",
            "not a folder: give the application directory (the one with common_config/ and src/)",
        )
        .into());
    }
    let mut r = Reader { dir, display: &display, uses, diags: Diagnostics::new() };
    let mut files = Files::read(&mut r);
    let d = files.validate(dir, uses);
    r.diags.extend(d);
    // The component scripts.
    let (sources, folders, incomplete_sources) = read_sources(&mut r);
    let Files { dag_text, dag, resources, deployments, .. } = files;
    let (Some(dag_doc), Some(res_doc), Some(dep_doc), Some(dag_text)) = (dag, resources, deployments, dag_text) else {
        return Err(r.diags.sorted());
    };
    let mut app = Application {
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
        adopted: Vec::new(),
        confusions: Default::default(),
    };
    app.adopt_alternatives();
    load_confusions(&mut r, &mut app, &folders);
    r.diags.extend(app.check());
    match r.diags.into_result() {
        Ok(warnings) => Ok(LoadedApp { app, display, dir: dir.to_path_buf(), dag_text, folders, warnings }),
        Err(all) => Err(all),
    }
}

/// The confusion matrices `@model_performance` needs (`src/<folder>/classification_performance/`);
/// a version without them is reported by the design, which needs them.
fn load_confusions(r: &mut Reader<'_>, app: &mut Application, folders: &[(String, PathBuf)]) {
    let Ok(Some(roles)) = accuracy::roles(app) else { return };
    for version in accuracy::needed(app, &roles) {
        let Some(folder) = folders.iter().find(|(n, _)| *n == version).and_then(|(_, p)| p.file_name()) else {
            continue;
        };
        let base = format!("src/{}/{}", folder.to_string_lossy(), accuracy::FOLDER);
        let (npy, csv) = (format!("{base}/confusion_matrix.npy"), format!("{base}/class_names_dictionary.csv"));
        let bytes = match std::fs::read(r.dir.join(&npy)) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                r.diags.push(Diagnostic::error(r.name(&npy), "", format!("cannot read the file: {e}")));
                continue;
            }
        };
        let matrix = match aisprint_model::npy::read_matrix(&bytes) {
            Ok(m) => m,
            Err(e) => {
                r.diags.push(Diagnostic::error(r.name(&npy), "", e));
                continue;
            }
        };
        let Some(names) = r.text(&csv, Some("it names the classes of confusion_matrix.npy beside it")) else {
            continue;
        };
        match accuracy::Confusion::new(r.name(&npy), &names, &r.name(&csv), matrix) {
            Ok(c) => {
                app.confusions.insert(version, c);
            }
            Err(d) => r.diags.push(d),
        }
    }
}

/// The accuracy rank of each deployment of `names` (0: the most accurate; None: below
/// `metric_thr`), from `space4ai-r/deployments_performance.yaml` (design writes it for
/// `@model_performance`; a user may edit it); without the file every rank is 0.
pub fn accuracy_ranks(dir: &Path, display: &str, names: &[&str]) -> Result<Vec<Option<usize>>, Diagnostics> {
    let mut r = Reader { dir, display, uses: Uses::SPACE4AID, diags: Diagnostics::new() };
    let found = r
        .optional::<accuracy::DeploymentsPerformance>(Optional::DeploymentsPerformance, paths::DEPLOYMENTS_PERFORMANCE);
    r.diags.into_result()?;
    Ok(found.map_or_else(|| vec![Some(0); names.len()], |d| d.value.ranks(names)))
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
