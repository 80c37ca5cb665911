//! `aisprint new-application`: the template tree of an AI-SPRINT application, with commented
//! example files that `aisprint design` accepts as they are.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum NewAppError {
    #[error("`{0}` is not a usable application name: use letters, digits, '-', '_' or '.', and no '/'")]
    BadName(String),
    #[error("{0} already exists; choose another name or remove it")]
    Exists(PathBuf),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

const DAG: &str = include_str!("../templates/new_application/application_dag.yaml");
const RESOURCES: &str = include_str!("../templates/new_application/candidate_resources.yaml");
const DEPLOYMENTS: &str = include_str!("../templates/new_application/candidate_deployments.yaml");
const SECURITY: &str = include_str!("../templates/new_application/security.yaml");
const POLICY: &str = include_str!("../templates/new_application/policy.yaml");
const PREPROCESS: &str = include_str!("../templates/new_application/preprocess.py");
const INFERENCE: &str = include_str!("../templates/new_application/inference.py");

/// The files of the template, relative to the application folder.
pub fn template(name: &str) -> Vec<(&'static str, String)> {
    let fill = |t: &str| t.replace("{{application_name}}", name);
    let mut files = vec![
        ("common_config/application_dag.yaml", fill(DAG)),
        ("common_config/candidate_resources.yaml", fill(RESOURCES)),
        ("common_config/candidate_deployments.yaml", fill(DEPLOYMENTS)),
        ("common_config/security.yaml", SECURITY.to_string()),
        ("scone/policy.yaml", POLICY.to_string()),
        ("src/preprocess/main.py", PREPROCESS.to_string()),
        ("src/inference/main.py", INFERENCE.to_string()),
    ];
    files.extend(KEEP.iter().map(|k| (*k, String::new())));
    files
}

/// Empty folders of the template, kept by a `.gitkeep` file each.
const KEEP: [&str; 10] = [
    "aisprint/deployments/.gitkeep",
    "aisprint/designs/.gitkeep",
    "aisprint/logs/.gitkeep",
    "ams/.gitkeep",
    "im/.gitkeep",
    "oscar/.gitkeep",
    "oscarp/.gitkeep",
    "pycompss/.gitkeep",
    "space4ai-d/.gitkeep",
    "space4ai-r/.gitkeep",
];

/// Creates `parent/name` from the template. The folder is built under a temporary name and
/// renamed at the end, so a failure leaves nothing that looks like an application.
pub fn create(parent: &Path, name: &str) -> Result<PathBuf, NewAppError> {
    let valid = !name.is_empty()
        && name != "."
        && name != ".."
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid {
        return Err(NewAppError::BadName(name.to_string()));
    }
    let dest = parent.join(name);
    if dest.exists() {
        return Err(NewAppError::Exists(dest));
    }
    let tmp = parent.join(format!(".{name}.aisprint-tmp"));
    let _ = std::fs::remove_dir_all(&tmp);
    let write = |rel: &str, content: &str| -> Result<(), NewAppError> {
        let path = tmp.join(rel);
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p).map_err(|source| NewAppError::Write { path: p.to_path_buf(), source })?;
        }
        std::fs::write(&path, content).map_err(|source| NewAppError::Write { path: dest.join(rel), source })
    };
    let result = template(name).iter().try_for_each(|(rel, content)| write(rel, content));
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, &dest).map_err(|source| {
        let _ = std::fs::remove_dir_all(&tmp);
        NewAppError::Write { path: dest.clone(), source }
    })?;
    Ok(dest)
}
