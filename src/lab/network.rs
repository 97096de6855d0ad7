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

const COMMENT: &str = "kubeboot-lab";

/// The package mirrors' addresses: the only places outside the machine lab hosts may reach. Resolved once
/// and kept in the lab folder, so the hosts' /etc/hosts and the forwarding rules always name the same ones
/// (a CDN answers with other addresses from one run to the next).
pub fn mirror_addresses(lab_dir: &std::path::Path) -> Vec<String> {
    let file = lab_dir.join("mirrors");
    if let Ok(text) = std::fs::read_to_string(&file) {
        let kept: Vec<String> = text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect();
        if !kept.is_empty() {
            return kept;
        }
    }
    let resolved = resolve_mirrors();
    if !resolved.is_empty() {
        let _ = std::fs::write(&file, resolved.join("\n") + "\n");
    }
    resolved
}

fn resolve_mirrors() -> Vec<String> {
    let mut out = Vec::new();
    for mirror in MIRRORS {
        if let Ok(text) = run("getent", &["ahostsv4", mirror]) {
            for address in text.lines().filter_map(|l| l.split_whitespace().next()) {
                if !out.iter().any(|a| a == address) {
                    out.push(address.to_string());
                }
            }
        }
    }
    out
}

/// Where lab hosts install packages from.
pub const MIRRORS: [&str; 1] = ["deb.debian.org"];

/// The lab's forwarding rules, in the order they must stand at the top of FORWARD: traffic between lab
/// hosts, to the package mirrors and replies pass; everything else from the bridge is dropped, so a missing
/// route (a pod or service address, a public range) never sends a packet off the machine.
fn forward_rules(mirrors: &[String]) -> Vec<Vec<String>> {
    let mut rules: Vec<Vec<String>> = vec![
        vec!["-i".into(), BRIDGE.into(), "-o".into(), BRIDGE.into(), "-j".into(), "ACCEPT".into()],
        vec![
            "-o".into(),
            BRIDGE.into(),
            "-m".into(),
            "conntrack".into(),
            "--ctstate".into(),
            "ESTABLISHED,RELATED".into(),
            "-j".into(),
            "ACCEPT".into(),
        ],
    ];
    for mirror in mirrors {
        rules.push(vec![
            "-i".into(),
            BRIDGE.into(),
            "-s".into(),
            SUBNET.into(),
            "-d".into(),
            format!("{mirror}/32"),
            "-j".into(),
            "ACCEPT".into(),
        ]);
    }
    rules.push(vec!["-i".into(), BRIDGE.into(), "-j".into(), "DROP".into()]);
    rules.push(vec!["-o".into(), BRIDGE.into(), "-j".into(), "DROP".into()]);
    for rule in &mut rules {
        rule.extend(["-m".into(), "comment".into(), "--comment".into(), COMMENT.into()]);
    }
    rules
}

fn nat_rule() -> Vec<&'static str> {
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
        COMMENT,
    ]
}

/// Remove every FORWARD rule carrying the lab's comment (whatever an older run or mirror set made).
fn remove_forward_rules() -> Result<(), LabError> {
    let listing = run("iptables", &["-S", "FORWARD"])?;
    for line in listing.lines().filter(|l| l.contains(COMMENT) && l.starts_with("-A FORWARD")) {
        let args: Vec<String> = shell_words(&line.replacen("-A FORWARD", "-D FORWARD", 1));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run("iptables", &args)?;
    }
    Ok(())
}

/// iptables -S quotes comments with spaces; ours have none, so splitting on whitespace (dropping quotes) is
/// enough.
fn shell_words(line: &str) -> Vec<String> {
    line.split_whitespace().map(|w| w.trim_matches('"').to_string()).collect()
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

/// Forwarding (lab hosts among themselves and to the package mirrors only) and masquerading for the lab
/// subnet, inserted at the top of FORWARD so an existing DROP or ACCEPT cannot shadow them. Returns the
/// ip_forward value found before, so `down` can put it back.
pub fn ensure_nat(lab_dir: &std::path::Path) -> Result<String, LabError> {
    let before = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap_or_else(|_| "0".into());
    set_forwarding(&mirror_addresses(lab_dir))?;
    if !succeeds("iptables", &with_action("-C", &nat_rule())) {
        run("iptables", &with_action("-A", &nat_rule()))?;
    }
    std::fs::write("/proc/sys/net/ipv4/ip_forward", "1").map_err(super::error::io("enabling ip_forward"))?;
    Ok(before.trim().to_string())
}

/// The lab's forwarding rules, allowing these mirrors (none: the lab is offline), in place of any before.
pub fn set_forwarding(mirrors: &[String]) -> Result<(), LabError> {
    remove_forward_rules()?;
    for (position, rule) in forward_rules(mirrors).iter().enumerate() {
        let mut args: Vec<&str> = vec!["-I", "FORWARD"];
        let position = (position + 1).to_string();
        args.push(&position);
        args.extend(rule.iter().map(String::as_str));
        run("iptables", &args)?;
    }
    Ok(())
}

pub fn remove_bridge_and_nat(ip_forward_before: Option<&str>) -> Result<(), LabError> {
    remove_forward_rules()?;
    while succeeds("iptables", &with_action("-C", &nat_rule())) {
        run("iptables", &with_action("-D", &nat_rule()))?;
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
