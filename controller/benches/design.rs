//! `cargo bench -p aisprint-controller --bench design`: wall time of `aisprint design` on the
//! example application and on a generated application of 200 components, as a user runs it
//! (the release binary, a fresh output tree and a rerun over an existing one), and the same
//! work in-process without process start.
//!
//! Targets (issue 2): the example under 100 ms, 200 components under 1 s.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use aisprint_model::design::DesignOptions;

const RUNS: usize = 15;

/// Writes an application of `n` components in a chain with a few branches, each with a
/// local constraint, every fifth with a global one over its predecessor, two with a choice
/// of layers (so four deployments), and component scripts with several decorators.
fn generate(dir: &Path, n: usize) {
    let cc = dir.join("common_config");
    std::fs::create_dir_all(&cc).expect("mkdir");
    let names: Vec<String> = (0..n).map(|i| format!("c{i:03}")).collect();
    let mut dag = format!("System:\n  name: generated_{n}\n  components: [{}]\n  dependencies:\n", names.join(", "));
    for i in 1..n {
        // a chain, where every tenth component also skips one step half of the time
        let skip = i % 10 == 8 && i + 2 < n;
        let _ = writeln!(
            dag,
            "  - [{}, {}, {}]",
            names[i - 1],
            names[i],
            if (i - 1) % 10 == 8 && i + 1 < n { 0.5 } else { 1.0 }
        );
        if skip {
            let _ = writeln!(dag, "  - [{}, {}, 0.5]", names[i], names[i + 2]);
        }
    }
    std::fs::write(cc.join("application_dag.yaml"), dag).expect("write");
    let mut res = String::from("System:\n  name: generated\n  NetworkDomains:\n    ND1:\n      name: all\n      AccessDelay: 0.001\n      Bandwidth: 1000\n      subNetworkDomains: []\n      ComputationalLayers:\n");
    for (l, ty) in [(1, "PhysicalAlreadyProvisioned"), (2, "PhysicalToBeProvisioned"), (3, "Virtual")] {
        let _ = write!(
            res,
            "        computationalLayer{l}:\n          name: layer {l}\n          number: {l}\n          type: {ty}\n          Resources:\n            resource1:\n              name: R{l}\n              totalNodes: 4\n              cost: {l}.5\n              memorySize: 65536\n              processors:\n                processor1:\n                  architecture: amd64\n                  computingUnits: 16\n"
        );
    }
    std::fs::write(cc.join("candidate_resources.yaml"), res).expect("write");
    let mut deps = String::from("Components:\n");
    for (i, c) in names.iter().enumerate() {
        let layer = 1 + i % 3;
        let (layers, resources) = if i == 50 || i == 150 {
            ("[2, 3]".to_string(), "[R2, R3]".to_string())
        } else {
            (format!("[{layer}]"), format!("[R{layer}]"))
        };
        let _ = write!(
            deps,
            "  component{i}:\n    name: {c}\n    candidateExecutionLayers: {layers}\n    Containers:\n      container1:\n        image: registry.example/{c}:1\n        memorySize: 256\n        computingUnits: 0.5\n        trustedExecution: false\n        networkProtection: false\n        fileSystemProtection: false\n        GPURequirement: false\n        candidateExecutionResources: {resources}\n"
        );
    }
    std::fs::write(cc.join("candidate_deployments.yaml"), deps).expect("write");
    for (i, c) in names.iter().enumerate() {
        let d = dir.join("src").join(c);
        std::fs::create_dir_all(&d).expect("mkdir");
        let global = if i % 5 == 0 && i > 0 {
            format!(",\n           global_time_thr={}, prev_components=['{}']", 10 + i, names[i - 1])
        } else {
            String::new()
        };
        let script = format!(
            "\"\"\"Generated component {c}.\"\"\"\nimport os\n\nfrom aisprint.annotations import component_name, exec_time\n\n\ndef helper(x):\n    return [v * 2 for v in x]\n\n\n@component_name(name='{c}')  # the name\n@exec_time(local_time_thr={}{global})\ndef main(args):\n    data = helper(range(10))\n    with open(os.devnull, 'w') as f:\n        f.write(str(data))\n\n\nif __name__ == '__main__':\n    main(None)\n",
            5 + i % 7
        );
        std::fs::write(d.join("main.py"), script).expect("write");
        std::fs::write(d.join("requirements.txt"), "numpy\n").expect("write");
    }
    for tool in ["ams", "im", "oscar", "oscarp", "pycompss", "space4ai-d", "space4ai-r"] {
        std::fs::create_dir_all(dir.join(tool)).expect("mkdir");
        std::fs::write(dir.join(tool).join(".gitkeep"), "").expect("write");
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read").flatten() {
        let dest = to.join(e.file_name());
        let t = e.file_type().expect("type");
        if t.is_symlink() {
            continue; // outputs of an earlier design run in the working tree
        }
        if t.is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).expect("copy");
        }
    }
}

fn stats(mut v: Vec<Duration>) -> String {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!("median {:7.2} ms   min {:7.2} ms   max {:7.2} ms", ms(v[v.len() / 2]), ms(v[0]), ms(v[v.len() - 1]))
}

fn bench(label: &str, app: &Path) {
    let bin = env!("CARGO_BIN_EXE_aisprint");
    let parent = app.parent().expect("parent");
    let name = app.file_name().expect("name").to_string_lossy().to_string();
    let outputs = |app: &Path| {
        let _ = std::fs::remove_dir_all(app.join("aisprint"));
        let _ = std::fs::remove_file(app.join("common_config/annotations.yaml"));
    };
    let run_cli = || {
        let t = Instant::now();
        let out =
            Command::new(bin).args(["design", "--application_dir", &name]).current_dir(parent).output().expect("run");
        let d = t.elapsed();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        d
    };
    let mut fresh = Vec::new();
    let mut rerun = Vec::new();
    let mut inproc = Vec::new();
    for _ in 0..RUNS {
        outputs(app);
        fresh.push(run_cli());
        rerun.push(run_cli());
        outputs(app);
        let t = Instant::now();
        aisprint_controller::design::run(app, &DesignOptions::default(), &mut std::io::sink()).expect("design");
        inproc.push(t.elapsed());
    }
    println!("{label}");
    println!("  aisprint design, fresh output   {}", stats(fresh));
    println!("  aisprint design, rerun          {}", stats(rerun));
    println!("  design::run in-process, fresh   {}", stats(inproc));
}

fn main() {
    // `cargo bench` passes --bench; nothing to filter here.
    // AISPRINT_BENCH_DIR keeps the applications (to inspect or profile them); a temporary
    // folder otherwise.
    let tmp = tempfile::tempdir().expect("tmp");
    let root: PathBuf = std::env::var_os("AISPRINT_BENCH_DIR").map_or_else(|| tmp.path().to_path_buf(), PathBuf::from);
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("mkdir");
    let example = root.join("mask_detection");
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/mask_detection"), &example);
    let _ = std::fs::remove_dir_all(example.join("aisprint/deployments"));
    let generated = root.join("generated_200");
    generate(&generated, 200);
    println!("{RUNS} runs each, release build, output on {}", root.display());
    bench("examples/mask_detection (2 components, 2 deployments)", &example);
    bench("generated application (200 components, 4 deployments)", &generated);
}
