//! Every public SPACE4AI-D instance loads, validates and round-trips without loss.

use std::path::{Path, PathBuf};

use aisprint_model::json;
use aisprint_space4aid::system::System;

fn instances() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/space4ai-d/instances");
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("instances folder") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("system_description")) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn public_instances_load_validate_and_round_trip() {
    let files = instances();
    assert_eq!(files.len(), 86, "80 GeneralWorkflows + 3 scenarios + 3 solution systems");
    for f in files {
        let name = f.display().to_string();
        let text = std::fs::read_to_string(&f).expect("read");
        let (doc, warnings) = json::parse::<System>(&name, &text).unwrap_or_else(|e| panic!("{e}"));
        assert!(warnings.is_empty(), "{warnings}");
        let diags = doc.value.validate(&name);
        assert!(diags.is_empty(), "{diags}");
        // Lossless: what we write back holds the same data (the layer-list key is written in
        // its documented spelling, so compare with it renamed).
        let original: serde_json::Value =
            serde_json::from_str(&text.replace("\"computationallayers\"", "\"computationalLayers\"")).expect("json");
        let back = serde_json::to_value(&doc.value).expect("serialise");
        assert!(json::same_data(&original, &back), "{name} changed on round trip");
    }
}

#[test]
fn unknown_model_is_refused_with_its_path() {
    let f = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/space4ai-d/instances/RunningExample/system_description_scenario1.json");
    let text = std::fs::read_to_string(f).expect("read").replacen("\"QTedge\"", "\"QTmagic\"", 1);
    let err = json::parse::<System>("s.json", &text).expect_err("refused");
    let d = &err.0[0];
    assert!(d.key.starts_with("Performance."), "{d}");
    assert!(d.message.contains("QTmagic"), "{d}");
    assert!(d.line.is_some());
}

#[test]
fn broken_references_are_all_reported() {
    let f = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/space4ai-d/instances/RunningExample/system_description_scenario1.json");
    let text = std::fs::read_to_string(f).expect("read");
    let mut v: serde_json::Value = serde_json::from_str(&text).expect("json");
    v["DirectedAcyclicGraph"]["c1"]["transition_probability"][0] = 1.5.into();
    v["DirectedAcyclicGraph"]["c7"]["next"] = serde_json::json!(["c1"]);
    v["DirectedAcyclicGraph"]["c7"]["transition_probability"] = serde_json::json!([1.0]);
    v["GlobalConstraints"]["p1"]["components"] = serde_json::json!(["c1", "c3"]);
    let text = serde_json::to_string_pretty(&v).expect("json");
    let (doc, _) = json::parse::<System>("s.json", &text).expect("parses");
    let mut diags = doc.value.validate("s.json");
    doc.locate(&mut diags);
    let all = diags.to_string();
    assert!(all.contains("outside [0, 1]"), "{all}");
    assert!(all.contains("cycle"), "{all}");
    assert!(all.contains("not consecutive"), "{all}");
    assert!(diags.0.iter().all(|d| d.line.is_some()), "{all}");
}
