//! Pod addresses from the node's podCIDR, host-local style: one file per address in the state folder,
//! named by the address and holding the sandbox id, created with O_EXCL so two allocations never collide,
//! and surviving agent restarts (adopted pods keep their addresses).

use std::net::Ipv4Addr;
use std::path::PathBuf;

use ipnet::Ipv4Net;

use super::NetworkError;

pub struct Ipam {
    dir: PathBuf,
    cidr: Ipv4Net,
}

fn error(message: String) -> NetworkError {
    NetworkError::Command { command: "pod address allocation".into(), message }
}

impl Ipam {
    pub fn new(dir: PathBuf, cidr: Ipv4Net) -> Self {
        Ipam { dir, cidr }
    }

    fn held(&self) -> Vec<(Ipv4Addr, String)> {
        std::fs::read_dir(&self.dir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter_map(|e| {
                        let ip = e.file_name().to_string_lossy().parse().ok()?;
                        Some((ip, std::fs::read_to_string(e.path()).ok()?.trim().to_string()))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn allocate(&self, sandbox_id: &str) -> Result<Ipv4Addr, NetworkError> {
        if let Some(ip) = self.address_of(sandbox_id) {
            return Ok(ip);
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| error(e.to_string()))?;
        // The first host address is the bridge's (the pods' gateway).
        for ip in self.cidr.hosts().skip(1) {
            let path = self.dir.join(ip.to_string());
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    use std::io::Write;
                    f.write_all(sandbox_id.as_bytes()).map_err(|e| error(e.to_string()))?;
                    return Ok(ip);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(error(e.to_string())),
            }
        }
        Err(error(format!("no free address left in {}", self.cidr)))
    }

    pub fn address_of(&self, sandbox_id: &str) -> Option<Ipv4Addr> {
        self.held().into_iter().find(|(_, id)| id == sandbox_id).map(|(ip, _)| ip)
    }

    pub fn release(&self, sandbox_id: &str) {
        for (ip, id) in self.held() {
            if id == sandbox_id {
                let _ = std::fs::remove_file(self.dir.join(ip.to_string()));
            }
        }
    }

    pub fn release_all_but(&self, live: &[String]) {
        for (ip, id) in self.held() {
            if !live.contains(&id) {
                let _ = std::fs::remove_file(self.dir.join(ip.to_string()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocates_skips_the_gateway_and_releases() {
        let dir = tempfile::tempdir().unwrap();
        let ipam = Ipam::new(dir.path().join("ips"), "10.244.1.0/24".parse().unwrap());
        assert_eq!(ipam.allocate("a").unwrap().to_string(), "10.244.1.2");
        assert_eq!(ipam.allocate("b").unwrap().to_string(), "10.244.1.3");
        assert_eq!(ipam.allocate("a").unwrap().to_string(), "10.244.1.2", "same sandbox, same address");
        ipam.release("a");
        assert_eq!(ipam.allocate("c").unwrap().to_string(), "10.244.1.2");
        ipam.release_all_but(&["c".into()]);
        assert_eq!(ipam.address_of("b"), None);
        assert_eq!(ipam.address_of("c").unwrap().to_string(), "10.244.1.2");
    }
}
