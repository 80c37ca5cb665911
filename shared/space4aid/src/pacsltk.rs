//! The serverless (FaaS) performance model of the `pacsltk` package (version 0.2.0,
//! `perfmodel.get_sls_warm_count_dist`), ported: for each number of warm instances, Erlang-B
//! gives the share of requests that find none free (cold starts); a birth-death chain over
//! the warm-instance count (created by cold starts, killed after `idle_time_before_kill`
//! without work) gives how long each count lasts; the average response time is the average,
//! over that chain's stationary distribution, of `P(cold) * cold + (1 - P(cold)) * warm`.
//!
//! The chain is solved in product form (flow balance across each cut of a birth-death chain),
//! which is what the reference's dense linear solve computes, without its O(n^3) cost.

/// What the model says about one FaaS configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Serverless {
    pub avg_resp_time: f64,
    pub cold_prob: f64,
    pub avg_server_count: f64,
}

/// Erlang-B blocking probability of an M/G/m/m system with offered load `rho`.
pub fn erlang_b(rho: f64, m: usize) -> f64 {
    let mut inv_b = 1.0;
    for j in 1..=m {
        inv_b = 1.0 + inv_b * (j as f64 / rho);
    }
    1.0 / inv_b
}

/// The reference's default cap on concurrent instances.
pub const MAXIMUM_CONCURRENCY: usize = 1000;

/// Steady-state behaviour for requests arriving at `arrival_rate` (1/s), served in
/// `warm_service_time` by a warm instance and `cold_service_time` on a cold start, with idle
/// instances killed after `idle_time_before_kill` seconds.
pub fn serverless(
    arrival_rate: f64,
    warm_service_time: f64,
    cold_service_time: f64,
    idle_time_before_kill: f64,
) -> Serverless {
    let max_conc = MAXIMUM_CONCURRENCY;
    let warm_rate = 1.0 / warm_service_time;
    let cold_rate = 1.0 / cold_service_time;
    let rho = arrival_rate / warm_rate;
    let mut server_max = max_conc.min(30);

    // States 0..=n: warm instances.
    let mut block_rates = vec![arrival_rate];
    let mut kill_rates = vec![0.0];
    let mut cold_probs = vec![1.0];
    let mut resp_times = vec![cold_service_time];

    let mut pblock_old = 1.0;
    let mut kill_rate = 0.0;
    let mut count = 0;
    while count < server_max {
        count += 1;
        let prob_block = erlang_b(rho, count);
        let block_rate = prob_block * arrival_rate;
        let prob_mth = pblock_old - prob_block;
        pblock_old = prob_block;
        // Requests to the m-th instance arrive at l; it dies after idle time without one.
        let l = arrival_rate * prob_mth;
        let prob_kill = (-idle_time_before_kill * l).exp();
        if prob_kill > 0.0 {
            let exp_requests_before_kill = 1.0 / prob_kill;
            let t = idle_time_before_kill + warm_service_time;
            let avg_inter_arrival = -t * (-l * t).exp() + (1.0 - (-l * t).exp()) / l;
            let inter_kill_time = idle_time_before_kill + (exp_requests_before_kill - 1.0) * avg_inter_arrival;
            kill_rate += 1.0 / inter_kill_time;
        }
        let mut resp = prob_block * cold_service_time + (1.0 - prob_block) * warm_service_time;
        if count == max_conc {
            resp = warm_service_time;
        }
        block_rates.push(block_rate);
        kill_rates.push(kill_rate);
        cold_probs.push(prob_block);
        resp_times.push(resp);
        if block_rate > kill_rate {
            server_max = (count + 30).min(max_conc);
        }
    }
    let n = block_rates.len();
    if server_max == max_conc {
        // At the cap, cold starts are rejections instead.
        cold_probs[n - 1] = 0.0;
        block_rates[n - 1] = 0.0;
    }

    // Birth rate out of state i (a cold start that completes) and death rate (a kill).
    let up = |i: usize| block_rates[i] * cold_rate / (block_rates[i] + cold_rate);
    // Product form: pi[i+1] * down[i+1] = pi[i] * up[i], in logarithms (the ratios span
    // hundreds of orders of magnitude). A state that cannot be left downwards (kill rate 0)
    // takes all the mass below it.
    let mut log_pi = vec![f64::NEG_INFINITY; n];
    log_pi[0] = 0.0;
    for i in 0..n - 1 {
        let down = kill_rates[i + 1];
        let u = up(i);
        if down > 0.0 {
            log_pi[i + 1] = log_pi[i] + u.ln() - down.ln();
        } else if u > 0.0 && log_pi[i] > f64::NEG_INFINITY {
            log_pi[..=i].iter_mut().for_each(|p| *p = f64::NEG_INFINITY);
            log_pi[i + 1] = 0.0;
        }
    }
    let top = log_pi.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut pi: Vec<f64> = log_pi.iter().map(|l| (l - top).exp()).collect();
    let total: f64 = pi.iter().sum();
    pi.iter_mut().for_each(|p| *p /= total);

    let dot = |v: &[f64]| v.iter().zip(&pi).map(|(a, b)| a * b).sum::<f64>();
    let counts: Vec<f64> = (0..n).map(|i| i as f64).collect();
    Serverless { avg_resp_time: dot(&resp_times), cold_prob: dot(&cold_probs), avg_server_count: dot(&counts) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erlang_b_known_values() {
        // One server: rho / (1 + rho).
        assert!((erlang_b(0.5, 1) - 0.5 / 1.5).abs() < 1e-15);
        // Two servers, rho = 1: (1/2) / (1 + 1 + 1/2) = 0.2.
        assert!((erlang_b(1.0, 2) - 0.2).abs() < 1e-15);
    }

    #[test]
    fn long_chains_do_not_overflow() {
        // The chain's ratios overflow f64 in linear form here (pacsltk: 2.3355952693941067).
        let s = serverless(1.8, 2.334182971511172, 4.178458608694003, 600.0);
        assert!((s.avg_resp_time - 2.3355952693941067).abs() < 1e-9, "{s:?}");
    }

    #[test]
    fn busy_functions_stay_warm() {
        let s = serverless(20.0, 0.2, 0.5, 600.0);
        assert!(s.cold_prob < 1e-3);
        assert!((s.avg_resp_time - 0.2).abs() < 1e-3);
    }
}
