//! kube-scheduler's VolumeBinding plugin, reduced to what kubeboot serves: a pod's claims must exist; a
//! bound claim's volume must allow the node (a `local` or provisioned volume pins its pods); an unbound
//! claim of an Immediate class makes the pod wait; an unbound claim of a WaitForFirstConsumer class is
//! satisfied on a node where a free volume fits it or its class has a provisioner. Once a node is chosen,
//! such claims get the selected-node annotation and the pod is bound only when they are (the binder and
//! the provisioner act on the annotation; their writes wake the scheduler again).

use std::collections::HashMap;

use serde_json::Value;

use super::filters::Misfit;
use crate::control_plane::runtime::Cache;
use crate::resources::kinds;
use crate::resources::storage::{best_match, claim_class, node_allows, pod_claims, waits_for_consumer, SELECTED_NODE};

/// The claims, volumes and classes of the cluster, as the scheduler's cache holds them.
#[derive(Default)]
pub struct Volumes {
    claims: HashMap<String, Value>,
    volumes: HashMap<String, Value>,
    classes: HashMap<String, Value>,
}

fn all<'a>(cache: &'a Cache, group: &str, plural: &str) -> impl Iterator<Item = Value> + 'a {
    cache.list(kinds::served(group, plural), None).map(|o| (**o).clone())
}

fn name(o: &Value) -> String {
    o.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string()
}

/// One of a pod's claims, as the node filter needs it.
pub enum Claim<'a> {
    Bound(&'a Value),
    /// Named its volume, but the binder has not marked it Bound yet: the pod waits a moment, so its node's
    /// agent finds the claim ready at the first try.
    Binding(&'a Value),
    /// Unbound, of a WaitForFirstConsumer class (the class given).
    Delayed(&'a Value, &'a Value),
}

impl Volumes {
    pub fn from_cache(cache: &Cache) -> Volumes {
        let mut v = Volumes::default();
        for claim in all(cache, "", "persistentvolumeclaims") {
            let ns = claim.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("").to_string();
            v.claims.insert(format!("{ns}/{}", name(&claim)), claim);
        }
        v.volumes = all(cache, "", "persistentvolumes").map(|o| (name(&o), o)).collect();
        v.classes = all(cache, "storage.k8s.io", "storageclasses").map(|o| (name(&o), o)).collect();
        v
    }

    /// The pod's claims, or why no node can take it yet (kube-scheduler's PreFilter words).
    pub fn claims_of<'a>(&'a self, pod: &Value) -> Result<Vec<Claim<'a>>, String> {
        let namespace = pod.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default");
        let mut out = Vec::new();
        for claim_name in pod_claims(pod) {
            let Some(pvc) = self.claims.get(&format!("{namespace}/{claim_name}")) else {
                return Err(format!("persistentvolumeclaim {claim_name:?} not found"));
            };
            if crate::resources::meta::is_deleting(pvc) {
                return Err(format!("persistentvolumeclaim {claim_name:?} is being deleted"));
            }
            let volume = pvc.pointer("/spec/volumeName").and_then(Value::as_str).unwrap_or("");
            if !volume.is_empty() {
                let bound = pvc.pointer("/status/phase").and_then(Value::as_str) == Some("Bound");
                match self.volumes.get(volume) {
                    Some(pv) if bound => out.push(Claim::Bound(pv)),
                    Some(pv) => out.push(Claim::Binding(pv)),
                    None => return Err(format!("persistentvolume {volume:?} not found")),
                }
                continue;
            }
            match self.classes.get(claim_class(pvc)).filter(|c| waits_for_consumer(c)) {
                Some(class) => out.push(Claim::Delayed(pvc, class)),
                None => return Err("pod has unbound immediate PersistentVolumeClaims".into()),
            }
        }
        Ok(out)
    }

    /// Why `node` cannot serve the claims, if it cannot.
    pub fn misfit(&self, claims: &[Claim], node: &Value) -> Option<Misfit> {
        for claim in claims {
            match claim {
                Claim::Bound(pv) | Claim::Binding(pv) if !node_allows(pv, node) => {
                    return Some(Misfit::VolumeNodeAffinity)
                }
                Claim::Delayed(pvc, class) => {
                    let provisioned = class.get("provisioner").and_then(Value::as_str).is_some_and(|p| !p.is_empty());
                    if !provisioned && best_match(pvc, self.volumes.values(), Some(node)).is_none() {
                        return Some(Misfit::NoVolumeToBind);
                    }
                }
                Claim::Bound(_) | Claim::Binding(_) => {}
            }
        }
        None
    }
}

/// The delayed claims still to be placed: (namespace, name) of those without a selected node; the pod is
/// bound once none is left unbound.
pub fn unplaced(claims: &[Claim]) -> Vec<(String, String)> {
    claims
        .iter()
        .filter_map(|c| match c {
            Claim::Delayed(pvc, _) if crate::resources::storage::annotation(pvc, SELECTED_NODE).is_none() => {
                Some((pvc.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("").to_string(), name(pvc)))
            }
            _ => None,
        })
        .collect()
}
