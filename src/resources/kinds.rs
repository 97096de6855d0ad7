//! The API's resource types: group, version, plural and kind, scope, short names and categories — what
//! discovery publishes and how an URL and a store key are made for an object.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceKind {
    /// "" for the core group (/api/v1).
    pub group: &'static str,
    pub version: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    /// Has a /status subresource.
    pub status: bool,
    /// Defined by a CustomResourceDefinition (custom_kinds.rs), not built in: its objects are kept under
    /// one store root of their own.
    pub custom: bool,
}

// One call per line reads as the table it is.
#[allow(clippy::too_many_arguments)]
const fn kind(
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    singular: &'static str,
    kind: &'static str,
    namespaced: bool,
    short_names: &'static [&'static str],
    categories: &'static [&'static str],
    status: bool,
) -> ResourceKind {
    ResourceKind { group, version, plural, singular, kind, namespaced, short_names, categories, status, custom: false }
}

/// HorizontalPodAutoscaler: autoscaling/v2, and v1 (what kubectl autoscale 1.20–1.32 creates), served from
/// v2's storage (hpa_v1.rs).
const fn horizontal_pod_autoscaler(version: &'static str) -> ResourceKind {
    let (plural, singular) = ("horizontalpodautoscalers", "horizontalpodautoscaler");
    kind("autoscaling", version, plural, singular, "HorizontalPodAutoscaler", true, &["hpa"], &["all"], true)
}

/// Everything served. batch/v1beta1 CronJob is the walkthrough's apiVersion; it shares storage with batch/v1.
pub const KINDS: &[ResourceKind] = &[
    kind("", "v1", "namespaces", "namespace", "Namespace", false, &["ns"], &[], true),
    kind("", "v1", "nodes", "node", "Node", false, &["no"], &[], true),
    kind("", "v1", "pods", "pod", "Pod", true, &["po"], &["all"], true),
    kind("", "v1", "services", "service", "Service", true, &["svc"], &["all"], true),
    kind(
        "",
        "v1",
        "replicationcontrollers",
        "replicationcontroller",
        "ReplicationController",
        true,
        &["rc"],
        &["all"],
        true,
    ),
    kind("", "v1", "configmaps", "configmap", "ConfigMap", true, &["cm"], &[], false),
    kind("", "v1", "secrets", "secret", "Secret", true, &[], &[], false),
    kind("", "v1", "events", "event", "Event", true, &["ev"], &[], false),
    kind("", "v1", "endpoints", "endpoints", "Endpoints", true, &["ep"], &[], false),
    kind("", "v1", "persistentvolumes", "persistentvolume", "PersistentVolume", false, &["pv"], &[], true),
    kind(
        "",
        "v1",
        "persistentvolumeclaims",
        "persistentvolumeclaim",
        "PersistentVolumeClaim",
        true,
        &["pvc"],
        &[],
        true,
    ),
    kind("apps", "v1", "deployments", "deployment", "Deployment", true, &["deploy"], &["all"], true),
    kind("apps", "v1", "replicasets", "replicaset", "ReplicaSet", true, &["rs"], &["all"], true),
    kind("apps", "v1", "daemonsets", "daemonset", "DaemonSet", true, &["ds"], &["all"], true),
    kind("batch", "v1", "jobs", "job", "Job", true, &[], &["all"], true),
    kind("batch", "v1", "cronjobs", "cronjob", "CronJob", true, &["cj"], &["all"], true),
    kind("batch", "v1beta1", "cronjobs", "cronjob", "CronJob", true, &["cj"], &["all"], true),
    kind("coordination.k8s.io", "v1", "leases", "lease", "Lease", true, &[], &[], false),
    kind("discovery.k8s.io", "v1", "endpointslices", "endpointslice", "EndpointSlice", true, &[], &[], false),
    kind("storage.k8s.io", "v1", "storageclasses", "storageclass", "StorageClass", false, &["sc"], &[], false),
    // Core Events under the events API's names, from the same storage.
    kind("events.k8s.io", "v1", "events", "event", "Event", true, &["ev"], &[], false),
    // Served and validated for what users apply beside the walkthrough's kinds; no controller acts on them.
    kind("", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", true, &["sa"], &[], false),
    kind("apps", "v1", "statefulsets", "statefulset", "StatefulSet", true, &["sts"], &["all"], true),
    kind("networking.k8s.io", "v1", "ingresses", "ingress", "Ingress", true, &["ing"], &[], true),
    kind("networking.k8s.io", "v1", "networkpolicies", "networkpolicy", "NetworkPolicy", true, &["netpol"], &[], false),
    kind("rbac.authorization.k8s.io", "v1", "roles", "role", "Role", true, &[], &[], false),
    kind("rbac.authorization.k8s.io", "v1", "rolebindings", "rolebinding", "RoleBinding", true, &[], &[], false),
    kind("rbac.authorization.k8s.io", "v1", "clusterroles", "clusterrole", "ClusterRole", false, &[], &[], false),
    kind(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "clusterrolebinding",
        "ClusterRoleBinding",
        false,
        &[],
        &[],
        false,
    ),
    horizontal_pod_autoscaler("v2"),
    horizontal_pod_autoscaler("v1"),
    kind(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "poddisruptionbudget",
        "PodDisruptionBudget",
        true,
        &["pdb"],
        &[],
        true,
    ),
    kind("scheduling.k8s.io", "v1", "priorityclasses", "priorityclass", "PriorityClass", false, &["pc"], &[], false),
    kind(
        "admissionregistration.k8s.io",
        "v1",
        "mutatingwebhookconfigurations",
        "mutatingwebhookconfiguration",
        "MutatingWebhookConfiguration",
        false,
        &[],
        &["api-extensions"],
        false,
    ),
    kind(
        "admissionregistration.k8s.io",
        "v1",
        "validatingwebhookconfigurations",
        "validatingwebhookconfiguration",
        "ValidatingWebhookConfiguration",
        false,
        &[],
        &["api-extensions"],
        false,
    ),
    kind(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "customresourcedefinition",
        "CustomResourceDefinition",
        false,
        &["crd", "crds"],
        &["api-extensions"],
        true,
    ),
];

/// Where every custom object is kept: `/custom/GROUP/PLURAL/[NAMESPACE/]NAME` (a CRD's group has a dot, so
/// no built-in group's keys start here). One root, so the controllers' informer follows kinds defined
/// after it started.
pub const CUSTOM_ROOT: &str = "/custom/";

/// Every kind served now: the built-in ones, then those CustomResourceDefinitions define.
pub fn all() -> Vec<&'static ResourceKind> {
    KINDS.iter().chain(super::custom_kinds::kinds()).collect()
}

/// The groups with their versions, the preferred (first) version first.
pub fn groups() -> Vec<(&'static str, Vec<&'static str>)> {
    groups_of(all())
}

fn groups_of(kinds: impl IntoIterator<Item = &'static ResourceKind>) -> Vec<(&'static str, Vec<&'static str>)> {
    let mut out: Vec<(&str, Vec<&str>)> = Vec::new();
    for k in kinds.into_iter().filter(|k| !k.group.is_empty()) {
        match out.iter_mut().find(|(g, _)| *g == k.group) {
            Some((_, versions)) if !versions.contains(&k.version) => versions.push(k.version),
            Some(_) => {}
            None => out.push((k.group, vec![k.version])),
        }
    }
    out
}

/// The built-in kinds, then the custom ones (looked at only when no built-in kind answers).
fn first(wanted: impl Fn(&ResourceKind) -> bool) -> Option<&'static ResourceKind> {
    KINDS.iter().find(|k| wanted(k)).or_else(|| super::custom_kinds::kinds().into_iter().find(|k| wanted(k)))
}

pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceKind> {
    first(|k| k.group == group && k.version == version && k.plural == plural)
}

/// The kind a store key belongs to (the preferred version of it).
pub fn of_key(key: &str) -> Option<&'static ResourceKind> {
    first(|k| key.starts_with(&k.prefix(None)))
}

/// The kind an ownerReference (apiVersion + kind) names, if it is one served here.
pub fn of_reference(api_version: &str, kind: &str) -> Option<&'static ResourceKind> {
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    first(|k| k.group == group && k.kind == kind)
}

/// Shorthand for a kind known to be served (panics on a typo, at the first use in any test).
pub fn served(group: &str, plural: &str) -> &'static ResourceKind {
    KINDS.iter().find(|k| k.group == group && k.plural == plural).expect("a served kind")
}

impl ResourceKind {
    /// "v1", "apps/v1".
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The store prefix of all objects of this type (every version of a kind shares it), and of those in
    /// one namespace. Core types keep short keys (`/nodes/NAME`, `/pods/NS/NAME`).
    pub fn prefix(&self, namespace: Option<&str>) -> String {
        // events.k8s.io's Events are core's, as kube-apiserver stores them (resources/event_v1.rs).
        let group = if self.group == "events.k8s.io" { "" } else { self.group };
        let base = if self.custom {
            format!("{CUSTOM_ROOT}{group}/{}/", self.plural)
        } else if group.is_empty() {
            format!("/{}/", self.plural)
        } else {
            format!("/{group}/{}/", self.plural)
        };
        match namespace {
            Some(ns) if self.namespaced => format!("{base}{ns}/"),
            _ => base,
        }
    }

    pub fn key(&self, namespace: Option<&str>, name: &str) -> String {
        format!("{}{name}", self.prefix(namespace))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_groups() {
        let nodes = find("", "v1", "nodes").unwrap();
        assert_eq!(nodes.key(None, "n1"), "/nodes/n1", "nodes keep the keys the lifecycle controller reads");
        let pods = find("", "v1", "pods").unwrap();
        assert_eq!(pods.key(Some("default"), "web"), "/pods/default/web");
        let old = find("batch", "v1beta1", "cronjobs").unwrap();
        let new = find("batch", "v1", "cronjobs").unwrap();
        assert_eq!(old.prefix(None), new.prefix(None), "one storage for both versions");
        let events = find("events.k8s.io", "v1", "events").unwrap();
        assert_eq!(events.key(Some("default"), "e"), "/events/default/e", "core's Events");
        assert_eq!(of_key("/events/default/e").map(|k| k.group), Some(""));
        assert_eq!(
            groups_of(KINDS),
            [
                ("apps", vec!["v1"]),
                ("batch", vec!["v1", "v1beta1"]),
                ("coordination.k8s.io", vec!["v1"]),
                ("discovery.k8s.io", vec!["v1"]),
                ("storage.k8s.io", vec!["v1"]),
                ("events.k8s.io", vec!["v1"]),
                ("networking.k8s.io", vec!["v1"]),
                ("rbac.authorization.k8s.io", vec!["v1"]),
                ("autoscaling", vec!["v2", "v1"]),
                ("policy", vec!["v1"]),
                ("scheduling.k8s.io", vec!["v1"]),
                ("admissionregistration.k8s.io", vec!["v1"]),
                ("apiextensions.k8s.io", vec!["v1"]),
            ]
        );
        let slices = find("discovery.k8s.io", "v1", "endpointslices").unwrap();
        assert_eq!(slices.key(Some("default"), "web-x"), "/discovery.k8s.io/endpointslices/default/web-x");
        assert_eq!(of_key("/endpoints/default/web").map(|k| k.kind), Some("Endpoints"));
    }
}
