//! kube-scheduler's scores as plain functions: spread pods of the same owner over nodes first, then prefer
//! the least requested node (requests counted with kube-scheduler's non-zero defaults, so pods without
//! requests spread too).

use serde_json::Value;

use crate::resources::pod::{controller_uid, requests_for_scoring};
use crate::resources::quantity::{cpu_millis, units};

/// Higher is better.
pub fn score(pod: &Value, node: &Value, pods: &[&Value]) -> (i64, i64) {
    let owner = controller_uid(pod);
    let same_owner = owner.map_or(0, |o| pods.iter().filter(|p| controller_uid(p) == Some(o)).count()) as i64;
    let alloc = |r: &str, parse: fn(&str) -> Option<u64>| {
        node.pointer(&format!("/status/allocatable/{r}"))
            .and_then(crate::resources::pod::quantity_text)
            .and_then(|t| parse(&t))
            .unwrap_or(0)
    };
    let (cpu, memory) = (alloc("cpu", cpu_millis), alloc("memory", units));
    let mut used_cpu = requests_for_scoring(pod).cpu_millis;
    let mut used_memory = requests_for_scoring(pod).memory;
    for p in pods {
        let r = requests_for_scoring(p);
        used_cpu += r.cpu_millis;
        used_memory += r.memory;
    }
    let free = |used: u64, total: u64| (total.saturating_sub(used) * 100).checked_div(total).unwrap_or(0) as i64;
    let least_requested = (free(used_cpu, cpu) + free(used_memory, memory)) / 2;
    (-same_owner, least_requested)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn spreads_owners_then_prefers_the_emptier_node() {
        let node = json!({"status": {"allocatable": {"cpu": "2", "memory": "2Gi"}}});
        let owned = |uid: &str| json!({"metadata": {"ownerReferences": [{"controller": true, "uid": uid}]}, "spec": {"containers": [{}]}});
        let (a, b) = (owned("rs-a"), owned("rs-b"));
        assert!(score(&a, &node, &[&b]) > score(&a, &node, &[&a]), "a node without a sibling wins");
        assert!(score(&b, &node, &[]) > score(&b, &node, &[&a]), "an emptier node wins");
        assert_eq!(score(&b, &node, &[]).1, 92, "(95 + 90) / 2 with 100m and 200Mi counted");
    }
}
