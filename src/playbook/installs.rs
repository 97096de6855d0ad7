//! What a playbook would install on a host with the given facts, worked out without touching it: the
//! package tasks' packages (with their pins) and the repositories they come from (`repo` tasks, and
//! templates written into the package manager's repository folder). `bundle create` collects exactly
//! these for an air-gapped site, and `up` with a bundle checks that the bundle holds them.

use std::collections::BTreeSet;

use super::context::{context, host_vars};
use super::model::{Playbook, PlaybookError};
use super::runner::{instantiate, items};
use crate::facts::SystemFacts;
use crate::inventory::{Host, Inventory};
use crate::render::Renderer;
use crate::tasks::{Module, WantedPackage};

/// A repository file a task would write, rendered for the host.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RepositoryFile {
    /// The file name in the package manager's folder (`docker-ce.repo`, `docker-ce.list`).
    pub file_name: String,
    pub text: String,
    /// The signing key the list names (apt): where to fetch it and the path the list expects it at.
    pub key: Option<(String, String)>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Installs {
    pub packages: BTreeSet<WantedPackage>,
    pub repositories: BTreeSet<RepositoryFile>,
}

/// Folders whose files are package repositories, on either family.
const REPOSITORY_FOLDERS: [&str; 2] = ["/etc/yum.repos.d/", "/etc/apt/sources.list.d/"];

pub fn installs(
    playbook: &Playbook,
    inventory: &Inventory,
    host: &Host,
    facts: &SystemFacts,
    renderer: &Renderer,
) -> Result<Installs, PlaybookError> {
    let vars = host_vars(inventory, host);
    let mut found = Installs::default();
    for play in playbook.plays.iter().filter(|p| p.hosts.matches(&host.name, host.role)) {
        for task in &play.tasks {
            for item in items(task) {
                let ctx = context(&vars, facts, item.as_ref());
                let fail = |message: String| PlaybookError { location: task.location.clone(), message };
                let Some(module) = instantiate(task, renderer, &ctx).map_err(fail)? else { continue };
                match module {
                    Module::Package(p) => found.packages.extend(p.installs()),
                    Module::Repo(r) => {
                        let text = renderer.render_template(&r.template, &ctx).map_err(|e| fail(e.to_string()))?;
                        let extension =
                            if facts.package_manager == crate::facts::PackageManager::Apt { "list" } else { "repo" };
                        found.repositories.insert(RepositoryFile {
                            file_name: format!("{}.{extension}", r.name),
                            text,
                            key: r.key_url.clone().zip(r.key_path.clone()),
                        });
                    }
                    Module::Template(t) if REPOSITORY_FOLDERS.iter().any(|f| t.dest.starts_with(f)) => {
                        let text = renderer.render_template(&t.src, &ctx).map_err(|e| fail(e.to_string()))?;
                        let file_name = t.dest.rsplit('/').next().unwrap_or(&t.dest).to_string();
                        found.repositories.insert(RepositoryFile { file_name, text, key: None });
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(fixture: &str) -> SystemFacts {
        crate::facts::parse_system_facts(&crate::facts::fixture(fixture)).unwrap()
    }

    fn lab_inventory(extra: &str) -> Inventory {
        let text = format!(
            "cluster: {{ name: lab, pod_network_cidr: 10.244.0.0/16, service_cidr: 10.96.0.0/16 }}\n\
             {extra}hosts:\n  - {{ name: m1, address: 10.88.0.10, role: master }}\n  \
             - {{ name: n1, address: 10.88.0.11, role: node, docker: {{ source: docker-ce, version: \"18.06.2.ce\" }} }}\n"
        );
        Inventory::parse(&text, std::path::Path::new("inv.yaml")).unwrap()
    }

    fn names(installs: &Installs) -> Vec<String> {
        installs
            .packages
            .iter()
            .map(|w| match &w.pin {
                Some(pin) => format!("{}={pin}", w.name),
                None => w.name.clone(),
            })
            .collect()
    }

    #[test]
    fn the_preparation_installs_docker_from_the_distribution_or_the_vendor_repository() {
        let inventory = lab_inventory("docker: { source: distro }\n");
        let playbook = super::super::loader::named("prepare.yaml", None).unwrap();
        let renderer = Renderer::new(None).unwrap();
        let debian = facts("debian12.txt");
        let master = installs(&playbook, &inventory, &inventory.hosts[0], &debian, &renderer).unwrap();
        assert_eq!(
            names(&master),
            ["bash-completion", "ca-certificates", "curl", "dmsetup", "docker.io", "gnupg", "lvm2"]
        );
        assert!(master.repositories.is_empty());

        let el = facts("rocky9.txt");
        let node = installs(&playbook, &inventory, &inventory.hosts[1], &el, &renderer).unwrap();
        assert_eq!(
            names(&node),
            ["bash-completion", "device-mapper-persistent-data", "docker-ce=18.06.2.ce", "lvm2", "yum-utils"]
        );
        let repos: Vec<&str> = node.repositories.iter().map(|r| r.file_name.as_str()).collect();
        assert_eq!(repos, ["docker-ce.repo"]);
        assert!(node.repositories.iter().next().unwrap().text.contains("download.docker.com"));
    }
}
