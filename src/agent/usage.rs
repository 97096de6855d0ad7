//! Resource usage as metrics.k8s.io reports it: CPU as a rate in nanocores between two samples of a
//! cumulative counter, memory as the working set (what the kernel cannot reclaim at once, kubelet's
//! measure). The node's from /proc/stat and /proc/meminfo; containers' from Docker's stats.

use std::collections::HashMap;
use std::time::Instant;

/// Clock ticks per second of /proc/stat's counters (USER_HZ, 100 on Linux).
const USER_HZ: u64 = 100;

/// The node's busy CPU time in nanoseconds (user, nice, system, irq, softirq, steal of the `cpu` line).
pub fn node_cpu_nanoseconds(proc_stat: &str) -> Option<u64> {
    let line = proc_stat.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<u64> = line.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal
    let busy: u64 = [0, 1, 2, 5, 6, 7].iter().filter_map(|i| ticks.get(*i)).sum();
    Some(busy * (1_000_000_000 / USER_HZ))
}

/// The node's working set in bytes: MemTotal less MemAvailable.
pub fn node_working_set_bytes(meminfo: &str) -> Option<u64> {
    let kib = |name: &str| {
        meminfo
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    };
    Some(kib("MemTotal:")?.saturating_sub(kib("MemAvailable:")?) * 1024)
}

/// A container's working set in bytes from Docker's memory stats: usage less the inactive page cache
/// (`inactive_file` under cgroup v2, `total_inactive_file` under v1), as kubelet and `docker stats` count it.
pub fn container_working_set_bytes(usage: u64, stats: &HashMap<String, u64>) -> u64 {
    let inactive = stats.get("inactive_file").or_else(|| stats.get("total_inactive_file")).copied().unwrap_or(0);
    usage.saturating_sub(inactive)
}

/// Rates of cumulative CPU counters, one per source (the node, each container).
#[derive(Default)]
pub struct CpuRates {
    last: HashMap<String, (u64, Instant)>,
}

impl CpuRates {
    /// Record `source`'s counter (nanoseconds of CPU) read at `at`; its rate in nanocores since the
    /// previous reading (None for the first, or a counter that went back: a restarted container).
    pub fn sample(&mut self, source: &str, cpu_ns: u64, at: Instant) -> Option<u64> {
        let previous = self.last.insert(source.to_string(), (cpu_ns, at));
        let (before, then) = previous?;
        let elapsed = at.checked_duration_since(then)?.as_nanos();
        if elapsed == 0 || cpu_ns < before {
            return None;
        }
        Some(((cpu_ns - before) as u128 * 1_000_000_000 / elapsed) as u64)
    }

    /// Forget the sources not in `live` (containers gone).
    pub fn retain(&mut self, live: &[String]) {
        self.last.retain(|source, _| live.contains(source));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn node_counters_read_as_the_kernel_writes_them() {
        let stat = "cpu  100 5 50 1000 20 3 2 0 0 0\ncpu0 50 2 25 500 10 1 1 0 0 0\n";
        assert_eq!(node_cpu_nanoseconds(stat), Some(160 * 10_000_000));
        let meminfo = "MemTotal:        2048000 kB\nMemFree:          100000 kB\nMemAvailable:    1024000 kB\n";
        assert_eq!(node_working_set_bytes(meminfo), Some(1024000 * 1024));
    }

    #[test]
    fn a_rate_needs_two_readings_and_a_counter_that_grew() {
        let mut rates = CpuRates::default();
        let start = Instant::now();
        assert_eq!(rates.sample("c1", 1_000_000_000, start), None);
        // Half a core for two seconds.
        assert_eq!(rates.sample("c1", 2_000_000_000, start + Duration::from_secs(2)), Some(500_000_000));
        assert_eq!(rates.sample("c1", 10, start + Duration::from_secs(3)), None, "restarted");
        rates.retain(&[]);
        assert_eq!(rates.sample("c1", 20, start + Duration::from_secs(4)), None);
    }

    #[test]
    fn the_working_set_leaves_out_inactive_page_cache() {
        let v2: HashMap<String, u64> = [("inactive_file".to_string(), 300)].into();
        assert_eq!(container_working_set_bytes(1000, &v2), 700);
        let v1: HashMap<String, u64> = [("total_inactive_file".to_string(), 1200)].into();
        assert_eq!(container_working_set_bytes(1000, &v1), 0);
        assert_eq!(container_working_set_bytes(1000, &HashMap::new()), 1000);
    }
}
