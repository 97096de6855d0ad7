//! The node's kube-proxy: follows Services and EndpointSlices through the API (a watch cache of each; any
//! change renders both again from memory) and programs them into iptables with one iptables-restore per change, writing only the
//! chains whose rules differ from what it applied (everything, read back from the node, on the first sync
//! and every 5 minutes). Every 30 s it resyncs anyway and puts back the jumps into its chains (a Docker or
//! firewall restart may remove them).

pub mod gate;
pub mod rules;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::network::{run, run_with_stdin, NetworkError};
use super::watch_cache::WatchCache;
use crate::apiclient::ApiClient;

const RESYNC: Duration = Duration::from_secs(30);
/// Events arriving this close together are one sync (a rollout writes several slices at once).
const SETTLE: Duration = Duration::from_millis(20);

/// Kernel settings the rules depend on: bridged pod-to-pod replies must pass iptables (conntrack undoes
/// the DNAT), and the node must forward.
async fn ensure_sysctls() {
    for (path, value) in [("/proc/sys/net/bridge/bridge-nf-call-iptables", "1"), ("/proc/sys/net/ipv4/ip_forward", "1")]
    {
        if std::fs::read_to_string(path).map(|v| v.trim() != value).unwrap_or(true) {
            if let Err(e) = std::fs::write(path, value) {
                eprintln!("kubeboot agent: proxy: setting {path} to {value}: {e}");
            }
        }
    }
}

/// How often the node's state is read back and everything rewritten, whatever the proxy thinks it applied
/// (someone may have flushed a chain).
const FULL_SYNC: Duration = Duration::from_secs(300);

pub struct Proxy {
    services: Arc<WatchCache>,
    slices: Arc<WatchCache>,
    /// What the node holds, as far as this proxy knows; None: unknown, rewrite everything.
    applied: Option<rules::Rendered>,
    last_full: Instant,
    gate: gate::EndpointGate,
    /// The cluster DNS names, rebuilt from the same lists on every sync.
    zone: tokio::sync::watch::Sender<std::sync::Arc<crate::agent::dns::zone::Zone>>,
}

impl Proxy {
    pub fn new(
        services: Arc<WatchCache>,
        slices: Arc<WatchCache>,
        gate: gate::EndpointGate,
        zone: tokio::sync::watch::Sender<std::sync::Arc<crate::agent::dns::zone::Zone>>,
    ) -> Self {
        Proxy { services, slices, applied: None, last_full: Instant::now(), gate, zone }
    }

    /// One sync: read the watched Services and EndpointSlices, render, write what changed. Returns how
    /// long each step took when rules were written.
    pub async fn sync(&mut self) -> Result<Option<SyncTimes>, String> {
        let started = Instant::now();
        if !self.services.synced() || !self.slices.synced() {
            return Err("waiting for the first lists of Services and EndpointSlices".into());
        }
        let owned = |cache: &WatchCache| -> Vec<Value> { cache.list().iter().map(|o| (**o).clone()).collect() };
        let (services, slices) = (owned(&self.services), owned(&self.slices));
        let listed = Instant::now();
        let zone = crate::agent::dns::zone::Zone::build(crate::agent::dns::CLUSTER_DOMAIN, &services, &slices);
        self.zone.send_replace(std::sync::Arc::new(zone));
        let ports = rules::service_ports(&services, &slices);
        let rendered = rules::render(&ports);
        if self.last_full.elapsed() > FULL_SYNC {
            self.applied = None;
        }
        if self.applied.as_ref() == Some(&rendered) {
            return Ok(None);
        }
        let rendered_at = Instant::now();
        let (text, saved) = match self.applied.take() {
            Some(applied) => (rendered.changes_since(&applied), None),
            None => {
                let saved = run("iptables-save", &[]).await.map_err(|e| e.to_string())?;
                self.last_full = Instant::now();
                (rendered.full_text(&rules::existing_service_chains(&saved)), Some(saved))
            }
        };
        // On failure `applied` stays None: the next sync reads the node back and rewrites it all.
        run_with_stdin("iptables-restore", &["--noflush"], &text).await.map_err(|e| e.to_string())?;
        if let Some(saved) = saved {
            ensure_jumps(&saved).await.map_err(|e| e.to_string())?;
        }
        // Ready endpoints only: a terminating pod kept as a last resort must not hold its own SIGTERM.
        let ready = ports.iter().filter(|p| !p.terminating_fallback);
        self.gate.publish(ready.flat_map(|p| p.endpoints.iter().map(|(ip, _)| *ip)).collect());
        let times = SyncTimes {
            list: listed - started,
            render: rendered_at - listed,
            apply: rendered_at.elapsed(),
            written: text.lines().count(),
            rules: rendered.rule_count(),
        };
        self.applied = Some(rendered);
        Ok(Some(times))
    }
}

/// Where a sync's time went, for the log and the benchmark.
pub struct SyncTimes {
    pub list: Duration,
    pub render: Duration,
    pub apply: Duration,
    /// Lines given to iptables-restore, and rules the node holds in all.
    pub written: usize,
    pub rules: usize,
}

impl std::fmt::Display for SyncTimes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        write!(
            f,
            "{} lines written ({} rules in all) in {:.0} ms (reading {:.0} ms, rendering {:.0} ms, iptables {:.0} ms)",
            self.written,
            self.rules,
            ms(self.list + self.render + self.apply),
            ms(self.list),
            ms(self.render),
            ms(self.apply)
        )
    }
}

/// The jumps from the built-in chains into ours, first in each; `saved` is `iptables-save` output, so the
/// usual case (all there) costs no iptables call: each one reads the whole ruleset, which is slow when
/// there are thousands of rules.
pub async fn ensure_jumps(saved: &str) -> Result<(), NetworkError> {
    for (table, chain, ours) in rules::missing_jumps(saved) {
        run("iptables", &["-t", table, "-I", chain, "1", "-j", ours]).await?;
    }
    Ok(())
}

pub async fn run_proxy(
    client: ApiClient,
    gate: gate::EndpointGate,
    zone: tokio::sync::watch::Sender<std::sync::Arc<crate::agent::dns::zone::Zone>>,
) {
    ensure_sysctls().await;
    let servers = client.servers().clone();
    let client = Arc::new(client);
    let (changed, mut changes) = tokio::sync::mpsc::unbounded_channel();
    let (services, _) = WatchCache::start(client.clone(), "/api/v1/services".into(), Some(changed.clone()));
    let path = "/apis/discovery.k8s.io/v1/endpointslices".to_string();
    let (slices, _) = WatchCache::start(client, path, Some(changed));
    for cache in [&services, &slices] {
        while !cache.wait_synced(RESYNC).await {}
    }
    let mut proxy = Proxy::new(services, slices.clone(), gate, zone);
    let mut last_full = Instant::now();
    loop {
        // The live masters, for every API client of this agent to fail over to.
        servers.learn(&crate::agent::masters::api_servers(slices.list().iter().map(|s| s.as_ref())));
        match proxy.sync().await {
            Ok(Some(times)) => eprintln!("kubeboot agent: proxy: {times}"),
            Ok(None) => {}
            Err(e) => eprintln!("kubeboot agent: proxy: {e}"),
        }
        if last_full.elapsed() > RESYNC {
            last_full = Instant::now();
            let checked = match run("iptables-save", &[]).await {
                Ok(saved) => ensure_jumps(&saved).await,
                Err(e) => Err(e),
            };
            if let Err(e) = checked {
                eprintln!("kubeboot agent: proxy: {e}");
            }
        }
        tokio::select! {
            _ = changes.recv() => {
                tokio::time::sleep(SETTLE).await;
                while changes.try_recv().is_ok() {}
            }
            _ = tokio::time::sleep(RESYNC) => {}
        }
    }
}
