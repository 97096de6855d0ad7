//! Checks that need more than one value: duplicates, a master, files that must exist, env var names.
//! Each problem is placed at the value it is about with the `Locator`.

use std::collections::HashMap;
use std::path::Path;

use super::error::Problem;
use super::resolve::expand_path;
use super::spec::{check_address, check_name, check_port, parse_cidr, parse_endpoint, InventoryFile, Role, SshSpec};
use crate::yaml::locate::Locator;

pub fn check(file: &InventoryFile, locator: &Locator, base_dir: &Path) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut at = |path: &str, message: String| {
        let pos = locator.find(path);
        problems.push(Problem { line: pos.line, column: pos.column, message: format!("{path}: {message}") });
    };

    if let Err(m) = check_name(&file.cluster.name) {
        at("cluster.name", m);
    }
    if let Some(airgap) = &file.airgap {
        let resolved = expand_path(&airgap.bundle, base_dir);
        if !resolved.is_file() {
            at(
                "airgap.bundle",
                format!("bundle file {} does not exist (make it with `kubeboot bundle create`)", resolved.display()),
            );
        }
    }
    if let Some(Err(m)) = file.cluster.pod_network_cidr.as_deref().map(parse_cidr) {
        at("cluster.pod_network_cidr", m);
    }
    if let Some(Err(m)) = file.cluster.service_cidr.as_deref().map(super::spec::parse_service_cidr) {
        at("cluster.service_cidr", m);
    }
    if let Some(Err(m)) = file.cluster.pod_eviction_timeout.as_deref().map(super::spec::parse_eviction_timeout) {
        at("cluster.pod_eviction_timeout", m);
    }
    if let Some(Err(m)) = file.cluster.certificate_validity.as_deref().map(super::spec::parse_certificate_validity) {
        at("cluster.certificate_validity", m);
    }
    if let Some(Err(m)) = file.cluster.snapshot_interval.as_deref().map(super::spec::parse_snapshot_interval) {
        at("cluster.snapshot_interval", m);
    }
    if let Some(Err(m)) = file.cluster.snapshot_retention.map(super::spec::check_snapshot_retention) {
        at("cluster.snapshot_retention", m);
    }
    if let Some(Err(m)) = file.cluster.control_plane_endpoint.as_deref().map(parse_endpoint) {
        at("cluster.control_plane_endpoint", m);
    }
    for (i, host) in file.hosts.iter().enumerate() {
        if let Err(m) = check_name(&host.name) {
            at(&format!("hosts[{i}].name"), m);
        }
        if let Err(m) = check_address(&host.address) {
            at(&format!("hosts[{i}].address"), m);
        }
    }

    if file.hosts.is_empty() {
        at("hosts", "no hosts: list at least one host with role master".into());
    } else if !file.hosts.iter().any(|h| h.role == Role::Master) {
        at("hosts", "no host has role master: at least one master is needed to run the control plane".into());
    }

    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut addresses: HashMap<(String, u16), usize> = HashMap::new();
    for (i, host) in file.hosts.iter().enumerate() {
        if let Some(first) = names.insert(&host.name, i) {
            names.insert(&host.name, first);
            let line = locator.find(&format!("hosts[{first}].name")).line;
            at(&format!("hosts[{i}].name"), format!("duplicate host name {:?} (first at line {line})", host.name));
        }
        let port = host.ssh.port.or(file.ssh.port).unwrap_or(22);
        let key = (host.address.to_ascii_lowercase(), port);
        if let Some(first) = addresses.get(&key) {
            let line = locator.find(&format!("hosts[{first}].address")).line;
            at(
                &format!("hosts[{i}].address"),
                format!(
                    "duplicate address {}:{port} (also host {:?}, line {line})",
                    host.address, file.hosts[*first].name
                ),
            );
        } else {
            addresses.insert(key, i);
        }
    }

    let mut ssh_specs: Vec<(String, &SshSpec)> = vec![("ssh".to_string(), &file.ssh)];
    for (i, host) in file.hosts.iter().enumerate() {
        ssh_specs.push((format!("hosts[{i}].ssh"), &host.ssh));
    }
    for (prefix, ssh) in ssh_specs {
        if let Some(user) = &ssh.user {
            if user.is_empty() || user.contains(|c: char| c.is_whitespace() || c == ':' || c == '/') {
                at(&format!("{prefix}.user"), format!("{user:?} is not a valid user name"));
            }
        }
        for (key, secret) in [("password", &ssh.password), ("become_password", &ssh.become_password)] {
            if secret.is_some() {
                at(
                    &format!("{prefix}.{key}"),
                    format!("secrets are never read from the inventory: put it in an environment variable and name that with {key}_env"),
                );
            }
        }
        let ports = [
            (format!("{prefix}.port"), ssh.port),
            (format!("{prefix}.bastion.port"), ssh.bastion.as_ref().and_then(|b| b.port)),
        ];
        for (path, port) in ports {
            if let Some(Err(m)) = port.map(check_port) {
                at(&path, m);
            }
        }
        if let Some(Err(m)) = ssh.bastion.as_ref().map(|b| check_address(&b.address)) {
            at(&format!("{prefix}.bastion.address"), m);
        }
        if ssh.connect_timeout == Some(0) {
            at(&format!("{prefix}.connect_timeout"), "must be at least 1 (seconds)".into());
        }
        for (key, value) in [
            ("passphrase_env", &ssh.passphrase_env),
            ("password_env", &ssh.password_env),
            ("become_password_env", &ssh.become_password_env),
        ] {
            if let Some(name) = value {
                if !is_env_name(name) {
                    at(&format!("{prefix}.{key}"), format!("{name:?} is not an environment variable name"));
                }
            }
        }
        let keys = [
            (format!("{prefix}.private_key"), ssh.private_key.as_ref()),
            (format!("{prefix}.bastion.private_key"), ssh.bastion.as_ref().and_then(|b| b.private_key.as_ref())),
        ];
        for (path, key) in keys {
            if let Some(key) = key {
                let resolved = expand_path(key, base_dir);
                if !resolved.is_file() {
                    at(&path, format!("private key file {} does not exist", resolved.display()));
                }
            }
        }
    }
    problems
}

fn is_env_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
