//! Which of the expected nodes are not Ready yet, and why, from a NodeList's items.

use serde_json::Value;

use crate::resources::node::ready_status;

/// (name, why) for each expected node that is not Ready: "not registered" or its Ready status.
pub fn not_ready(nodes: &[Value], expected: &[String]) -> Vec<(String, String)> {
    expected
        .iter()
        .filter_map(|name| {
            let node = nodes.iter().find(|n| n.pointer("/metadata/name").and_then(Value::as_str) == Some(name));
            match node.map(ready_status) {
                None => Some((name.clone(), "not registered".into())),
                Some(Some("True")) => None,
                Some(Some(status)) => Some((name.clone(), format!("Ready={status}"))),
                Some(None) => Some((name.clone(), "no Ready condition yet".into())),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_the_stuck_nodes() {
        let nodes = [
            json!({"metadata": {"name": "a"}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
            json!({"metadata": {"name": "b"}, "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}),
        ];
        let expected: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            not_ready(&nodes, &expected),
            [("b".to_string(), "Ready=Unknown".to_string()), ("c".into(), "not registered".into())]
        );
    }
}
