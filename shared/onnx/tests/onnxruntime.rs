//! Models built with the `onnx` package (PyPI) are cut at every candidate, and onnxruntime
//! (PyPI) runs the whole model and the two halves chained: the outputs agree within 1e-5.
//! The Python is `$AISPRINT_ONNX_PYTHON`, else `target/onnx-venv` (tests/run makes it; made
//! here when missing).

use std::path::{Path, PathBuf};
use std::process::Command;

use aisprint_onnx::graph::Graph;
use aisprint_onnx::split::{candidates, split};

fn python() -> PathBuf {
    aisprint_test_support::venv_python(
        "AISPRINT_ONNX_PYTHON",
        "onnx-venv",
        "import onnx, onnxruntime",
        &["onnx==1.17.0", "onnxruntime==1.20.1", "numpy==2.1.3"],
    )
}

fn run(py: &Path, script: &str, args: &[&Path]) -> String {
    let out = Command::new(py)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join(script))
        .args(args)
        .output()
        .expect("python");
    assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Cuts `name` at every candidate; the halves chained give the whole model's output.
fn every_cut_agrees(dir: &Path, py: &Path, name: &str, max_crossing: usize) -> Vec<aisprint_onnx::split::Cut> {
    let whole = dir.join(format!("{name}.onnx"));
    let model = aisprint_onnx::read(&std::fs::read(&whole).expect("read")).expect("model");
    let g = Graph::new(model.graph.as_ref().expect("graph")).expect("graph");
    let cuts = candidates(&g, max_crossing);
    assert!(!cuts.is_empty(), "{name}: no cut");
    for cut in &cuts {
        let (a, b) = split(&model, cut).expect("split");
        let (fa, fb) = (dir.join(format!("{name}.{}.1.onnx", cut.at)), dir.join(format!("{name}.{}.2.onnx", cut.at)));
        std::fs::write(&fa, aisprint_onnx::write(&a)).expect("write");
        std::fs::write(&fb, aisprint_onnx::write(&b)).expect("write");
        let diff: f64 = run(py, "run_halves.py", &[&whole, &fa, &fb]).trim().parse().expect("number");
        assert!(diff <= 1e-5, "{name} cut after {} nodes ({:?}): outputs differ by {diff}", cut.at, cut.crossing);
    }
    cuts
}

#[test]
fn halves_chained_give_the_whole_models_output() {
    let tmp = tempfile::tempdir().expect("tmp");
    let py = python();
    run(&py, "make_models.py", &[tmp.path()]);

    // The chain: a cut after each of its first six nodes, one tensor crossing each.
    let cuts = every_cut_agrees(tmp.path(), &py, "cnn", 1);
    let summary: Vec<(usize, &str, Option<u64>)> =
        cuts.iter().map(|c| (c.at, c.crossing[0].as_str(), c.bytes)).collect();
    assert_eq!(
        summary,
        vec![
            (1, "c1", Some(8 * 16 * 16 * 4)),
            (2, "r1", Some(8 * 16 * 16 * 4)),
            (3, "p1", Some(8 * 8 * 8 * 4)),
            (4, "c2", Some(16 * 8 * 8 * 4)),
            (5, "r2", Some(16 * 8 * 8 * 4)),
            (6, "f", Some(1024 * 4)),
        ]
    );
    // Parameters on each side: conv1 (8·3·3·3 + 8 floats) before the first cut.
    assert_eq!(cuts[0].parameters.0, (8 * 27 + 8) * 4);
    let total = (8 * 27 + 8 + 16 * 72 + 16 + 10 * 1024 + 10) * 4;
    assert!(cuts.iter().all(|c| c.parameters.0 + c.parameters.1 == total));
    // Compute: conv1 makes 8·16·16 outputs of 3·3·3 multiply-adds; the whole model in all.
    let conv1 = 2 * 8 * 16 * 16 * 27;
    assert_eq!(cuts[0].flops.map(|f| f.0), Some(conv1));
    let whole = conv1 + 8 * 16 * 16 + 8 * 8 * 8 * 4 + 2 * 16 * 8 * 8 * 72 + 16 * 8 * 8 + 2 * 10 * 1024;
    assert!(cuts.iter().all(|c| c.flops.map(|(a, b)| a + b) == Some(whole)), "{cuts:?}");

    // The skip connection: inside the block two tensors cross (the block's input rides along).
    let cuts = every_cut_agrees(tmp.path(), &py, "skip", 2);
    let two: Vec<&Vec<String>> = cuts.iter().filter(|c| c.crossing.len() == 2).map(|c| &c.crossing).collect();
    assert!(two.contains(&&vec!["r1".to_string(), "r2".to_string()]), "{cuts:?}");
    // Allowing one crossing tensor only, no cut falls inside the block.
    let skip = aisprint_onnx::read(&std::fs::read(tmp.path().join("skip.onnx")).expect("read")).expect("model");
    let g = Graph::new(skip.graph.as_ref().expect("graph")).expect("graph");
    let single = candidates(&g, 1);
    assert!(single.iter().all(|c| c.crossing.len() == 1) && single.len() < cuts.len(), "{single:?}");
}

#[test]
fn what_is_not_onnx_is_refused() {
    assert!(matches!(
        aisprint_onnx::read(b"PK\x03\x04 a zip"),
        Err(aisprint_onnx::OnnxError::Decode(_)) | Err(aisprint_onnx::OnnxError::NoGraph)
    ));
    assert_eq!(aisprint_onnx::read(&[]), Err(aisprint_onnx::OnnxError::NoGraph));
}
