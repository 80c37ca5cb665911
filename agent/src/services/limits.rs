//! Where a job runs and within what limits.
//!
//! **Limits.** A service's `cpu` (cores, `0.5`) and `memory` (`512Mi`, `1Gi`, `1024` as MB)
//! become the limits of a control group per job, where the OS offers them: cgroup v1 (the
//! `cpu` and `memory` hierarchies: `cpu.cfs_quota_us` over `cpu.cfs_period_us`,
//! `memory.limit_in_bytes`) or cgroup v2 (`cpu.max`, `memory.max`, in a sub-tree of the
//! agent's own group with the controllers enabled; the agent moves itself to a leaf of its
//! group first, as a delegated service does). When neither can be written (no privileges, no
//! delegation), jobs run without limits and the agent says so once at start.
//!
//! **Runtime.** A service that names an `image` runs in a container when docker or podman
//! answers on the node (`run --rm` with the job's folders mounted at the same paths, the
//! limits as `--cpus`/`--memory`); when none answers, the agent says so once per service and
//! runs the script as a native process.

use std::path::{Path, PathBuf};

/// A shell prologue: wait (boundedly) until this shell is in the `$AISPRINT_CGROUPS` groups
/// named by `$AISPRINT_CGROUP` (cpu and memory on cgroup v1, one on v2), then run the script
/// `$0`. Reads /proc/self/cgroup with builtins only, so no process is forked before the move.
pub const WAIT_FOR_GROUP: &str = r#"n=0
while [ "$n" -lt 20000 ]; do
  found=0
  while IFS= read -r l; do case "$l" in *"/$AISPRINT_CGROUP") found=$((found + 1)) ;; esac; done < /proc/self/cgroup
  [ "$found" -ge "${AISPRINT_CGROUPS:-1}" ] && break
  n=$((n + 1))
done
exec sh "$0""#;

/// CPU period of the v1 quota (µs).
const PERIOD_US: u64 = 100_000;

/// Cores from a service's `cpu` (`"0.9"`, `0.9`, `"900m"`).
pub fn parse_cpu(v: &serde_yaml::Value) -> Option<f64> {
    let c = match v {
        serde_yaml::Value::Number(n) => n.as_f64()?,
        serde_yaml::Value::String(s) => {
            let s = s.trim();
            match s.strip_suffix('m') {
                Some(milli) => milli.parse::<f64>().ok()? / 1000.0,
                None => s.parse().ok()?,
            }
        }
        _ => return None,
    };
    (c.is_finite() && c > 0.0).then_some(c)
}

/// Bytes from a service's `memory` (Kubernetes quantities: `512Mi`, `1Gi`, `500M`; a bare
/// number is MB, as the FDL examples write them).
pub fn parse_memory(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult: f64 = match unit {
        "" => 1e6,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024f64.powi(4),
        "K" | "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        _ => return None,
    };
    let b = n * mult;
    (b.is_finite() && b >= 1.0).then_some(b as u64)
}

/// How jobs get their limits on this node.
#[derive(Debug, Clone)]
pub enum Limiter {
    /// cgroup v1: the groups under which jobs' groups are made (cpu, memory).
    V1 { cpu: PathBuf, memory: PathBuf },
    /// cgroup v2: the group under which jobs' groups are made.
    V2 { jobs: PathBuf },
    /// No limits; why.
    Off(String),
}

fn own_group(cgroup_file: &str, controller: &str) -> Option<String> {
    cgroup_file.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
        ctrls.split(',').any(|c| c == controller).then(|| path.to_string())
    })
}

fn try_dir(p: &Path) -> Result<(), String> {
    std::fs::create_dir_all(p).map_err(|e| format!("{}: {e}", p.display()))
}

impl Limiter {
    /// Finds what this node offers; `name` names the agent's group (its node id).
    pub fn detect(name: &str) -> Limiter {
        let root = Path::new("/sys/fs/cgroup");
        let me = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        if root.join("cgroup.controllers").is_file() {
            return Self::detect_v2(root, &me, name).unwrap_or_else(Limiter::Off);
        }
        let (Some(cpu), Some(mem)) = (own_group(&me, "cpu"), own_group(&me, "memory")) else {
            return Limiter::Off("no cgroup cpu and memory hierarchies on this node".into());
        };
        let cpu = root.join("cpu").join(cpu.trim_start_matches('/')).join(format!("aisprint-{name}"));
        let memory = root.join("memory").join(mem.trim_start_matches('/')).join(format!("aisprint-{name}"));
        match try_dir(&cpu).and_then(|_| try_dir(&memory)) {
            Ok(()) => Limiter::V1 { cpu, memory },
            Err(e) => Limiter::Off(format!("cgroup v1 groups cannot be made ({e})")),
        }
    }

    fn detect_v2(root: &Path, me: &str, name: &str) -> Result<Limiter, String> {
        let own = me.lines().find_map(|l| l.strip_prefix("0::")).ok_or("no cgroup v2 group in /proc/self/cgroup")?;
        let base = root.join(own.trim_start_matches('/'));
        let enable = |dir: &Path| std::fs::write(dir.join("cgroup.subtree_control"), "+cpu +memory");
        if enable(&base).is_err() && base != root {
            // A group with processes cannot hand controllers down: move the agent to a leaf.
            let leaf = base.join(format!("aisprint-{name}-agent"));
            try_dir(&leaf)?;
            std::fs::write(leaf.join("cgroup.procs"), std::process::id().to_string())
                .map_err(|e| format!("cannot move the agent into {} ({e})", leaf.display()))?;
            enable(&base).map_err(|e| format!("cannot enable cpu and memory in {} ({e})", base.display()))?;
        }
        let jobs = base.join(format!("aisprint-{name}-jobs"));
        try_dir(&jobs)?;
        std::fs::write(jobs.join("cgroup.subtree_control"), "+cpu +memory")
            .map_err(|e| format!("cannot enable cpu and memory in {} ({e})", jobs.display()))?;
        Ok(Limiter::V2 { jobs })
    }

    pub fn describe(&self) -> String {
        match self {
            Limiter::V1 { cpu, memory } => format!("cgroup v1 ({}, {})", cpu.display(), memory.display()),
            Limiter::V2 { jobs } => format!("cgroup v2 ({})", jobs.display()),
            Limiter::Off(why) => format!("none: {why}"),
        }
    }

    /// The group of one job with its limits, or `None` without limits to set (or a
    /// limiter). Errors say which file could not be written.
    pub fn job(&self, job: &str, cpu: Option<f64>, memory: Option<u64>) -> Result<Option<JobGroup>, String> {
        if cpu.is_none() && memory.is_none() {
            return Ok(None);
        }
        let write = |p: PathBuf, v: String| std::fs::write(&p, v).map_err(|e| format!("{}: {e}", p.display()));
        match self {
            Limiter::Off(_) => Ok(None),
            Limiter::V1 { cpu: cpu_root, memory: mem_root } => {
                let (c, m) = (cpu_root.join(job), mem_root.join(job));
                try_dir(&c)?;
                try_dir(&m)?;
                let g = JobGroup {
                    dirs: vec![c.clone(), m.clone()],
                    procs: vec![c.join("cgroup.procs"), m.join("cgroup.procs")],
                };
                if let Some(cores) = cpu {
                    write(c.join("cpu.cfs_period_us"), PERIOD_US.to_string())?;
                    write(
                        c.join("cpu.cfs_quota_us"),
                        ((cores * PERIOD_US as f64).round().max(1000.0) as u64).to_string(),
                    )?;
                }
                if let Some(bytes) = memory {
                    write(m.join("memory.limit_in_bytes"), bytes.to_string())?;
                }
                Ok(Some(g))
            }
            Limiter::V2 { jobs } => {
                let d = jobs.join(job);
                try_dir(&d)?;
                let g = JobGroup { dirs: vec![d.clone()], procs: vec![d.join("cgroup.procs")] };
                if let Some(cores) = cpu {
                    write(
                        d.join("cpu.max"),
                        format!("{} {PERIOD_US}", (cores * PERIOD_US as f64).round().max(1000.0) as u64),
                    )?;
                }
                if let Some(bytes) = memory {
                    write(d.join("memory.max"), bytes.to_string())?;
                }
                Ok(Some(g))
            }
        }
    }
}

/// A job's control group(s): the process joins them; they go when the job ends.
#[derive(Debug)]
pub struct JobGroup {
    dirs: Vec<PathBuf>,
    procs: Vec<PathBuf>,
}

impl JobGroup {
    /// Puts a process (the job's shell, just started: what it starts inherits the group).
    pub fn add(&self, pid: u32) -> Result<(), String> {
        for p in &self.procs {
            std::fs::write(p, pid.to_string()).map_err(|e| format!("{}: {e}", p.display()))?;
        }
        Ok(())
    }

    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }
}

impl Drop for JobGroup {
    fn drop(&mut self) {
        for d in &self.dirs {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// The container runtime that answers on this node, if any (`docker`, then `podman`).
pub fn container_runtime() -> Option<String> {
    for rt in ["docker", "podman"] {
        let ok = std::process::Command::new(rt)
            .args(["version", "--format", "{{.Server.Version}}"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some(rt.to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(parse_cpu(&serde_yaml::Value::String("0.9".into())), Some(0.9));
        assert_eq!(parse_cpu(&serde_yaml::Value::String("500m".into())), Some(0.5));
        assert_eq!(parse_cpu(&serde_yaml::from_str("2").expect("num")), Some(2.0));
        assert_eq!(parse_cpu(&serde_yaml::Value::String("lots".into())), None);
        assert_eq!(parse_memory("512Mi"), Some(512 * 1024 * 1024));
        assert_eq!(parse_memory("1Gi"), Some(1 << 30));
        assert_eq!(parse_memory("1024"), Some(1_024_000_000));
        assert_eq!(parse_memory("2G"), Some(2_000_000_000));
        assert_eq!(parse_memory("12 parsecs"), None);
    }

    #[test]
    fn own_groups_from_proc() {
        let f = "9:name=systemd:/\n4:memory:/process_api/abc\n1:cpu:/\n0::/\n";
        assert_eq!(own_group(f, "memory").as_deref(), Some("/process_api/abc"));
        assert_eq!(own_group(f, "cpu").as_deref(), Some("/"));
        assert_eq!(own_group(f, "pids"), None);
    }
}
