//! Leader election through a Lease (kube-system/kube-controller-manager), as client-go's leaderelection:
//! a candidate takes the Lease when it is free or its holder has not renewed it within leaseDurationSeconds
//! (judged on this process's clock, from when it last saw the record change, never from the holder's
//! timestamps), the leader renews every RETRY_PERIOD, and a leader that cannot renew within the renew
//! deadline stops leading, before any candidate may take over. Writes are conditional on the
//! resourceVersion read, so two candidates never both win.
//!
//! The periods are shorter than kube-controller-manager's (15 s / 10 s / 2 s) so that the controllers act
//! again within about 3 s of their master's power cut; the price is two Lease writes a second, which the
//! store takes in its stride. The renew deadline still leaves etcd's own leader election (about 1-2 s
//! after a member dies) room before a healthy leader would give up.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::local_api::LocalApi;
use crate::control_plane::registry::{Part, RegistryError};
use crate::resources::meta;

pub const LEASE_NAME: &str = "kube-controller-manager";
pub const LEASE_DURATION: Duration = Duration::from_secs(3);
pub const RENEW_DEADLINE: Duration = Duration::from_millis(2500);
pub const RETRY_PERIOD: Duration = Duration::from_millis(500);

pub struct LeaderElection {
    api: LocalApi,
    /// This candidate: host name and a random suffix, as kube-controller-manager's id.
    pub identity: String,
    /// The record as last seen (holder, renewTime) and when it was first seen so (our clock).
    observed: Option<(String, Instant)>,
}

fn leases() -> &'static crate::resources::kinds::ResourceKind {
    crate::resources::kinds::find("coordination.k8s.io", "v1", "leases").expect("leases are served")
}

fn micro_time() -> String {
    let now = time::OffsetDateTime::now_utc();
    let micros = now.microsecond();
    format!("{}.{micros:06}Z", meta::rfc3339(now).trim_end_matches('Z'))
}

impl LeaderElection {
    pub fn new(api: LocalApi, identity: String) -> Self {
        LeaderElection { api, identity, observed: None }
    }

    /// One attempt to take or keep the Lease. Ok(true) = we hold it now.
    pub async fn try_acquire_or_renew(&mut self) -> Result<bool, RegistryError> {
        let now = micro_time();
        let current = match self.api.get(leases(), Some("kube-system"), LEASE_NAME).await {
            Ok(lease) => lease,
            Err(e) if e.is_not_found() => {
                let lease = json!({
                    "apiVersion": "coordination.k8s.io/v1",
                    "kind": "Lease",
                    "metadata": {"name": LEASE_NAME, "namespace": "kube-system"},
                    "spec": {
                        "holderIdentity": self.identity,
                        "leaseDurationSeconds": LEASE_DURATION.as_secs(),
                        "acquireTime": now,
                        "renewTime": now,
                        "leaseTransitions": 0,
                    },
                });
                return match self.api.create(leases(), &lease).await {
                    Ok(_) => Ok(true),
                    Err(e) if e.already_exists() => Ok(false),
                    Err(e) => Err(e),
                };
            }
            Err(e) => return Err(e),
        };
        let spec = &current["spec"];
        let holder = spec["holderIdentity"].as_str().unwrap_or("").to_string();
        let record = format!("{holder}/{}", spec["renewTime"].as_str().unwrap_or(""));
        let seen_at = match &self.observed {
            Some((r, at)) if *r == record => *at,
            _ => {
                self.observed = Some((record, Instant::now()));
                Instant::now()
            }
        };
        let ours = holder == self.identity;
        let duration = spec["leaseDurationSeconds"].as_u64().map(Duration::from_secs).unwrap_or(LEASE_DURATION);
        if !ours && !holder.is_empty() && seen_at.elapsed() < duration {
            return Ok(false);
        }
        let mut lease: Value = current.clone();
        lease["spec"]["holderIdentity"] = json!(self.identity);
        lease["spec"]["leaseDurationSeconds"] = json!(LEASE_DURATION.as_secs());
        lease["spec"]["renewTime"] = json!(now);
        if !ours {
            lease["spec"]["acquireTime"] = json!(now);
            lease["spec"]["leaseTransitions"] = json!(spec["leaseTransitions"].as_u64().unwrap_or(0) + 1);
        }
        match self.api.update(leases(), &lease, Part::Object).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_conflict() => Ok(false),
            Err(e) => Err(e),
        }
    }
}
