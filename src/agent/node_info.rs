//! What a node reports about itself: addresses, capacity, OS and version — read from /proc and
//! /etc/os-release, no command run.

use serde_json::{json, Value};

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default().trim().to_string()
}

fn machine_id() -> String {
    read_trimmed("/etc/machine-id")
}

/// The firmware's UUID where the host has one (not in containers), else the machine id, as kubelet falls back.
fn system_uuid() -> String {
    let uuid = read_trimmed("/sys/class/dmi/id/product_uuid").to_lowercase();
    if uuid.is_empty() {
        machine_id()
    } else {
        uuid
    }
}

/// Bytes of the filesystem holding Docker's data (or /), as `df` reports it.
fn ephemeral_storage() -> Option<u64> {
    let path = if std::path::Path::new("/var/lib/docker").exists() { "/var/lib/docker" } else { "/" };
    let out = std::process::Command::new("df").args(["-Pk", path]).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let kib: u64 = text.lines().nth(1)?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// What the heartbeat refreshes: capacity and allocatable, the runtime's version, the images on the node.
pub fn observed_status(node: &Value, docker_version: Option<&str>, images: Option<Vec<Value>>) -> Value {
    let mut status = json!({
        "capacity": node["status"]["capacity"].clone(),
        "allocatable": node["status"]["allocatable"].clone(),
        "nodeInfo": node["status"]["nodeInfo"].clone(),
        "addresses": node["status"]["addresses"].clone(),
    });
    if let Some(storage) = ephemeral_storage() {
        status["capacity"]["ephemeral-storage"] = json!(format!("{}Ki", storage / 1024));
        status["allocatable"]["ephemeral-storage"] = json!(storage.to_string());
    }
    if let Some(v) = docker_version {
        status["nodeInfo"]["containerRuntimeVersion"] = json!(format!("docker://{v}"));
    }
    if let Some(images) = images {
        status["images"] = json!(images);
    }
    status
}

/// The Node object for this host.
pub fn node_object(name: &str, address: &str, master: bool) -> Value {
    let os_release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let os_image = os_release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "Linux".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_string();
    let memory_kib = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or(0);
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let mut labels = json!({
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": arch,
    });
    let mut taints = json!([]);
    if master {
        // As kubeadm does: masters carry the role label and keep ordinary pods off.
        labels["node-role.kubernetes.io/master"] = json!("");
        taints = json!([{"key": "node-role.kubernetes.io/master", "effect": "NoSchedule"}]);
    }
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "spec": {"taints": taints},
        "status": {
            "addresses": [{"type": "InternalIP", "address": address}, {"type": "Hostname", "address": name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": crate::agent::node_api::NODE_API_PORT}},
            "capacity": {"cpu": cpus.to_string(), "memory": format!("{memory_kib}Ki"), "pods": "110"},
            "allocatable": {"cpu": cpus.to_string(), "memory": format!("{memory_kib}Ki"), "pods": "110"},
            "nodeInfo": {
                "osImage": os_image,
                "kernelVersion": kernel,
                "operatingSystem": "linux",
                "architecture": arch,
                "kubeletVersion": format!("v1.30.0-kubeboot.{}", crate::version::current()),
                "containerRuntimeVersion": "docker://",
                "machineID": machine_id(),
                "systemUUID": system_uuid(),
                "bootID": read_trimmed("/proc/sys/kernel/random/boot_id"),
                "kubeProxyVersion": "",
                "operatingSystem": "linux",
            },
        },
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn masters_are_labelled_and_tainted() {
        let m = super::node_object("m1", "10.0.0.1", true);
        assert_eq!(m["metadata"]["labels"]["node-role.kubernetes.io/master"], "");
        assert_eq!(m["spec"]["taints"][0]["effect"], "NoSchedule");
        let n = super::node_object("n1", "10.0.0.2", false);
        assert!(n["metadata"]["labels"].get("node-role.kubernetes.io/master").is_none());
        assert_eq!(n["status"]["addresses"][0]["address"], "10.0.0.2");
        assert!(n["status"]["capacity"]["memory"].as_str().unwrap().ends_with("Ki"));
    }
}
