//! Which cuts to keep: the `k` best by the time one inference takes across the two sites,
//! using all three things a cut changes (upstream's partitioner weighed only the crossing
//! tensor's size):
//!
//! - the first part's compute at the first site's speed, plus
//! - the crossing bytes over the network's bandwidth, plus
//! - the second part's compute at the second site's speed;
//!
//! and a cut whose part holds more parameters than its site's memory is left out. Equal times
//! go to the cut with fewer crossing bytes, then the earlier one.

use crate::split::Cut;

/// Where a part runs: how fast it computes and how much memory it has.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Site {
    /// Floating-point operations per second.
    pub flops_per_s: f64,
    /// Memory for the part's parameters (bytes); None: not limited.
    pub memory_bytes: Option<f64>,
}

/// The two sites and the network between them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Context {
    pub first: Site,
    pub second: Site,
    pub bandwidth_bytes_per_s: f64,
}

/// A kept cut, with its estimated time per inference and its parts.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    pub cut: Cut,
    /// Seconds: (first part, transfer, second part).
    pub times: (f64, f64, f64),
}

impl Ranked {
    pub fn seconds(&self) -> f64 {
        self.times.0 + self.times.1 + self.times.2
    }
}

/// The `k` best cuts; `Err` says why none is kept (no compute estimate, nothing fits).
pub fn best(cuts: &[Cut], k: usize, ctx: &Context) -> Result<Vec<Ranked>, String> {
    if !(ctx.first.flops_per_s > 0.0 && ctx.second.flops_per_s > 0.0 && ctx.bandwidth_bytes_per_s > 0.0) {
        return Err("the sites' speeds and the bandwidth must be positive".into());
    }
    let fits = |params: u64, site: &Site| site.memory_bytes.is_none_or(|m| params as f64 <= m);
    let mut kept = Vec::new();
    let mut too_big = 0;
    for c in cuts {
        let (Some((f1, f2)), Some(bytes)) = (c.flops, c.bytes) else {
            return Err(format!(
                "the cut after {} nodes has no {} estimate (an operator without a rule, or a shape the model does not give)",
                c.at,
                if c.flops.is_none() { "compute" } else { "size" }
            ));
        };
        if !fits(c.parameters.0, &ctx.first) || !fits(c.parameters.1, &ctx.second) {
            too_big += 1;
            continue;
        }
        let times = (
            f1 as f64 / ctx.first.flops_per_s,
            bytes as f64 / ctx.bandwidth_bytes_per_s,
            f2 as f64 / ctx.second.flops_per_s,
        );
        kept.push(Ranked { cut: c.clone(), times });
    }
    if kept.is_empty() {
        return Err(if cuts.is_empty() {
            "the model has no cut (every point of it has more tensors crossing than allowed)".into()
        } else {
            format!("none of the {too_big} cuts fits: a part's parameters exceed its site's memory")
        });
    }
    kept.sort_by(|a, b| {
        a.seconds().total_cmp(&b.seconds()).then(a.cut.bytes.cmp(&b.cut.bytes)).then(a.cut.at.cmp(&b.cut.at))
    });
    kept.truncate(k.max(1));
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(at: usize, bytes: u64, flops: (u64, u64), params: (u64, u64)) -> Cut {
        Cut { at, crossing: vec![format!("t{at}")], bytes: Some(bytes), parameters: params, flops: Some(flops) }
    }

    #[test]
    fn compute_network_and_memory_all_count() {
        // A slow edge site, a fast server, 1 MB/s between them.
        let ctx = Context {
            first: Site { flops_per_s: 1e9, memory_bytes: Some(50e6) },
            second: Site { flops_per_s: 1e11, memory_bytes: None },
            bandwidth_bytes_per_s: 1e6,
        };
        let cuts = [
            // Early: little edge compute, a big tensor crosses: 0.001 + 1.0 + 0.01.
            cut(1, 1_000_000, (1_000_000, 1_000_000_000), (1_000, 99_000_000)),
            // Middle: 0.1 + 0.1 + 0.009.
            cut(5, 100_000, (100_000_000, 900_000_000), (20_000_000, 80_000_000)),
            // Late: the smallest tensor, but the edge does everything: 0.9 + 0.001 + 0.001.
            cut(9, 1_000, (900_000_000, 100_000_000), (40_000_000, 60_000_000)),
            // Would be fastest, but its first part does not fit the edge's memory.
            cut(7, 10_000, (50_000_000, 950_000_000), (60_000_000, 40_000_000)),
        ];
        let got = best(&cuts, 2, &ctx).expect("kept");
        assert_eq!(got.iter().map(|r| r.cut.at).collect::<Vec<_>>(), vec![5, 9]);
        assert!((got[0].seconds() - 0.209).abs() < 1e-9, "{got:?}");
        // Upstream's rule (the smallest tensor) would take the late cut; a faster network
        // makes the early one best.
        let fast = Context { bandwidth_bytes_per_s: 1e10, ..ctx };
        assert_eq!(best(&cuts, 1, &fast).expect("kept")[0].cut.at, 1);
        let tiny = Context { first: Site { flops_per_s: 1e9, memory_bytes: Some(10.0) }, ..ctx };
        assert_eq!(
            best(&cuts, 1, &tiny).unwrap_err(),
            "none of the 4 cuts fits: a part's parameters exceed its site's memory"
        );
        let unknown = [Cut { flops: None, ..cuts[0].clone() }];
        assert!(best(&unknown, 1, &ctx).unwrap_err().contains("no compute estimate"));
    }
}
