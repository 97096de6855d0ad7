//! The lab's network: one bridge with the gateway address, one network namespace per host joined to it by a
//! veth pair, and NAT so hosts can reach the package mirror. Every step is safe to repeat.

use super::error::LabError;
use super::sh::{run, succeeds};
use super::state::LabHost;

pub const BRIDGE: &str = "kblab0";
pub const SUBNET: &str = "10.88.0.0/24";
pub const GATEWAY: &str = "10.88.0.1";
const PREFIX_LEN: u8 = 24;

pub fn host_address(index: u32) -> String {
    format!("10.88.0.{}", 10 + index)
}

/// The iptables rules the lab adds, as argument lists after -A/-C/-D.
fn nat_rules() -> Vec<Vec<&'static str>> {
    vec![
        vec![
            "-t",
            "nat",
            "POSTROUTING",
            "-s",
            SUBNET,
            "!",
            "-d",
            SUBNET,
            "-j",
            "MASQUERADE",
            "-m",
            "comment",
            "--comment",
            "kubeboot-lab",
        ],
        vec!["-t", "filter", "FORWARD", "-i", BRIDGE, "-j", "ACCEPT", "-m", "comment", "--comment", "kubeboot-lab"],
        vec!["-t", "filter", "FORWARD", "-o", BRIDGE, "-j", "ACCEPT", "-m", "comment", "--comment", "kubeboot-lab"],
    ]
}

fn with_action<'a>(action: &'a str, rule: &[&'a str]) -> Vec<&'a str> {
    // iptables wants -t TABLE before the action and the chain right after it.
    let mut args = vec![rule[0], rule[1], action];
    args.extend_from_slice(&rule[2..]);
    args
}

pub fn ensure_bridge() -> Result<(), LabError> {
    if !succeeds("ip", &["link", "show", BRIDGE]) {
        run("ip", &["link", "add", BRIDGE, "type", "bridge"])?;
    }
    run("ip", &["addr", "replace", &format!("{GATEWAY}/{PREFIX_LEN}"), "dev", BRIDGE])?;
    run("ip", &["link", "set", BRIDGE, "up"])?;
    Ok(())
}

/// Forwarding and masquerading for the lab subnet only. Returns the ip_forward value found before, so
/// `down` can put it back.
pub fn ensure_nat() -> Result<String, LabError> {
    let before = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap_or_else(|_| "0".into());
    std::fs::write("/proc/sys/net/ipv4/ip_forward", "1").map_err(super::error::io("enabling ip_forward"))?;
    for rule in nat_rules() {
        if !succeeds("iptables", &with_action("-C", &rule)) {
            run("iptables", &with_action("-A", &rule))?;
        }
    }
    Ok(before.trim().to_string())
}

pub fn remove_bridge_and_nat(ip_forward_before: Option<&str>) -> Result<(), LabError> {
    for rule in nat_rules() {
        while succeeds("iptables", &with_action("-C", &rule)) {
            run("iptables", &with_action("-D", &rule))?;
        }
    }
    if succeeds("ip", &["link", "show", BRIDGE]) {
        run("ip", &["link", "del", BRIDGE])?;
    }
    if let Some(value) = ip_forward_before {
        std::fs::write("/proc/sys/net/ipv4/ip_forward", value).map_err(super::error::io("restoring ip_forward"))?;
    }
    Ok(())
}

/// A fresh namespace for `host`, first removing whatever a killed run may have left under the same names.
pub fn create_host_network(host: &LabHost) -> Result<(), LabError> {
    remove_host_network(host)?;
    let (ns, vh, vp) = (host.netns(), host.veth_host(), host.veth_peer());
    run("ip", &["netns", "add", &ns])?;
    run("ip", &["link", "add", &vh, "type", "veth", "peer", "name", &vp])?;
    run("ip", &["link", "set", &vp, "netns", &ns])?;
    run("ip", &["link", "set", &vh, "master", BRIDGE, "up"])?;
    run("ip", &["-n", &ns, "link", "set", &vp, "name", "eth0"])?;
    run("ip", &["-n", &ns, "addr", "add", &format!("{}/{PREFIX_LEN}", host.address), "dev", "eth0"])?;
    run("ip", &["-n", &ns, "link", "set", "eth0", "up"])?;
    run("ip", &["-n", &ns, "link", "set", "lo", "up"])?;
    run("ip", &["-n", &ns, "route", "add", "default", "via", GATEWAY])?;
    // A host's /proc/sys is read-only inside nspawn: forwarding for its pods is switched on from here.
    run("ip", &["netns", "exec", &ns, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"])?;
    Ok(())
}

pub fn remove_host_network(host: &LabHost) -> Result<(), LabError> {
    if std::path::Path::new(&format!("/run/netns/{}", host.netns())).exists() {
        run("ip", &["netns", "del", &host.netns()])?;
    }
    // Deleting the namespace removes the veth pair asynchronously: the link may vanish between show and del.
    if succeeds("ip", &["link", "show", &host.veth_host()]) && !succeeds("ip", &["link", "del", &host.veth_host()]) {
        std::thread::sleep(std::time::Duration::from_millis(200));
        if succeeds("ip", &["link", "show", &host.veth_host()]) {
            run("ip", &["link", "del", &host.veth_host()])?;
        }
    }
    Ok(())
}

/// Namespaces of this lab that exist now (for checks after `down`).
pub fn lab_namespaces() -> Vec<String> {
    std::fs::read_dir("/run/netns")
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("kblab-"))
                .collect()
        })
        .unwrap_or_default()
}
