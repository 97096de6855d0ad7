//! kube-scheduler's scores as plain functions: spread pods of the same owner over nodes first, then prefer
//! the least requested node (requests counted with kube-scheduler's non-zero defaults, so pods without
//! requests spread too).

use std::sync::Arc;

use super::facts::{NodeFacts, PodLoad};

/// Higher is better. `pod`'s and the bound pods' loads are read beforehand (facts.rs).
pub fn score_for(pod: &PodLoad, facts: &NodeFacts, pods: &[Arc<PodLoad>]) -> (i64, i64) {
    let same_owner =
        pod.owner.as_ref().map_or(0, |o| pods.iter().filter(|p| p.owner.as_ref() == Some(o)).count()) as i64;
    let (cpu, memory) = (facts.allocatable_cpu_millis.unwrap_or(0), facts.allocatable_memory.unwrap_or(0));
    let mut used_cpu = pod.scoring.cpu_millis;
    let mut used_memory = pod.scoring.memory;
    for p in pods {
        used_cpu += p.scoring.cpu_millis;
        used_memory += p.scoring.memory;
    }
    let free = |used: u64, total: u64| (total.saturating_sub(used) * 100).checked_div(total).unwrap_or(0) as i64;
    let least_requested = (free(used_cpu, cpu) + free(used_memory, memory)) / 2;
    (-same_owner, least_requested)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// score_for of JSON objects.
    fn score(pod: &Value, facts: &NodeFacts, pods: &[&Value]) -> (i64, i64) {
        let loads: Vec<Arc<PodLoad>> = pods.iter().map(|p| Arc::new(PodLoad::of(p))).collect();
        score_for(&PodLoad::of(pod), facts, &loads)
    }

    #[test]
    fn spreads_owners_then_prefers_the_emptier_node() {
        let node = json!({"status": {"allocatable": {"cpu": "2", "memory": "2Gi"}}});
        let facts = NodeFacts::of(&node);
        let owned = |uid: &str| json!({"metadata": {"ownerReferences": [{"controller": true, "uid": uid}]}, "spec": {"containers": [{}]}});
        let (a, b) = (owned("rs-a"), owned("rs-b"));
        assert!(score(&a, &facts, &[&b]) > score(&a, &facts, &[&a]), "a node without a sibling wins");
        assert!(score(&b, &facts, &[]) > score(&b, &facts, &[&a]), "an emptier node wins");
        assert_eq!(score(&b, &facts, &[]).1, 92, "(95 + 90) / 2 with 100m and 200Mi counted");
    }
}
