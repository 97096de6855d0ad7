//! The hold between a pod's deletion and its SIGTERM: a terminating pod must leave every node's Service
//! rules before it stops answering, or clients of the Service see refused connections during a rollout
//! (kube-proxy and kubelet race here; preStop sleeps are the usual patch). The node's proxy publishes the
//! endpoint addresses its applied rules send traffic to; the pod side waits until the pod's address is out
//! of them, then a propagation margin for the other nodes' proxies, which follow the same watch event.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

/// How long after this node dropped an address the other nodes are taken to have dropped it too: each
/// proxy applies a change within tens of milliseconds of the watch event (docs/benchmarks.md).
pub const PROPAGATION: Duration = Duration::from_secs(1);
/// Removal times older than this are forgotten.
const MEMORY: Duration = Duration::from_secs(120);

#[derive(Default, Clone)]
pub struct Applied {
    /// Addresses the applied rules DNAT to.
    live: HashSet<Ipv4Addr>,
    /// When each address left the applied rules.
    dropped_at: HashMap<Ipv4Addr, Instant>,
}

/// What a terminating pod's address still needs before its containers may be stopped.
#[derive(Debug, PartialEq)]
pub enum Hold {
    /// Never a Service endpoint here, or gone long enough: stop now.
    Clear,
    /// Still in this node's rules.
    InRules,
    /// Out of this node's rules; wait this much more for the other nodes.
    Propagating(Duration),
}

impl Applied {
    /// The rules now send traffic to `live`: note the addresses that just left.
    pub fn replace(&mut self, live: HashSet<Ipv4Addr>, now: Instant) {
        for gone in self.live.difference(&live) {
            self.dropped_at.insert(*gone, now);
        }
        for back in &live {
            self.dropped_at.remove(back);
        }
        self.dropped_at.retain(|_, at| now.duration_since(*at) < MEMORY);
        self.live = live;
    }

    pub fn hold(&self, ip: Ipv4Addr, now: Instant) -> Hold {
        if self.live.contains(&ip) {
            return Hold::InRules;
        }
        match self.dropped_at.get(&ip).map(|at| now.duration_since(*at)) {
            Some(since) if since < PROPAGATION => Hold::Propagating(PROPAGATION - since),
            _ => Hold::Clear,
        }
    }
}

/// Shared between the proxy (writer) and the pod side (reader).
#[derive(Clone)]
pub struct EndpointGate {
    applied: std::sync::Arc<tokio::sync::watch::Sender<Applied>>,
}

impl Default for EndpointGate {
    fn default() -> Self {
        EndpointGate { applied: std::sync::Arc::new(tokio::sync::watch::channel(Applied::default()).0) }
    }
}

impl EndpointGate {
    pub fn publish(&self, live: HashSet<Ipv4Addr>) {
        self.applied.send_modify(|a| a.replace(live, Instant::now()));
    }

    /// Wait until `ip` may stop answering, at most `limit` (the pod's grace period bounds it: a pod that is
    /// the last endpoint of its Service stays in the rules while it terminates). Returns the time waited.
    pub async fn wait_out(&self, ip: Ipv4Addr, limit: Duration) -> Duration {
        let started = Instant::now();
        let mut changes = self.applied.subscribe();
        loop {
            let left = limit.saturating_sub(started.elapsed());
            if left.is_zero() {
                return started.elapsed();
            }
            let hold = changes.borrow_and_update().hold(ip, Instant::now());
            match hold {
                Hold::Clear => return started.elapsed(),
                Hold::Propagating(more) => tokio::time::sleep(more.min(left)).await,
                Hold::InRules => {
                    let _ = tokio::time::timeout(left, changes.changed()).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 244, 1, last)
    }

    #[test]
    fn an_address_is_held_while_in_the_rules_and_for_the_margin_after() {
        let t0 = Instant::now();
        let mut applied = Applied::default();
        assert_eq!(applied.hold(ip(2), t0), Hold::Clear, "never an endpoint");
        applied.replace([ip(2), ip(3)].into(), t0);
        assert_eq!(applied.hold(ip(2), t0), Hold::InRules);
        let t1 = t0 + Duration::from_millis(300);
        applied.replace([ip(3)].into(), t1);
        assert_eq!(
            applied.hold(ip(2), t1 + Duration::from_millis(100)),
            Hold::Propagating(PROPAGATION - Duration::from_millis(100))
        );
        assert_eq!(applied.hold(ip(2), t1 + PROPAGATION), Hold::Clear);
        applied.replace([ip(2), ip(3)].into(), t1);
        assert_eq!(applied.hold(ip(2), t1), Hold::InRules, "back in the rules");
    }

    #[tokio::test]
    async fn waiting_ends_when_the_proxy_drops_the_address_plus_the_margin() {
        let gate = EndpointGate::default();
        gate.publish([ip(2)].into());
        let publisher = gate.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            publisher.publish(HashSet::new());
        });
        let waited = gate.wait_out(ip(2), Duration::from_secs(10)).await;
        assert!(waited >= Duration::from_millis(200) + PROPAGATION, "{waited:?}");
        assert!(waited < Duration::from_secs(5), "{waited:?}");
        let capped = gate.wait_out(ip(9), Duration::from_secs(10)).await;
        assert!(capped < Duration::from_millis(50), "never an endpoint: {capped:?}");
    }

    #[tokio::test]
    async fn the_limit_bounds_the_wait_for_a_last_endpoint() {
        let gate = EndpointGate::default();
        gate.publish([ip(2)].into());
        let waited = gate.wait_out(ip(2), Duration::from_millis(300)).await;
        assert!(waited >= Duration::from_millis(300) && waited < Duration::from_secs(2), "{waited:?}");
    }
}
