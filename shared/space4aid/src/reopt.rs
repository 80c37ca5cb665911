//! SPACE4AI-R's decision: given what runs now, the arrival rate observed and the constraints
//! violated, which placement to apply next, and why. No IO: the controller gathers the
//! observations and applies the answer.
//!
//! The candidates are the design deployments of the application (each fixes the layer of
//! every unit; a move between layers is a change of candidate), each compiled into a
//! [`Model`] and ranked by accuracy (0 is the most accurate: the versions of the application
//! as designed). The order of preference, each recorded as [`Via`]:
//!
//! 1. [`Via::Table`]: a precomputed solution (`space4ai-r/Output_max_Lambda_*.json`) of the
//!    current accuracy that sustains the target rate, the cheapest;
//! 2. [`Via::Resolve`]: a new SPACE4AI-D solve at the target rate on every candidate of the
//!    current accuracy, the cheapest feasible;
//! 3. [`Via::Degraded`]: when nothing of that accuracy is feasible, the most accurate less
//!    accurate candidate that is;
//! 4. [`Via::ScaleIn`]: when nothing is violated and the load has fallen, a cheaper placement
//!    that sustains the observed rate with headroom, once `cooldown_s` has passed.
//!
//! Every candidate placement obeys the user guide's rules ([`Rules`]): a physical layer's
//! device selected at design time is never replaced by another; a virtual layer in use only
//! scales in or out (its resource stays); an unused virtual layer may be switched on with any
//! of its resources; FaaS is free.

use std::collections::{BTreeMap, BTreeSet};

use crate::eval::{evaluate, Solution, NONE};
use crate::model::Model;
use crate::solver::{max_lambda, solve, SolveOptions};
use crate::system::ResourceKind;

/// One design deployment the runtime may switch to.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The design deployment's name (`base`, `partition1_1`, ...).
    pub name: String,
    pub model: Model,
    /// 0: the accuracy of the application as designed; larger: less accurate versions.
    pub rank: usize,
}

/// A precomputed solution of candidate `candidate`, feasible up to `lambda`.
#[derive(Debug, Clone)]
pub struct TableEntry {
    pub candidate: usize,
    pub lambda: f64,
    pub solution: Solution,
    /// Where it was read (a file name), for the decision's reason.
    pub source: String,
}

/// What may change at runtime, by layer and resource name (names hold across candidates).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rules {
    /// Physical layer -> the devices selected at design time.
    physical: BTreeMap<String, BTreeSet<String>>,
    /// Virtual layer in use now -> the resources it runs.
    virtual_in_use: BTreeMap<String, BTreeSet<String>>,
}

/// The resources a solution runs: (layer name, kind, resource name).
fn used(model: &Model, sol: &Solution) -> Vec<(String, ResourceKind, String)> {
    let mut out = Vec::new();
    for (r, res) in model.resources.iter().enumerate() {
        if sol.instances.get(r).copied().unwrap_or(0) > 0 {
            out.push((model.layers[res.layer].name.clone(), res.kind, res.name.clone()));
        }
    }
    out
}

impl Rules {
    /// The rules between the design-time placement and the current one.
    pub fn new(design: (&Model, &Solution), current: (&Model, &Solution)) -> Rules {
        let mut rules = Rules::default();
        for (layer, kind, name) in used(design.0, design.1) {
            if kind == ResourceKind::Edge {
                rules.physical.entry(layer).or_default().insert(name);
            }
        }
        for (layer, kind, name) in used(current.0, current.1) {
            match kind {
                ResourceKind::Cloud => {
                    rules.virtual_in_use.entry(layer).or_default().insert(name);
                }
                // A physical device in use now is one of the design's, or was allowed.
                ResourceKind::Edge if !rules.physical.contains_key(&layer) => {
                    rules.physical.entry(layer).or_default().insert(name);
                }
                _ => {}
            }
        }
        rules
    }

    /// Whether resource `r` of `model` may run something.
    pub fn allows(&self, model: &Model, r: usize) -> bool {
        let res = &model.resources[r];
        let layer = &model.layers[res.layer].name;
        match res.kind {
            ResourceKind::Edge => self.physical.get(layer).is_none_or(|s| s.contains(&res.name)),
            ResourceKind::Cloud => self.virtual_in_use.get(layer).is_none_or(|s| s.contains(&res.name)),
            ResourceKind::Faas => true,
        }
    }

    /// The first resource of `sol` the rules refuse, as a sentence.
    pub fn refusal(&self, model: &Model, sol: &Solution) -> Option<String> {
        let r = (0..model.resources.len()).find(|&r| sol.instances[r] > 0 && !self.allows(model, r))?;
        let res = &model.resources[r];
        let layer = &model.layers[res.layer].name;
        Some(match res.kind {
            ResourceKind::Edge => format!("{} would replace the device selected in physical layer {layer}", res.name),
            _ => format!("{} would replace the resource virtual layer {layer} runs (it may only scale)", res.name),
        })
    }

    /// `model` with only the resources the rules allow.
    pub fn restrict(&self, mut model: Model) -> Model {
        let allowed: Vec<bool> = (0..model.resources.len()).map(|r| self.allows(&model, r)).collect();
        model.keep_resources(|r| allowed[r]);
        model
    }
}

/// How long ago and how often to act.
#[derive(Debug, Clone)]
pub struct Settings {
    /// No new decision within this long of the last applied one, unless a constraint is
    /// still violated.
    pub min_dwell_s: f64,
    /// No scale-in within this long of the last applied decision.
    pub cooldown_s: f64,
    /// A scale-in must sustain the observed rate times this (hysteresis against flapping).
    pub headroom: f64,
    pub solve: SolveOptions,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            min_dwell_s: 30.0,
            cooldown_s: 60.0,
            headroom: 1.25,
            // Measured (benches/reopt.rs): 100 components decided in about 50 ms on 2 cores,
            // at the cost of SPACE4AI-D's full search on every instance tried; without the
            // polish the quick search paid 30 to 50 times more.
            solve: SolveOptions {
                random_greedy_iterations: 200,
                local_search_iterations: 10,
                elite: 2,
                threads: 2,
                polish: Some((2, 3000)),
                bound: None,
                ..SolveOptions::default()
            },
        }
    }
}

/// What the decision knows of now.
#[derive(Debug, Clone)]
pub struct Situation {
    /// Requests per second entering the application (0 when nothing came).
    pub lambda: f64,
    /// The constraints violated now (names), empty when none.
    pub violated: Vec<String>,
    /// Seconds since the last applied decision (infinite when none).
    pub since_applied_s: f64,
    /// Placements measured to break a constraint, and at which rate: the model was wrong
    /// about them there, so none is chosen again for that rate or more.
    pub limits: Vec<Limit>,
}

/// A placement that broke a constraint at `lambda` (requests per second) when it ran.
#[derive(Debug, Clone, PartialEq)]
pub struct Limit {
    pub candidate: usize,
    pub solution: Solution,
    pub lambda: f64,
}

/// Whether `c` broke a constraint when it ran at `lambda` or less (with a 10% margin).
fn known_to_fail(limits: &[Limit], c: &Choice, lambda: f64) -> bool {
    limits.iter().any(|l| l.candidate == c.candidate && l.solution == c.solution && lambda >= 0.9 * l.lambda)
}

/// Which rule chose the new placement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Table,
    Resolve,
    Degraded,
    ScaleIn,
    /// Back to a more accurate version once the load allows it.
    Upgrade,
}

impl Via {
    pub fn name(self) -> &'static str {
        match self {
            Via::Table => "table",
            Via::Resolve => "resolve",
            Via::Degraded => "degraded",
            Via::ScaleIn => "scale_in",
            Via::Upgrade => "upgrade",
        }
    }
}

/// A placement chosen: candidate, solution, and its figures at the target rate.
#[derive(Debug, Clone)]
pub struct Choice {
    pub candidate: usize,
    pub solution: Solution,
    pub via: Via,
    pub cost: f64,
}

/// The answer: a new placement or none, and why.
#[derive(Debug, Clone)]
pub struct Decision {
    pub choice: Option<Choice>,
    pub reason: String,
    /// The rate the new placement was chosen for.
    pub target_lambda: f64,
    /// The current placement's cost, and whether the model finds it feasible at the
    /// observed rate.
    pub current_cost: f64,
    pub current_feasible: bool,
}

/// The current placement: candidate index and solution in its model.
#[derive(Debug, Clone, Copy)]
pub struct Current<'a> {
    pub candidate: usize,
    pub solution: &'a Solution,
}

fn at(model: &Model, lambda: f64) -> Model {
    let mut m = model.clone();
    m.set_lambda(lambda);
    m
}

/// Whether every partition keeps an option (else its component cannot be placed).
fn placeable(model: &Model) -> bool {
    model.partitions.iter().all(|p| !p.options.is_empty())
}

/// The cheapest feasible restricted solution of each of `which` at `lambda`.
fn resolve(cands: &[Candidate], which: &[usize], rules: &Rules, lambda: f64, opts: &SolveOptions) -> Option<Choice> {
    let mut best: Option<Choice> = None;
    for &i in which {
        let m = rules.restrict(at(&cands[i].model, lambda));
        if !placeable(&m) {
            continue;
        }
        if let Some((cost, solution)) = solve(&m, opts).best {
            if best.as_ref().is_none_or(|b| cost < b.cost) {
                best = Some(Choice { candidate: i, solution, via: Via::Resolve, cost });
            }
        }
    }
    best
}

/// The cheapest table entry of `which` that the rules allow and that is feasible at `lambda`.
fn from_table(
    cands: &[Candidate],
    which: &[usize],
    table: &[TableEntry],
    rules: &Rules,
    lambda: f64,
) -> Option<(Choice, String)> {
    let mut best: Option<(Choice, String)> = None;
    for e in table.iter().filter(|e| which.contains(&e.candidate) && e.lambda >= lambda) {
        let model = &cands[e.candidate].model;
        if e.solution.instances.len() != model.resources.len() || rules.refusal(model, &e.solution).is_some() {
            continue;
        }
        let ev = evaluate(&at(model, lambda), &e.solution);
        if ev.feasible && best.as_ref().is_none_or(|b| ev.cost < b.0.cost) {
            let choice =
                Choice { candidate: e.candidate, solution: e.solution.clone(), via: Via::Table, cost: ev.cost };
            best = Some((choice, e.source.clone()));
        }
    }
    best
}

/// Decides what to apply now. `design` is the placement chosen at design time (for the
/// physical layers' devices); `current` what runs.
pub fn decide(
    cands: &[Candidate],
    design: Current<'_>,
    current: Current<'_>,
    table: &[TableEntry],
    now: &Situation,
    settings: &Settings,
) -> Decision {
    let cur_model = &cands[current.candidate].model;
    let rules = Rules::new((&cands[design.candidate].model, design.solution), (cur_model, current.solution));
    let lambda = now.lambda.max(1e-9);
    let ev = evaluate(&at(cur_model, lambda), current.solution);
    let mut d = Decision {
        choice: None,
        reason: String::new(),
        target_lambda: lambda,
        current_cost: ev.cost,
        current_feasible: ev.feasible,
    };
    let violated = !now.violated.is_empty();
    if !violated && now.since_applied_s < settings.min_dwell_s {
        d.reason = format!(
            "nothing violated and the last change is {:.0} s old (min_dwell_s {})",
            now.since_applied_s, settings.min_dwell_s
        );
        return d;
    }
    let rank = cands[current.candidate].rank;
    let same: Vec<usize> = (0..cands.len()).filter(|&i| cands[i].rank == rank).collect();
    let is_current = |c: &Choice| c.candidate == current.candidate && c.solution == *current.solution;
    let unusable = |c: &Choice, at: f64| is_current(c) || known_to_fail(&now.limits, c, at);
    if violated || !ev.feasible {
        // More capacity is needed. When the model finds the current placement feasible but
        // the measurements do not, its capacity is overestimated: ask for more than it
        // (searched up to 100 times the observed or designed rate: with no arrivals seen, a
        // violation still asks for more than the current capacity).
        let upper = 100.0 * lambda.max(cur_model.lambda);
        let capacity =
            if ev.feasible { max_lambda(&at(cur_model, lambda), current.solution, upper, 1e-6) } else { None };
        d.target_lambda = capacity.map_or(lambda, |c| lambda.max(c * 1.1));
        let why = if violated {
            format!("{} violated at {lambda:.3} req/s", now.violated.join(", "))
        } else {
            format!("the current placement cannot sustain {lambda:.3} req/s")
        };
        let target = d.target_lambda;
        if let Some((c, source)) = from_table(cands, &same, table, &rules, target).filter(|(c, _)| !unusable(c, target))
        {
            d.reason = format!("{why}: {source} sustains {target:.3} req/s");
            d.choice = Some(c);
        } else if let Some(c) = resolve(cands, &same, &rules, target, &settings.solve).filter(|c| !unusable(c, target))
        {
            d.reason = format!("{why}: SPACE4AI-D at {target:.3} req/s");
            d.choice = Some(c);
        } else {
            let mut lower: Vec<usize> = cands.iter().map(|c| c.rank).filter(|&r| r > rank).collect();
            lower.sort_unstable();
            lower.dedup();
            for r in lower {
                let which: Vec<usize> = (0..cands.len()).filter(|&i| cands[i].rank == r).collect();
                if let Some(mut c) =
                    resolve(cands, &which, &rules, target, &settings.solve).filter(|c| !unusable(c, target))
                {
                    c.via = Via::Degraded;
                    d.reason = format!(
                        "{why}: nothing as accurate is feasible at {target:.3} req/s; {} (accuracy rank {r}) is",
                        cands[c.candidate].name
                    );
                    d.choice = Some(c);
                    break;
                }
            }
            if d.choice.is_none() {
                d.reason =
                    format!("{why}: no placement the runtime rules allow is feasible at {target:.3} req/s; kept");
            }
        }
        return d;
    }
    if now.since_applied_s < settings.cooldown_s {
        d.reason = format!(
            "feasible at {lambda:.3} req/s; no scale-in within cooldown_s {} of the last change",
            settings.cooldown_s
        );
        return d;
    }
    // A less accurate version runs: back to the most accurate one that sustains the observed
    // rate with headroom.
    let target = lambda * settings.headroom;
    d.target_lambda = target;
    let mut better: Vec<usize> = cands.iter().map(|c| c.rank).filter(|&r| r < rank).collect();
    better.sort_unstable();
    better.dedup();
    for r in better {
        let which: Vec<usize> = (0..cands.len()).filter(|&i| cands[i].rank == r).collect();
        if let Some(mut c) = resolve(cands, &which, &rules, target, &settings.solve).filter(|c| !unusable(c, target)) {
            c.via = Via::Upgrade;
            d.reason = format!(
                "the load fell to {lambda:.3} req/s: the more accurate {} (accuracy rank {r}) sustains {target:.3} req/s",
                cands[c.candidate].name
            );
            d.choice = Some(c);
            return d;
        }
    }
    // Cost first: the cheapest placement of the current accuracy that sustains the observed
    // rate with headroom.
    match resolve(cands, &same, &rules, target, &settings.solve) {
        Some(mut c) if c.cost < ev.cost * (1.0 - 1e-9) && !unusable(&c, target) => {
            c.via = Via::ScaleIn;
            d.reason = format!(
                "the load fell to {lambda:.3} req/s: a placement sustaining {target:.3} req/s costs {:.6} instead of {:.6}",
                c.cost, ev.cost
            );
            d.choice = Some(c);
        }
        _ => d.reason = format!("feasible at {lambda:.3} req/s and nothing cheaper sustains {target:.3} req/s"),
    }
    d
}

/// The response time of every component placed by `sol` at `lambda`, by name.
pub fn responses(model: &Model, sol: &Solution, lambda: f64) -> BTreeMap<String, f64> {
    let ev = evaluate(&at(model, lambda), sol);
    model
        .components
        .iter()
        .enumerate()
        .filter(|(c, _)| sol.deployment[*c] != NONE)
        .map(|(c, comp)| (comp.name.clone(), ev.component_response[c]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::System;
    use serde_json::json;

    /// c1 -> c2. c1 on physical layer L1 (EN1, EN2); c2 on the edge server ES (physical L2)
    /// or a VM (virtual L3: VM1, VM2, four of each). `demand` is c2's service time.
    fn model(demand: f64) -> Model {
        let v = json!({
            "DirectedAcyclicGraph": {
                "c1": {"next": ["c2"], "transition_probability": [1.0]},
                "c2": {"next": [], "transition_probability": []}
            },
            "Components": {
                "c1": {"s1": {"h1": {"next": ["c2"], "early_exit_probability": 0, "data_size": [0.1]}}},
                "c2": {"s1": {"h2": {"next": [], "early_exit_probability": 0, "data_size": []}}}
            },
            "EdgeResources": {
                "L1": {"EN1": {"number": 1, "cost": 0.1, "memory": 4096}, "EN2": {"number": 1, "cost": 0.05, "memory": 4096}},
                "L2": {"ES": {"number": 1, "cost": 0.2, "memory": 8192}}
            },
            "CloudResources": {
                "L3": {"VM1": {"number": 4, "cost": 1.0, "memory": 8192}, "VM2": {"number": 4, "cost": 0.8, "memory": 8192}}
            },
            "CompatibilityMatrix": {
                "c1": {"h1": [{"resource": "EN1", "memory": 256}, {"resource": "EN2", "memory": 256}]},
                "c2": {"h2": [{"resource": "ES", "memory": 256}, {"resource": "VM1", "memory": 256}, {"resource": "VM2", "memory": 256}]}
            },
            "Performance": {
                "c1": {"h1": {"EN1": {"model": "QTedge", "demand": 0.01}, "EN2": {"model": "QTedge", "demand": 0.01}}},
                "c2": {"h2": {
                    "ES": {"model": "QTedge", "demand": demand},
                    "VM1": {"model": "QTcloud", "demand": demand},
                    "VM2": {"model": "QTcloud", "demand": demand}
                }}
            },
            "Lambda": 0.5,
            "LocalConstraints": {"c2": {"local_res_time": 2.0}},
            "GlobalConstraints": {},
            "NetworkTechnology": {"ND1": {"computationalLayers": ["L1", "L2", "L3"], "AccessDelay": 0.001, "Bandwidth": 1000}},
            "Time": 1
        });
        let s: System = serde_json::from_value(v).expect("system");
        assert!(!s.validate("t").has_errors());
        Model::compile(&s, "t").expect("model")
    }

    fn cands() -> Vec<Candidate> {
        vec![
            Candidate { name: "base".into(), model: model(0.5), rank: 0 },
            // A less accurate version of c2, four times faster.
            Candidate { name: "light".into(), model: model(0.125), rank: 1 },
        ]
    }

    /// The solution placing c1 on `c1` and c2 on `c2` with `n` instances.
    fn place(m: &Model, c1: &str, c2: &str, n: u32) -> Solution {
        let (a, b) = (m.resource_index[c1], m.resource_index[c2]);
        let mut instances = vec![0; m.resources.len()];
        instances[a] = 1;
        instances[b] = n;
        Solution { deployment: vec![0, 0], placement: vec![a, b], instances }
    }

    /// (c1's resource, c2's resource, c2's instances) of a choice.
    fn where_(c: &[Candidate], ch: &Choice) -> (String, String, u32) {
        let m = &c[ch.candidate].model;
        let r = |p: usize| m.resources[ch.solution.placement[p]].name.clone();
        (r(0), r(1), ch.solution.instances[ch.solution.placement[1]])
    }

    fn now(lambda: f64, violated: &[&str], since: f64) -> Situation {
        Situation {
            lambda,
            violated: violated.iter().map(|s| s.to_string()).collect(),
            since_applied_s: since,
            limits: Vec::new(),
        }
    }

    #[test]
    fn a_saturated_edge_server_moves_to_the_cheapest_vm_and_the_edge_device_stays() {
        let c = cands();
        let design = place(&c[0].model, "EN2", "ES", 1);
        let cur = Current { candidate: 0, solution: &design };
        // 3 req/s on ES (0.5 s each) is 150% busy: infeasible, a move is needed.
        let d = decide(&c, cur, cur, &[], &now(3.0, &[], 1000.0), &Settings::default());
        assert!(!d.current_feasible);
        let ch = d.choice.expect(&d.reason);
        assert_eq!(ch.via, Via::Resolve, "{}", d.reason);
        let (c1, c2, n) = where_(&c, &ch);
        // EN1 is never switched on in place of EN2; VM2 is the cheaper VM; 2 VMs: 75% busy,
        // 2 s, at the threshold, so 3 (0.9 s).
        assert_eq!((c1.as_str(), c2.as_str()), ("EN2", "VM2"), "{}", d.reason);
        assert!(n >= 2, "{n}");
        assert!(evaluate(&at(&c[0].model, 3.0), &ch.solution).feasible);
    }

    #[test]
    fn a_virtual_layer_in_use_only_scales() {
        let c = cands();
        let design = place(&c[0].model, "EN2", "ES", 1);
        // VM1 runs c2 now (VM2 would be cheaper): at 5 req/s VM1 scales out, VM2 stays off.
        let running = place(&c[0].model, "EN2", "VM1", 2);
        let d = decide(
            &c,
            Current { candidate: 0, solution: &design },
            Current { candidate: 0, solution: &running },
            &[],
            &now(5.0, &["c2"], 1000.0),
            &Settings::default(),
        );
        let ch = d.choice.expect(&d.reason);
        let (c1, c2, n) = where_(&c, &ch);
        assert_eq!((c1.as_str(), c2.as_str()), ("EN2", "VM1"), "{}", d.reason);
        assert!(n > 2, "{n}");
        let rules = Rules::new((&c[0].model, &design), (&c[0].model, &running));
        assert!(rules.refusal(&c[0].model, &place(&c[0].model, "EN2", "VM2", 4)).is_some());
        assert!(rules.refusal(&c[0].model, &place(&c[0].model, "EN1", "VM1", 4)).is_some());
        assert!(rules.refusal(&c[0].model, &place(&c[0].model, "EN2", "ES", 1)).is_none());
    }

    #[test]
    fn the_table_comes_first_then_the_cheaper_placement_after_the_cooldown() {
        let c = cands();
        let design = place(&c[0].model, "EN2", "ES", 1);
        let cur = Current { candidate: 0, solution: &design };
        let table = [TableEntry {
            candidate: 0,
            lambda: 6.0,
            solution: place(&c[0].model, "EN2", "VM2", 4),
            source: "Output_max_Lambda_base.json".into(),
        }];
        let d = decide(&c, cur, cur, &table, &now(3.0, &["c2"], 1000.0), &Settings::default());
        let ch = d.choice.expect(&d.reason);
        assert_eq!(ch.via, Via::Table);
        assert!(d.reason.contains("Output_max_Lambda_base.json"), "{}", d.reason);
        // Back to 0.5 req/s on 4 VMs: within the cool-down nothing; after it, the edge
        // server again (cheaper, and its layer's selected device).
        let running = ch.solution;
        let on = Current { candidate: 0, solution: &running };
        let s = Settings::default();
        let d = decide(&c, cur, on, &table, &now(0.5, &[], 10.0), &s);
        assert!(d.choice.is_none() && d.reason.contains("min_dwell_s"), "{}", d.reason);
        let d = decide(&c, cur, on, &table, &now(0.5, &[], 45.0), &s);
        assert!(d.choice.is_none() && d.reason.contains("cooldown_s"), "{}", d.reason);
        let d = decide(&c, cur, on, &table, &now(0.5, &[], 61.0), &s);
        let ch = d.choice.expect(&d.reason);
        assert_eq!(ch.via, Via::ScaleIn);
        assert_eq!(where_(&c, &ch), ("EN2".into(), "ES".into(), 1), "{}", d.reason);
        // At a rate the edge server cannot take with headroom, the VMs stay (fewer of them).
        let d = decide(&c, cur, on, &table, &now(1.7, &[], 61.0), &s);
        let ch = d.choice.expect(&d.reason);
        assert_eq!(where_(&c, &ch).1, "VM2", "{}", d.reason);
    }

    #[test]
    fn a_violation_the_model_does_not_see_asks_for_more_than_the_current_capacity() {
        let c = cands();
        let design = place(&c[0].model, "EN2", "ES", 1);
        let cur = Current { candidate: 0, solution: &design };
        // 0.5 req/s on ES is feasible for the model (capacity about 1.5 req/s at 2 s).
        let d = decide(&c, cur, cur, &[], &now(0.5, &["c2"], 1000.0), &Settings::default());
        assert!(d.current_feasible);
        assert!(d.target_lambda > 1.5, "{}", d.target_lambda);
        let ch = d.choice.expect(&d.reason);
        assert_ne!(where_(&c, &ch).1, "ES");
        assert!(d.reason.contains("c2 violated"), "{}", d.reason);
    }

    #[test]
    fn a_placement_measured_to_fail_is_not_scaled_back_into_at_that_rate() {
        let c = cands();
        let design = place(&c[0].model, "EN2", "ES", 1);
        let cur = Current { candidate: 0, solution: &design };
        let running = place(&c[0].model, "EN2", "VM2", 3);
        let on = Current { candidate: 0, solution: &running };
        // The edge server broke classify's constraint at 1.0 req/s (slower than its model).
        let mut s = now(0.9, &[], 100.0);
        s.limits.push(Limit { candidate: 0, solution: design.clone(), lambda: 1.0 });
        let d = decide(&c, cur, on, &[], &s, &Settings::default());
        assert!(d.choice.as_ref().is_none_or(|ch| where_(&c, ch).1 != "ES"), "{}", d.reason);
        // Far below that rate it is chosen again.
        s.lambda = 0.3;
        let d = decide(&c, cur, on, &[], &s, &Settings::default());
        assert_eq!(where_(&c, &d.choice.expect(&d.reason)).1, "ES");
    }

    #[test]
    fn beyond_every_accurate_placement_the_less_accurate_version_is_chosen() {
        let c = cands();
        let design = place(&c[0].model, "EN2", "ES", 1);
        let cur = Current { candidate: 0, solution: &design };
        // 4 VMs at 0.5 s take under 8 req/s; the light version (0.125 s) takes 10.
        let d = decide(&c, cur, cur, &[], &now(10.0, &[], 1000.0), &Settings::default());
        let ch = d.choice.expect(&d.reason);
        assert_eq!((ch.via, c[ch.candidate].name.as_str()), (Via::Degraded, "light"), "{}", d.reason);
        // Once the load falls, after the cool-down, back to the accurate version.
        let light = ch.solution.clone();
        let on = Current { candidate: ch.candidate, solution: &light };
        let d = decide(&c, cur, on, &[], &now(1.0, &[], 1000.0), &Settings::default());
        let up = d.choice.expect(&d.reason);
        assert_eq!((up.via, c[up.candidate].name.as_str()), (Via::Upgrade, "base"), "{}", d.reason);
        // Beyond that too: nothing, said.
        let d = decide(&c, cur, cur, &[], &now(100.0, &[], 1000.0), &Settings::default());
        assert!(d.choice.is_none());
        assert!(d.reason.contains("no placement the runtime rules allow"), "{}", d.reason);
    }
}
