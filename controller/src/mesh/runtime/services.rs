//! What a node runs for the runtime: the FDL of its units' services under [`CLUSTER`], each
//! reading `rt-<unit>/in` and writing into the next units' input through their clusters
//! (`minio.rt-<next>`: the controller routes it to the node that runs it now), with the
//! files of each unit's design folder and the annotations package.

use std::path::Path;

use aisprint_model::design::PlannedDeployment;
use aisprint_model::oscar::{Environment, Fdl, Functions, Service, Storage};
use aisprint_proto::commands::Apply;

use super::plan::Placed;
use super::{input_of, output_of, service_of, RuntimeError, CLUSTER};
use crate::packaging::{add_scripts, design_files, Scripts};

/// The apply for a node running `units` (each found in the first of `deps` that has it).
pub fn apply_for(app_dir: &Path, deps: &[PlannedDeployment], units: &[Placed]) -> Result<Apply, RuntimeError> {
    let mut oscar = Vec::new();
    let mut scripts = Scripts::new();
    for p in units {
        let service = service_of(&p.unit);
        let unit = deps.iter().flat_map(|d| &d.units).find(|u| u.name == p.unit).ok_or_else(|| {
            RuntimeError::Step(format!("no deployment has a unit {} (run `aisprint design` again?)", p.unit))
        })?;
        let design = app_dir.join("aisprint/designs").join(&unit.component).join(&unit.design);
        let files = design_files(&design).map_err(|e| RuntimeError::Step(e.to_string()))?;
        if !files.iter().any(|(n, _)| n == "main.py") {
            return Err(RuntimeError::Step(format!("{}: no main.py (run `aisprint design` first)", design.display())));
        }
        add_scripts(&mut scripts, &service, &files);
        let output: Vec<Storage> = if p.next.is_empty() {
            vec![storage("minio.default", output_of(&p.unit))]
        } else {
            p.next.iter().map(|n| storage(&format!("minio.{}", service_of(n)), input_of(n))).collect()
        };
        let variables = [("COMPONENT_NAME", p.unit.as_str()), ("RESOURCE_ID", p.resource.as_str())]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let svc = Service {
            name: service.clone(),
            image: None,
            script: format!("{service}/script.sh"),
            cpu: None,
            memory: None,
            environment: Some(Environment { variables }),
            input: vec![storage("minio.default", input_of(&p.unit))],
            output,
            max_parallelism: Some(p.parallelism),
            log_level: None,
            enable_sgx: None,
            enable_gpu: None,
            storage_providers: None,
        };
        oscar.push([(CLUSTER.to_string(), svc)].into_iter().collect());
    }
    let fdl = Fdl { functions: Functions { oscar }, storage_providers: None };
    let fdl = serde_yaml::to_string(&fdl).map_err(|e| RuntimeError::Step(format!("FDL: {e}")))?;
    Ok(Apply { cluster: CLUSTER.into(), fdl, scripts })
}

fn storage(provider: &str, path: String) -> Storage {
    Storage { storage_provider: provider.into(), path, suffix: None, prefix: None }
}
