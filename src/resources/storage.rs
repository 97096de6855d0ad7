//! PersistentVolumes, PersistentVolumeClaims and StorageClasses as the binder, the scheduler, the
//! provisioner and the agent read them: the annotations Kubernetes' volume controllers write, which volume
//! may serve which claim (kube-controller-manager's findMatchingVolume: class, selector, access modes, size,
//! node affinity, the smallest that fits), and kubectl's access-mode shorthand.

use serde_json::Value;

use super::quantity::units;

/// A StorageClass that claims without `storageClassName` get (the DefaultStorageClass admission plugin).
pub const DEFAULT_CLASS_ANNOTATION: &str = "storageclass.kubernetes.io/is-default-class";
/// Set on a WaitForFirstConsumer claim by the scheduler: the node its first pod goes to.
pub const SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
/// Set on a claim by the binder when a provisioner is to make its volume.
pub const STORAGE_PROVISIONER: &str = "volume.kubernetes.io/storage-provisioner";
pub const BETA_STORAGE_PROVISIONER: &str = "volume.beta.kubernetes.io/storage-provisioner";
/// Set on a volume by the provisioner that made it.
pub const PROVISIONED_BY: &str = "pv.kubernetes.io/provisioned-by";
pub const BIND_COMPLETED: &str = "pv.kubernetes.io/bind-completed";
pub const BOUND_BY_CONTROLLER: &str = "pv.kubernetes.io/bound-by-controller";
/// Kept on a claim while a pod uses it, and on a volume while it is bound (StorageObjectInUseProtection).
pub const PVC_PROTECTION: &str = "kubernetes.io/pvc-protection";
pub const PV_PROTECTION: &str = "kubernetes.io/pv-protection";

/// kubeboot's provisioner: a folder on the node the claim's first pod runs on (k3s' local-path).
pub const LOCAL_PATH_PROVISIONER: &str = "kubeboot.io/local-path";
/// The default StorageClass every cluster gets.
pub const LOCAL_PATH_CLASS: &str = "local-path";
/// Where the local-path provisioner's folders live on a node.
pub const LOCAL_PATH_ROOT: &str = "/var/lib/kubeboot/storage";
/// Kept on a provisioned volume until its node's agent has removed the folder.
pub const LOCAL_PATH_FINALIZER: &str = "kubeboot.io/local-path-data";

fn s<'a>(o: &'a Value, pointer: &str) -> Option<&'a str> {
    o.pointer(pointer).and_then(Value::as_str)
}

pub fn annotation<'a>(o: &'a Value, key: &str) -> Option<&'a str> {
    o.pointer("/metadata/annotations").and_then(|a| a.get(key)).and_then(Value::as_str)
}

fn modes<'a>(o: &'a Value, pointer: &str) -> Vec<&'a str> {
    o.pointer(pointer).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect()
}

/// kubectl's ACCESS MODES cell: RWO, ROX, RWX, RWOP in that order, comma-separated.
pub fn access_modes_text(list: Option<&Value>) -> String {
    let given: Vec<&str> = list.and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    [("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"), ("ReadWriteOncePod", "RWOP")]
        .iter()
        .filter(|(mode, _)| given.contains(mode))
        .map(|(_, short)| *short)
        .collect::<Vec<_>>()
        .join(",")
}

/// A claim's class: `spec.storageClassName`, or the beta annotation older manifests use; "" for none.
pub fn claim_class(pvc: &Value) -> &str {
    annotation(pvc, "volume.beta.kubernetes.io/storage-class")
        .or_else(|| s(pvc, "/spec/storageClassName"))
        .unwrap_or("")
}

pub fn volume_class(pv: &Value) -> &str {
    annotation(pv, "volume.beta.kubernetes.io/storage-class").or_else(|| s(pv, "/spec/storageClassName")).unwrap_or("")
}

pub fn requested_bytes(pvc: &Value) -> u64 {
    s(pvc, "/spec/resources/requests/storage").and_then(units).unwrap_or(0)
}

pub fn capacity_bytes(pv: &Value) -> u64 {
    s(pv, "/spec/capacity/storage").and_then(units).unwrap_or(0)
}

pub fn is_default_class(class: &Value) -> bool {
    annotation(class, DEFAULT_CLASS_ANNOTATION).is_some_and(|v| v == "true")
        || annotation(class, "storageclass.beta.kubernetes.io/is-default-class").is_some_and(|v| v == "true")
}

/// True for `volumeBindingMode: WaitForFirstConsumer` (the default is Immediate).
pub fn waits_for_consumer(class: &Value) -> bool {
    s(class, "/volumeBindingMode") == Some("WaitForFirstConsumer")
}

/// The claim a volume's claimRef names, as (namespace, name, uid — "" when only reserved by name).
pub fn claim_ref(pv: &Value) -> Option<(&str, &str, &str)> {
    let r = pv.pointer("/spec/claimRef").filter(|r| r.is_object())?;
    Some((s(r, "/namespace").unwrap_or(""), s(r, "/name").unwrap_or(""), s(r, "/uid").unwrap_or("")))
}

/// The volume's claimRef names this claim (by uid once it has one).
pub fn reserved_for(pv: &Value, pvc: &Value) -> bool {
    claim_ref(pv).is_some_and(|(ns, name, uid)| {
        Some(ns) == s(pvc, "/metadata/namespace")
            && Some(name) == s(pvc, "/metadata/name")
            && (uid.is_empty() || Some(uid) == s(pvc, "/metadata/uid"))
    })
}

/// The volume's required node affinity lets it be used on `node` (no affinity: any node).
pub fn node_allows(pv: &Value, node: &Value) -> bool {
    match pv.pointer("/spec/nodeAffinity/required/nodeSelectorTerms").and_then(Value::as_array) {
        Some(terms) => super::node_selector::matches_terms(terms, node),
        None => true,
    }
}

/// The one node a volume's affinity names by hostname (`local` and provisioned volumes).
pub fn pinned_node(pv: &Value) -> Option<&str> {
    let terms = pv.pointer("/spec/nodeAffinity/required/nodeSelectorTerms")?.as_array()?;
    let [term] = terms.as_slice() else { return None };
    let expressions = term.get("matchExpressions")?.as_array()?;
    let [e] = expressions.as_slice() else { return None };
    let values = e.get("values")?.as_array()?;
    match (s(e, "/key"), s(e, "/operator"), values.as_slice()) {
        (Some("kubernetes.io/hostname"), Some("In"), [value]) => value.as_str(),
        _ => None,
    }
}

/// The volume could serve the claim apart from availability: class, volume mode, selector, access modes,
/// size.
pub fn satisfies(pv: &Value, pvc: &Value) -> bool {
    let mode = |o: &Value| s(o, "/spec/volumeMode").unwrap_or("Filesystem").to_string();
    let offered = modes(pv, "/spec/accessModes");
    volume_class(pv) == claim_class(pvc)
        && mode(pv) == mode(pvc)
        // A claim without a selector takes any volume (unlike a workload's missing selector).
        && pvc.pointer("/spec/selector").filter(|s| !s.is_null()).is_none_or(|sel| {
            super::label_selector::matches(Some(sel), super::label_selector::labels(pv))
        })
        && modes(pvc, "/spec/accessModes").iter().all(|m| offered.contains(m))
        && capacity_bytes(pv) >= requested_bytes(pvc)
}

/// The volume the binder gives `pvc`: one reserved for it if it fits, else the smallest free one that
/// satisfies it (and, when `node` is given — delayed binding — may be used there).
pub fn best_match<'a>(
    pvc: &Value,
    volumes: impl Iterator<Item = &'a Value>,
    node: Option<&Value>,
) -> Option<&'a Value> {
    let mut best: Option<&Value> = None;
    for pv in volumes.filter(|pv| !super::meta::is_deleting(pv)) {
        let reserved = reserved_for(pv, pvc);
        let free = claim_ref(pv).is_none() && s(pv, "/status/phase").is_none_or(|p| p == "Available" || p == "Pending");
        if !(reserved || free) || !satisfies(pv, pvc) || node.is_some_and(|n| !node_allows(pv, n)) {
            continue;
        }
        if reserved {
            return Some(pv);
        }
        if best.is_none_or(|b| capacity_bytes(pv) < capacity_bytes(b)) {
            best = Some(pv);
        }
    }
    best
}

/// The claims a pod's volumes name, in order, once each.
pub fn pod_claims(pod: &Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for volume in pod.pointer("/spec/volumes").and_then(Value::as_array).into_iter().flatten() {
        if let Some(name) = s(volume, "/persistentVolumeClaim/claimName") {
            if !out.iter().any(|n| n == name) {
                out.push(name.to_string());
            }
        }
    }
    out
}

/// The folder the local-path provisioner gives a claim on its node (as k3s names them).
pub fn local_path_folder(pv_name: &str, namespace: &str, claim: &str) -> String {
    format!("{LOCAL_PATH_ROOT}/{pv_name}_{namespace}_{claim}")
}

/// The volume was made by kubeboot's local-path provisioner.
pub fn is_local_path(pv: &Value) -> bool {
    annotation(pv, PROVISIONED_BY) == Some(LOCAL_PATH_PROVISIONER)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pv(name: &str, size: &str, class: &str, labels: Value, modes: Value) -> Value {
        json!({"metadata": {"name": name, "labels": labels},
               "spec": {"capacity": {"storage": size}, "accessModes": modes, "storageClassName": class,
                        "hostPath": {"path": "/x"}},
               "status": {"phase": "Available"}})
    }

    fn pvc(size: &str, class: Option<&str>, selector: Option<Value>) -> Value {
        let mut o = json!({"metadata": {"name": "data", "namespace": "default", "uid": "u1"},
               "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}});
        if let Some(c) = class {
            o["spec"]["storageClassName"] = json!(c);
        }
        if let Some(sel) = selector {
            o["spec"]["selector"] = sel;
        }
        o
    }

    #[test]
    fn the_smallest_free_volume_that_fits() {
        let rwo = json!(["ReadWriteOnce"]);
        let volumes = [
            pv("big", "10Gi", "", json!({}), rwo.clone()),
            pv("small", "1G", "", json!({}), rwo.clone()),
            pv("tiny", "100Mi", "", json!({}), rwo.clone()),
            pv("rox", "1Gi", "", json!({}), json!(["ReadOnlyMany"])),
            pv("classy", "1Gi", "fast", json!({}), rwo.clone()),
        ];
        let pick = |claim: &Value| best_match(claim, volumes.iter(), None).map(|v| v["metadata"]["name"].clone());
        assert_eq!(pick(&pvc("500Mi", Some(""), None)), Some(json!("small")), "1G is smaller than 10Gi");
        assert_eq!(pick(&pvc("5Gi", Some(""), None)), Some(json!("big")));
        assert_eq!(pick(&pvc("20Gi", Some(""), None)), None, "nothing that large");
        assert_eq!(pick(&pvc("1Gi", Some("fast"), None)), Some(json!("classy")), "the class must match");
        let mut many = pvc("1Mi", Some(""), None);
        many["spec"]["accessModes"] = json!(["ReadOnlyMany"]);
        assert_eq!(pick(&many), Some(json!("rox")), "access modes must be offered");
    }

    #[test]
    fn selectors_reservations_and_nodes() {
        let rwo = json!(["ReadWriteOnce"]);
        let mut taken = pv("taken", "1Gi", "", json!({}), rwo.clone());
        taken["spec"]["claimRef"] = json!({"namespace": "default", "name": "other", "uid": "u9"});
        let mut reserved = pv("reserved", "5Gi", "", json!({}), rwo.clone());
        reserved["spec"]["claimRef"] = json!({"namespace": "default", "name": "data"});
        let labelled = pv("labelled", "2Gi", "", json!({"tier": "gold"}), rwo.clone());
        let claim = pvc("1Gi", Some(""), None);
        assert_eq!(
            best_match(&claim, [&taken, &reserved, &labelled].into_iter(), None).unwrap()["metadata"]["name"],
            "reserved",
            "a volume reserved for the claim wins over a smaller free one"
        );
        let gold = pvc("1Gi", Some(""), Some(json!({"matchLabels": {"tier": "gold"}})));
        assert_eq!(best_match(&gold, [&taken, &labelled].into_iter(), None).unwrap()["metadata"]["name"], "labelled");
        assert!(best_match(&gold, [&taken].into_iter(), None).is_none(), "a volume bound elsewhere is never given");

        let mut local = pv("local", "1Gi", "", json!({}), rwo);
        local["spec"]["nodeAffinity"] = json!({"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": ["node2"]}]}]}});
        let node = |name: &str| json!({"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}}});
        assert!(best_match(&claim, [&local].into_iter(), Some(&node("node1"))).is_none());
        assert!(best_match(&claim, [&local].into_iter(), Some(&node("node2"))).is_some());
        assert_eq!(pinned_node(&local), Some("node2"));
        assert!(node_allows(&local, &node("node2")) && !node_allows(&local, &node("node1")));
    }

    #[test]
    fn access_modes_as_kubectl_writes_them() {
        assert_eq!(access_modes_text(Some(&json!(["ReadWriteMany", "ReadWriteOnce"]))), "RWO,RWX");
        assert_eq!(access_modes_text(None), "");
        let pod = json!({"spec": {"volumes": [{"name": "a", "persistentVolumeClaim": {"claimName": "c1"}},
            {"name": "b", "emptyDir": {}}, {"name": "c", "persistentVolumeClaim": {"claimName": "c1"}}]}});
        assert_eq!(pod_claims(&pod), ["c1"]);
    }
}
