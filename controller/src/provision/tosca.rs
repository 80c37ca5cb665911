//! `toscarizer tosca` and `toscarizer fdl`: the deployment's TOSCA documents (and SCONE
//! policies), and the OSCAR FDL read back from them.

use std::path::{Path, PathBuf};

use aisprint_tosca::{self as model, scone};

use super::{failed, load_target, random_chars, read_auth, Target, ToscarizerError, Which};
use crate::output::OutputSet;

#[derive(Debug, Clone)]
pub struct ToscaOptions {
    pub domain: Option<String>,
    pub elastic: u32,
    pub artifacts_url: Option<String>,
    pub im_auth: Option<PathBuf>,
}

/// `toscarizer tosca`: writes `<deployment>/im/<component>.yaml` (mode 0600: they hold the
/// clusters' passwords) and, for components that ask for SCONE, `<deployment>/scone/`.
/// Returns the files written.
pub fn tosca(app: &Path, which: Which, o: &ToscaOptions) -> Result<Vec<PathBuf>, ToscarizerError> {
    let target = load_target(app, which)?;
    let placements = target.placements()?;
    let im_auth = if o.elastic > 0 {
        let p = o.im_auth.clone().unwrap_or_else(|| app.join("im/auth.dat"));
        Some(read_auth(&p)?.header_value().expose().to_string())
    } else {
        None
    };
    let opts = model::Options {
        domain: o.domain.clone().unwrap_or_else(|| model::DEFAULT_DOMAIN.into()),
        elastic: o.elastic,
        artifacts_url: o
            .artifacts_url
            .as_deref()
            .map(folder_url)
            .unwrap_or_else(|| model::DEFAULT_ARTIFACTS_URL.into()),
        im_auth,
    };
    let mut rand = random_chars;
    let docs = model::generate(&placements, &target.edges(), target.physical.as_ref(), &opts, &mut rand)?;
    let mut out = OutputSet::new();
    let mut written = Vec::new();
    for d in &docs {
        let rel = format!("{}/im/{}.yaml", target.rel, d.component);
        out.private_file(&rel, d.text.clone());
        written.push(PathBuf::from(rel));
    }
    let mut scone_cmds = Vec::new();
    for p in &placements {
        let Some(cont) = target.container_of(&p.component) else { continue };
        let shields = target.shields(&p.component, cont);
        if !shields.any() {
            continue;
        }
        let native = cont.image.clone().unwrap_or_default();
        let rel = format!("{}/scone/{}-session.yaml", target.rel, p.component);
        out.file(&rel, scone::session_policy(&p.component, &native, &shields, p.resource.has_sgx(), &random_chars(4)));
        written.push(PathBuf::from(rel));
        scone_cmds.push(scone::sconify_command(&native, &app.display().to_string()));
    }
    if !scone_cmds.is_empty() {
        let rel = format!("{}/scone/sconify.sh", target.rel);
        let mut script = String::from("#!/bin/sh\n# Builds the confidential (SCONE) images of the components annotated with `security`.\nset -e\n");
        for c in &scone_cmds {
            script.push_str(c);
            script.push('\n');
        }
        out.file(&rel, script);
        written.push(PathBuf::from(rel));
    }
    out.commit(app).map_err(|e| failed(e.to_string()))?;
    #[cfg(unix)]
    if !scone_cmds.is_empty() {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(
            app.join(format!("{}/scone/sconify.sh", target.rel)),
            std::fs::Permissions::from_mode(0o755),
        );
    }
    for d in &docs {
        println!(
            "DONE. TOSCA file {}/{}/im/{}.yaml has been generated for Component: {} ({:?}, cluster {}).",
            app.display(),
            target.rel,
            d.component,
            d.component,
            d.layer_type,
            d.cluster
        );
    }
    for c in &scone_cmds {
        println!("SCONE: session policy written; build the confidential image with: {c}");
    }
    Ok(written)
}

/// The TOSCA documents of a deployment, in DAG order: `(component, file name, text)`.
pub(super) fn read_documents(app: &Path, target: &Target) -> Result<Vec<(String, String, String)>, ToscarizerError> {
    let mut out = Vec::new();
    for c in &target.dag.system.components {
        let rel = format!("{}/im/{c}.yaml", target.rel);
        match std::fs::read_to_string(app.join(&rel)) {
            Ok(t) => out.push((c.clone(), rel, t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(failed(format!(
                    "{rel}: missing: run `aisprint toscarizer tosca --application_dir {} {}` first",
                    app.display(),
                    flag(target.which)
                )))
            }
            Err(e) => return Err(failed(format!("{rel}: cannot read: {e}"))),
        }
    }
    Ok(out)
}

fn flag(w: Which) -> &'static str {
    match w {
        Which::Base => "--base",
        Which::Optimal => "--optimal",
    }
}

/// `toscarizer fdl`: `<deployment>/oscar/fdl.yaml` from the TOSCA documents (mode 0600: it
/// holds the storage credentials).
pub fn fdl(app: &Path, which: Which) -> Result<PathBuf, ToscarizerError> {
    let target = load_target(app, which)?;
    let docs = read_documents(app, &target)?;
    let pairs: Vec<(String, String)> = docs.into_iter().map(|(_, f, t)| (f, t)).collect();
    let fdl = model::fdl::from_tosca(&pairs).map_err(|e| failed(e.to_string()))?;
    let text = serde_yaml::to_string(&fdl).map_err(|e| failed(e.to_string()))?;
    let rel = format!("{}/oscar/fdl.yaml", target.rel);
    let mut out = OutputSet::new();
    out.private_file(&rel, text);
    out.commit(app).map_err(|e| failed(e.to_string()))?;
    println!("DONE. FDL file {}/{rel} has been generated.", app.display());
    Ok(PathBuf::from(rel))
}

/// An artifacts location as a folder: the recipes' names are appended to it, so
/// `http://host:port` (as people type it) becomes `http://host:port/`.
fn folder_url(u: &str) -> String {
    aisprint_model::url::folder(u.trim())
}

#[cfg(test)]
mod folder_tests {
    #[test]
    fn an_artifacts_url_without_its_slash_still_names_a_folder() {
        assert_eq!(super::folder_url("http://10.0.0.1:8000"), "http://10.0.0.1:8000/");
        assert_eq!(super::folder_url("https://x/artifacts/"), "https://x/artifacts/");
        assert_eq!(super::folder_url("https://x/artifacts//"), "https://x/artifacts/");
    }
}
