//! `get nodes` as kubectl prints it: NAME STATUS ROLES AGE VERSION.

use serde_json::Value;
use time::OffsetDateTime;

use super::meta::parse_rfc3339;
use super::node::ready_status;

pub const HEADER: [&str; 5] = ["NAME", "STATUS", "ROLES", "AGE", "VERSION"];

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

pub fn row(node: &Value, now: OffsetDateTime) -> Vec<String> {
    let name = node.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
    let age = node
        .pointer("/metadata/creationTimestamp")
        .and_then(Value::as_str)
        .and_then(parse_rfc3339)
        .map(|created| human_age((now - created).whole_seconds()))
        .unwrap_or_else(|| "<unknown>".into());
    let version =
        node.pointer("/status/nodeInfo/kubeletVersion").and_then(Value::as_str).unwrap_or_default().to_string();
    vec![name, status_column(node), roles_column(node), age, version]
}

/// The whole table, rows sorted by name as kubectl does.
pub fn render(nodes: &[Value], now: OffsetDateTime) -> String {
    let mut rows: Vec<Vec<String>> = nodes.iter().map(|n| row(n, now)).collect();
    rows.sort();
    rows.insert(0, HEADER.iter().map(|s| s.to_string()).collect());
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
