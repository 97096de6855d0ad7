//! `kubeboot lab`: local hosts with systemd and sshd, each in its own network namespace (facts in LAB.md).
//! Everything lives under one folder (default /var/lib/kubeboot-lab, or $KUBEBOOT_LAB_DIR) and one state
//! file, so `up` can add hosts or recover from a killed run and `down` removes exactly what was made.

mod background;
mod el_repo;
mod error;
mod faults;
mod image;
mod images;
mod machine;
mod network;
mod offline;
mod registry;
mod sh;
mod state;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use error::LabError;
pub use network::lab_namespaces;
pub use offline::drops;
pub use state::{Flavor, LabHost};

use error::io;
use state::LabState;

const BOOT_TIMEOUT: Duration = Duration::from_secs(90);
const STOP_GRACE: Duration = Duration::from_secs(15);

pub struct Lab {
    dir: PathBuf,
}

impl Lab {
    pub fn new() -> Self {
        let dir = std::env::var_os("KUBEBOOT_LAB_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/var/lib/kubeboot-lab"));
        Lab { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
    fn state_path(&self) -> PathBuf {
        self.dir.join("state.json")
    }
    pub fn private_key(&self) -> PathBuf {
        self.dir.join("id_ed25519")
    }
    pub fn known_hosts(&self) -> PathBuf {
        self.dir.join("known_hosts")
    }
    fn root(&self, host: &LabHost) -> PathBuf {
        self.dir.join("hosts").join(&host.name)
    }
    fn pid_path(&self, host: &LabHost) -> PathBuf {
        self.dir.join("hosts").join(format!("{}.pid", host.name))
    }
    fn init_pid_path(&self, host: &LabHost) -> PathBuf {
        self.dir.join("hosts").join(format!("{}.init-pid", host.name))
    }
    fn log_path(&self, host: &LabHost) -> PathBuf {
        self.dir.join("hosts").join(format!("{}.log", host.name))
    }

    fn pid(&self, host: &LabHost) -> Option<u32> {
        std::fs::read_to_string(self.pid_path(host)).ok()?.trim().parse().ok()
    }

    /// The container's PID 1, recorded at boot (see machine::find_init).
    pub fn init_pid(&self, host: &LabHost) -> Option<u32> {
        std::fs::read_to_string(self.init_pid_path(host)).ok()?.trim().parse().ok()
    }

    /// Both nspawn and the container's init run.
    pub fn is_running(&self, host: &LabHost) -> bool {
        self.pid(host).is_some_and(|pid| machine::is_running(pid, host))
            && self.init_pid(host).is_some_and(|pid| machine::is_container_init(pid, host))
    }

    pub fn hosts(&self) -> Result<Vec<LabHost>, LabError> {
        Ok(LabState::load(&self.state_path())?.hosts)
    }

    /// Make sure `count` hosts run, the first `masters` of them masters. Running hosts are kept; missing or
    /// dead ones (a killed run) are rebuilt, and so is a host whose name changed (another master count).
    pub fn up(&self, count: u32, masters: u32, flavor: Flavor) -> Result<Vec<LabHost>, LabError> {
        require_root()?;
        sh::require_tools(&["ip", "iptables", "debootstrap", "systemd-nspawn", "ssh-keygen"])?;
        std::fs::create_dir_all(self.dir.join("hosts")).map_err(io(format!("creating {}", self.dir.display())))?;
        let mut state = LabState::load(&self.state_path())?;
        let public_key = self.ensure_key()?;
        let base = image::ensure_base(&self.dir)?;
        let base_el = if flavor == Flavor::El || state.hosts.iter().any(|h| h.flavor == Flavor::El) {
            Some(image::ensure_el_base(&self.dir, &base)?)
        } else {
            None
        };
        network::ensure_bridge()?;
        let before = network::ensure_nat(&self.dir)?;
        if state.ip_forward_before.is_none() {
            state.ip_forward_before = Some(before);
        }
        registry::ensure(&self.dir)?;
        images::ensure(&self.dir)?;
        if base_el.is_some() {
            el_repo::ensure(&self.dir)?;
        }

        for index in 0..count {
            let name = host_name(index, masters);
            if let Some(renamed) = state.hosts.iter().position(|h| h.index == index && h.name != name) {
                let old = state.hosts.remove(renamed);
                eprintln!("kubeboot lab: removing {} (this lab names its host {index} {name})", old.name);
                self.remove_host(&old)?;
            }
            if !state.hosts.iter().any(|h| h.index == index) {
                state.hosts.push(LabHost { name, flavor, index, address: network::host_address(index) });
            }
        }
        state.hosts.sort_by_key(|h| h.index);
        // Record intent before making anything, so `down` after a kill still finds it all.
        state.save(&self.state_path())?;

        let mut booting = Vec::new();
        for host in state.hosts.iter().filter(|h| h.index < count) {
            if self.is_running(host) {
                continue;
            }
            // Whatever a killed run left of this host (nspawn, or a container init that outlived it) goes first.
            machine::stop(self.pid(host), self.init_pid(host), host, STOP_GRACE);
            eprintln!("kubeboot lab: creating {} ({})", host.name, host.address);
            network::create_host_network(host)?;
            let host_base = match host.flavor {
                Flavor::Debian => &base,
                Flavor::El => base_el.as_ref().expect("made above when any host is EL"),
            };
            image::make_host_root(host_base, &self.root(host), host, &public_key, &self.dir)?;
            forget_host_key(&self.known_hosts(), &host.address)?;
            let pid = machine::start(host, &self.root(host), &self.log_path(host))?;
            std::fs::write(self.pid_path(host), pid.to_string()).map_err(io("writing the pid file"))?;
            if let Some(init) = machine::find_init(pid, host) {
                std::fs::write(self.init_pid_path(host), init.to_string()).map_err(io("writing the init pid file"))?;
            }
            booting.push((host.clone(), pid));
        }
        for (host, pid) in &booting {
            machine::wait_for_ssh(host, *pid, BOOT_TIMEOUT, &self.log_path(host))?;
            eprintln!("kubeboot lab: {} is up", host.name);
        }
        Ok(state.hosts.into_iter().filter(|h| h.index < count).collect())
    }

    /// Stop every host and remove namespaces, veths, bridge, NAT rules, host roots and state. With `purge`
    /// also the cached base image and the lab key.
    pub fn down(&self, purge: bool) -> Result<(), LabError> {
        require_root()?;
        let state = LabState::load(&self.state_path())?;
        for host in &state.hosts {
            self.remove_host(host)?;
        }
        registry::stop(&self.dir);
        el_repo::stop(&self.dir);
        offline::remove_input_rule()?;
        network::remove_bridge_and_nat(state.ip_forward_before.as_deref())?;
        for path in [self.state_path(), self.known_hosts(), self.dir.join("lab-inventory.yaml")] {
            let _ = std::fs::remove_file(path);
        }
        let _ = std::fs::remove_dir(self.dir.join("hosts"));
        if purge {
            image::remove_tree(&self.dir)?;
        }
        Ok(())
    }

    /// Stop the host and remove its network, root and files.
    fn remove_host(&self, host: &LabHost) -> Result<(), LabError> {
        machine::stop(self.pid(host), self.init_pid(host), host, STOP_GRACE);
        network::remove_host_network(host)?;
        image::remove_tree(&self.root(host))?;
        for path in [self.pid_path(host), self.init_pid_path(host), self.log_path(host)] {
            let _ = std::fs::remove_file(path);
        }
        Ok(())
    }

    fn ensure_key(&self) -> Result<String, LabError> {
        let key = self.private_key();
        if !key.exists() {
            sh::run(
                "ssh-keygen",
                &["-q", "-t", "ed25519", "-N", "", "-C", "kubeboot-lab", "-f", &key.to_string_lossy()],
            )?;
        }
        let public = format!("{}.pub", key.display());
        std::fs::read_to_string(&public).map_err(io(format!("reading {public}")))
    }

    /// The inventory for `hosts`: the lab-master* hosts are masters.
    pub fn inventory_text(&self, hosts: &[LabHost]) -> String {
        let mut text = format!(
            "# Written by `kubeboot lab up`: local lab hosts (systemd-nspawn + network namespaces).\n\
             cluster:\n  name: lab\n  pod_network_cidr: 10.244.0.0/16   # a private range, routed only inside the lab\n\
             \x20 service_cidr: 10.96.0.0/16       # ClusterIPs: private, never routed (rewritten on each node)\n\
             docker:\n  source: distro        # lab hosts use Debian's docker.io\n\
             \x20 registry_mirrors: [\"http://{registry}\"]   # the lab's own registry (kubetm/* stand-ins)\n\
             \x20 insecure_registries: [\"{registry}\"]\n\
             ssh:\n  user: root\n",
            registry = registry::address()
        );
        text.push_str(&format!("  private_key: {}\n", self.private_key().display()));
        text.push_str(&format!("  known_hosts_file: {}\n", self.known_hosts().display()));
        if hosts.iter().any(|h| h.flavor == Flavor::El) {
            text.push_str(&el_repo::inventory_vars());
        }
        text.push_str("hosts:\n");
        for h in hosts {
            let role = if is_master_name(&h.name) { "master" } else { "node" };
            let (docker, flavor) = match h.flavor {
                Flavor::Debian => ("", "debian"),
                // The walkthrough's pin, from the lab's docker-ce repository.
                Flavor::El => {
                    (", docker: { source: docker-ce, version: \"18.06.2.ce\" }", "el (Rocky Linux 9 userland stand-in)")
                }
            };
            text.push_str(&format!(
                "  - {{ name: {}, address: {}, role: {role}{docker} }}   # {flavor}\n",
                h.name, h.address
            ));
        }
        text
    }
}

impl Default for Lab {
    fn default() -> Self {
        Self::new()
    }
}

/// One master is lab-master (as it always was); several are lab-master1..M. Nodes are numbered after them
/// from 1.
fn host_name(index: u32, masters: u32) -> String {
    match (index < masters, masters) {
        (true, 1) => "lab-master".into(),
        (true, _) => format!("lab-master{}", index + 1),
        (false, _) => format!("lab-node{}", index + 1 - masters),
    }
}

fn is_master_name(name: &str) -> bool {
    name.starts_with("lab-master")
}

fn require_root() -> Result<(), LabError> {
    // The effective uid from /proc avoids a libc dependency for one call.
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid =
        status.lines().find_map(|l| l.strip_prefix("Uid:")).and_then(|l| l.split_whitespace().nth(1)).unwrap_or("");
    if euid == "0" {
        Ok(())
    } else {
        Err(LabError::NotRoot)
    }
}

/// A rebuilt host has new host keys: drop the old one from the lab's own known_hosts.
fn forget_host_key(known_hosts: &Path, address: &str) -> Result<(), LabError> {
    let Ok(text) = std::fs::read_to_string(known_hosts) else {
        return Ok(());
    };
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| l.split_whitespace().next().is_none_or(|hosts| !hosts.split(',').any(|h| h == address)))
        .collect();
    let mut out = kept.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    std::fs::write(known_hosts, out).map_err(io(format!("writing {}", known_hosts.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_master_keeps_its_old_name_several_are_numbered() {
        let names = |count, masters| (0..count).map(|i| host_name(i, masters)).collect::<Vec<_>>();
        assert_eq!(names(3, 1), ["lab-master", "lab-node1", "lab-node2"]);
        assert_eq!(names(5, 3), ["lab-master1", "lab-master2", "lab-master3", "lab-node1", "lab-node2"]);
        assert!(names(5, 3).iter().take(3).all(|n| is_master_name(n)));
        assert!(!is_master_name("lab-node1"));
    }
}
