//! Host metrics in the AMS (Telegraf) families: cpu, mem, swap, processes, system, kernel,
//! disk, diskio, net. sysinfo reads CPU, memory, disks and networks (each refreshed alone,
//! nothing else); /proc gives what sysinfo would compute at a higher cost (kernel counters,
//! process counts, disk I/O). Families whose source is missing on this system are skipped.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use aisprint_model::config::Collection;
use aisprint_proto::v1::Point;
use sysinfo::{CpuRefreshKind, DiskRefreshKind, Disks, MemoryRefreshKind, Networks, RefreshKind, System};
use tokio::sync::mpsc;

use crate::batch::StoreError;
use crate::ctx::Ctx;
use crate::monitoring::Input;

/// Collects at the configured period until cancelled: each reading is committed as a batch,
/// and handed to the monitoring endpoint when there is one (for infrastructure alerts and
/// /metrics; never waiting on it).
pub async fn run(ctx: Ctx, collection: Collection, monitor: Option<mpsc::Sender<Input>>) {
    let mut collector = Collector::new(&collection.families);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(collection.period_s));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ctx.cancel.cancelled() => break,
            _ = tick.tick() => {}
        }
        let points = collector.collect();
        if let Some(m) = &monitor {
            let _ = m.try_send(Input::Host(points.clone()));
        }
        match ctx.batches.store(points).await {
            Ok(s) => {
                if s.dropped > 0 {
                    tracing::warn!(dropped = s.dropped, "buffer full: dropped the oldest batches");
                }
                tracing::debug!(seq = s.seq, "batch stored");
            }
            Err(StoreError::Full) => tracing::warn!("buffer full: collection skipped (when_full: stop_collecting)"),
            Err(e) => tracing::error!(error = %e, "cannot store a batch"),
        }
    }
}

/// File systems that hold no user data (as Telegraf's disk input ignores them).
const PSEUDO_FS: &[&str] = &[
    "tmpfs",
    "devtmpfs",
    "devfs",
    "proc",
    "sysfs",
    "cgroup",
    "cgroup2",
    "overlay",
    "aufs",
    "squashfs",
    "iso9660",
    "nsfs",
    "tracefs",
    "debugfs",
    "securityfs",
    "pstore",
    "bpf",
    "autofs",
    "mqueue",
    "hugetlbfs",
    "fusectl",
    "configfs",
    "ramfs",
    "binfmt_misc",
    "rpc_pipefs",
    "efivarfs",
];

#[derive(Debug)]
pub struct Collector {
    families: Vec<String>,
    sys: Option<System>,
    disks: Option<Disks>,
    networks: Option<Networks>,
}

fn point(measurement: &str, tags: &[(&str, &str)], fields: &[(&str, f64)]) -> Point {
    Point {
        measurement: measurement.to_string(),
        tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        fields: fields.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        time_unix_ns: 0,
    }
}

impl Collector {
    pub fn new(families: &[String]) -> Self {
        let has = |f: &str| families.iter().any(|x| x == f);
        // Without it (an unsupported system), the families it serves are skipped.
        let mut sys = System::new_with_specifics(RefreshKind::nothing()).ok();
        if let (true, Some(sys)) = (has("cpu"), sys.as_mut()) {
            // CPU usage is a difference between two readings: take the first now.
            sys.refresh_cpu_specifics(CpuRefreshKind::nothing().with_usage());
        }
        Collector {
            families: families.to_vec(),
            sys,
            disks: if has("disk") { Disks::new_with_refreshed_list().ok() } else { None },
            // Only where /proc/net/dev is missing.
            networks: if has("net") && !Path::new("/proc/net/dev").exists() {
                Networks::new_with_refreshed_list().ok()
            } else {
                None
            },
        }
    }

    fn has(&self, f: &str) -> bool {
        self.families.iter().any(|x| x == f)
    }

    /// One reading of every enabled family.
    pub fn collect(&mut self) -> Vec<Point> {
        let mut out = Vec::new();
        let (cpu, mem, swap) = (self.has("cpu"), self.has("mem"), self.has("swap"));
        let Some(sys) = self.sys.as_mut() else { return out };
        if cpu {
            sys.refresh_cpu_specifics(CpuRefreshKind::nothing().with_usage());
            for c in sys.cpus() {
                out.push(point("cpu", &[("cpu", c.name())], &[("usage_percent", f64::from(c.usage()))]));
            }
            out.push(point("cpu", &[("cpu", "cpu-total")], &[("usage_percent", f64::from(sys.global_cpu_usage()))]));
        }
        if mem || swap {
            sys.refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram().with_swap());
        }
        let n_cpus = sys.cpus().len() as f64;
        if mem {
            let (total, avail, used) =
                (sys.total_memory() as f64, sys.available_memory() as f64, sys.used_memory() as f64);
            let pct = if total > 0.0 { 100.0 * used / total } else { 0.0 };
            out.push(point(
                "mem",
                &[],
                &[("total", total), ("available", avail), ("used", used), ("used_percent", pct)],
            ));
        }
        if swap {
            let (total, used, free) = (sys.total_swap() as f64, sys.used_swap() as f64, sys.free_swap() as f64);
            out.push(point("swap", &[], &[("total", total), ("used", used), ("free", free)]));
        }
        if self.has("system") {
            if let Ok(l) = System::load_average() {
                out.push(point(
                    "system",
                    &[],
                    &[
                        ("load1", l.one),
                        ("load5", l.five),
                        ("load15", l.fifteen),
                        ("uptime", System::uptime().unwrap_or(0) as f64),
                        ("n_cpus", n_cpus),
                    ],
                ));
            }
        }
        if self.has("processes") {
            if let Some((running, total)) = proc_loadavg_processes() {
                out.push(point("processes", &[], &[("running", running), ("total", total)]));
            }
        }
        if self.has("kernel") {
            if let Some(fields) = proc_stat_kernel() {
                let f: Vec<(&str, f64)> = fields.iter().map(|(k, v)| (*k, *v)).collect();
                out.push(point("kernel", &[], &f));
            }
        }
        if let Some(disks) = self.disks.as_mut() {
            // Space only; the list of disks is read once.
            disks.refresh_specifics(false, DiskRefreshKind::nothing().with_storage());
            for d in disks.iter() {
                let fs = d.file_system().to_string_lossy().to_string();
                if PSEUDO_FS.contains(&fs.as_str()) {
                    continue;
                }
                let (total, free) = (d.total_space() as f64, d.available_space() as f64);
                let used = total - free;
                let pct = if total > 0.0 { 100.0 * used / total } else { 0.0 };
                let path = d.mount_point().to_string_lossy().to_string();
                let device = d.name().to_string_lossy().to_string();
                out.push(point(
                    "disk",
                    &[("path", &path), ("fstype", &fs), ("device", &device)],
                    &[("total", total), ("free", free), ("used", used), ("used_percent", pct)],
                ));
            }
        }
        if self.has("diskio") {
            for (dev, fields) in proc_diskstats() {
                let f: Vec<(&str, f64)> = fields.iter().map(|(k, v)| (*k, *v)).collect();
                out.push(point("diskio", &[("name", &dev)], &f));
            }
        }
        let from_proc = if self.has("net") { proc_net_dev() } else { None };
        for (name, f) in from_proc.iter().flatten() {
            let f: Vec<(&str, f64)> = f.iter().map(|(k, v)| (*k, *v)).collect();
            out.push(point("net", &[("interface", name)], &f));
        }
        if let Some(nets) = self.networks.as_mut().filter(|_| from_proc.is_none()) {
            nets.refresh(true);
            for (name, n) in nets.iter() {
                let name = name.to_string_lossy();
                out.push(point(
                    "net",
                    &[("interface", &name)],
                    &[
                        ("bytes_recv", n.total_received() as f64),
                        ("bytes_sent", n.total_transmitted() as f64),
                        ("packets_recv", n.total_packets_received() as f64),
                        ("packets_sent", n.total_packets_transmitted() as f64),
                        ("err_in", n.total_errors_on_received() as f64),
                        ("err_out", n.total_errors_on_transmitted() as f64),
                    ],
                ));
            }
        }
        out
    }
}

/// Per interface, from /proc/net/dev (sysinfo reads a file per counter under /sys: ten times
/// the cost).
fn proc_net_dev() -> Option<Vec<(String, Fields)>> {
    let text = std::fs::read_to_string("/proc/net/dev").ok()?;
    let mut out = Vec::new();
    for line in text.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else { continue };
        let v: Vec<f64> = rest.split_whitespace().filter_map(|x| x.parse().ok()).collect();
        if v.len() < 16 {
            continue;
        }
        out.push((
            name.trim().to_string(),
            vec![
                ("bytes_recv", v[0]),
                ("packets_recv", v[1]),
                ("err_in", v[2]),
                ("bytes_sent", v[8]),
                ("packets_sent", v[9]),
                ("err_out", v[10]),
            ],
        ));
    }
    Some(out)
}

/// `running` and `total` processes from /proc/loadavg (`0.10 0.12 0.09 2/345 6789`).
fn proc_loadavg_processes() -> Option<(f64, f64)> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let rt = text.split_whitespace().nth(3)?;
    let (r, t) = rt.split_once('/')?;
    Some((r.parse().ok()?, t.parse().ok()?))
}

/// Named values of one point.
type Fields = Vec<(&'static str, f64)>;

/// Kernel counters from /proc/stat.
fn proc_stat_kernel() -> Option<Fields> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let mut out = Vec::new();
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let key = it.next().unwrap_or("");
        let val = || line.split_whitespace().nth(1).and_then(|v| v.parse::<f64>().ok());
        let name = match key {
            "ctxt" => "context_switches",
            "intr" => "interrupts",
            "btime" => "boot_time",
            "processes" => "processes_forked",
            _ => continue,
        };
        if let Some(v) = val() {
            out.push((name, v));
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Per block device, from /proc/diskstats (sectors of 512 bytes), loop and ram devices left out.
fn proc_diskstats() -> BTreeMap<String, Fields> {
    let mut out = BTreeMap::new();
    let Ok(text) = std::fs::read_to_string("/proc/diskstats") else { return out };
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 14 {
            continue;
        }
        let dev = f[2];
        if dev.starts_with("loop") || dev.starts_with("ram") {
            continue;
        }
        let n = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        out.insert(
            dev.to_string(),
            vec![
                ("reads", n(3)),
                ("read_bytes", n(5) * 512.0),
                ("writes", n(7)),
                ("write_bytes", n(9) * 512.0),
                ("io_time", n(12)),
            ],
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_collected_here() {
        let all: Vec<String> = aisprint_model::config::FAMILIES.iter().map(|s| s.to_string()).collect();
        let mut c = Collector::new(&all);
        let points = c.collect();
        for f in ["cpu", "mem", "swap", "system", "processes", "kernel", "net"] {
            assert!(points.iter().any(|p| p.measurement == f), "no {f} point");
        }
        let total = points.iter().find(|p| p.tags.get("cpu").map(String::as_str) == Some("cpu-total")).expect("cpu");
        let u = total.fields["usage_percent"];
        assert!((0.0..=100.0).contains(&u), "{u}");
        let mem = points.iter().find(|p| p.measurement == "mem").expect("mem");
        assert!(mem.fields["total"] > 0.0 && mem.fields["used"] <= mem.fields["total"]);
        // Only the families asked for.
        let mut c = Collector::new(&["mem".to_string()]);
        assert!(c.collect().iter().all(|p| p.measurement == "mem"));
    }
}
