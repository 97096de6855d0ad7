//! The variables templates, `when:` and task arguments see on a host:
//! `inventory_hostname`, `host` {name, address, role}, `hosts` (every inventory host), `groups`
//! {masters, nodes}, `cluster`, `docker`, `airgap` {root: where the bundle's files are, empty when not
//! air-gapped; registry_port}, `vars` (inventory vars, the host's own on top), `facts` (system
//! facts) and `item` inside a loop.

use serde_json::{json, Value as Json};

use crate::facts::SystemFacts;
use crate::inventory::{Host, Inventory, Role};

/// Everything but facts and item; built once per host.
pub fn host_vars(inventory: &Inventory, host: &Host) -> Json {
    let hosts: Vec<Json> = inventory
        .hosts
        .iter()
        .map(|h| json!({"name": h.name, "address": h.address, "role": h.role.to_string()}))
        .collect();
    let names = |role: Role| -> Vec<&str> {
        inventory.hosts.iter().filter(|h| h.role == role).map(|h| h.name.as_str()).collect()
    };
    // Air-gapped, every host's Docker pulls through the masters' kubeboot-registry (the bundle's images)
    // instead of the inventory's mirrors, which it cannot reach.
    let airgapped = inventory.airgap_bundle.is_some();
    let (registry_mirrors, insecure_registries) = if airgapped {
        let registries: Vec<String> = inventory
            .masters()
            .map(|m| format!("{}:{}", m.address, crate::host::layout::AIRGAP_REGISTRY_PORT))
            .collect();
        (registries.iter().map(|r| format!("http://{r}")).collect(), registries)
    } else {
        (host.docker.registry_mirrors.clone(), host.docker.insecure_registries.clone())
    };
    let mut vars = serde_json::Map::new();
    for (k, v) in inventory.vars.iter().chain(host.vars.iter()) {
        vars.insert(k.clone(), serde_json::to_value(v).unwrap_or(Json::Null));
    }
    json!({
        "inventory_hostname": host.name,
        "host": {"name": host.name, "address": host.address, "role": host.role.to_string()},
        "hosts": hosts,
        "groups": {"masters": names(Role::Master), "nodes": names(Role::Node)},
        "cluster": {
            "name": inventory.cluster.name,
            "pod_network_cidr": inventory.cluster.pod_network_cidr.to_string(),
            "control_plane_endpoint": inventory.cluster.control_plane_endpoint.as_ref().map(|e| e.to_string()),
        },
        "docker": {
            "source": serde_json::to_value(host.docker.source).unwrap_or(Json::Null),
            "version": host.docker.version.clone().unwrap_or_default(),
            "registry_mirrors": registry_mirrors,
            "insecure_registries": insecure_registries,
        },
        "airgap": {
            "root": if airgapped { crate::host::layout::AIRGAP_DIR } else { "" },
            "registry_port": crate::host::layout::AIRGAP_REGISTRY_PORT,
        },
        "vars": vars,
    })
}

pub fn context(host_vars: &Json, facts: &SystemFacts, item: Option<&crate::yaml::Value>) -> tera::Context {
    let mut ctx = tera::Context::from_value(host_vars.clone()).expect("host vars are an object");
    ctx.insert("facts", facts);
    if let Some(item) = item {
        ctx.insert("item", item);
    }
    ctx
}

/// Facts of the right shape with placeholder values, to check templates and expressions before any host
/// is contacted (an undefined variable must fail then, not halfway through a run).
pub fn placeholder_facts() -> SystemFacts {
    crate::facts::parse_system_facts(
        "os_id=placeholder\nos_version=0\npackage_manager=apt-get\ninit=systemd\narch=x86_64\nkernel=0\nhostname=placeholder\nmemory_kb=0\ncpus=1\nuser=root\n",
    )
    .expect("placeholder facts parse")
}
