//! kubectl's columns per kind, as the server's Table answers carry them (priority 1 = only with -o wide),
//! and each object's cells. Kinds without their own columns get NAME and AGE.
//! (Over 700 lines on purpose: one table of ~30 kinds' columns, each a few lines, read side by side with
//! kubectl's printers; split by kind it would be thirty files of one function each.)

use serde_json::{json, Value};
use time::OffsetDateTime;

use super::meta::text;
use super::node_table::{self, age};
use super::table::Column;

const fn col(name: &'static str, kind: &'static str, priority: u8) -> Column {
    Column { name, kind, format: "", priority, description: "" }
}

const NAME: Column = Column { name: "Name", kind: "string", format: "name", priority: 0, description: "" };
const AGE: Column = col("Age", "string", 0);

pub fn columns(kind: &str) -> Vec<Column> {
    let mut c = vec![NAME];
    let more: &[Column] = match kind {
        "Node" => return node_table::COLUMNS.to_vec(),
        // kube-apiserver's event columns: no NAME first.
        "Event" => {
            return vec![
                col("Last Seen", "string", 0),
                col("Type", "string", 0),
                col("Reason", "string", 0),
                col("Object", "string", 0),
                col("Source", "string", 1),
                col("Message", "string", 0),
                col("First Seen", "string", 1),
                col("Count", "string", 1),
                Column { priority: 1, ..NAME },
            ]
        }
        "Namespace" => &[col("Status", "string", 0), AGE],
        "Pod" => &[
            col("Ready", "string", 0),
            col("Status", "string", 0),
            col("Restarts", "string", 0),
            AGE,
            col("IP", "string", 1),
            col("Node", "string", 1),
            col("Nominated Node", "string", 1),
            col("Readiness Gates", "string", 1),
        ],
        "Deployment" => &[
            col("Ready", "string", 0),
            col("Up-to-date", "integer", 0),
            col("Available", "integer", 0),
            AGE,
            col("Containers", "string", 1),
            col("Images", "string", 1),
            col("Selector", "string", 1),
        ],
        "ReplicaSet" | "ReplicationController" => &[
            col("Desired", "integer", 0),
            col("Current", "integer", 0),
            col("Ready", "integer", 0),
            AGE,
            col("Containers", "string", 1),
            col("Images", "string", 1),
            col("Selector", "string", 1),
        ],
        "DaemonSet" => &[
            col("Desired", "integer", 0),
            col("Current", "integer", 0),
            col("Ready", "integer", 0),
            col("Up-to-date", "integer", 0),
            col("Available", "integer", 0),
            col("Node Selector", "string", 0),
            AGE,
            col("Containers", "string", 1),
            col("Images", "string", 1),
            col("Selector", "string", 1),
        ],
        "Service" => &[
            col("Type", "string", 0),
            col("Cluster-IP", "string", 0),
            col("External-IP", "string", 0),
            col("Port(s)", "string", 0),
            AGE,
            col("Selector", "string", 1),
        ],
        "Job" => &[col("Completions", "string", 0), col("Duration", "string", 0), AGE],
        "CronJob" => &[
            col("Schedule", "string", 0),
            col("Suspend", "boolean", 0),
            col("Active", "integer", 0),
            col("Last Schedule", "string", 0),
            AGE,
        ],
        "PersistentVolume" => &[
            col("Capacity", "string", 0),
            col("Access Modes", "string", 0),
            col("Reclaim Policy", "string", 0),
            col("Status", "string", 0),
            col("Claim", "string", 0),
            col("StorageClass", "string", 0),
            col("VolumeAttributesClass", "string", 0),
            col("Reason", "string", 0),
            AGE,
            col("VolumeMode", "string", 1),
        ],
        "PersistentVolumeClaim" => &[
            col("Status", "string", 0),
            col("Volume", "string", 0),
            col("Capacity", "string", 0),
            col("Access Modes", "string", 0),
            col("StorageClass", "string", 0),
            col("VolumeAttributesClass", "string", 0),
            AGE,
            col("VolumeMode", "string", 1),
        ],
        "StorageClass" => &[
            col("Provisioner", "string", 0),
            col("ReclaimPolicy", "string", 0),
            col("VolumeBindingMode", "string", 0),
            col("AllowVolumeExpansion", "string", 0),
            AGE,
        ],
        "ConfigMap" => &[col("Data", "integer", 0), AGE],
        "Secret" => &[col("Type", "string", 0), col("Data", "integer", 0), AGE],
        "Lease" => &[col("Holder", "string", 0), AGE],
        "Endpoints" => &[col("Endpoints", "string", 0), AGE],
        "EndpointSlice" => {
            &[col("AddressType", "string", 0), col("Ports", "string", 0), col("Endpoints", "string", 0), AGE]
        }
        "ServiceAccount" => &[col("Secrets", "string", 0), AGE],
        "StatefulSet" => &[col("Ready", "string", 0), AGE, col("Containers", "string", 1), col("Images", "string", 1)],
        "Ingress" => &[
            col("Class", "string", 0),
            col("Hosts", "string", 0),
            col("Address", "string", 0),
            col("Ports", "string", 0),
            AGE,
        ],
        "NetworkPolicy" => &[col("Pod-Selector", "string", 0), AGE],
        "Role" | "ClusterRole" => &[col("Created At", "date", 0)],
        "RoleBinding" | "ClusterRoleBinding" => &[
            col("Role", "string", 0),
            AGE,
            col("Users", "string", 1),
            col("Groups", "string", 1),
            col("ServiceAccounts", "string", 1),
        ],
        "HorizontalPodAutoscaler" => &[
            col("Reference", "string", 0),
            col("Targets", "string", 0),
            col("MinPods", "string", 0),
            col("MaxPods", "integer", 0),
            col("Replicas", "integer", 0),
            AGE,
        ],
        "PodDisruptionBudget" => &[
            col("Min Available", "string", 0),
            col("Max Unavailable", "string", 0),
            col("Allowed Disruptions", "integer", 0),
            AGE,
        ],
        "PriorityClass" => &[
            col("Value", "integer", 0),
            col("Global-Default", "boolean", 0),
            AGE,
            col("PreemptionPolicy", "string", 0),
        ],
        _ => &[AGE],
    };
    c.extend(more.iter().cloned());
    c
}

fn s<'a>(o: &'a Value, pointer: &str) -> Option<&'a str> {
    o.pointer(pointer).and_then(Value::as_str)
}

fn n(o: &Value, pointer: &str) -> i64 {
    o.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn containers(o: &Value, pointer: &str) -> (String, String) {
    let list = o.pointer(pointer).and_then(Value::as_array).cloned().unwrap_or_default();
    let names: Vec<&str> = list.iter().filter_map(|c| c["name"].as_str()).collect();
    let images: Vec<&str> = list.iter().filter_map(|c| c["image"].as_str()).collect();
    (names.join(","), images.join(","))
}

/// A workload's selector as kubectl's SELECTOR column shows it (its matchLabels).
fn workload_selector(kind: &str, o: &Value) -> String {
    match crate::resources::label_selector::of_workload(kind, o) {
        Some(s) => selector(&s, "/matchLabels"),
        None => "<none>".into(),
    }
}

fn selector(o: &Value, pointer: &str) -> String {
    let Some(map) = o.pointer(pointer).and_then(Value::as_object) else { return "<none>".into() };
    let parts: Vec<String> = map.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect();
    if parts.is_empty() {
        "<none>".into()
    } else {
        parts.join(",")
    }
}

fn count(o: &Value, pointer: &str) -> usize {
    o.pointer(pointer).and_then(Value::as_object).map(|m| m.len()).unwrap_or(0)
}

/// How long ago the timestamp at `pointer` was, as kubectl prints ages ("25s", "3m10s").
fn since(o: &Value, pointer: &str, now: OffsetDateTime) -> Option<String> {
    let at = o.pointer(pointer).and_then(Value::as_str).and_then(crate::resources::meta::parse_rfc3339)?;
    Some(node_table::human_age((now - at).whole_seconds()))
}

/// A Job's DURATION: from its start to its completion, or to now while it runs; empty before it starts.
fn job_duration(o: &Value, now: OffsetDateTime) -> String {
    let time =
        |pointer: &str| o.pointer(pointer).and_then(Value::as_str).and_then(crate::resources::meta::parse_rfc3339);
    let Some(start) = time("/status/startTime") else { return String::new() };
    let end = time("/status/completionTime").unwrap_or(now);
    node_table::human_age((end - start).whole_seconds())
}

pub fn cells(kind: &str, o: &Value, now: OffsetDateTime) -> Vec<Value> {
    if kind == "Node" {
        return node_table::cells(o, now).into_iter().map(Value::String).collect();
    }
    if kind == "Event" {
        return event_cells(o, now);
    }
    let name = json!(s(o, "/metadata/name").unwrap_or(""));
    let age = json!(age(o, now));
    let none = || json!("<none>");
    let mut row = vec![name];
    row.extend(match kind {
        "Namespace" => vec![json!(s(o, "/status/phase").unwrap_or("Active")), age],
        "Pod" => {
            let total = o.pointer("/spec/containers").and_then(Value::as_array).map(Vec::len).unwrap_or(0);
            let (ready, status, restarts) = pod_status_column(o);
            vec![
                json!(format!("{ready}/{total}")),
                json!(status),
                json!(restarts.to_string()),
                age,
                json!(s(o, "/status/podIP").unwrap_or("<none>")),
                json!(s(o, "/spec/nodeName").unwrap_or("<none>")),
                none(),
                none(),
            ]
        }
        "Deployment" | "ReplicaSet" | "ReplicationController" => {
            let (names, images) = containers(o, "/spec/template/spec/containers");
            let desired = o.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
            let head = if kind == "Deployment" {
                vec![
                    json!(format!("{}/{desired}", n(o, "/status/readyReplicas"))),
                    json!(n(o, "/status/updatedReplicas")),
                    json!(n(o, "/status/availableReplicas")),
                ]
            } else {
                vec![json!(desired), json!(n(o, "/status/replicas")), json!(n(o, "/status/readyReplicas"))]
            };
            head.into_iter().chain([age, json!(names), json!(images), json!(workload_selector(kind, o))]).collect()
        }
        "DaemonSet" => {
            let (names, images) = containers(o, "/spec/template/spec/containers");
            let node_selector = o
                .pointer("/spec/template/spec/nodeSelector")
                .and_then(Value::as_object)
                .filter(|m| !m.is_empty())
                .map(|m| {
                    m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect::<Vec<_>>().join(",")
                })
                .unwrap_or_else(|| "<none>".into());
            vec![
                json!(n(o, "/status/desiredNumberScheduled")),
                json!(n(o, "/status/currentNumberScheduled")),
                json!(n(o, "/status/numberReady")),
                json!(n(o, "/status/updatedNumberScheduled")),
                json!(n(o, "/status/numberAvailable")),
                json!(node_selector),
                age,
                json!(names),
                json!(images),
                json!(selector(o, "/spec/selector/matchLabels")),
            ]
        }
        "Service" => {
            let ports: Vec<String> = o
                .pointer("/spec/ports")
                .and_then(Value::as_array)
                .map(|ps| {
                    ps.iter()
                        .map(|p| {
                            let node_port = p.get("nodePort").and_then(Value::as_u64).map(|n| format!(":{n}"));
                            format!(
                                "{}{}/{}",
                                p["port"],
                                node_port.unwrap_or_default(),
                                p["protocol"].as_str().unwrap_or("TCP")
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let ty = s(o, "/spec/type").unwrap_or("ClusterIP");
            let ingress: Vec<&str> = o
                .pointer("/status/loadBalancer/ingress")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|i| i.get("ip").or_else(|| i.get("hostname")).and_then(Value::as_str))
                .collect();
            let external = match ty {
                "ExternalName" => json!(s(o, "/spec/externalName").unwrap_or("<none>")),
                "LoadBalancer" if ingress.is_empty() => json!("<pending>"),
                "LoadBalancer" => json!(ingress.join(",")),
                _ => none(),
            };
            vec![
                json!(ty),
                json!(s(o, "/spec/clusterIP").unwrap_or("<none>")),
                external,
                json!(if ports.is_empty() { "<none>".to_string() } else { ports.join(",") }),
                age,
                json!(selector(o, "/spec/selector")),
            ]
        }
        "Job" => vec![
            json!(format!(
                "{}/{}",
                n(o, "/status/succeeded"),
                o.pointer("/spec/completions").and_then(Value::as_i64).unwrap_or(1)
            )),
            json!(job_duration(o, now)),
            age,
        ],
        "CronJob" => vec![
            json!(s(o, "/spec/schedule").unwrap_or("")),
            json!(o.pointer("/spec/suspend").and_then(Value::as_bool).unwrap_or(false)),
            json!(o.pointer("/status/active").and_then(Value::as_array).map(Vec::len).unwrap_or(0)),
            json!(since(o, "/status/lastScheduleTime", now).unwrap_or_else(|| "<none>".into())),
            age,
        ],
        "PersistentVolume" | "PersistentVolumeClaim" | "StorageClass" => return storage_cells(kind, o, age),
        "ConfigMap" => vec![json!(count(o, "/data") + count(o, "/binaryData")), age],
        "Secret" => vec![json!(s(o, "/type").unwrap_or("Opaque")), json!(count(o, "/data")), age],
        "Lease" => vec![json!(s(o, "/spec/holderIdentity").unwrap_or("<none>")), age],
        "Endpoints" => vec![json!(endpoints_cell(o)), age],
        "EndpointSlice" => {
            let ports: Vec<String> = o
                .get("ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|p| p.get("port").and_then(Value::as_u64).map(|n| n.to_string()))
                .collect();
            let addresses: Vec<&str> = o
                .get("endpoints")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .flat_map(|e| e.get("addresses").and_then(Value::as_array).into_iter().flatten())
                .filter_map(Value::as_str)
                .collect();
            vec![
                json!(s(o, "/addressType").unwrap_or("")),
                json!(if ports.is_empty() { "<unset>".to_string() } else { ports.join(",") }),
                json!(first_three(addresses.iter().map(|a| a.to_string()).collect(), "<unset>")),
                age,
            ]
        }
        "ServiceAccount" => vec![json!(list_len(o, "/secrets").to_string()), age],
        "StatefulSet" => {
            let (names, images) = containers(o, "/spec/template/spec/containers");
            let desired = o.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
            vec![json!(format!("{}/{desired}", n(o, "/status/readyReplicas"))), age, json!(names), json!(images)]
        }
        "Ingress" => ingress_cells(o, age),
        "NetworkPolicy" => {
            let pods = label_selector_text(o.pointer("/spec/podSelector"));
            vec![json!(if pods.is_empty() { "<none>".to_string() } else { pods }), age]
        }
        "Role" | "ClusterRole" => vec![json!(s(o, "/metadata/creationTimestamp").unwrap_or(""))],
        "RoleBinding" | "ClusterRoleBinding" => {
            let subjects = |want: &str| {
                let names: Vec<String> = o
                    .get("subjects")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter(|x| s(x, "/kind") == Some(want))
                    .map(|x| match (want, s(x, "/namespace")) {
                        ("ServiceAccount", Some(ns)) => format!("{ns}/{}", s(x, "/name").unwrap_or("")),
                        _ => s(x, "/name").unwrap_or("").to_string(),
                    })
                    .collect();
                json!(names.join(", "))
            };
            vec![
                json!(format!("{}/{}", s(o, "/roleRef/kind").unwrap_or(""), s(o, "/roleRef/name").unwrap_or(""))),
                age,
                subjects("User"),
                subjects("Group"),
                subjects("ServiceAccount"),
            ]
        }
        "HorizontalPodAutoscaler" => vec![
            json!(format!(
                "{}/{}",
                s(o, "/spec/scaleTargetRef/kind").unwrap_or(""),
                s(o, "/spec/scaleTargetRef/name").unwrap_or("")
            )),
            json!(hpa_targets(o)),
            json!(o.pointer("/spec/minReplicas").and_then(Value::as_i64).unwrap_or(1).to_string()),
            json!(n(o, "/spec/maxReplicas")),
            json!(n(o, "/status/currentReplicas")),
            age,
        ],
        "PodDisruptionBudget" => {
            let text = |pointer: &str| match o.pointer(pointer) {
                Some(Value::String(v)) => json!(v),
                Some(Value::Number(v)) => json!(v.to_string()),
                _ => json!("N/A"),
            };
            vec![
                text("/spec/minAvailable"),
                text("/spec/maxUnavailable"),
                json!(n(o, "/status/disruptionsAllowed")),
                age,
            ]
        }
        "PriorityClass" => vec![
            json!(n(o, "/value")),
            json!(o.get("globalDefault").and_then(Value::as_bool).unwrap_or(false)),
            age,
            json!(s(o, "/preemptionPolicy").unwrap_or("PreemptLowerPriority")),
        ],
        _ => vec![age],
    });
    row
}

fn list_len(o: &Value, pointer: &str) -> usize {
    o.pointer(pointer).and_then(Value::as_array).map(Vec::len).unwrap_or(0)
}

/// A metav1.LabelSelector as kubectl prints it: `k=v,k2 in (a,b)`; empty for one that selects everything.
fn label_selector_text(selector: Option<&Value>) -> String {
    let Some(selector) = selector else { return String::new() };
    let mut parts: Vec<String> = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect();
    for e in selector.get("matchExpressions").and_then(Value::as_array).into_iter().flatten() {
        let values: Vec<&str> =
            e.get("values").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        let key = s(e, "/key").unwrap_or("");
        parts.push(match s(e, "/operator").unwrap_or("") {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            other => format!("{key} {other}"),
        });
    }
    parts.join(",")
}

/// kubectl's ingress row: class, the rules' hosts (`*` for none), the load balancer's addresses, 80 or 80, 443.
fn ingress_cells(o: &Value, age: Value) -> Vec<Value> {
    let rules: Vec<&Value> = o.pointer("/spec/rules").and_then(Value::as_array).into_iter().flatten().collect();
    let hosts: Vec<&str> = rules.iter().map(|r| s(r, "/host").unwrap_or("*")).collect();
    let addresses: Vec<&str> = o
        .pointer("/status/loadBalancer/ingress")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|i| i.get("ip").or_else(|| i.get("hostname")).and_then(Value::as_str))
        .collect();
    let ports = if list_len(o, "/spec/tls") > 0 { "80, 443" } else { "80" };
    vec![
        json!(s(o, "/spec/ingressClassName").unwrap_or("<none>")),
        json!(if hosts.is_empty() { "*".to_string() } else { hosts.join(",") }),
        json!(addresses.join(",")),
        json!(ports),
        age,
    ]
}

/// kube-apiserver's storage rows (printers.go): a volume or claim being deleted shows Terminating, a claim's
/// capacity and modes only once it names its volume, the default class "(default)" after its name.
fn storage_cells(kind: &str, o: &Value, age: Value) -> Vec<Value> {
    use super::storage::{access_modes_text, claim_class, is_default_class, volume_class};
    let name = s(o, "/metadata/name").unwrap_or("");
    let phase = if super::meta::is_deleting(o) { "Terminating" } else { s(o, "/status/phase").unwrap_or("") };
    let unset = |pointer: &str| json!(s(o, pointer).unwrap_or("<unset>"));
    match kind {
        "PersistentVolume" => {
            let claim = match o.pointer("/spec/claimRef").filter(|r| r.is_object()) {
                Some(r) => format!("{}/{}", s(r, "/namespace").unwrap_or(""), s(r, "/name").unwrap_or("")),
                None => String::new(),
            };
            vec![
                json!(name),
                json!(s(o, "/spec/capacity/storage").unwrap_or("0")),
                json!(access_modes_text(o.pointer("/spec/accessModes"))),
                json!(s(o, "/spec/persistentVolumeReclaimPolicy").unwrap_or("")),
                json!(phase),
                json!(claim),
                json!(volume_class(o)),
                unset("/spec/volumeAttributesClassName"),
                json!(s(o, "/status/reason").unwrap_or("")),
                age,
                unset("/spec/volumeMode"),
            ]
        }
        "PersistentVolumeClaim" => {
            let volume = s(o, "/spec/volumeName").unwrap_or("");
            let (capacity, modes) = if volume.is_empty() {
                (String::new(), String::new())
            } else {
                (
                    s(o, "/status/capacity/storage").unwrap_or("0").to_string(),
                    access_modes_text(o.pointer("/status/accessModes")),
                )
            };
            vec![
                json!(name),
                json!(phase),
                json!(volume),
                json!(capacity),
                json!(modes),
                json!(claim_class(o)),
                unset("/spec/volumeAttributesClassName"),
                age,
                unset("/spec/volumeMode"),
            ]
        }
        _ => {
            let shown = if is_default_class(o) { format!("{name} (default)") } else { name.to_string() };
            let expansion = o.get("allowVolumeExpansion").and_then(Value::as_bool).unwrap_or(false);
            vec![
                json!(shown),
                json!(s(o, "/provisioner").unwrap_or("")),
                json!(s(o, "/reclaimPolicy").unwrap_or("Delete")),
                json!(s(o, "/volumeBindingMode").unwrap_or("Immediate")),
                json!(expansion.to_string()),
                age,
            ]
        }
    }
}

/// kubectl's ENDPOINTS cell: ready address:port pairs, the first three, then "+ N more...".
fn endpoints_cell(o: &Value) -> String {
    let mut pairs = Vec::new();
    for subset in o.get("subsets").and_then(Value::as_array).into_iter().flatten() {
        let ports: Vec<u64> = subset
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| p["port"].as_u64())
            .collect();
        for address in subset.get("addresses").and_then(Value::as_array).into_iter().flatten() {
            let ip = address["ip"].as_str().unwrap_or("");
            if ports.is_empty() {
                pairs.push(ip.to_string());
            }
            for port in &ports {
                pairs.push(format!("{ip}:{port}"));
            }
        }
    }
    first_three(pairs, "<none>")
}

fn first_three(items: Vec<String>, empty: &str) -> String {
    match items.len() {
        0 => empty.to_string(),
        1..=3 => items.join(","),
        n => format!("{} + {} more...", items[..3].join(","), n - 3),
    }
}

fn event_cells(o: &Value, now: OffsetDateTime) -> Vec<Value> {
    // An events.k8s.io/v1 Event reads as the core Event it is stored as.
    let core;
    let o = if o.get("apiVersion").and_then(Value::as_str) == Some("events.k8s.io/v1") {
        core = crate::resources::event_v1::to_core(o.clone());
        &core
    } else {
        o
    };
    let since = |pointer: &str| {
        let stamp = s(o, pointer).unwrap_or("");
        age(&json!({"metadata": {"creationTimestamp": stamp}}), now)
    };
    let object = format!(
        "{}/{}",
        s(o, "/involvedObject/kind").unwrap_or("").to_lowercase(),
        s(o, "/involvedObject/name").unwrap_or("")
    );
    vec![
        json!(since("/lastTimestamp")),
        json!(s(o, "/type").unwrap_or("")),
        json!(s(o, "/reason").unwrap_or("")),
        json!(object),
        json!(s(o, "/source/component").unwrap_or("")),
        json!(s(o, "/message").unwrap_or("")),
        json!(since("/firstTimestamp")),
        json!(n(o, "/count").to_string()),
        json!(s(o, "/metadata/name").unwrap_or("")),
    ]
}

/// The Table for objects of `kind` (a custom kind's columns are its definition's: custom_table.rs).
pub fn table(
    kind: &super::kinds::ResourceKind,
    objects: &[Value],
    resource_version: u64,
    include: Option<&str>,
) -> Value {
    if kind.custom {
        return super::custom_table::table(kind, objects, resource_version, include);
    }
    let now = OffsetDateTime::now_utc();
    super::table::table(&columns(kind.kind), objects, |o| cells(kind.kind, o, now), resource_version, include)
}

/// An HPA's TARGETS cell as kube-apiserver prints it: each metric's current value over its target
/// ("cpu: 250%/50%"), `<unknown>` before a current value is known, the fourth on as "+ N more...".
fn hpa_targets(hpa: &Value) -> String {
    let Some(metrics) = hpa.pointer("/spec/metrics").and_then(Value::as_array).filter(|m| !m.is_empty()) else {
        return "<none>".into();
    };
    let current = hpa.pointer("/status/currentMetrics").and_then(Value::as_array);
    let mut cells = Vec::new();
    for metric in metrics.iter().take(3) {
        let Some(resource) = metric.get("resource").filter(|_| metric["type"] == "Resource") else {
            cells.push("<unknown>".to_string());
            continue;
        };
        let name = resource["name"].as_str().unwrap_or("");
        let now = current
            .into_iter()
            .flatten()
            .find(|c| c["type"] == "Resource" && c["resource"]["name"] == name)
            .map(|c| &c["resource"]["current"]);
        let target = &resource["target"];
        let cell = match target.get("averageUtilization").and_then(Value::as_i64) {
            Some(wanted) => {
                let at =
                    now.and_then(|c| c["averageUtilization"].as_i64()).map_or("<unknown>".into(), |u| format!("{u}%"));
                format!("{at}/{wanted}%")
            }
            None => {
                let wanted = target["averageValue"].as_str().unwrap_or("<unknown>");
                format!("{}/{wanted}", now.and_then(|c| c["averageValue"].as_str()).unwrap_or("<unknown>"))
            }
        };
        cells.push(format!("{name}: {cell}"));
    }
    let mut text = cells.join(", ");
    if metrics.len() > 3 {
        text.push_str(&format!(" + {} more...", metrics.len() - 3));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_duration_and_cronjob_last_schedule_read_as_kubectl_prints_them() {
        let now = OffsetDateTime::now_utc();
        let ago = |s: i64| crate::resources::meta::rfc3339(now - time::Duration::seconds(s));
        let job = json!({"metadata": {"name": "pi", "creationTimestamp": ago(90)}, "spec": {"completions": 1},
            "status": {"succeeded": 1, "startTime": ago(90), "completionTime": ago(60)}});
        assert_eq!(cells("Job", &job, now)[2], json!("30s"));
        let running = json!({"metadata": {"name": "pi"}, "status": {"startTime": ago(200)}});
        assert_eq!(cells("Job", &running, now)[2], json!("3m20s"));
        assert_eq!(cells("Job", &json!({"metadata": {"name": "new"}}), now)[2], json!(""));
        let cron = json!({"metadata": {"name": "hello"}, "spec": {"schedule": "*/1 * * * *"},
            "status": {"lastScheduleTime": ago(25)}});
        assert_eq!(cells("CronJob", &cron, now)[4], json!("25s"));
    }

    #[test]
    fn every_row_fills_every_column() {
        let now = OffsetDateTime::now_utc();
        for kind in super::super::kinds::KINDS.iter().map(|k| k.kind) {
            assert_eq!(columns(kind).len(), cells(kind, &json!({"metadata": {"name": "x"}}), now).len(), "{kind}");
        }
        let dep = json!({"metadata": {"name": "web"}, "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
            "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]}}}});
        let row = cells("Deployment", &dep, now);
        assert_eq!(row[1], "0/3");
        assert_eq!((row[5].as_str(), row[6].as_str()), (Some("nginx"), Some("nginx:1.25")));
        assert_eq!(row[7], "app=web");
        let rc = json!({"metadata": {"name": "legacy"}, "spec": {"replicas": 2, "selector": {"app": "legacy"}},
            "status": {"replicas": 2, "readyReplicas": 1}});
        let row = cells("ReplicationController", &rc, now);
        assert_eq!((&row[1], &row[2], &row[3], &row[7]), (&json!(2), &json!(2), &json!(1), &json!("app=legacy")));
    }

    #[test]
    fn the_kinds_without_controllers_print_as_kubectl_does() {
        let now = OffsetDateTime::now_utc();
        let binding = json!({"metadata": {"name": "b"}, "roleRef": {"kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "User", "name": "jane"}, {"kind": "ServiceAccount", "name": "ci", "namespace": "build"}]});
        let row = cells("RoleBinding", &binding, now);
        assert_eq!(
            (row[1].as_str(), row[3].as_str(), row[5].as_str()),
            (Some("ClusterRole/view"), Some("jane"), Some("build/ci"))
        );
        let policy = json!({"metadata": {"name": "p"}, "spec": {"podSelector": {"matchLabels": {"app": "db"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]}}});
        assert_eq!(cells("NetworkPolicy", &policy, now)[1], "app=db,tier in (a,b)");
        assert_eq!(cells("NetworkPolicy", &json!({"spec": {"podSelector": {}}}), now)[1], "<none>");
        let ingress = json!({"metadata": {"name": "i"}, "spec": {"ingressClassName": "nginx",
            "rules": [{"host": "a.example"}, {}], "tls": [{"hosts": ["a.example"]}]}});
        let row = cells("Ingress", &ingress, now);
        assert_eq!(
            (row[1].as_str(), row[2].as_str(), row[4].as_str()),
            (Some("nginx"), Some("a.example,*"), Some("80, 443"))
        );
        let pdb = json!({"metadata": {"name": "d"}, "spec": {"minAvailable": 2}});
        assert_eq!(
            (cells("PodDisruptionBudget", &pdb, now)[1].as_str(), cells("PodDisruptionBudget", &pdb, now)[2].as_str()),
            (Some("2"), Some("N/A"))
        );
        let hpa = json!({"metadata": {"name": "h"}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 5}});
        let row = cells("HorizontalPodAutoscaler", &hpa, now);
        assert_eq!((row[1].as_str(), row[3].as_str(), row[4].as_i64()), (Some("Deployment/web"), Some("1"), Some(5)));
        assert_eq!(row[2], "<none>");
        let cpu = json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]);
        let hpa = json!({"spec": {"metrics": cpu}});
        assert_eq!(cells("HorizontalPodAutoscaler", &hpa, now)[2], "cpu: <unknown>/50%");
        let measured = json!({"spec": {"metrics": cpu}, "status": {"currentMetrics": [
            {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 250, "averageValue": "250m"}}}]}});
        assert_eq!(cells("HorizontalPodAutoscaler", &measured, now)[2], "cpu: 250%/50%");
    }
}

/// kubectl's pod STATUS, READY count and RESTARTS, computed as its printer does: the phase (or status
/// reason), then `Init:N/M` / `Init:<reason>` while init containers run, else the last container's waiting
/// or terminated reason (CrashLoopBackOff, ErrImagePull, Completed, Error, …), and Terminating once deleted.
pub fn pod_status_column(pod: &Value) -> (usize, String, i64) {
    let mut reason = text(pod, "/status/reason");
    if reason.is_empty() {
        reason = pod.pointer("/status/phase").and_then(Value::as_str).unwrap_or("Pending").to_string();
    }
    let mut restarts = 0;
    let mut ready = 0;
    let init_total = pod.pointer("/spec/initContainers").and_then(Value::as_array).map(Vec::len).unwrap_or(0);
    let inits = pod.pointer("/status/initContainerStatuses").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut initializing = false;
    for (i, c) in inits.iter().enumerate() {
        restarts += c["restartCount"].as_i64().unwrap_or(0);
        let terminated = c.pointer("/state/terminated");
        let waiting_reason = text(c, "/state/waiting/reason");
        if terminated.is_some_and(|t| t["exitCode"].as_i64() == Some(0)) {
            continue;
        }
        reason = match terminated {
            Some(t) if t["reason"].as_str().is_some_and(|r| !r.is_empty()) => {
                format!("Init:{}", t["reason"].as_str().unwrap_or(""))
            }
            Some(t) => format!("Init:ExitCode:{}", t["exitCode"].as_i64().unwrap_or(0)),
            None if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" => {
                format!("Init:{waiting_reason}")
            }
            None => format!("Init:{i}/{init_total}"),
        };
        initializing = true;
        break;
    }
    if !initializing {
        restarts = 0;
        let mut has_running = false;
        let statuses = pod.pointer("/status/containerStatuses").and_then(Value::as_array).cloned().unwrap_or_default();
        for c in statuses.iter().rev() {
            restarts += c["restartCount"].as_i64().unwrap_or(0);
            let waiting = text(c, "/state/waiting/reason");
            let terminated = c.pointer("/state/terminated");
            if !waiting.is_empty() {
                reason = waiting;
            } else if let Some(t) = terminated {
                reason = match t["reason"].as_str().filter(|r| !r.is_empty()) {
                    Some(r) => r.to_string(),
                    None => format!("ExitCode:{}", t["exitCode"].as_i64().unwrap_or(0)),
                };
            } else if c.pointer("/state/running").is_some() && c["ready"] == json!(true) {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            let pod_ready = pod
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"));
            reason = if pod_ready { "Running".into() } else { "NotReady".into() };
        }
    }
    if pod.pointer("/metadata/deletionTimestamp").is_some_and(|t| !t.is_null()) {
        reason = "Terminating".into();
    }
    (ready, reason, restarts)
}

#[cfg(test)]
mod pod_status_tests {
    use super::pod_status_column;
    use serde_json::json;

    #[test]
    fn kubectl_pod_status_as_a_table() {
        let running = json!({"state": {"running": {}}, "ready": true, "restartCount": 0});
        let crashing = json!({"state": {"waiting": {"reason": "CrashLoopBackOff"}}, "ready": false, "restartCount": 3});
        let cases = vec![
            ("pending", json!({"status": {"phase": "Pending"}}), (0, "Pending", 0)),
            (
                "running",
                json!({"status": {"phase": "Running", "containerStatuses": [running, running]}}),
                (2, "Running", 0),
            ),
            (
                "crash loop",
                json!({"status": {"phase": "Running", "containerStatuses": [running, crashing]}}),
                (1, "CrashLoopBackOff", 3),
            ),
            (
                "init",
                json!({"spec": {"initContainers": [{}, {}]}, "status": {"phase": "Pending", "initContainerStatuses": [
                {"state": {"terminated": {"exitCode": 0}}}, {"state": {"running": {}}}]}}),
                (0, "Init:1/2", 0),
            ),
            (
                "completed",
                json!({"status": {"phase": "Succeeded", "containerStatuses": [{"state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}}),
                (0, "Completed", 0),
            ),
            (
                "terminating",
                json!({"metadata": {"deletionTimestamp": "t"}, "status": {"phase": "Running"}}),
                (0, "Terminating", 0),
            ),
        ];
        for (what, pod, (ready, status, restarts)) in cases {
            assert_eq!(pod_status_column(&pod), (ready, status.to_string(), restarts), "{what}");
        }
    }
}
