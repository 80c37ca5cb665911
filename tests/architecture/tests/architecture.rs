//! The workspace against the rules of ARCHITECTURE.md. Each rule's checker is tested on an
//! example that breaks it in the crate's own unit tests; here it runs on the real tree.

use std::path::{Path, PathBuf};

use aisprint_architecture::deps::{check, Graph, Rule};
use aisprint_architecture::{modules, sizes};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).expect("the workspace").to_path_buf()
}

/// Every crate's `src/` (the generated gRPC code is in the build folder, not here).
fn sources() -> Vec<PathBuf> {
    [
        "proto",
        "shared/model",
        "shared/space4aid",
        "shared/ams",
        "shared/tosca",
        "shared/onnx",
        "shared/runtime",
        "agent",
        "controller",
        "tests/support",
        "tests/architecture",
        "tests/fuzz",
        "xtask",
    ]
    .iter()
    .map(|c| root().join(c).join("src"))
    .collect()
}

/// What does IO (files, sockets, processes, clocks driven by a runtime).
const IO: &[&str] =
    &["tokio", "redb", "reqwest", "hyper", "tonic", "axum", "sysinfo", "notify", "rumqttc", "object_store", "mio"];

const RULES: &[Rule] = &[
    Rule {
        krate: "aisprint-agent",
        never: &["aisprint-controller", "aisprint-space4aid", "aisprint-tosca"],
        never_dev: &["aisprint-controller"],
        why: "the agent runs on edge nodes: it carries what it runs and nothing more (no optimizer, no TOSCA, no controller)",
    },
    Rule {
        krate: "aisprint-controller",
        never: &["aisprint-agent"],
        never_dev: &[],
        why: "`aisprint` talks to agents over the mesh, through aisprint-proto; it does not link them (its tests may)",
    },
    Rule {
        krate: "aisprint-runtime",
        never: &["aisprint-agent", "aisprint-controller", "aisprint-space4aid", "aisprint-tosca", "aisprint-ams"],
        never_dev: &[],
        why: "the runtime is the IO both binaries share, below them",
    },
    Rule { krate: "aisprint-model", never: IO, never_dev: &[], why: "the application model does no IO" },
    Rule { krate: "aisprint-space4aid", never: IO, never_dev: &[], why: "SPACE4AI-D does no IO" },
    Rule { krate: "aisprint-ams", never: IO, never_dev: &[], why: "the monitoring engine does no IO" },
    Rule { krate: "aisprint-tosca", never: IO, never_dev: &[], why: "TOSCA generation does no IO" },
    Rule {
        krate: "aisprint-onnx",
        never: IO,
        never_dev: &[],
        why: "ONNX models are cut as bytes in, bytes out (the tests run Python beside it)",
    },
    Rule {
        krate: "aisprint-proto",
        never: &["aisprint-model", "aisprint-runtime", "aisprint-agent", "aisprint-controller"],
        never_dev: &[],
        why: "the wire contract depends on nothing of ours",
    },
];

#[test]
fn crates_depend_only_as_the_architecture_says() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(root())
        .output()
        .expect("cargo metadata");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let g = Graph::from_metadata(&String::from_utf8_lossy(&out.stdout)).expect("graph");
    assert!(g.reach("aisprint-agent").contains_key("aisprint-model"), "the graph was read");
    let broken = check(&g, RULES);
    assert!(broken.is_empty(), "\n{}", broken.join("\n"));
    // Test-only crates stay test-only.
    for krate in ["aisprint-agent", "aisprint-controller", "aisprint-runtime", "aisprint-model"] {
        let reach = g.reach(krate);
        assert!(
            !reach.contains_key("aisprint-test-support")
                && !reach.contains_key("aisprint-architecture")
                && !reach.contains_key("aisprint-fuzz"),
            "{krate}"
        );
    }
}

#[test]
fn no_modules_import_each_other_in_a_circle() {
    let mut broken = Vec::new();
    for src in sources() {
        let e = modules::edges(&src);
        broken.extend(modules::cycles(&e).into_iter().map(|c| format!("{}: {c}", src.display())));
    }
    assert!(broken.is_empty(), "\n{}", broken.join("\n"));
    // The agent's composition root: only main uses `run`.
    let e = modules::edges(&root().join("agent/src"));
    let users: Vec<&String> =
        e.get(&Vec::new()).into_iter().flatten().filter(|(_, to)| to.contains("run")).map(|(m, _)| m).collect();
    assert!(users.is_empty(), "modules of the agent that use `run`: {users:?}");
}

#[test]
fn files_and_functions_are_short_enough_to_read_whole() {
    let files: Vec<PathBuf> = sources().iter().flat_map(|s| sizes::rust_files(s)).collect();
    assert!(files.len() > 100, "{} files", files.len());
    let mut broken = sizes::long_files(&files, 800, 150);
    broken.extend(sizes::long_functions(&files, 120));
    assert!(broken.is_empty(), "\n{}", broken.join("\n"));
}
