//! The API servers a client may use: the kubeconfig's, then the live masters an agent learnt from the
//! `kubernetes` Service's endpoints (k3s's and RKE2's agents keep such a list). A request goes to the one
//! that answered last; when it cannot be reached, the others are tried in turn. The clients of one process
//! share one list, so a failover one of them found serves them all.

use std::sync::{Arc, RwLock};

use super::ClientError;

#[derive(Clone)]
pub struct Servers(Arc<RwLock<List>>);

struct List {
    /// https://HOST:PORT each; the kubeconfig's first, and always kept.
    all: Vec<String>,
    /// The one that answered last.
    current: usize,
}

impl Servers {
    pub fn one(server: String) -> Self {
        Servers(Arc::new(RwLock::new(List { all: vec![server], current: 0 })))
    }

    /// The one that answered last.
    pub fn current(&self) -> String {
        let list = self.0.read().expect("servers");
        list.all[list.current].clone()
    }

    /// Every server, the current one first: (its place, its URL).
    pub(super) fn in_order(&self) -> Vec<(usize, String)> {
        let list = self.0.read().expect("servers");
        let n = list.all.len();
        (0..n).map(|i| (list.current + i) % n).map(|i| (i, list.all[i].clone())).collect()
    }

    /// `place` answered: requests go there from now on.
    pub(super) fn answered(&self, place: usize, server: &str) {
        let mut list = self.0.write().expect("servers");
        if list.all.get(place).is_some_and(|s| s == server) {
            list.current = place;
        }
    }

    /// The live masters are `masters` (https://HOST:PORT): they follow the kubeconfig's server, which stays
    /// (it may be a name or an address in front of them all); the current one stays current.
    pub fn learn(&self, masters: &[String]) {
        let mut list = self.0.write().expect("servers");
        let current = list.all[list.current].clone();
        let mut all = vec![list.all[0].clone()];
        for m in masters {
            if !all.contains(m) {
                all.push(m.clone());
            }
        }
        if all == list.all {
            return;
        }
        list.current = all.iter().position(|s| *s == current).unwrap_or(0);
        list.all = all;
    }
}

/// HOST and PORT of an https://HOST:PORT URL (443 when it names none).
pub fn host_and_port(server: &str) -> Result<(String, u16), ClientError> {
    let rest = server.strip_prefix("https://").ok_or_else(|| ClientError::Url(server.into()))?.trim_end_matches('/');
    match rest.rsplit_once(':').filter(|(h, _)| !h.is_empty() && (!h.starts_with('[') || h.ends_with(']'))) {
        Some((h, p)) => Ok((
            h.trim_start_matches('[').trim_end_matches(']').to_string(),
            p.parse().map_err(|_| ClientError::Url(server.into()))?,
        )),
        None => Ok((rest.trim_start_matches('[').trim_end_matches(']').to_string(), 443)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kubeconfigs_server_stays_first_and_the_current_one_current() {
        let servers = Servers::one("https://api.lab:6443".into());
        servers.learn(&["https://10.0.0.1:6443".into(), "https://10.0.0.2:6443".into()]);
        let order: Vec<String> = servers.in_order().into_iter().map(|(_, s)| s).collect();
        assert_eq!(order, ["https://api.lab:6443", "https://10.0.0.1:6443", "https://10.0.0.2:6443"]);
        servers.answered(2, "https://10.0.0.2:6443");
        assert_eq!(servers.current(), "https://10.0.0.2:6443");
        // 10.0.0.1 is gone: the current one stays current, at its new place.
        servers.learn(&["https://10.0.0.2:6443".into()]);
        let order: Vec<String> = servers.in_order().into_iter().map(|(_, s)| s).collect();
        assert_eq!(order, ["https://10.0.0.2:6443", "https://api.lab:6443"]);
        assert_eq!(host_and_port("https://[fd00::1]:6443").unwrap(), ("fd00::1".into(), 6443));
        assert_eq!(host_and_port("https://api.lab").unwrap(), ("api.lab".into(), 443));
    }
}
