//! `kubeboot join --control-plane`: a further master, in kubeadm's order. The cluster's CA must be the
//! one the token and pin lead to; the node credentials come from the TLS bootstrap as any node's; then
//! this host's etcd member is added to the cluster's etcd (through the member at ENDPOINT's address),
//! started and healthy; only then the API server (on the local member) and the agent. Every step checks
//! first, so a rerun after a failure continues where it stopped: a member added but never started is
//! started, not added twice.

use std::net::IpAddr;

use anyhow::Context;

use crate::bootstrap::pki::ClusterCa;
use crate::bootstrap::token::BootstrapToken;
use crate::bootstrap::{certificate_bundle, etcd_pki};
use crate::cli::JoinArgs;
use crate::control_plane::etcd_member::{self, InitialCluster, Membership, LOCAL_ENDPOINT};
use crate::control_plane::init::{initialize, Founding};
use crate::control_plane::store_backend::client_tls;
use crate::host::layout::{EtcdSettings, Layout, ServerSettings, SHARED_BY_MASTERS};
use crate::systemd_units::{AGENT_UNIT, SERVER_UNIT};
use crate::EXIT_OK;

pub async fn run(args: &JoinArgs, token: &BootstrapToken, pin: &str, name: &str) -> anyhow::Result<u8> {
    let layout = Layout::new(&args.config_dir, &args.data_dir);
    let server = format!("https://{}", args.endpoint);
    if let Some(key) = &args.certificate_key {
        // kubeadm's by-hand path: the files an admin uploaded, fetched with the token from the server the
        // pin vouches for, opened with the key.
        let (verified, _) = crate::bootstrap::tls_bootstrap::discover(&server, token, pin).await?;
        let sealed = crate::bootstrap::tls_bootstrap::download_certificates(&verified, token).await?;
        certificate_bundle::write_shared(&layout, &certificate_bundle::open(&sealed, key)?)?;
    }
    let missing: Vec<String> = SHARED_BY_MASTERS
        .iter()
        .map(|(_, here, _)| args.config_dir.join(here))
        .filter(|p| !p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if !missing.is_empty() {
        anyhow::bail!(
            "a further master needs the cluster's CA, etcd CA and settings, and these are missing: {} \
             (`kubeboot up` copies them from the first master; by hand, pass --certificate-key with the key \
             `kubeboot upload-certs` printed on a master)",
            missing.join(", ")
        );
    }
    let read = |p: std::path::PathBuf| std::fs::read_to_string(&p).with_context(|| p.display().to_string());
    let ca = ClusterCa::load(&read(layout.pki("ca.crt"))?, &read(layout.pki("ca.key"))?)?;
    if !crate::bootstrap::pin::pins_match(&ca.pin()?, pin) {
        anyhow::bail!(
            "the cluster CA in {} does not match --discovery-token-ca-cert-hash: these certificates are of \
             another cluster",
            layout.pki("ca.crt").display()
        );
    }
    let cluster: ServerSettings = crate::yaml::from_str(&read(layout.cluster_settings())?)
        .with_context(|| layout.cluster_settings().display().to_string())?;
    if args.services.no_services || !crate::systemd_units::systemd_running() {
        anyhow::bail!("a further master runs etcd and its server as systemd units: it needs systemd and the services");
    }

    if !layout.agent_conf().exists() {
        let creds = crate::bootstrap::tls_bootstrap::join(&server, token, pin, name).await?;
        super::join::write_agent_conf(&args.config_dir, name, &creds)?;
    }
    let address = match args.advertise_address {
        Some(a) => a,
        None => crate::agent::local_address::address_towards(&server)
            .ok_or_else(|| anyhow::anyhow!("no route from this host to {server}"))?,
    };

    // The member's certificates first: its client certificate is what opens the cluster's etcd.
    let etcd_ca = etcd_pki::ensure_ca(&layout)?;
    etcd_pki::ensure_master_certificates(&layout, &etcd_ca, name, address)?;
    let tls = client_tls(&layout)?;
    let peer = etcd_member::peer_url(address);
    let has_data = etcd_member::has_data(&layout);
    let seed = etcd_member::client_url(endpoint_address(&args.endpoint)?);
    let reached = Membership::connect(std::slice::from_ref(&seed), &tls).await.with_context(|| {
        "a further master reaches the others' etcd on port 2379 (clients) and 2380 (peers): open both \
         between the masters"
    });
    let (initial, mut added_through) = match reached {
        // A member with data here rejoins with what it has; the cluster is asked only when it answers.
        Err(_) if has_data => (InitialCluster::Rejoin, None),
        Err(e) => return Err(e),
        Ok(mut membership) => match membership.ensure_member(name, &peer, has_data).await? {
            None => (InitialCluster::Rejoin, None),
            Some(cluster) => {
                // Data of a member the cluster does not count (a run that died, another cluster's): gone
                // first, or etcd would start from it and ignore the membership.
                if has_data {
                    tokio::task::block_in_place(|| etcd_member::discard(&layout))?;
                }
                (InitialCluster::Existing(cluster), Some(membership))
            }
        },
    };
    let started = tokio::task::block_in_place(|| {
        etcd_member::prepare_and_start(&layout, &cluster.cluster_name, name, address, initial)
    });
    let healthy = match started {
        Ok(changed) => etcd_member::wait_healthy(&tls, etcd_member::HEALTHY_WITHIN).await.map(|_| changed),
        Err(e) => Err(e),
    };
    let etcd_changed = match (healthy, added_through.as_mut()) {
        (Ok(changed), _) => changed,
        // A member added and never started counts in the quorum all the same (with two members, the
        // cluster would stop): it is taken out again, and the next run starts over.
        (Err(e), Some(membership)) => {
            let withdrawn = membership.withdraw_unstarted(&peer).await;
            tokio::task::block_in_place(|| etcd_member::discard(&layout))?;
            let undone = match withdrawn {
                Ok(true) => "its etcd member, never started, was taken out of the cluster again".to_string(),
                Ok(false) => "its etcd member had started: it stays in the cluster".to_string(),
                Err(w) => format!("taking its never-started etcd member out again failed too: {w}"),
            };
            anyhow::bail!("{e}; {undone}");
        }
        (Err(e), None) => return Err(e.into()),
    };

    let settings = ServerSettings {
        advertise_address: address.to_string(),
        etcd: Some(EtcdSettings { endpoints: vec![LOCAL_ENDPOINT.to_string()] }),
        ..cluster
    };
    let outcome = initialize(&layout, &settings, name, &[], Founding::FurtherMaster)?;
    let vars = serde_json::json!({
        "config_dir": layout.config_dir,
        "data_dir": layout.data_dir,
        "node_name": name,
        "address": address.to_string(),
        "master": true,
    });
    let units_changed = super::units::start(&args.services, &[SERVER_UNIT, AGENT_UNIT], &vars)?;
    if outcome.created {
        println!(
            "This host has joined the control plane as {name}: its etcd member serves and its API server is {}.",
            outcome.server_url
        );
    } else {
        let what = if units_changed || etcd_changed { "started its services" } else { "nothing changed" };
        println!("This master has joined already ({} exists): {what}.", layout.settings().display());
    }
    Ok(EXIT_OK)
}

/// The address of ENDPOINT (HOST:PORT): the master whose etcd member the new one is added through.
fn endpoint_address(endpoint: &str) -> anyhow::Result<IpAddr> {
    let host = endpoint.rsplit_once(':').map_or(endpoint, |(h, _)| h).trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse() {
        return Ok(ip);
    }
    use std::net::ToSocketAddrs;
    (host, 0)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .map(|a| a.ip())
        .ok_or_else(|| anyhow::anyhow!("cannot resolve {host} (the endpoint's host)"))
}
