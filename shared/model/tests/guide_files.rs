//! The files of the user guide load with their models, validate, and come back unchanged
//! when written (no key dropped, no value changed).

use std::path::PathBuf;

use aisprint_model::app::annotations::AnnotationsFile;
use aisprint_model::app::dag::ApplicationDag;
use aisprint_model::app::deployments::{CandidateDeployments, ComponentPartitions};
use aisprint_model::app::oscarp::{DataSizes, PerformanceModels, RunParameters};
use aisprint_model::app::physical::PhysicalNodes;
use aisprint_model::app::production::ProductionDeployment;
use aisprint_model::app::qos::{MultiClusterQos, QosConstraints};
use aisprint_model::app::resources::CandidateResources;
use aisprint_model::app::space4aid_config::Space4aidConfig;
use aisprint_model::app::{dag, deployments, oscarp, physical, qos, resources, space4aid_config};
use aisprint_model::yaml::{self, YamlDoc};
use aisprint_model::{json, Diagnostics};
use serde::de::DeserializeOwned;
use serde::Serialize;

fn fixture(name: &str) -> (String, String) {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/guide").join(name);
    (name.to_string(), std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
}

/// Loads, checks there is no unknown key, writes back and compares the data.
fn round_trip<T: DeserializeOwned + Serialize>(name: &str) -> YamlDoc<T> {
    let (file, text) = fixture(name);
    let (doc, warnings) = yaml::parse::<T>(&file, &text).unwrap_or_else(|e| panic!("{e}"));
    assert!(warnings.is_empty(), "{name}: {warnings}");
    let written = yaml::to_string(&doc.value).expect("serialise");
    let back: serde_yaml::Value = serde_yaml::from_str(&written).expect("reparse");
    assert!(yaml::same_data(&doc.raw, &back), "{name} changed on the way back:\n{written}");
    doc
}

fn clean(d: Diagnostics) {
    assert!(!d.has_errors(), "{d}");
}

#[test]
fn candidate_files() {
    let r = round_trip::<CandidateResources>("candidate_resources.yaml");
    clean(resources::validate(&r));
    assert_eq!(r.value.layers().len(), 2);
    let (layer, vm2) = r.value.resource("VM2").expect("VM2");
    assert_eq!(layer.layer.number, 2);
    assert_eq!(vm2.memory_size, Some(16384.0));
    assert_eq!(vm2.cores(), Some(4.0));
    let d = round_trip::<CandidateDeployments>("candidate_deployments.yaml");
    clean(deployments::validate(&d, Some(&r.value)));
    assert_eq!(d.value.for_unit("blurry-faces-onnx_partition1_2").map(|(k, _)| k), Some("component1_partitionX_2"));

    let four = round_trip::<CandidateResources>("candidate_resources_four_layers.yaml");
    clean(resources::validate(&four));
    let types: Vec<_> = four.value.layers().iter().map(|l| l.layer.layer_type).collect();
    assert_eq!(types.len(), 4);
    let (_, faas) = four.value.resource("AWS-FaaS1").expect("faas");
    assert_eq!(faas.idle_time, Some(600.0));
    assert!(four.value.resource("RaspPi").expect("pi").1.is_trusted(), "secureBoot: \"True\" counts");
    assert!(four.value.resource("Server1").expect("server").1.has_sgx());
}

#[test]
fn dags_short_and_with_alternatives() {
    let d = round_trip::<ApplicationDag>("dag.yaml");
    clean(dag::validate(&d));
    assert_eq!(d.value.system.dependencies[0].probability(), 1.0);
    let a = round_trip::<ApplicationDag>("application_dag_alternatives.yaml");
    clean(dag::validate(&a));
    assert_eq!(a.value.alternatives("classifier"), ["classifier_tiny"]);
}

#[test]
fn design_outputs() {
    let a = round_trip::<AnnotationsFile>("annotations.yaml");
    let bf = &a.value["mask_detection_v1/src/blurry-faces-onnx/main.py"];
    assert_eq!(bf.local_time_thr(), Some(20.0));
    assert_eq!(bf.partitionable_model.as_ref().map(|p| p.onnx_file.as_str()), Some("version-RFB-640.onnx"));
    let m = round_trip::<MultiClusterQos>("multi_cluster_qos_constraints.yaml");
    assert_eq!(m.value.system.deployments.len(), 2);
    let q = round_trip::<QosConstraints>("qos_constraints_ams.yaml");
    clean(qos::validate(&q));
    assert_eq!(q.value.system.throughput_component.as_ref().and_then(|t| t.name()), Some("blurry-faces-onnx"));
    let p = round_trip::<ProductionDeployment>("production_deployment_space4aid.yaml");
    let c = &p.value.system.components["mask-detector"];
    assert_eq!(c.resource(), Some("VM2"));
    assert_eq!(c.layer(), Some(2));
    assert_eq!(p.value.system.feasible, Some(true));
}

#[test]
fn tool_files() {
    let rp = round_trip::<RunParameters>("run_parameters.yaml");
    clean(oscarp::validate_run_parameters(&rp));
    assert_eq!(rp.value.components["component1"].parallelism, [10, 8, 6, 4, 2]);
    let s = round_trip::<Space4aidConfig>("SPACE4AI-D.yaml");
    clean(space4aid_config::validate(&s));
    assert_eq!(s.value.methods["method3"].epsilon, Some(0.00001));
    let pn = round_trip::<PhysicalNodes>("physical_nodes.yaml");
    clean(physical::validate(&pn));
    let wns = pn.value.computational_layers["computationalLayer2"].resources["resource1"].wns.as_ref().expect("wns");
    assert_eq!(wns.len(), 2);
    // Keys never show in debug output.
    let debug = format!("{:?}", pn.value);
    assert!(!debug.contains("PRIVATE KEY") && !debug.contains("pass"), "{debug}");
    let ds = round_trip::<DataSizes>("components_data_size.yaml");
    clean(oscarp::validate_data_sizes(&ds));
    let _ = round_trip::<ComponentPartitions>(
        "../../../examples/mask_detection/aisprint/designs/component_partitions.yaml",
    );

    let (file, text) = fixture("performance_models.json");
    let (pm, w) = json::parse::<PerformanceModels>(&file, &text).unwrap_or_else(|e| panic!("{e}"));
    assert!(w.is_empty(), "{w}");
    clean(oscarp::validate_performance_models(&file, &pm.value));
    let raw: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert!(json::same_data(&raw, &serde_json::to_value(&pm.value).expect("json")));
}

#[test]
fn unknown_performance_model_is_an_error() {
    let (file, text) = fixture("performance_models.json");
    let text = text.replace("QTcloud", "QTmagic");
    let (pm, _) = json::parse::<PerformanceModels>(&file, &text).expect("parses");
    let d = oscarp::validate_performance_models(&file, &pm.value);
    let all = d.to_string();
    assert!(all.contains("blurry-faces-onnx.blurry-faces-onnx_partition1_1.VM1.model"), "{all}");
    assert!(all.contains("unknown model `QTmagic`"), "{all}");
}
