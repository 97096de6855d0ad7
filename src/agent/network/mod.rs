//! The pod network on a node, kubenet style: a bridge kubeboot owns (`kubeboot0`, the podCIDR's first
//! address), each sandbox started on Docker's `none` network and given a veth into that bridge with an
//! address from the node's podCIDR; routes to the other nodes' podCIDRs through their InternalIPs
//! (host-gw, as flannel does on one L2 segment); masquerading for pod traffic leaving the pod network.
//! Docker's own bridge networks are not used: Docker 28+ drops traffic from other hosts addressed to a
//! bridge network's subnet, and a bridge of our own behaves the same under Docker 18.06, 20.10 and 28.

mod command;
mod ipam;
mod rules;

use std::net::Ipv4Addr;
use std::path::PathBuf;

use ipnet::Ipv4Net;

pub use command::NetworkError;
pub(crate) use command::{run, run_with_stdin};

pub const BRIDGE: &str = "kubeboot0";

/// (table, built-in chain, our chain) of the rules this module installs.
pub fn rules_jumps() -> [(&'static str, &'static str, &'static str); 2] {
    rules::JUMPS
}
/// Routes we add carry this protocol number, so we find and remove exactly ours.
const ROUTE_PROTO: &str = "77";

pub struct PodNetwork {
    pub pod_cidr: Ipv4Net,
    pub gateway: Ipv4Addr,
    ipam: ipam::Ipam,
    last_rules: std::sync::Mutex<String>,
}

impl PodNetwork {
    pub fn new(pod_cidr: Ipv4Net, state_dir: PathBuf) -> Self {
        let gateway = pod_cidr.hosts().next().unwrap_or(pod_cidr.network());
        PodNetwork { pod_cidr, gateway, ipam: ipam::Ipam::new(state_dir, pod_cidr), last_rules: Default::default() }
    }

    /// The bridge with the gateway address, forwarding on.
    pub async fn ensure_bridge(&self) -> Result<(), NetworkError> {
        if run("ip", &["link", "show", BRIDGE]).await.is_err() {
            run("ip", &["link", "add", BRIDGE, "type", "bridge"]).await?;
        }
        run("ip", &["addr", "replace", &format!("{}/{}", self.gateway, self.pod_cidr.prefix_len()), "dev", BRIDGE])
            .await?;
        run("ip", &["link", "set", BRIDGE, "up"]).await?;
        // Only written when off: in containers (the lab's hosts) /proc/sys is read-only and set from outside.
        const FORWARD: &str = "/proc/sys/net/ipv4/ip_forward";
        if std::fs::read_to_string(FORWARD).unwrap_or_default().trim() != "1" {
            std::fs::write(FORWARD, "1").map_err(|e| NetworkError::Command {
                command: "enable net.ipv4.ip_forward".into(),
                message: e.to_string(),
            })?;
        }
        Ok(())
    }

    /// Give the sandbox whose init has `pid` an eth0 on the bridge; returns its address.
    pub async fn attach(&self, sandbox_id: &str, pid: i64) -> Result<Ipv4Addr, NetworkError> {
        let ip = self.ipam.allocate(sandbox_id)?;
        let short = &sandbox_id[..sandbox_id.len().min(11)];
        let (host_end, pod_end) = (format!("kb{short}"), format!("kp{short}"));
        let pid = pid.to_string();
        let _ = run("ip", &["link", "del", &host_end]).await;
        let result = async {
            run("ip", &["link", "add", &host_end, "type", "veth", "peer", "name", &pod_end]).await?;
            run("ip", &["link", "set", &pod_end, "netns", &pid]).await?;
            run("ip", &["link", "set", &host_end, "master", BRIDGE, "up"]).await?;
            // Hairpin (kubelet's hairpin-veth): a pod reaching its own Service is DNATed back to itself and
            // the bridge must send the frame out of the port it came in on.
            run("ip", &["link", "set", &host_end, "type", "bridge_slave", "hairpin", "on"]).await?;
            // A neighbour entry left by an earlier pod with this address would send its traffic to a
            // MAC that is gone until the entry goes stale (readiness probes failing for half a minute).
            run("ip", &["neigh", "flush", "to", &ip.to_string(), "dev", BRIDGE]).await?;
            let inside = format!(
                "link set {pod_end} name eth0\naddr add {ip}/{len} dev eth0\nlink set eth0 up\nlink set lo up\nroute add default via {gw}\n",
                len = self.pod_cidr.prefix_len(),
                gw = self.gateway
            );
            run_with_stdin("nsenter", &["-t", &pid, "-n", "ip", "-batch", "-"], &inside).await
        }
        .await;
        if let Err(e) = result {
            let _ = run("ip", &["link", "del", &host_end]).await;
            self.ipam.release(sandbox_id);
            return Err(e);
        }
        Ok(ip)
    }

    /// Free the sandbox's address (its veth went with its network namespace).
    pub fn detach(&self, sandbox_id: &str) {
        self.ipam.release(sandbox_id);
    }

    pub fn address_of(&self, sandbox_id: &str) -> Option<Ipv4Addr> {
        self.ipam.address_of(sandbox_id)
    }

    /// Addresses held by sandboxes that no longer exist are freed.
    pub fn release_all_but(&self, live_sandboxes: &[String]) {
        self.ipam.release_all_but(live_sandboxes);
    }

    /// Routes to the other nodes' podCIDRs via their addresses; ours that are no longer wanted go.
    pub async fn sync_routes(&self, peers: &[(Ipv4Net, Ipv4Addr)]) -> Result<(), NetworkError> {
        let current = run("ip", &["-o", "-4", "route", "show", "proto", ROUTE_PROTO]).await?;
        let wanted: Vec<(String, String)> = peers
            .iter()
            .filter(|(cidr, _)| *cidr != self.pod_cidr)
            .map(|(cidr, via)| (cidr.to_string(), via.to_string()))
            .collect();
        for line in current.lines() {
            let mut words = line.split_whitespace();
            let (Some(dest), Some("via"), Some(via)) = (words.next(), words.next(), words.next()) else { continue };
            if !wanted.iter().any(|(d, v)| d == dest && v == via) {
                run("ip", &["route", "del", dest, "proto", ROUTE_PROTO]).await?;
            }
        }
        for (dest, via) in &wanted {
            if !current.lines().any(|l| l.starts_with(&format!("{dest} via {via} "))) {
                run("ip", &["route", "replace", dest, "via", via, "proto", ROUTE_PROTO]).await?;
            }
        }
        Ok(())
    }

    /// Forwarding and masquerading rules (rules.rs renders them), applied with iptables-restore only when
    /// they changed; the jumps into our chains are checked every time (a Docker restart may move them).
    pub async fn sync_rules(&self, all_pod_cidrs: &[Ipv4Net]) -> Result<(), NetworkError> {
        let text = rules::render(self.pod_cidr, all_pod_cidrs);
        let changed = *self.last_rules.lock().expect("rules") != text;
        if changed {
            run_with_stdin("iptables-restore", &["--noflush"], &text).await?;
            *self.last_rules.lock().expect("rules") = text;
        }
        for (table, chain, ours) in rules::JUMPS {
            if run("iptables", &["-t", table, "-C", chain, "-j", ours]).await.is_err() {
                run("iptables", &["-t", table, "-I", chain, "1", "-j", ours]).await?;
            }
        }
        Ok(())
    }
}
