//! The engine over time: checks in and out of the window, late records, alerts on several
//! series, a clock that steps back.

use super::tests::exec;
use super::*;

#[test]
fn a_violation_is_notified_at_every_check_while_in_the_window() {
    let m = Monitoring { period_s: 1.0, window_s: 3.0, ..Monitoring::default() };
    let mut e = Engine::new(Scope::Node, &m);
    e.add_constraints(
        vec![Constraint { name: "l".into(), kind: Kind::Local, path: vec!["c1".into()], threshold: 0.2 }],
        None,
    );
    e.tick(100.0);
    e.observe_execution(&Execution { function_start: 100.3, ..exec("c1", "s", 100.2, 100.7) }, "");
    let mut n = 0;
    for i in 1..=6 {
        n += e.tick(100.0 + i as f64).0.len();
    }
    assert_eq!(n, 3);
    // The same at today's times, with a period that does not divide the clock.
    let mut e = Engine::new(Scope::Node, &m);
    e.add_constraints(
        vec![Constraint { name: "l".into(), kind: Kind::Local, path: vec!["c1".into()], threshold: 0.2 }],
        None,
    );
    let t0 = 1_795_855_747.920_060_2;
    e.tick(t0 - 1.0);
    e.tick(t0);
    let x = Execution { function_start: t0 - 0.5, ..exec("c1", "s", t0 - 0.6, t0 - 0.01) };
    e.observe_execution(&x, "n");
    let mut n = 0;
    for i in 1..=6 {
        n += e.tick(t0 + i as f64 + 0.001).0.len();
    }
    assert_eq!(n, 2, "checks at t0 + 1 and t0 + 2 see it, t0 + 3 does not");
}

#[test]
fn late_records_count_in_their_place() {
    let m = Monitoring { period_s: 1.0, window_s: 3.0, ..Monitoring::default() };
    let mut e = Engine::new(Scope::Node, &m);
    e.add_constraints(
        vec![Constraint { name: "l".into(), kind: Kind::Local, path: vec!["c".into()], threshold: 9.0 }],
        None,
    );
    e.tick(100.0);
    let x = |s: &str, start: f64, end: f64| exec("c", s, start, end);
    // Arrival order: a new one, then a backlog of older ones (one already out of the window).
    for r in [x("a", 104.0, 105.0), x("b", 95.0, 96.0), x("c", 101.0, 104.0), x("a", 103.0, 104.5)] {
        e.observe_execution(&r, "n");
    }
    e.tick(106.0);
    let st = &e.statuses()[0];
    // a: 105 - 103 = 2; c: 3; b is out of the window.
    assert_eq!((st.sessions, st.value), (2, Some(2.5)));
}

#[test]
fn alerts_look_at_every_series_and_future_stamps_do_not_pin_values() {
    let m = Monitoring { period_s: 1.0, window_s: 3.0, ..Monitoring::default() };
    let mut e = Engine::new(Scope::Node, &m);
    e.add_alerts(&[AlertRule {
        name: "disk_full".into(),
        kind: crate::setup::AlertKind::Infrastructure,
        metric: "disk".into(),
        field: "used_percent".into(),
        threshold: crate::setup::Threshold::Above(90.0),
        every_s: 1.0,
        url: None,
    }]);
    let disk = |path: &str, v: f64, t: f64| Sample {
        measurement: "disk".into(),
        tags: [("path".to_string(), path.to_string())].into(),
        fields: [("used_percent".to_string(), v)].into(),
        time_ns: secs_to_ns(t),
    };
    e.tick(100.0);
    e.observe_metric(&disk("/", 95.0, 100.5), 100.5);
    e.observe_metric(&disk("/data", 10.0, 100.6), 100.6);
    let (n, _) = e.tick(101.0);
    assert_eq!(n.len(), 1, "the full disk fires although another came later");
    assert_eq!((n[0].body["series"].as_str(), n[0].body["value"].as_f64()), (Some("path=/"), Some(95.0)));
    // A sample stamped a day ahead (a unit mistake) counts as now: a later one replaces it.
    e.observe_metric(&disk("/", 99.0, 100_000.0), 101.5);
    e.observe_metric(&disk("/", 20.0, 101.7), 101.7);
    let (n, _) = e.tick(102.0);
    assert!(n.is_empty(), "{n:?}");
}

#[test]
fn checks_without_sessions_are_recorded_and_a_clock_step_back_restarts_the_schedule() {
    let m = Monitoring { period_s: 1.0, window_s: 3.0, ..Monitoring::default() };
    let mut e = Engine::new(Scope::Node, &m);
    e.add_constraints(
        vec![Constraint { name: "l".into(), kind: Kind::Local, path: vec!["c".into()], threshold: 1.0 }],
        None,
    );
    e.tick(1000.0);
    let (_, samples) = e.tick(1001.0);
    assert_eq!(samples.len(), 1);
    assert_eq!((samples[0].fields["sessions"], samples[0].fields["violated"]), (0.0, 0.0));
    assert!(!samples[0].fields.contains_key("local_l"));
    // The clock goes back an hour: checks go on a period later, not in an hour.
    e.tick(0.0 + 3000.0 - 3600.0 + 1000.0);
    let (_, samples) = e.tick(401.0);
    assert_eq!(samples.len(), 1);
}
