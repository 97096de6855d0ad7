//! `kubeboot init` on the first master.

use crate::bootstrap::ttl::parse_ttl;
use crate::cli::InitArgs;
use crate::control_plane::etcd_member::{self, InitialCluster, LOCAL_ENDPOINT};
use crate::control_plane::init::Founding;
use crate::host::layout::{write_file, EtcdSettings, Layout, ServerSettings};
use crate::systemd_units::{AGENT_UNIT, SERVER_UNIT};
use crate::{UsageError, EXIT_OK};

pub fn run(args: InitArgs) -> anyhow::Result<u8> {
    let ttl = parse_ttl(&args.token_ttl).map_err(|e| UsageError(format!("--token-ttl: {e}")))?;
    let eviction = crate::inventory::spec::parse_eviction_timeout(&args.pod_eviction_timeout)
        .map_err(|e| UsageError(format!("--pod-eviction-timeout: {e}")))?;
    let validity = crate::inventory::spec::parse_certificate_validity(&args.certificate_validity)
        .map_err(|e| UsageError(format!("--certificate-validity: {e}")))?;
    let snapshot_interval = crate::inventory::spec::parse_snapshot_interval(&args.snapshot_interval)
        .map_err(|e| UsageError(format!("--snapshot-interval: {e}")))?;
    let snapshot_retention = crate::inventory::spec::check_snapshot_retention(args.snapshot_retention)
        .map_err(|e| UsageError(format!("--snapshot-retention: {e}")))?;
    let layout = Layout::new(&args.dirs.config_dir, &args.dirs.data_dir);
    let node_name = args.node_name.clone().unwrap_or_else(super::hostname);
    let etcd = if args.stacked_etcd {
        stacked_member(&args, &layout, &node_name)?
    } else {
        etcd_settings(&args.etcd_endpoints)?
    };
    let settings = ServerSettings {
        cluster_name: args.cluster_name,
        advertise_address: args.advertise_address.to_string(),
        port: args.port,
        pod_network_cidr: args.pod_network_cidr.to_string(),
        pod_eviction_timeout_seconds: eviction,
        service_cidr: args.service_cidr.to_string(),
        etcd,
        control_plane_endpoint: control_plane_endpoint(args.control_plane_endpoint.as_deref())?,
        certificate_validity_seconds: validity,
        snapshot_interval_seconds: snapshot_interval,
        snapshot_retention,
    };
    let founding = Founding::FirstMaster { token_ttl: ttl };
    let outcome = crate::control_plane::init::initialize(&layout, &settings, &node_name, &[], founding)?;
    let unit_vars = serde_json::json!({
        "config_dir": layout.config_dir,
        "data_dir": layout.data_dir,
        "node_name": node_name,
        "address": settings.advertise_address,
        "master": true,
    });
    let units_changed = super::units::start(&args.services, &[SERVER_UNIT, AGENT_UNIT], &unit_vars)?;
    let endpoint = outcome.server_url.trim_start_matches("https://").to_string();
    match outcome.token {
        Some(token) => {
            println!("Your kubeboot control plane has initialized successfully!\n");
            println!("To use the cluster as a regular user:\n");
            println!("  mkdir -p $HOME/.kube");
            println!("  sudo cp -i {} $HOME/.kube/config", layout.admin_conf().display());
            println!("  sudo chown $(id -u):$(id -g) $HOME/.kube/config\n");
            println!("Then join any number of nodes by running on each, as root:\n");
            println!(
                "kubeboot join {endpoint} --token {} --discovery-token-ca-cert-hash {}",
                token.expose(),
                outcome.pin
            );
        }
        None => {
            let what = if units_changed { "started its services" } else { "nothing changed" };
            println!("This master is already initialised ({}): {what}.", layout.settings().display());
            println!("To join a node: kubeboot token create --print-join-command");
        }
    }
    Ok(EXIT_OK)
}

/// `--control-plane-endpoint`: HOST:PORT, as the inventory's cluster.control_plane_endpoint.
fn control_plane_endpoint(text: Option<&str>) -> Result<Option<String>, UsageError> {
    let Some(text) = text else { return Ok(None) };
    crate::inventory::spec::parse_endpoint(text)
        .map(|e| Some(e.to_string()))
        .map_err(|e| UsageError(format!("--control-plane-endpoint: {e}")))
}

/// `--etcd-endpoints`: the URLs of an etcd cluster to keep the objects in (none: this master's own store).
fn etcd_settings(endpoints: &[String]) -> Result<Option<EtcdSettings>, UsageError> {
    if endpoints.is_empty() {
        return Ok(None);
    }
    for endpoint in endpoints {
        let valid = endpoint.strip_prefix("https://").or_else(|| endpoint.strip_prefix("http://"));
        if valid.is_none_or(str::is_empty) {
            return Err(UsageError(format!(
                "--etcd-endpoints: {endpoint:?} is not an etcd client URL (https://ADDRESS:2379)"
            )));
        }
    }
    Ok(Some(EtcdSettings { endpoints: endpoints.to_vec() }))
}

/// `--stacked-etcd`: this master's etcd member, a cluster of one to begin with, started and serving. A
/// master initialised with its own store grows: its objects move into the new member (`grow_into_etcd`).
fn stacked_member(args: &InitArgs, layout: &Layout, node_name: &str) -> anyhow::Result<Option<EtcdSettings>> {
    let local = EtcdSettings { endpoints: vec![LOCAL_ENDPOINT.to_string()] };
    let stored: Option<ServerSettings> = match std::fs::read_to_string(layout.settings()) {
        Ok(text) => Some(crate::yaml::from_str(&text)?),
        Err(_) => None,
    };
    if let Some(etcd) = stored.as_ref().and_then(|s| s.etcd.clone()).filter(|e| *e != local) {
        return Ok(Some(etcd)); // an external etcd the operator runs: left as it is
    }
    if args.services.no_services || !crate::systemd_units::systemd_running() {
        return Err(
            UsageError("--stacked-etcd runs etcd as a systemd unit: it needs systemd and the services".into()).into()
        );
    }
    etcd_member::prepare_and_start(layout, &args.cluster_name, node_name, args.advertise_address, InitialCluster::New)?;
    let tls = crate::control_plane::store_backend::client_tls(layout)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(etcd_member::wait_healthy(&tls, etcd_member::HEALTHY_WITHIN))?;
    match stored {
        Some(own_store) if own_store.etcd.is_none() => grow_into_etcd(layout, Some(own_store), &local)?,
        // A store restored onto this wiped master (`kubeboot restore`), waiting for its init: into etcd too.
        None if layout.store().exists() => grow_into_etcd(layout, None, &local)?,
        _ => {}
    }
    Ok(Some(local))
}

/// A one-master cluster grows: its server stops (its agents and pods run on), every key of its redb
/// store is copied into the new etcd member, server.yaml names etcd, and the redb file is kept beside as
/// state.redb.before-etcd. `init` then starts the server again. A kill at any point is finished by the
/// next run: until server.yaml names etcd, redb is the truth and the copy is made again.
fn grow_into_etcd(layout: &Layout, own_store: Option<ServerSettings>, local: &EtcdSettings) -> anyhow::Result<()> {
    crate::systemd_units::stop(SERVER_UNIT)?;
    let from = crate::control_plane::store::RedbStore::open(&layout.store())?;
    let to = crate::control_plane::store_backend::open(layout, Some(local))?;
    let snapshot = crate::control_plane::store::snapshot::take(&from)?;
    let copied = crate::control_plane::store::snapshot::restore(&snapshot, to.as_ref())?;
    drop((from, to));
    if let Some(own_store) = own_store {
        let settings = ServerSettings { etcd: Some(local.clone()), ..own_store };
        write_file(&layout.settings(), crate::yaml::to_string(&settings).as_bytes(), 0o644)?;
    }
    let kept = layout.store().with_extension("redb.before-etcd");
    std::fs::rename(layout.store(), &kept)?;
    println!(
        "Moved this master's objects into etcd: {} keys copied ({} already there); its own store is kept as {}.",
        copied.written,
        copied.unchanged,
        kept.display()
    );
    Ok(())
}
