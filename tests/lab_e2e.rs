//! End to end on real lab hosts: `lab up 3` boots systemd hosts with sshd, `ping` reads their facts over
//! SSH, killed hosts are recovered, and `lab down` leaves no namespace, mount or process behind.
//! Uses the machine's lab (default folder), so it takes the lab down at the end.

mod common;

use std::process::Command;

use common::kubeboot;

/// Container inits (they outlive a killed nspawn): live processes whose environment says nspawn started them.
fn container_inits() -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let zombie = stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
        if !zombie && environ.split(|b| *b == 0).any(|v| v == b"container=systemd-nspawn") {
            found.push(pid);
        }
    }
    found
}

fn nspawn_processes() -> Vec<String> {
    let out = Command::new("ps").args(["-eo", "pid,args"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("systemd-nspawn") && l.contains("kubeboot-lab"))
        .map(String::from)
        .collect()
}

#[test]
fn lab_up_ping_recover_and_down() {
    let work = tempfile::tempdir().unwrap();
    let inv = work.path().join("lab.yaml");
    let inv_s = inv.to_str().unwrap();

    let up = kubeboot(&["lab", "up", "3", "--inventory", inv_s], &[]);
    assert!(up.status.success(), "lab up: {}", String::from_utf8_lossy(&up.stderr));
    assert_eq!(String::from_utf8_lossy(&up.stdout), std::fs::read_to_string(&inv).unwrap(), "prints the inventory");

    let ping = kubeboot(&["ping", "-i", inv_s, "--output", "json"], &[]);
    assert!(ping.status.success(), "ping: {}", String::from_utf8_lossy(&ping.stderr));
    let json: serde_json::Value = serde_json::from_slice(&ping.stdout).unwrap();
    for (name, address) in [("lab-master", "10.88.0.10"), ("lab-node1", "10.88.0.11"), ("lab-node2", "10.88.0.12")] {
        let host = &json["hosts"][name];
        assert_eq!(host["address"], address);
        let facts = &host["facts"];
        assert_eq!(facts["hostname"], name, "{host}");
        assert_eq!(facts["os_id"], "debian");
        assert_eq!(facts["os_version"], "12");
        assert_eq!(facts["family"], "debian");
        assert_eq!(facts["package_manager"], "apt");
        assert_eq!(facts["init"], "systemd");
        assert_eq!(facts["user"], "root");
        assert!(facts["cpus"].as_u64().unwrap() >= 1 && facts["memory_mb"].as_u64().unwrap() > 100);
    }

    // `lab ssh` reaches a host by name.
    let ssh = kubeboot(&["lab", "ssh", "lab-node2", "hostname"], &[]);
    assert_eq!(String::from_utf8_lossy(&ssh.stdout).trim(), "lab-node2");

    // A killed lab (every nspawn SIGKILLed: their containers live on, orphaned, and namespaces stay) is
    // recovered by the next `up`, which also ends the orphans.
    let pids: Vec<String> =
        nspawn_processes().iter().map(|l| l.split_whitespace().next().unwrap().to_string()).collect();
    assert_eq!(pids.len(), 3, "{pids:?}");
    for pid in &pids {
        Command::new("kill").args(["-KILL", pid]).status().unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(kubeboot::lab::lab_namespaces().len(), 3, "stale namespaces stay after the kill");
    let orphans = container_inits();
    assert_eq!(orphans.len(), 3, "the containers outlive nspawn: {orphans:?}");
    let up = kubeboot(&["lab", "up", "3", "--inventory", inv_s], &[]);
    assert!(up.status.success(), "lab up after a kill: {}", String::from_utf8_lossy(&up.stderr));
    let still: Vec<u32> = container_inits().into_iter().filter(|p| orphans.contains(p)).collect();
    assert!(still.is_empty(), "orphaned container inits still run after lab up: {still:?}");
    let ping = kubeboot(&["ping", "-i", inv_s], &[]);
    assert!(ping.status.success(), "ping after recovery: {}", String::from_utf8_lossy(&ping.stderr));

    let down = kubeboot(&["lab", "down"], &[]);
    assert!(down.status.success(), "lab down: {}", String::from_utf8_lossy(&down.stderr));
    let namespaces = kubeboot::lab::lab_namespaces();
    assert!(namespaces.is_empty(), "namespaces left: {namespaces:?}");
    assert!(nspawn_processes().is_empty(), "processes left: {:?}", nspawn_processes());
    assert!(container_inits().is_empty(), "container processes left: {:?}", container_inits());
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    assert!(!mounts.contains("kubeboot-lab"), "mounts left:\n{mounts}");
    let links = Command::new("ip").args(["-o", "link"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&links.stdout).contains("kblab"), "interfaces left");
    let nat = Command::new("iptables").args(["-t", "nat", "-S"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&nat.stdout).contains("kubeboot-lab"), "NAT rules left");
}
