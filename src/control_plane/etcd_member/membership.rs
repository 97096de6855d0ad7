//! The etcd cluster's membership, through its v3 API: who is a member, adding this master's member (once,
//! and again only in place of a stale entry), removing one.

use std::time::{Duration, Instant};

use etcd_client::Client;

use super::EtcdMemberError;
use crate::control_plane::store::EtcdTls;

/// How long a membership change may wait for etcd to call the cluster ready for it (etcd refuses one
/// until the members have been connected for a few seconds, so that a change never costs the quorum; a
/// cluster that lost its quorum stays unready, and the change fails then).
const CHANGE_PATIENCE: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberInfo {
    pub id: u64,
    /// Empty while the member was added but has not started yet.
    pub name: String,
    pub peer_urls: Vec<String>,
    pub client_urls: Vec<String>,
}

impl MemberInfo {
    pub fn started(&self) -> bool {
        !self.name.is_empty()
    }
}

/// What making a member of `name` at `peer_url` takes, given the membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// It is a member and this host has its data: just (re)start it.
    Member,
    /// It was added and never started (a run died in between): start it with the membership as it is.
    Reuse,
    /// An entry of an earlier life of this master (its data is gone: reset, rebuilt host) or of its name at
    /// another address: remove that entry, then add.
    ReplaceStale(u64),
    Add,
}

pub fn decide(members: &[MemberInfo], name: &str, peer_url: &str, has_data: bool) -> Decision {
    match members.iter().find(|m| m.peer_urls.iter().any(|u| u == peer_url)) {
        Some(m) if !m.started() => Decision::Reuse,
        Some(_) if has_data => Decision::Member,
        Some(m) => Decision::ReplaceStale(m.id),
        None => match members.iter().find(|m| m.name == name) {
            Some(m) => Decision::ReplaceStale(m.id),
            None => Decision::Add,
        },
    }
}

/// etcd's --initial-cluster for the first start of `name` at `peer_url` (a member not started yet has no
/// name in the list: it is this one).
pub fn initial_cluster(members: &[MemberInfo], name: &str, peer_url: &str) -> String {
    let mut parts = Vec::new();
    for m in members {
        let mine = m.peer_urls.iter().any(|u| u == peer_url);
        let member_name = if mine { name } else { m.name.as_str() };
        for url in &m.peer_urls {
            parts.push(format!("{member_name}={url}"));
        }
    }
    parts.join(",")
}

pub struct Membership {
    client: Client,
    endpoints: String,
}

impl Membership {
    pub async fn connect(endpoints: &[String], tls: &EtcdTls) -> Result<Self, EtcdMemberError> {
        let options = crate::control_plane::store::etcd_connect_options(Some(tls));
        let joined = endpoints.join(",");
        let client = Client::connect(endpoints, Some(options))
            .await
            .map_err(|e| EtcdMemberError::Unreachable { endpoints: joined.clone(), message: e.to_string() })?;
        Ok(Membership { client, endpoints: joined })
    }

    pub async fn list(&mut self) -> Result<Vec<MemberInfo>, EtcdMemberError> {
        let answer = self
            .client
            .member_list()
            .await
            .map_err(|e| EtcdMemberError::Unreachable { endpoints: self.endpoints.clone(), message: e.to_string() })?;
        Ok(answer.members().iter().map(info).collect())
    }

    /// Make `name` at `peer_url` a member. Returns the --initial-cluster for its first start, or None when
    /// it is a member already and this host has its data (`has_data`).
    pub async fn ensure_member(
        &mut self,
        name: &str,
        peer_url: &str,
        has_data: bool,
    ) -> Result<Option<String>, EtcdMemberError> {
        let members = self.list().await?;
        match decide(&members, name, peer_url, has_data) {
            Decision::Member => return Ok(None),
            Decision::Reuse => return Ok(Some(initial_cluster(&members, name, peer_url))),
            Decision::ReplaceStale(id) => self.remove(id).await?,
            Decision::Add => {}
        }
        let client = self.client.clone();
        change(&format!("adding {name} ({peer_url})"), || {
            let mut client = client.clone();
            async move { client.member_add([peer_url], None).await.map(|_| ()) }
        })
        .await?;
        Ok(Some(initial_cluster(&self.list().await?, name, peer_url)))
    }

    /// Remove member `id` (etcd's ids are shown in hex).
    pub async fn remove(&mut self, id: u64) -> Result<(), EtcdMemberError> {
        let client = self.client.clone();
        change(&format!("removing member {id:x}"), || {
            let mut client = client.clone();
            async move { client.member_remove(id).await.map(|_| ()) }
        })
        .await
    }

    /// Take the member at `peer_url` out if it never started (a join that failed). Whether it was.
    pub async fn withdraw_unstarted(&mut self, peer_url: &str) -> Result<bool, EtcdMemberError> {
        let members = self.list().await?;
        match members.iter().find(|m| m.peer_urls.iter().any(|u| u == peer_url)) {
            Some(m) if !m.started() => self.remove(m.id).await.map(|_| true),
            _ => Ok(false),
        }
    }

    /// The id of the member this client is connected to (with one endpoint: that member).
    pub async fn own_id(&mut self) -> Result<u64, EtcdMemberError> {
        let status = self
            .client
            .status()
            .await
            .map_err(|e| EtcdMemberError::Unreachable { endpoints: self.endpoints.clone(), message: e.to_string() })?;
        Ok(status.header().map_or(0, |h| h.member_id()))
    }
}

/// A membership change, sent again while etcd answers "unhealthy cluster" (a member connected moments
/// ago, or one is down: etcd refuses until the change is safe), for at most CHANGE_PATIENCE.
async fn change<F, Fut>(what: &str, mut send: F) -> Result<(), EtcdMemberError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), etcd_client::Error>>,
{
    let deadline = Instant::now() + CHANGE_PATIENCE;
    loop {
        match send().await {
            Ok(()) => return Ok(()),
            Err(e) if e.to_string().contains("unhealthy cluster") && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => return Err(EtcdMemberError::Membership { what: what.into(), message: e.to_string() }),
        }
    }
}

fn info(m: &etcd_client::Member) -> MemberInfo {
    MemberInfo {
        id: m.id(),
        name: m.name().to_string(),
        peer_urls: m.peer_urls().to_vec(),
        client_urls: m.client_urls().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: u64, name: &str, peer: &str) -> MemberInfo {
        MemberInfo { id, name: name.into(), peer_urls: vec![peer.into()], client_urls: vec![] }
    }

    #[test]
    fn a_member_is_added_once_and_a_stale_one_replaced() {
        let m1 = member(1, "m1", "https://10.0.0.1:2380");
        let peer2 = "https://10.0.0.2:2380";
        assert_eq!(decide(std::slice::from_ref(&m1), "m2", peer2, false), Decision::Add);
        assert_eq!(decide(&[m1.clone(), member(2, "", peer2)], "m2", peer2, false), Decision::Reuse);
        assert_eq!(decide(&[m1.clone(), member(2, "m2", peer2)], "m2", peer2, true), Decision::Member);
        // Reset (data gone) or rebuilt: its old entry goes first.
        assert_eq!(decide(&[m1.clone(), member(2, "m2", peer2)], "m2", peer2, false), Decision::ReplaceStale(2));
        // The same name at another address.
        let moved = member(3, "m2", "https://10.0.0.9:2380");
        assert_eq!(decide(&[m1, moved], "m2", peer2, false), Decision::ReplaceStale(3));
    }

    #[test]
    fn the_initial_cluster_names_the_new_member() {
        let members = [member(1, "m1", "https://10.0.0.1:2380"), member(2, "", "https://10.0.0.2:2380")];
        assert_eq!(
            initial_cluster(&members, "m2", "https://10.0.0.2:2380"),
            "m1=https://10.0.0.1:2380,m2=https://10.0.0.2:2380"
        );
    }
}
