//! apiextensions.k8s.io/v1 CustomResourceDefinitions read: what a definition's own write must hold
//! (names, scope, versions, structural schemas), its conditions, and the versions it serves once
//! established (custom_kinds.rs keeps them).

use serde_json::{json, Value};

use super::custom_kinds::{intern, CustomVersion, OwnedKind, PrinterColumn, ScalePaths};
use super::field_rules::{dns1123_label, dns1123_subdomain, invalid};
use super::structural_schema::structural_problems;
use super::validation::FieldError;

/// The finalizer a definition carries until its objects are gone.
pub const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

fn text<'a>(object: &'a Value, pointer: &str) -> &'a str {
    object.pointer(pointer).and_then(Value::as_str).unwrap_or_default()
}

fn texts(object: &Value, pointer: &str) -> Vec<String> {
    object
        .pointer(pointer)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(String::from).collect())
        .unwrap_or_default()
}

pub fn group(crd: &Value) -> &str {
    text(crd, "/spec/group")
}

pub fn namespaced(crd: &Value) -> bool {
    text(crd, "/spec/scope") != "Cluster"
}

/// The version objects are stored in.
pub fn storage_version(crd: &Value) -> Option<&str> {
    versions(crd).find(|v| v.get("storage").and_then(Value::as_bool) == Some(true)).and_then(|v| v["name"].as_str())
}

fn versions(crd: &Value) -> impl Iterator<Item = &Value> {
    crd.pointer("/spec/versions").and_then(Value::as_array).into_iter().flatten()
}

/// One of the names the definition is served under (`plural`, `kind`, …): the accepted one, or the
/// spec's until names are accepted.
pub fn accepted_name<'a>(crd: &'a Value, field: &str) -> &'a str {
    match text(crd, &format!("/status/acceptedNames/{field}")) {
        "" => text(crd, &format!("/spec/names/{field}")),
        accepted => accepted,
    }
}

/// The status condition of `type_`'s status ("True", "False"), if set.
pub fn condition<'a>(crd: &'a Value, type_: &str) -> Option<&'a str> {
    crd.pointer("/status/conditions")
        .and_then(Value::as_array)?
        .iter()
        .find(|c| c["type"] == type_)
        .and_then(|c| c["status"].as_str())
}

/// What a write of a definition must hold, as kube-apiserver's CRD validation checks it.
pub fn validate(crd: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut required = |field: &str, given: &str| {
        if given.is_empty() {
            errors.push(FieldError { field: field.into(), message: "Required value".into() });
        }
    };
    let (group, plural, kind) = (group(crd), text(crd, "/spec/names/plural"), text(crd, "/spec/names/kind"));
    required("spec.group", group);
    required("spec.names.plural", plural);
    required("spec.names.kind", kind);
    if !group.is_empty() && (!group.contains('.') || !dns1123_subdomain(group).is_empty()) {
        errors.push(invalid("spec.group", &json!(group), "should be a domain with at least one dot"));
    }
    for (field, name) in [("spec.names.plural", plural), ("spec.names.singular", text(crd, "/spec/names/singular"))] {
        if !name.is_empty() && !dns1123_label(name).is_empty() {
            errors.push(invalid(
                field,
                &json!(name),
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'",
            ));
        }
    }
    let name = text(crd, "/metadata/name");
    if !plural.is_empty() && !group.is_empty() && name != format!("{plural}.{group}") {
        errors.push(invalid("metadata.name", &json!(name), "must be spec.names.plural+\".\"+spec.group"));
    }
    if !matches!(text(crd, "/spec/scope"), "Namespaced" | "Cluster") {
        let scope = text(crd, "/spec/scope");
        errors.push(FieldError {
            field: "spec.scope".into(),
            message: format!("Unsupported value: {scope:?}: supported values: \"Cluster\", \"Namespaced\""),
        });
    }
    let all: Vec<&Value> = versions(crd).collect();
    if all.is_empty() {
        errors.push(FieldError {
            field: "spec.versions".into(),
            message: "Invalid value: \"null\": must have exactly one version marked as storage version".into(),
        });
    }
    let storage = all.iter().filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true)).count();
    if !all.is_empty() && storage != 1 {
        errors.push(invalid("spec.versions", &json!(all), "must have exactly one version marked as storage version"));
    }
    if !all.is_empty() && !all.iter().any(|v| v.get("served").and_then(Value::as_bool) == Some(true)) {
        errors.push(invalid("spec.versions", &json!(all), "must have at least one version marked as served"));
    }
    for (i, version) in all.iter().enumerate() {
        let at = format!("spec.versions[{i}]");
        if version["name"].as_str().is_none_or(|n| !dns1123_label(n).is_empty()) {
            errors.push(invalid(&format!("{at}.name"), &version["name"], "must be a DNS-1035 label"));
        }
        match version.pointer("/schema/openAPIV3Schema") {
            Some(schema) => errors.extend(structural_problems(schema, &format!("{at}.schema.openAPIV3Schema"))),
            None => errors.push(FieldError {
                field: format!("{at}.schema.openAPIV3Schema"),
                message: "Required value: schemas are required".into(),
            }),
        }
        if let Some(scale) = version.pointer("/subresources/scale") {
            for field in ["specReplicasPath", "statusReplicasPath"] {
                if scale.get(field).and_then(Value::as_str).is_none_or(|p| !p.starts_with('.')) {
                    errors.push(FieldError {
                        field: format!("{at}.subresources.scale.{field}"),
                        message: "Invalid value: should be a JSON path starting with .".into(),
                    });
                }
            }
        }
    }
    errors
}

/// The versions an established definition serves, with its accepted names (none until it is).
pub fn served_versions(crd: &Value) -> Vec<CustomVersion> {
    if condition(crd, "Established") != Some("True") {
        return Vec::new();
    }
    let names = |field: &str| accepted_name(crd, field).to_string();
    let listed = |field: &str| {
        let accepted = texts(crd, &format!("/status/acceptedNames/{field}"));
        if accepted.is_empty() {
            texts(crd, &format!("/spec/names/{field}"))
        } else {
            accepted
        }
    };
    let plural = names("plural");
    let singular = match names("singular") {
        s if s.is_empty() => names("kind").to_lowercase(),
        s => s,
    };
    let storage = storage_version(crd).unwrap_or_default();
    let definition = text(crd, "/metadata/name").to_string();
    let terminating = super::meta::is_deleting(crd);
    let mut served: Vec<&Value> =
        versions(crd).filter(|v| v.get("served").and_then(Value::as_bool) == Some(true)).collect();
    // Discovery names the first version preferred: Kubernetes' version priority, not the definition's order.
    served.sort_by_key(|v| version_priority(v["name"].as_str().unwrap_or_default()));
    served
        .into_iter()
        .map(|v| {
            let owned = OwnedKind {
                group: group(crd).to_string(),
                version: v["name"].as_str().unwrap_or_default().to_string(),
                plural: plural.clone(),
                singular: singular.clone(),
                kind: names("kind"),
                namespaced: namespaced(crd),
                short_names: listed("shortNames"),
                categories: listed("categories"),
                status: v.pointer("/subresources/status").is_some(),
            };
            CustomVersion {
                kind: intern(owned),
                definition: definition.clone(),
                schema: v.pointer("/schema/openAPIV3Schema").cloned(),
                printer_columns: printer_columns(v),
                scale: v.pointer("/subresources/scale").map(|s| ScalePaths {
                    spec_replicas: text(s, "/specReplicasPath").to_string(),
                    status_replicas: text(s, "/statusReplicasPath").to_string(),
                    label_selector: s.get("labelSelectorPath").and_then(Value::as_str).map(String::from),
                }),
                storage_version: format!("{}/{storage}", group(crd)),
                terminating,
            }
        })
        .collect()
}

/// Kubernetes' version order, highest first: GA (v2 before v1), then beta, then alpha (by major, then
/// by their number), then any other name alphabetically.
fn version_priority(name: &str) -> (u8, std::cmp::Reverse<u64>, std::cmp::Reverse<u64>, String) {
    let parsed = name.strip_prefix('v').and_then(|rest| {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let major: u64 = rest[..digits].parse().ok()?;
        match &rest[digits..] {
            "" => Some((0, major, 0)),
            tail => {
                let (level, number) =
                    tail.strip_prefix("beta").map(|n| (1, n)).or_else(|| tail.strip_prefix("alpha").map(|n| (2, n)))?;
                Some((level, major, number.parse().ok()?))
            }
        }
    });
    match parsed {
        Some((level, major, minor)) => (level, std::cmp::Reverse(major), std::cmp::Reverse(minor), String::new()),
        None => (3, std::cmp::Reverse(0), std::cmp::Reverse(0), name.to_string()),
    }
}

fn printer_columns(version: &Value) -> Vec<PrinterColumn> {
    let columns = version.get("additionalPrinterColumns").and_then(Value::as_array);
    columns
        .into_iter()
        .flatten()
        .map(|c| PrinterColumn {
            name: text(c, "/name").to_string(),
            type_: text(c, "/type").to_string(),
            format: text(c, "/format").to_string(),
            description: text(c, "/description").to_string(),
            priority: c.get("priority").and_then(Value::as_i64).unwrap_or(0),
            json_path: text(c, "/jsonPath").to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn widgets() -> Value {
        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.crd-test.example.com"},
            "spec": {"group": "crd-test.example.com", "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wg"]},
                "versions": [
                    {"name": "v1", "served": true, "storage": true,
                     "schema": {"openAPIV3Schema": {"type": "object"}},
                     "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}},
                     "additionalPrinterColumns": [{"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"}]},
                    {"name": "v1beta1", "served": true, "storage": false,
                     "schema": {"openAPIV3Schema": {"type": "object"}}},
                    {"name": "v1alpha1", "served": false, "storage": false,
                     "schema": {"openAPIV3Schema": {"type": "object"}}}]}})
    }

    #[test]
    fn a_good_definition_passes_and_serves_once_established() {
        let mut crd = widgets();
        assert!(validate(&crd).is_empty(), "{:?}", validate(&crd));
        assert!(served_versions(&crd).is_empty(), "not established yet");
        crd["status"] = json!({"conditions": [{"type": "Established", "status": "True"}]});
        let served = served_versions(&crd);
        let names: Vec<&str> = served.iter().map(|v| v.kind.version).collect();
        assert_eq!(names, ["v1", "v1beta1"]);
        assert!(served[0].kind.status && !served[1].kind.status);
        assert_eq!(served[0].storage_version, "crd-test.example.com/v1");
        assert_eq!(served[0].printer_columns[0].json_path, ".spec.replicas");
        assert_eq!(served[0].kind.short_names, ["wg"]);
        let mut order = ["v1alpha1", "foo", "v2beta1", "v1", "v1beta2", "v2", "v1beta1"];
        order.sort_by_key(|v| version_priority(v));
        assert_eq!(order, ["v2", "v1", "v2beta1", "v1beta2", "v1beta1", "v1alpha1", "foo"]);
    }

    #[test]
    fn a_bad_definition_is_refused_by_field() {
        let mut crd = widgets();
        crd["metadata"]["name"] = json!("gadgets.crd-test.example.com");
        crd["spec"]["group"] = json!("nodot");
        crd["spec"]["versions"][1]["storage"] = json!(true);
        crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"] = json!({"properties": {}});
        let fields: Vec<String> = validate(&crd).into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            ["spec.group", "metadata.name", "spec.versions", "spec.versions[0].schema.openAPIV3Schema.type"]
        );
    }
}
