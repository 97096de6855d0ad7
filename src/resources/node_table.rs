//! Nodes as kubectl shows them: NAME STATUS ROLES AGE VERSION (+ the -o wide columns), for the server's
//! Table answers and for `kubeboot get nodes`.

use serde_json::Value;
use time::OffsetDateTime;

use super::meta::parse_rfc3339;
use super::node::ready_status;
use super::table::Column;

/// kubectl's STATUS column: Ready, NotReady (False or Unknown), plus SchedulingDisabled when cordoned.
pub fn status_column(node: &Value) -> String {
    let mut status = match ready_status(node) {
        Some("True") => "Ready".to_string(),
        Some(_) => "NotReady".to_string(),
        None => "Unknown".to_string(),
    };
    if node.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        status.push_str(",SchedulingDisabled");
    }
    status
}

/// The roles from `node-role.kubernetes.io/<role>` labels, or `<none>`.
pub fn roles_column(node: &Value) -> String {
    let mut roles: Vec<&str> = node
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|labels| labels.keys().filter_map(|k| k.strip_prefix("node-role.kubernetes.io/")).collect())
        .unwrap_or_default();
    roles.sort_unstable();
    if roles.is_empty() {
        "<none>".into()
    } else {
        roles.join(",")
    }
}

/// kubectl's short human durations (its HumanDuration): 45s, 5m12s, 47m, 3h12m, 13h, 2d3h, 12d.
pub fn human_age(seconds: i64) -> String {
    let s = seconds.max(0);
    let (m, h, d) = (s / 60, s / 3600, s / 86400);
    match () {
        _ if s < 120 => format!("{s}s"),
        _ if m < 10 => format!("{m}m{}s", s % 60),
        _ if m < 180 => format!("{m}m"),
        _ if h < 8 => format!("{h}h{}m", m % 60),
        _ if h < 48 => format!("{h}h"),
        _ if h < 24 * 8 => format!("{d}d{}h", h % 24),
        _ => format!("{d}d"),
    }
}

/// The AGE column of any object: its creationTimestamp as a human duration until `now`.
pub fn age(object: &Value, now: OffsetDateTime) -> String {
    object
        .pointer("/metadata/creationTimestamp")
        .and_then(Value::as_str)
        .and_then(parse_rfc3339)
        .map(|created| human_age((now - created).whole_seconds()))
        .unwrap_or_else(|| "<unknown>".into())
}

fn address(node: &Value, kind: &str) -> String {
    node.pointer("/status/addresses")
        .and_then(Value::as_array)
        .and_then(|a| a.iter().find(|x| x.get("type").and_then(Value::as_str) == Some(kind)))
        .and_then(|x| x.get("address").and_then(Value::as_str))
        .unwrap_or("<none>")
        .to_string()
}

/// kubectl's node columns: the first five always, the rest with -o wide.
pub const COLUMNS: [Column; 10] = [
    Column { name: "Name", kind: "string", format: "name", priority: 0, description: "Name of the node" },
    Column { name: "Status", kind: "string", format: "", priority: 0, description: "The Ready condition" },
    Column { name: "Roles", kind: "string", format: "", priority: 0, description: "node-role.kubernetes.io labels" },
    Column { name: "Age", kind: "string", format: "", priority: 0, description: "Since creation" },
    Column { name: "Version", kind: "string", format: "", priority: 0, description: "Kubelet (agent) version" },
    Column { name: "Internal-IP", kind: "string", format: "", priority: 1, description: "InternalIP address" },
    Column { name: "External-IP", kind: "string", format: "", priority: 1, description: "ExternalIP address" },
    Column { name: "OS-Image", kind: "string", format: "", priority: 1, description: "OS image" },
    Column { name: "Kernel-Version", kind: "string", format: "", priority: 1, description: "Kernel version" },
    Column { name: "Container-Runtime", kind: "string", format: "", priority: 1, description: "Container runtime" },
];

/// Every column's cell for one node.
pub fn cells(node: &Value, now: OffsetDateTime) -> Vec<String> {
    let name = node.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
    let age = age(node, now);
    let info = |key: &str| {
        node.pointer(&format!("/status/nodeInfo/{key}")).and_then(Value::as_str).unwrap_or_default().to_string()
    };
    vec![
        name,
        status_column(node),
        roles_column(node),
        age,
        info("kubeletVersion"),
        address(node, "InternalIP"),
        address(node, "ExternalIP"),
        info("osImage"),
        info("kernelVersion"),
        info("containerRuntimeVersion"),
    ]
}

/// The whole table as `kubeboot get nodes` prints it (the priority-0 columns), rows sorted by name.
pub fn render(nodes: &[Value], now: OffsetDateTime) -> String {
    let shown = COLUMNS.iter().filter(|c| c.priority == 0).count();
    let mut rows: Vec<Vec<String>> = nodes.iter().map(|n| cells(n, now).into_iter().take(shown).collect()).collect();
    rows.sort();
    rows.insert(0, COLUMNS[..shown].iter().map(|c| c.name.to_uppercase()).collect());
    crate::table::render(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn columns_like_kubectl() {
        let now = parse_rfc3339("2026-01-01T01:00:00Z").unwrap();
        let master = json!({
            "metadata": {"name": "m", "creationTimestamp": "2026-01-01T00:00:00Z",
                         "labels": {"node-role.kubernetes.io/master": ""}},
            "status": {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": "v1"}},
        });
        let node = json!({
            "metadata": {"name": "a", "creationTimestamp": "2026-01-01T00:59:30Z"},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]},
        });
        assert_eq!(
            render(&[master, node], now),
            "NAME  STATUS                       ROLES   AGE  VERSION\n\
             a     NotReady,SchedulingDisabled  <none>  30s\n\
             m     Ready                        master  60m  v1\n"
        );
    }

    #[test]
    fn ages() {
        assert_eq!(human_age(312), "5m12s");
        assert_eq!(human_age(3 * 3600 + 720), "3h12m");
        assert_eq!(human_age(13 * 3600), "13h");
        assert_eq!(human_age(51 * 3600), "2d3h");
        assert_eq!(human_age(12 * 86400), "12d");
    }
}
