//! Status conditions as Kubernetes' controllers write them (type, status, reason, message and the time
//! the status last changed), for kinds whose conditions carry nothing more.

use serde_json::{json, Value};

/// Condition `type_` at `status` ("True" / "False"), its lastTransitionTime kept from `object`'s condition
/// of that type while the status stays, else `now`.
pub fn condition(object: &Value, type_: &str, status: &str, reason: &str, message: &str, now: &str) -> Value {
    let since = object
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|list| list.iter().find(|c| c["type"] == type_ && c["status"] == status))
        .and_then(|c| c.get("lastTransitionTime"))
        .cloned()
        .unwrap_or_else(|| json!(now));
    json!({"type": type_, "status": status, "lastTransitionTime": since, "reason": reason, "message": message})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transition_time_stays_while_the_status_does() {
        let object =
            json!({"status": {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "t1"}]}});
        assert_eq!(condition(&object, "Ready", "True", "R", "m", "t2")["lastTransitionTime"], "t1");
        assert_eq!(condition(&object, "Ready", "False", "R", "m", "t2")["lastTransitionTime"], "t2");
        assert_eq!(condition(&object, "Other", "True", "R", "m", "t2")["lastTransitionTime"], "t2");
    }
}
