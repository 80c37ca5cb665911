//! `aisprint demo`, as a newcomer runs it: a controller and three agents on this machine, the
//! burst example fed faster than the edge server sustains, then slower; its report counted.

use crate::support::{aisprint, text};

#[test]
fn the_demo_moves_classify_on_a_violation_scales_back_and_loses_no_frame() {
    let _alone = crate::alone();
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let r = aisprint(dir, &["demo", "--duration", "60", "--report", "report.json", "--dir", "work"]);
    let (out, err) = (text(&r.stdout), text(&r.stderr));
    assert_eq!(
        r.status.code(),
        Some(0),
        "{out}\n{err}\n{}",
        std::fs::read_to_string(dir.join("work/controller.log")).unwrap_or_default()
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).expect("report")).expect("json");
    eprintln!("{report:#}");
    let n = |k: &str| report[k].as_u64().unwrap_or_else(|| panic!("{k}: {report}"));
    assert!(n("files_sent") > 60, "{report}");
    assert_eq!(n("files_done"), n("files_sent"));
    assert_eq!((n("duplicates"), n("lost")), (0, 0));
    let changes = report["reconfigurations"].as_array().expect("reconfigurations");
    let by_violation = changes.iter().find(|c| c["trigger"].as_str().is_some_and(|t| t.starts_with("violation")));
    let by_violation = by_violation.unwrap_or_else(|| panic!("no change caused by a violation: {report:#}"));
    assert_eq!(by_violation["to"], "deployment1", "{report:#}");
    assert!(by_violation["violation_cleared_after_s"].as_f64().is_some_and(|s| s < 20.0), "{report:#}");
    assert!(changes.iter().any(|c| c["via"] == "scale_in" && c["to"] == "base"), "{report:#}");
    // The live view's lines (no terminal here: one line every 10 s) and the summary.
    assert!(out.contains("AI-SPRINT demo: ") && out.contains("0 duplicated, 0 lost"), "{out}");
    assert!(dir.join("work/burst/aisprint/deployments/current_deployment").exists());
}
