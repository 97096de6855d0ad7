//! A cap on concurrent watches per identity (issue 14): a watch holds a task and a subscription to the
//! live feed for up to an hour, so one client (a bad script, a stolen node certificate) opening thousands
//! would wear the server down for everyone. Past the cap a new watch is answered 429 with Retry-After,
//! as kube-apiserver's priority and fairness answers an overloaded flow; a watch that ends frees its slot.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;

use super::identity::Identity;
use super::status::status;

/// Enough for an agent (its pods, the Nodes, Services and EndpointSlices, and one watch per configMap,
/// secret, claim and volume its pods use: kubelet's watch strategy, for up to 110 pods), a
/// controller-heavy client or a user's many `kubectl get -w`.
pub const MAX_WATCHES_PER_IDENTITY: usize = 250;

#[derive(Default)]
pub struct WatchQuota {
    active: Mutex<HashMap<String, usize>>,
}

/// One watch's place in the quota, given back when dropped (when the watch's task ends).
pub struct WatchSlot {
    quota: Arc<WatchQuota>,
    who: String,
}

impl Drop for WatchSlot {
    fn drop(&mut self) {
        let mut active = self.quota.active.lock().expect("not poisoned");
        if let Some(n) = active.get_mut(&self.who) {
            *n -= 1;
            if *n == 0 {
                active.remove(&self.who);
            }
        }
    }
}

/// One identity holds as many watches as it may.
#[derive(Debug, thiserror::Error)]
#[error("too many concurrent watches for {who:?} (at most {MAX_WATCHES_PER_IDENTITY}); close some and retry")]
pub struct TooManyWatches {
    who: String,
}

impl TooManyWatches {
    /// 429 with Retry-After, as kube-apiserver answers a client it sheds.
    pub fn response(&self) -> Response {
        let mut answer = status(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests", self.to_string());
        answer.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        answer
    }
}

impl WatchQuota {
    /// A slot for one more watch of `identity`.
    pub fn take(self: &Arc<Self>, identity: &Identity) -> Result<WatchSlot, TooManyWatches> {
        let who = identity.user_name();
        let mut active = self.active.lock().expect("not poisoned");
        let count = active.entry(who.clone()).or_default();
        if *count >= MAX_WATCHES_PER_IDENTITY {
            return Err(TooManyWatches { who });
        }
        *count += 1;
        Ok(WatchSlot { quota: self.clone(), who })
    }

    pub fn active(&self, identity: &Identity) -> usize {
        self.active.lock().expect("not poisoned").get(&identity.user_name()).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_counted_per_identity_and_given_back() {
        let quota = Arc::new(WatchQuota::default());
        let node = Identity::Node { name: "n1".into() };
        let admin = Identity::Admin { user: "kubernetes-admin".into() };
        let held: Vec<WatchSlot> = (0..MAX_WATCHES_PER_IDENTITY).map(|_| quota.take(&node).ok().unwrap()).collect();
        let refused = quota.take(&node).err().expect("over the cap").response();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.headers()[header::RETRY_AFTER], "1");
        assert!(quota.take(&admin).is_ok(), "another identity is not affected");
        drop(held);
        assert_eq!(quota.active(&node), 0);
        assert!(quota.take(&node).is_ok());
    }
}
