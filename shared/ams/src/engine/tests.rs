//! Tests of the engine: constraint values, scopes, alerts, drift, times and bounds.

use super::*;
use crate::setup::{AlertKind, Threshold};

/// A record whose function starts with its job.
pub(super) fn exec(c: &str, s: &str, start: f64, end: f64) -> Execution {
    Execution {
        component: c.into(),
        session: s.into(),
        cluster: String::new(),
        resource: String::new(),
        job_start: start,
        function_start: start,
        job_end: end,
        failed: false,
    }
}

fn engine(scope: Scope) -> Engine {
    let m = Monitoring { period_s: 10.0, window_s: 60.0, ..Monitoring::default() };
    let mut e = Engine::new(scope, &m);
    e.add_constraints(
        vec![
            Constraint {
                name: "local_constraint_1".into(),
                kind: Kind::Local,
                path: vec!["c1".into()],
                threshold: 2.0,
            },
            Constraint {
                name: "global_constraint_1".into(),
                kind: Kind::Global,
                path: vec!["c1".into(), "c2".into()],
                threshold: 5.0,
            },
        ],
        Some("c2".into()),
    );
    e
}

#[test]
fn local_and_global_values_follow_the_ams() {
    let mut e = engine(Scope::Node);
    let t0 = 1000.0;
    // Arms the period.
    e.tick(t0);
    // s1: c1 from 1000 to 1003, c2 from 1003.5 to 1006 -> global 6, local 3
    // s2: c1 from 1001 to 1002, c2 from 1002 to 1004 -> global 3, local 1
    for x in [
        exec("c1", "s1", 1000.0, 1003.0),
        exec("c2", "s1", 1003.5, 1006.0),
        exec("c1", "s2", 1001.0, 1002.0),
        exec("c2", "s2", 1002.0, 1004.0),
    ] {
        e.observe_execution(&x, "n1");
    }
    let (notes, samples) = e.tick(t0 + 9.0);
    assert!(notes.is_empty() && samples.is_empty(), "not due yet");
    let (notes, samples) = e.tick(t0 + 10.0);
    let st = e.statuses();
    assert_eq!(st[0].value, Some(2.0)); // mean of 3 and 1
    assert_eq!(st[0].state, State::Ok);
    assert_eq!(st[1].value, Some(4.5)); // mean of 6 and 3
    assert_eq!(st[1].state, State::Ok);
    assert!(notes.is_empty());
    assert_eq!(samples.iter().filter(|s| s.measurement == "constraint_check").count(), 2);
    let tp = samples.iter().find(|s| s.measurement == "throughput").expect("throughput");
    assert_eq!(tp.fields["throughput"], 2.0 / 60.0);

    // A slow session: local 8 > 2 and global 10 > 5 -> both violated, one note each.
    e.observe_execution(&exec("c1", "s3", 1010.0, 1018.0), "n1");
    e.observe_execution(&exec("c2", "s3", 1018.0, 1020.0), "n1");
    let (notes, _) = e.tick(t0 + 20.0);
    assert_eq!(notes.len(), 2);
    assert_eq!(notes[0].body["constraint"], "local_constraint_1");
    assert_eq!(notes[0].body["value"], 4.0); // (3 + 1 + 8) / 3
    let keys: Vec<&String> = notes[0].body.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["constraint", "value", "check_time", "status_timestamp"]);
    assert_eq!(notes[1].body["constraint"], "global_constraint_1");
    assert!((notes[1].body["value"].as_f64().expect("num") - 19.0 / 3.0).abs() < 1e-9);
    // Out of the window, nothing is left: no data, no notification.
    let (notes, _) = e.tick(t0 + 200.0);
    assert!(notes.is_empty());
    assert_eq!(e.statuses()[0].state, State::NoData);
}

#[test]
fn controller_checks_only_paths_across_nodes() {
    let mut e = engine(Scope::CrossNode);
    e.tick(1000.0);
    e.observe_execution(&exec("c1", "s1", 1000.0, 1003.0), "n1");
    e.observe_execution(&exec("c2", "s1", 1003.0, 1009.0), "n1");
    e.tick(1010.0);
    assert_eq!(e.statuses()[0].state, State::Elsewhere);
    assert_eq!(e.statuses()[1].state, State::Elsewhere);
    e.observe_execution(&exec("c1", "s2", 1010.0, 1012.0), "n1");
    e.observe_execution(&exec("c2", "s2", 1012.5, 1019.0), "n2");
    let (notes, _) = e.tick(1020.0);
    assert_eq!(e.statuses()[1].state, State::Violated);
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].body["value"], 9.0); // mean of 9 (s1) and 9 (s2)
}

#[test]
fn alerts_fire_every_period_while_the_condition_holds() {
    let mut e = engine(Scope::Node);
    e.add_alerts(&[AlertRule {
        name: "no_mask_detected".into(),
        kind: AlertKind::Custom,
        metric: "masks".into(),
        field: "no_masks_count".into(),
        threshold: Threshold::Above(1.0),
        every_s: 5.0,
        url: Some("http://127.0.0.1:1/x".into()),
    }]);
    let sample = |v: f64, t: f64| Sample {
        measurement: "masks".into(),
        tags: Default::default(),
        fields: [("no_masks_count".to_string(), v)].into(),
        time_ns: secs_to_ns(t),
    };
    e.tick(100.0);
    e.observe_metric(&sample(1.0, 101.0), 101.0);
    assert!(e.tick(105.0).0.is_empty(), "1 is not above 1");
    e.observe_metric(&sample(2.0, 106.0), 106.0);
    let (n, _) = e.tick(110.0);
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].body["custom_alert"], "no_mask_detected");
    assert_eq!(n[0].body["value"], 2.0);
    assert_eq!(n[0].url.as_deref(), Some("http://127.0.0.1:1/x"));
    assert_eq!(e.tick(115.0).0.len(), 1, "still above: fires again");
    assert!(e.tick(300.0).0.is_empty(), "the value is too old");
}

#[test]
fn drift_watch_raises_a_drift_alert() {
    let mut e = engine(Scope::Node);
    e.watch(&DriftWatch::simple("c2", "masks", "masks_count"));
    let mut found = None;
    for i in 0..200 {
        let v = if i < 100 { 3.0 + (i % 3) as f64 * 0.1 } else { 9.0 };
        let s = Sample {
            measurement: "masks".into(),
            tags: Default::default(),
            fields: [("masks_count".to_string(), v)].into(),
            time_ns: secs_to_ns(1000.0 + i as f64),
        };
        if let Some(n) = e.observe_metric(&s, 1000.0 + i as f64).pop() {
            found = Some((i, n));
            break;
        }
    }
    let (i, n) = found.expect("drift found");
    assert!((100..105).contains(&i), "at {i}");
    assert_eq!(n.body["drift_alert"], "masks.masks_count");
    assert_eq!(n.body["direction"], "increase");
}

/// A watch with a two-sample test: the annotation's test, threshold and window, and the
/// data collection period in the alert.
#[test]
fn a_window_test_watch_alerts_with_its_p_value() {
    let mut e = engine(Scope::Node);
    let mut w = DriftWatch::simple("c2", "light", "lux");
    w.test = Some(aisprint_model::drift::TestSpec { test: "cramer-von-mises".into(), threshold: 0.001, window: 20 });
    w.collect_s = Some(7200.0);
    e.watch(&w);
    let mut found = None;
    for i in 0..200 {
        let wobble = ((i * 7) % 10) as f64 * 0.1;
        let v = if i < 100 { 10.0 + wobble } else { 20.0 + wobble };
        let t = 1000.0 + i as f64;
        let s = Sample {
            measurement: "light".into(),
            tags: Default::default(),
            fields: [("lux".to_string(), v)].into(),
            time_ns: secs_to_ns(t),
        };
        if let Some(n) = e.observe_metric(&s, t).pop() {
            found = Some((i, n));
            break;
        }
    }
    let (i, n) = found.expect("drift found");
    // Reference: the first 20 values; tests every 20 new values: the window of 100..120.
    assert_eq!(i, 119);
    assert_eq!(n.body["test"], "cramer-von-mises");
    assert!(n.body["p_value"].as_f64().expect("p") < 0.001, "{}", n.body);
    assert_eq!(n.body["collect_until"], 1000.0 + 119.0 + 7200.0);
    assert_eq!(e.watches(), vec![("light".to_string(), "lux".to_string(), 1)]);
}

#[test]
fn rfc3339_times() {
    assert_eq!(rfc3339(0.0), "1970-01-01T00:00:00.000000Z");
    assert_eq!(rfc3339(1_700_000_000.25), "2023-11-14T22:13:20.250000Z");
    assert_eq!(rfc3339(951_782_400.0), "2000-02-29T00:00:00.000000Z");
}

#[test]
fn sessions_are_bounded() {
    let mut e = engine(Scope::Node);
    e.tick(0.0);
    for i in 0..(MAX_SESSIONS + 10) {
        let t = 1.0 + i as f64 * 1e-6;
        e.observe_execution(&exec("c1", &format!("s{i}"), t, t), "");
    }
    e.tick(10.0);
    assert_eq!(e.counters.sessions_dropped, 10);
    assert_eq!(e.statuses()[0].sessions, MAX_SESSIONS);
}

#[test]
fn remote_input_cannot_grow_the_engine_without_bound() {
    let mut e = engine(Scope::Node);
    e.tick(1000.0);
    // Components: the first MAX_COMPONENTS are followed, the rest counted.
    for i in 0..(MAX_COMPONENTS + 5) {
        e.observe_execution(&exec(&format!("x{i}"), "s", 1000.0, 1001.0), "");
    }
    assert_eq!(e.counters.components_dropped, 5);
    // A session said to end in the year 3000 does not stay for ever; a component without
    // sessions goes.
    e.observe_execution(&exec("x0", "future", 1000.0, 32_503_680_000.0), "");
    e.tick(1010.0);
    assert_eq!(e.counters.sessions_dropped, 1);
    assert_eq!(e.components["x0"].sessions.len(), 1);
    e.tick(1000.0 + 2.0 * 3600.0);
    assert!(e.components.is_empty());
    // Watches.
    for i in 0..(MAX_WATCHES + 3) {
        e.watch(&DriftWatch::simple("c", &format!("m{i}"), "v"));
    }
    assert_eq!((e.watches().len(), e.counters.watches_dropped), (MAX_WATCHES, 3));
    // Series: every new set of tags is a new series, each field a new key; the engine stops
    // at its budget, and one sample's tags are kept once for all its fields.
    let big = "x".repeat(1000);
    for i in 0..2_000 {
        let s = Sample {
            measurement: format!("m{i}"),
            tags: (0..16).map(|t| (format!("t{t}"), big.clone())).collect(),
            fields: (0..256).map(|f| (format!("f{f}"), 1.0)).collect(),
            time_ns: 1,
        };
        e.observe_metric(&s, 1011.0);
    }
    assert!(e.budget.bytes <= MAX_SERIES_BYTES && e.budget.series <= MAX_SERIES_TOTAL);
    assert!(e.counters.series_dropped > 0);
    let names: HashSet<*const u8> = e.last.values().flat_map(|m| m.keys().map(|k| k.as_ptr())).collect();
    assert!(names.len() * 256 <= e.budget.series + 256, "one name per sample: {}", names.len());
}
