//! What the API server fills into a new Job: parallelism 1, completions 1 when neither is set, backoffLimit
//! 6, completionMode NonIndexed, suspend false; and, unless `manualSelector`, a selector on the Job's own
//! uid with the matching labels on its pod template (`batch.kubernetes.io/controller-uid`,
//! `batch.kubernetes.io/job-name` and the older `controller-uid`, `job-name`), as Kubernetes 1.27+ does.

use serde_json::{json, Value};

pub const CONTROLLER_UID: &str = "batch.kubernetes.io/controller-uid";
pub const JOB_NAME: &str = "batch.kubernetes.io/job-name";

/// Call on create, after the uid is set.
pub fn apply(job: &mut Value) {
    if !job.get("spec").is_some_and(Value::is_object) {
        return;
    }
    let spec = &mut job["spec"];
    if spec.get("parallelism").is_none_or(Value::is_null) {
        let both_unset = spec.get("completions").is_none_or(Value::is_null);
        spec["parallelism"] = json!(1);
        if both_unset {
            spec["completions"] = json!(1);
        }
    }
    for (field, value) in
        [("backoffLimit", json!(6)), ("completionMode", json!("NonIndexed")), ("suspend", json!(false))]
    {
        if spec.get(field).is_none_or(Value::is_null) {
            spec[field] = value;
        }
    }
    if spec.get("manualSelector").and_then(Value::as_bool) == Some(true) {
        return;
    }
    let uid = job.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default().to_string();
    let name = job.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
    job["spec"]["selector"] = json!({"matchLabels": {CONTROLLER_UID: uid}});
    let template = &mut job["spec"]["template"];
    if !template.get("metadata").is_some_and(Value::is_object) {
        template["metadata"] = json!({});
    }
    if !template["metadata"].get("labels").is_some_and(Value::is_object) {
        template["metadata"]["labels"] = json!({});
    }
    let labels = &mut template["metadata"]["labels"];
    labels[CONTROLLER_UID] = json!(uid);
    labels[JOB_NAME] = json!(name);
    labels["controller-uid"] = json!(uid);
    labels["job-name"] = json!(name);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_the_generated_selector() {
        let mut job = json!({"metadata": {"name": "job-1", "uid": "u1"}, "spec": {"template": {"spec": {}}}});
        apply(&mut job);
        assert_eq!((job["spec"]["parallelism"].clone(), job["spec"]["completions"].clone()), (json!(1), json!(1)));
        assert_eq!(job["spec"]["backoffLimit"], 6);
        assert_eq!(job["spec"]["selector"]["matchLabels"][CONTROLLER_UID], "u1");
        assert_eq!(job["spec"]["template"]["metadata"]["labels"]["job-name"], "job-1");
        // A work queue (parallelism without completions) keeps completions unset.
        let mut queue = json!({"metadata": {"uid": "u2"}, "spec": {"parallelism": 3, "template": {}}});
        apply(&mut queue);
        assert!(queue["spec"]["completions"].is_null());
    }
}
