//! The arithmetic of a Deployment rollout, as Kubernetes' deployment utilities: maxSurge/maxUnavailable
//! from an int or a percent (surge rounded up, unavailable down, never both zero), how far the new
//! ReplicaSet may grow and how far the old ones may shrink without going under replicas - maxUnavailable
//! available pods, and the pod-template-hash.

use serde_json::Value;

pub use crate::resources::int_or_percent::scaled_value;

/// (maxSurge, maxUnavailable) of a RollingUpdate strategy for `replicas`.
pub fn fenceposts(strategy: &Value, replicas: i64) -> (i64, i64) {
    let rolling = strategy.get("rollingUpdate");
    let surge = scaled_value(rolling.and_then(|r| r.get("maxSurge")), "25%", replicas, true);
    let unavailable = scaled_value(rolling.and_then(|r| r.get("maxUnavailable")), "25%", replicas, false);
    if surge == 0 && unavailable == 0 {
        return (0, 1);
    }
    (surge, unavailable)
}

/// How many replicas the new ReplicaSet should have now: up to replicas, never more than
/// replicas + maxSurge pods in all.
pub fn new_rs_replicas(replicas: i64, surge: i64, new_current: i64, all_current: i64) -> i64 {
    if new_current >= replicas {
        return replicas;
    }
    let room = (replicas + surge - all_current).max(0);
    new_current + room.min(replicas - new_current)
}

/// How many old replicas may go now so that at least replicas - maxUnavailable stay available, counting
/// the new ReplicaSet's not-yet-available pods as unavailable.
pub fn old_scale_down(
    replicas: i64,
    max_unavailable: i64,
    all_current: i64,
    new_current: i64,
    new_available: i64,
    old_available: i64,
) -> (i64, i64) {
    let min_available = replicas - max_unavailable;
    let new_unavailable = new_current - new_available;
    // First the old pods that are not available anyway (k8s' cleanupUnhealthyReplicas)...
    let unhealthy_budget = (all_current - min_available - new_unavailable).max(0);
    // ...then available ones, keeping min_available.
    let available_budget = (old_available + new_available - min_available).max(0);
    (unhealthy_budget, available_budget)
}

/// Kubernetes' hash of a pod template: FNV-1a (32 bit) of the template's JSON, written with the alphabet
/// of rand.SafeEncodeString (no vowels, no look-alike digits).
pub fn template_hash(template: &Value) -> String {
    let mut hash: u32 = 0x811c9dc5;
    for byte in serde_json::to_string(template).expect("json").bytes() {
        hash ^= byte as u32;
        hash = hash.wrapping_mul(0x01000193);
    }
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    hash.to_string().bytes().map(|b| ALPHABET[b as usize % ALPHABET.len()] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fenceposts_as_a_table() {
        // (maxSurge, maxUnavailable, replicas) -> (surge, unavailable)
        let table = [
            (None, None, 4, (1, 1)),
            (None, None, 10, (3, 2)),
            (None, None, 1, (1, 0)),
            (Some(json!(0)), Some(json!(0)), 3, (0, 1)),
            (Some(json!("50%")), Some(json!(2)), 5, (3, 2)),
            (Some(json!(1)), Some(json!("0%")), 3, (1, 0)),
            (Some(json!("0%")), Some(json!("10%")), 5, (0, 1)),
        ];
        for (surge, unavailable, replicas, expected) in table {
            let mut rolling = json!({});
            if let Some(s) = &surge {
                rolling["maxSurge"] = s.clone();
            }
            if let Some(u) = &unavailable {
                rolling["maxUnavailable"] = u.clone();
            }
            let strategy = json!({"type": "RollingUpdate", "rollingUpdate": rolling});
            assert_eq!(fenceposts(&strategy, replicas), expected, "{surge:?} {unavailable:?} of {replicas}");
        }
    }

    #[test]
    fn new_and_old_steps_as_a_table() {
        // replicas 4, surge 1: the new RS grows to fill the surge, never past replicas.
        assert_eq!(new_rs_replicas(4, 1, 0, 4), 1);
        assert_eq!(new_rs_replicas(4, 1, 1, 5), 1, "at replicas + surge: wait");
        assert_eq!(new_rs_replicas(4, 1, 1, 4), 2);
        assert_eq!(new_rs_replicas(4, 1, 3, 3), 4);
        assert_eq!(new_rs_replicas(4, 1, 6, 6), 4, "scaled down to replicas");
        // replicas 4, maxUnavailable 1; 5 pods: 4 old available, 1 new not yet available.
        assert_eq!(old_scale_down(4, 1, 5, 1, 0, 4), (1, 1));
        // The new pod became available: two old may go while 3 stay available.
        assert_eq!(old_scale_down(4, 1, 5, 1, 1, 4), (2, 2));
        // maxUnavailable 0 and nothing new available: nothing may go.
        assert_eq!(old_scale_down(4, 0, 5, 1, 0, 4), (0, 0));
    }

    #[test]
    fn template_hash_is_stable_and_safe() {
        let a = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "v1"}]}});
        let b = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "v2"}]}});
        assert_eq!(template_hash(&a), template_hash(&a.clone()));
        assert_ne!(template_hash(&a), template_hash(&b));
        assert!(template_hash(&a).chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)));
    }
}
