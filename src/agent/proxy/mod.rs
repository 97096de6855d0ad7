//! The node's kube-proxy: follows Services and EndpointSlices through the API (a watch on each; any event
//! relists both) and programs them into iptables with one iptables-restore per change, only when the
//! rendered rules differ from what was applied. Every 30 s it resyncs anyway and puts back the jumps into
//! its chains (a Docker or firewall restart may remove them).

pub mod gate;
pub mod rules;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::network::{run, run_with_stdin, NetworkError};
use crate::apiclient::ApiClient;

const RESYNC: Duration = Duration::from_secs(30);
/// Events arriving this close together are one sync (a rollout writes several slices at once).
const SETTLE: Duration = Duration::from_millis(20);

async fn list(client: &ApiClient, path: &str) -> Result<Vec<Value>, String> {
    let reply = client.request("GET", path, None, None).await.map_err(|e| e.to_string())?;
    if reply.status != 200 {
        return Err(format!("listing {path}: {}", reply.message()));
    }
    Ok(reply.json()["items"].as_array().cloned().unwrap_or_default())
}

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

pub struct Proxy {
    client: ApiClient,
    applied: String,
    gate: gate::EndpointGate,
}

impl Proxy {
    pub fn new(client: ApiClient, gate: gate::EndpointGate) -> Self {
        Proxy { client, applied: String::new(), gate }
    }

    /// One sync: list, render, apply if changed. Returns whether rules were written.
    pub async fn sync(&mut self) -> Result<bool, String> {
        let services = list(&self.client, "/api/v1/services").await?;
        let slices = list(&self.client, "/apis/discovery.k8s.io/v1/endpointslices").await?;
        let ports = rules::service_ports(&services, &slices);
        let probe = rules::render(&ports, &BTreeSet::new());
        if probe.text != self.applied {
            let saved = run("iptables-save", &["-t", "nat"]).await.map_err(|e| e.to_string())?;
            let rendered = rules::render(&ports, &rules::existing_service_chains(&saved));
            run_with_stdin("iptables-restore", &["--noflush"], &rendered.text).await.map_err(|e| e.to_string())?;
            self.applied = probe.text;
            ensure_jumps().await.map_err(|e| e.to_string())?;
            // Ready endpoints only: a terminating pod kept as a last resort must not hold its own SIGTERM.
            let ready = ports.iter().filter(|p| !p.terminating_fallback);
            self.gate.publish(ready.flat_map(|p| p.endpoints.iter().map(|(ip, _)| *ip)).collect());
            return Ok(true);
        }
        Ok(false)
    }
}

/// The jumps from the built-in chains into ours, first in each.
pub async fn ensure_jumps() -> Result<(), NetworkError> {
    for (table, chain, ours) in rules::JUMPS {
        if run("iptables", &["-t", table, "-C", chain, "-j", ours]).await.is_err() {
            run("iptables", &["-t", table, "-I", chain, "1", "-j", ours]).await?;
        }
    }
    Ok(())
}

pub async fn run_proxy(client: ApiClient, watch_client: ApiClient, gate: gate::EndpointGate) {
    ensure_sysctls().await;
    let (changed, mut changes) = tokio::sync::mpsc::channel::<String>(1024);
    let watch_client = std::sync::Arc::new(watch_client);
    for path in ["/api/v1/services?watch=true", "/apis/discovery.k8s.io/v1/endpointslices?watch=true"] {
        let (client, changed) = (watch_client.clone(), changed.clone());
        tokio::spawn(async move {
            loop {
                if let Err(e) = client.watch_lines(path, changed.clone()).await {
                    eprintln!("kubeboot agent: proxy: watching {path}: {e}; retrying");
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                // A new watch may have missed changes: sync anyway.
                let _ = changed.send(String::new()).await;
            }
        });
    }
    let mut proxy = Proxy::new(client, gate);
    let mut last_full = Instant::now();
    loop {
        let started = Instant::now();
        match proxy.sync().await {
            Ok(true) => eprintln!("kubeboot agent: proxy: rules applied in {} ms", started.elapsed().as_millis()),
            Ok(false) => {}
            Err(e) => eprintln!("kubeboot agent: proxy: {e}"),
        }
        if last_full.elapsed() > RESYNC {
            last_full = Instant::now();
            if let Err(e) = ensure_jumps().await {
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
