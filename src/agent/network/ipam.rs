//! Pod addresses from the node's podCIDR, host-local style: one file per address in the state folder,
//! named by the address and holding the sandbox id, created with O_EXCL so two allocations never collide,
//! and surviving agent restarts (adopted pods keep their addresses). Addresses are handed out round-robin
//! from the last one given (as CNI's host-local does): an address just freed is not reused at once, since
//! the node's neighbour cache, conntrack and every proxy may still point it at the pod that had it.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use ipnet::Ipv4Net;

use super::NetworkError;

/// The file naming the address handed out last (CNI host-local's name for it).
const LAST_RESERVED: &str = "last_reserved_ip.0";

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
        let pool: Vec<Ipv4Addr> = self.cidr.hosts().skip(1).collect();
        let last =
            std::fs::read_to_string(self.dir.join(LAST_RESERVED)).ok().and_then(|l| l.trim().parse::<Ipv4Addr>().ok());
        let start = last.and_then(|l| pool.iter().position(|ip| *ip == l)).map_or(0, |i| i + 1);
        for ip in pool.iter().cycle().skip(start).take(pool.len()).copied() {
            let path = self.dir.join(ip.to_string());
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    use std::io::Write;
                    f.write_all(sandbox_id.as_bytes()).map_err(|e| error(e.to_string()))?;
                    // Only a hint for the next allocation: losing it costs nothing but reuse order.
                    let _ = std::fs::write(self.dir.join(LAST_RESERVED), ip.to_string());
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
        assert_eq!(ipam.allocate("c").unwrap().to_string(), "10.244.1.4", "a freed address is not reused at once");
        ipam.release_all_but(&["c".into()]);
        assert_eq!(ipam.address_of("b"), None);
        assert_eq!(ipam.address_of("c").unwrap().to_string(), "10.244.1.4");
    }

    #[test]
    fn allocation_wraps_around_to_freed_addresses() {
        let dir = tempfile::tempdir().unwrap();
        let ipam = Ipam::new(dir.path().join("ips"), "10.244.1.0/29".parse().unwrap());
        let all: Vec<String> = (0..5).map(|i| ipam.allocate(&format!("s{i}")).unwrap().to_string()).collect();
        assert_eq!(all.last().unwrap(), "10.244.1.6", "five pod addresses besides the gateway: {all:?}");
        assert!(ipam.allocate("full").is_err());
        ipam.release("s1");
        assert_eq!(ipam.allocate("again").unwrap().to_string(), "10.244.1.3", "wrapped round to the freed one");
    }
}
