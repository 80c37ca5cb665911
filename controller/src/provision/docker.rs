//! `toscarizer docker`: a build context and Dockerfile per design, one image per architecture
//! its candidate resources need, and `aisprint/designs/containers.yaml`; built and pushed when
//! a Docker engine answers.

use std::path::Path;

use aisprint_model::app::paths;
use aisprint_model::app::resources::CandidateResources;
use aisprint_model::{Diagnostic, Diagnostics};

use super::deploy::tail;
use super::images::{write_back, Named};
use super::{failed, parse_file, read_text, ToscarizerError};
use crate::output::OutputSet;
pub use crate::packaging::PY_PACKAGE;
use aisprint_model::app::dag::ApplicationDag;

/// The image component images start from by default: Python 3 with pip, for amd64 and arm64.
pub const DEFAULT_BASE_IMAGE: &str = "python:3.11-slim";

#[derive(Debug, Clone)]
pub struct DockerOptions {
    pub registry: String,
    pub registry_folder: String,
    pub base_image: String,
    pub dry_run: bool,
}

impl DockerOptions {
    /// `<registry>/<folder>`, joined with one slash whatever the user typed.
    fn prefix(&self) -> String {
        let registry = self.registry.trim_end_matches('/');
        match self.registry_folder.trim_matches('/') {
            "" => registry.to_string(),
            folder => format!("{registry}/{folder}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DockerOutcome {
    Built,
    DryRun,
    /// The contexts are written; no Docker engine could build them.
    NoEngine,
}

/// The Docker platform of a resource architecture (`linux/<this>`).
fn platform(arch: &str) -> Option<&'static str> {
    aisprint_model::app::deployments::platform(arch).map(|p| if p == "armv7" { "arm/v7" } else { p })
}

fn dockerfile(base_image: &str, component: &str, unit: &str) -> String {
    // The documents run /opt/<unit>/script.sh: a partition's folder is the component's.
    let link = if unit == component { String::new() } else { format!("RUN ln -s /opt/{component} /opt/{unit}\n") };
    format!(
        "# Written by `aisprint toscarizer docker`: the image of one design of component {component}.\n\
         FROM {base_image}\n\
         WORKDIR /opt/{component}\n\
         # The AI-SPRINT annotations package the component imports.\n\
         COPY .aisprint-python /tmp/aisprint-python\n\
         RUN pip install --no-cache-dir /tmp/aisprint-python && rm -rf /tmp/aisprint-python\n\
         COPY . /opt/{component}/\n\
         # System packages (requirements.sys, one per line) and Python ones (requirements.txt), if any.\n\
         RUN if [ -s requirements.sys ]; then apt-get update && xargs -a requirements.sys apt-get install -y --no-install-recommends && rm -rf /var/lib/apt/lists/*; fi\n\
         RUN if [ -s requirements.txt ]; then pip install --no-cache-dir -r requirements.txt; fi\n\
         RUN chmod +x /opt/{component}/script.sh\n\
         {link}"
    )
}

/// The OSCAR script of a design folder's component (as `toscarizer docker` writes it into
/// the image's build context): `main.py` run in `/opt/<component>` on the input file.
pub fn oscar_script(design: &Path, component: &str) -> String {
    let main = std::fs::read_to_string(design.join("main.py")).unwrap_or_default();
    user_script(component, main.contains("'-i'") || main.contains("\"-i\""))
}

/// The OSCAR user script: run once per input file, with `INPUT_FILE_PATH` and
/// `TMP_OUTPUT_DIR` set by OSCAR (or the agent). A file named `aisprint-<uuid>...` keeps its
/// session id along the pipeline.
fn user_script(component: &str, dash_flags: bool) -> String {
    let args = if dash_flags { " -i \"$INPUT_FILE_PATH\" -o \"$OUTPUT_FILE\"" } else { "" };
    format!(
        "#!/bin/sh\n\
         # Written by `aisprint toscarizer docker`: runs component {component} on one input file.\n\
         set -e\n\
         name=$(basename \"$INPUT_FILE_PATH\")\n\
         name=${{name%.*}}\n\
         case \"$name\" in\n\
         \x20 aisprint-*) UUID=$(printf '%s' \"$name\" | cut -c10-45) ;;\n\
         \x20 *) UUID=$(cat /proc/sys/kernel/random/uuid); name=\"aisprint-$UUID\" ;;\n\
         esac\n\
         export UUID\n\
         export OUTPUT_FILE=\"$TMP_OUTPUT_DIR/$name\"\n\
         export COMPONENT_NAME=\"${{COMPONENT_NAME:-{component}}}\"\n\
         cd /opt/{component}\n\
         exec python3 main.py{args}\n"
    )
}

/// `toscarizer docker`.
pub fn docker(app: &Path, o: &DockerOptions) -> Result<DockerOutcome, ToscarizerError> {
    use aisprint_model::app::deployments::{CandidateDeployments, ComponentPartitions};
    // Read once: parsed here, and rewritten with the images by `stage_write_back`.
    let candidates = need(app, paths::DEPLOYMENTS)?;
    let deployments: CandidateDeployments = parse_file(paths::DEPLOYMENTS, &candidates)?;
    let resources: CandidateResources = parse_file(paths::RESOURCES, &need(app, paths::RESOURCES)?)?;
    let partitions: ComponentPartitions =
        parse_file(paths::COMPONENT_PARTITIONS, &need(app, paths::COMPONENT_PARTITIONS)?)?;
    let prefix = o.prefix();
    let mut out = OutputSet::new();
    let mut images: Vec<(String, String, String)> = Vec::new(); // (tag, platform, context)
    let mut named: Vec<Named> = Vec::new();
    let mut containers = serde_yaml::Mapping::new();
    let mut diags = Diagnostics::new();
    for (comp, list) in &partitions.components {
        let mut tags = Vec::new();
        for part in &list.partitions {
            let unit = if part == "base" { comp.clone() } else { format!("{comp}_{part}") };
            let ctx = format!("{}/{comp}/{part}", paths::DESIGNS);
            if !app.join(&ctx).join("main.py").is_file() {
                diags.push(Diagnostic::error(
                    paths::COMPONENT_PARTITIONS,
                    format!("components.{comp}.partitions"),
                    format!("design `{part}` has no {ctx}/main.py: run `aisprint design` again"),
                ));
                continue;
            }
            let mut platforms: Vec<&'static str> = Vec::new();
            if let Some((key, spec)) = deployments.for_unit(&unit) {
                for (ck, c) in &spec.containers {
                    for rname in &c.candidate_execution_resources {
                        let Some((_, r)) = resources.resource(rname) else { continue };
                        let archs: Vec<String> = r
                            .architecture
                            .iter()
                            .cloned()
                            .chain(r.processors.iter().flat_map(|p| p.values().filter_map(|x| x.architecture.clone())))
                            .collect();
                        for a in archs {
                            match platform(&a) {
                                Some(p) if !platforms.contains(&p) => platforms.push(p),
                                Some(_) => {}
                                None => diags.push(Diagnostic::error(
                                    paths::RESOURCES,
                                    format!("resource {rname}"),
                                    format!("architecture `{a}` (for {key}.Containers.{ck}): expected amd64, arm64 or armv7"),
                                )),
                            }
                        }
                    }
                }
            }
            if platforms.is_empty() {
                platforms.push("amd64");
            }
            out.file(format!("{ctx}/Dockerfile"), dockerfile(&o.base_image, comp, &unit));
            out.file(format!("{ctx}/script.sh"), oscar_script(&app.join(&ctx), comp));
            for (f, body) in PY_PACKAGE {
                out.file(format!("{ctx}/.aisprint-python/{f}"), *body);
            }
            for p in platforms {
                let name = format!("{comp}_{part}_{}", p.replace('/', ""));
                let tag = format!("{prefix}/{name}:latest");
                tags.push(serde_yaml::Value::String(tag.clone()));
                named.push(Named { component: comp.clone(), design: part.clone(), image: tag.clone() });
                images.push((tag, p.to_string(), ctx.clone()));
            }
        }
        let mut entry = serde_yaml::Mapping::new();
        entry.insert("docker_images".into(), serde_yaml::Value::Sequence(tags));
        containers.insert(serde_yaml::Value::String(comp.clone()), serde_yaml::Value::Mapping(entry));
    }
    if diags.has_errors() {
        return Err(diags.into());
    }
    let mut doc = serde_yaml::Mapping::new();
    doc.insert("components".into(), serde_yaml::Value::Mapping(containers));
    let containers_rel = format!("{}/containers.yaml", paths::DESIGNS);
    out.file(&containers_rel, serde_yaml::to_string(&doc).map_err(|e| failed(e.to_string()))?);
    let said = stage_write_back(app, candidates, &named, o.dry_run, &mut out)?;
    out.commit(app).map_err(|e| failed(e.to_string()))?;
    println!("{said}");
    // The script must be executable in the context (COPY keeps the mode).
    #[cfg(unix)]
    for (_, _, ctx) in &images {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(app.join(ctx).join("script.sh"), std::fs::Permissions::from_mode(0o755));
    }
    println!("Build contexts written for {} image(s); {} lists them.", images.len(), containers_rel);
    if o.dry_run {
        for (tag, p, ctx) in &images {
            println!("  docker build --platform linux/{p} -t {tag} {}/{ctx}", app.display());
        }
        return Ok(DockerOutcome::DryRun);
    }
    if let Err(why) = docker_engine() {
        eprintln!(
            "No Docker engine is reachable ({why}): no image was built or pushed. Build them where one is, with:"
        );
        for (tag, p, ctx) in &images {
            eprintln!("  docker build --platform linux/{p} -t {tag} {}/{ctx} && docker push {tag}", app.display());
        }
        return Ok(DockerOutcome::NoEngine);
    }
    for (tag, p, ctx) in &images {
        println!("Building image: {tag} ({p}) ...");
        run_docker(&["build", "--platform", &format!("linux/{p}"), "-t", tag, &app.join(ctx).display().to_string()])?;
        println!("Pushing image: {tag} ...");
        run_docker(&["push", tag])?;
    }
    println!("Docker images generated and pushed to the registry.\nDONE. {}/{containers_rel} file created with new image URLs.", app.display());
    Ok(DockerOutcome::Built)
}

/// The text of an application file `docker` needs.
fn need(app: &Path, rel: &str) -> Result<String, ToscarizerError> {
    let one = |d: Diagnostic| -> Diagnostics { d.into() };
    read_text(app, rel).map_err(one)?.ok_or_else(|| {
        ToscarizerError::Invalid(one(Diagnostic::error(rel, "", "missing: run `aisprint design` first")))
    })
}

/// The images go into candidate_deployments.yaml too (not on a dry run), the file as it was
/// (`candidates`) kept beside it: staged in `out`; returns what to tell the user.
fn stage_write_back(
    app: &Path,
    candidates: String,
    named: &[Named],
    dry_run: bool,
    out: &mut OutputSet,
) -> Result<String, ToscarizerError> {
    let one = |d: Diagnostic| -> Diagnostics { d.into() };
    let dag: ApplicationDag = parse_file(paths::DAG, &need(app, paths::DAG)?)?;
    let back = write_back(&candidates, named, &dag)
        .map_err(|e| ToscarizerError::Invalid(one(Diagnostic::error(paths::DEPLOYMENTS, "", e))))?;
    let backup = format!("{}.bak", paths::DEPLOYMENTS);
    Ok(match (back.text, dry_run) {
        (Some(text), false) => {
            out.file(paths::DEPLOYMENTS, text);
            out.file(&backup, candidates);
            let added = if back.added.is_empty() {
                String::new()
            } else {
                format!(", with new entries {}", back.added.join(", "))
            };
            format!(
                "{} now names the images of {} container(s){added} (as it was: {backup}); run `aisprint design` and `aisprint space4aid` again so the deployments use them.",
                paths::DEPLOYMENTS,
                back.containers
            )
        }
        (Some(_), true) => format!(
            "Dry run: {} is left as it is (it would name the images of {} container(s)).",
            paths::DEPLOYMENTS,
            back.containers
        ),
        (None, _) => format!("{} already names these images.", paths::DEPLOYMENTS),
    })
}

/// Whether a Docker engine answers (`docker version` reaches the server).
fn docker_engine() -> Result<(), String> {
    let out = std::process::Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("the `docker` command cannot be run: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        Err(err.lines().find(|l| !l.trim().is_empty()).unwrap_or("the server does not answer").trim().to_string())
    }
}

fn run_docker(args: &[&str]) -> Result<(), ToscarizerError> {
    let out = std::process::Command::new("docker")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| failed(format!("docker {}: {e}", args[0])))?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    Err(failed(format!("docker {} failed ({}): {}", args.join(" "), out.status, tail(&err, 8))))
}
