//! The host's clocks, as the agent's batches carry them: this boot's id and the time since
//! boot (a clock that does not jump with the wall clock).

use sysinfo::System;

/// This boot's identifier (Linux: /proc/sys/kernel/random/boot_id; elsewhere, the boot time).
pub fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("boot-{}", System::boot_time().unwrap_or(0)))
}

/// Milliseconds since boot.
pub fn monotonic_ms() -> u64 {
    if let Ok(text) = std::fs::read_to_string("/proc/uptime") {
        if let Some(secs) = text.split_whitespace().next().and_then(|s| s.parse::<f64>().ok()) {
            return (secs * 1000.0) as u64;
        }
    }
    System::uptime().unwrap_or(0) * 1000
}
