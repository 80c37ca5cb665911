//! `toscarizer docker` writes the images it names back into
//! `common_config/candidate_deployments.yaml`, as upstream's wrapper does: every container of
//! a component's entry gets the images of its `base` design (one name, or the list of one per
//! platform), every container of a `<component>_partitionX_<S>` entry those of the component's
//! `partition<K>_<S>` designs. An alternative version without an entry of its own gets one (a
//! copy of its component's). The file as it was is kept beside it, as
//! `candidate_deployments.yaml.bak`. `toscarizer tosca` picks, of a list, the image of the
//! unit and of its resource's platform.

use serde_yaml::{Mapping, Value};

use aisprint_model::app::dag::ApplicationDag;

/// One image `toscarizer docker` names: the component (or alternative), the design
/// (`base`, `partition1_2`) and the image name.
#[derive(Debug, Clone)]
pub struct Named {
    pub component: String,
    pub design: String,
    pub image: String,
}

/// What changed in the file.
#[derive(Debug, Default)]
pub struct WrittenBack {
    /// The new text of the file, when it changed.
    pub text: Option<String>,
    /// Containers whose image was set.
    pub containers: usize,
    /// Entries added for alternatives that had none.
    pub added: Vec<String>,
}

fn value_of(images: &[&str]) -> Value {
    match images {
        [one] => Value::String(one.to_string()),
        many => Value::Sequence(many.iter().map(|s| Value::String(s.to_string())).collect()),
    }
}

/// The images `entry` (by its `name`) runs from, if any were named.
fn images_of<'n>(name: &str, named: &'n [Named]) -> Vec<&'n str> {
    let (component, half) = match name.rsplit_once("_partitionX_") {
        Some((c, s)) => (c, Some(s)),
        None => (name, None),
    };
    named
        .iter()
        .filter(|n| n.component == component)
        .filter(|n| match half {
            None => n.design == "base",
            Some(s) => n.design.strip_prefix("partition").and_then(|d| d.split_once('_')).is_some_and(|(_, h)| h == s),
        })
        .map(|n| n.image.as_str())
        .collect()
}

/// Sets the images of every entry of `text` (candidate_deployments.yaml) that `named` covers.
pub fn write_back(text: &str, named: &[Named], dag: &ApplicationDag) -> Result<WrittenBack, String> {
    let mut doc: Value = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
    let before = doc.clone();
    let comps = doc
        .get_mut("Components")
        .and_then(Value::as_mapping_mut)
        .ok_or("no `Components` mapping: run `aisprint design` on a valid application first")?;
    let mut out = WrittenBack::default();
    // Alternatives without an entry: a copy of their component's entry.
    let mut extra: Vec<(Value, Value)> = Vec::new();
    for (c, alts) in dag.system.alternative_components.iter().flatten() {
        for a in alts {
            let has = |m: &Mapping| m.values().any(|e| e.get("name").and_then(Value::as_str) == Some(a));
            if has(comps) || images_of(a, named).is_empty() {
                continue;
            }
            let Some((key, entry)) = comps.iter().find(|(_, e)| e.get("name").and_then(Value::as_str) == Some(c))
            else {
                continue;
            };
            let mut own = entry.clone();
            own["name"] = Value::String(a.clone());
            let key = format!("{}_{a}", key.as_str().unwrap_or(c));
            out.added.push(key.clone());
            extra.push((Value::String(key), own));
        }
    }
    comps.extend(extra);
    for entry in comps.values_mut() {
        let Some(name) = entry.get("name").and_then(Value::as_str).map(str::to_string) else { continue };
        let images = images_of(&name, named);
        if images.is_empty() {
            continue;
        }
        let Some(containers) = entry.get_mut("Containers").and_then(Value::as_mapping_mut) else { continue };
        for c in containers.values_mut() {
            if let Some(m) = c.as_mapping_mut() {
                m.insert(Value::String("image".into()), value_of(&images));
                out.containers += 1;
            }
        }
    }
    if doc != before {
        out.text = Some(serde_yaml::to_string(&doc).map_err(|e| e.to_string())?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(component: &str, design: &str, image: &str) -> Named {
        Named { component: component.into(), design: design.into(), image: image.into() }
    }

    #[test]
    fn images_go_to_their_entries_and_alternatives_get_one() {
        let text = "Components:\n  component1:\n    name: blur\n    candidateExecutionLayers: [1]\n    Containers:\n      container1: {memorySize: 512, computingUnits: 1, candidateExecutionResources: [RaspPi]}\n  component1_partitionX_1:\n    name: blur_partitionX_1\n    candidateExecutionLayers: [1]\n    Containers:\n      container1: {image: old, memorySize: 512, computingUnits: 1, candidateExecutionResources: [RaspPi]}\n";
        let dag: ApplicationDag = serde_yaml::from_str(
            "System: {name: a, components: [blur], alternative_components: {blur: [blur_tiny]}, dependencies: []}",
        )
        .expect("dag");
        let n = [
            named("blur", "base", "r/blur_base_amd64:latest"),
            named("blur", "base", "r/blur_base_arm64:latest"),
            named("blur", "partition1_1", "r/blur_partition1_1_arm64:latest"),
            named("blur", "partition1_2", "r/blur_partition1_2_amd64:latest"),
            named("blur_tiny", "base", "r/blur_tiny_base_arm64:latest"),
        ];
        let w = write_back(text, &n, &dag).expect("written");
        let doc: Value = serde_yaml::from_str(w.text.as_deref().expect("changed")).expect("yaml");
        let c = &doc["Components"];
        assert_eq!(
            c["component1"]["Containers"]["container1"]["image"],
            serde_yaml::from_str::<Value>("[r/blur_base_amd64:latest, r/blur_base_arm64:latest]").expect("v")
        );
        assert_eq!(
            c["component1_partitionX_1"]["Containers"]["container1"]["image"],
            "r/blur_partition1_1_arm64:latest"
        );
        assert_eq!(c["component1_blur_tiny"]["name"], "blur_tiny");
        assert_eq!(c["component1_blur_tiny"]["Containers"]["container1"]["image"], "r/blur_tiny_base_arm64:latest");
        assert_eq!((w.containers, w.added.len()), (3, 1));
        // Again with the file as written: nothing changes.
        let again = write_back(w.text.as_deref().expect("text"), &n, &dag).expect("again");
        assert!(again.text.is_none());
    }
}
