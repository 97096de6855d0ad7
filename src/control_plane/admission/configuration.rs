//! Admission webhooks as their configurations declare them (admissionregistration.k8s.io/v1
//! MutatingWebhookConfiguration and ValidatingWebhookConfiguration), with Kubernetes' defaults, and the
//! set this process calls: every API server keeps its own from the store (control_plane/api_extensions.rs
//! follows the configurations), in the order Kubernetes calls them (by configuration name, then as listed).

use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};

/// Which pass a webhook belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Mutating,
    Validating,
}

impl Phase {
    /// The configuration kind's plural (its store prefix's).
    pub fn plural(self) -> &'static str {
        match self {
            Phase::Mutating => "mutatingwebhookconfigurations",
            Phase::Validating => "validatingwebhookconfigurations",
        }
    }
}

/// Where a webhook is called.
#[derive(Debug, Clone, PartialEq)]
pub enum Client {
    /// `url`: https://HOST[:PORT]/PATH.
    Url { host: String, port: u16, path: String },
    /// `service`: the Service's ClusterIP, its certificate named SERVICE.NAMESPACE.svc.
    Service { namespace: String, name: String, path: String, port: u16 },
}

/// One rule: operations on resources of groups and versions, at a scope.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub operations: Vec<String>,
    pub groups: Vec<String>,
    pub versions: Vec<String>,
    /// "pods", "pods/status", "*", "*/*", "*/status".
    pub resources: Vec<String>,
    /// "*", "Cluster" or "Namespaced".
    pub scope: String,
}

#[derive(Debug, Clone)]
pub struct Webhook {
    pub phase: Phase,
    /// The configuration it is listed in.
    pub configuration: String,
    pub name: String,
    pub client: Client,
    /// PEM roots the webhook's certificate must chain to (the machine's roots without one).
    pub ca_bundle: Option<Vec<u8>>,
    pub rules: Vec<Rule>,
    /// failurePolicy Fail (the default) refuses the write when the call fails; Ignore lets it through.
    pub fail_closed: bool,
    pub namespace_selector: Value,
    pub object_selector: Value,
    /// None or NoneOnDryRun: may be called for a dry run.
    pub dry_run_safe: bool,
    pub timeout: Duration,
    /// reinvocationPolicy IfNeeded: called again when a later webhook changed the object.
    pub reinvoke: bool,
}

fn texts(value: &Value, field: &str) -> Vec<String> {
    value
        .get(field)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(String::from)
        .collect()
}

/// `https://host:port/path` split (the URL's path defaults to /).
fn url_client(url: &str) -> Option<Client> {
    let rest = url.strip_prefix("https://")?;
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], rest[at..].to_string()),
        None => (rest, "/".to_string()),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => (host, port.parse().ok()?),
        _ => (authority, 443),
    };
    Some(Client::Url { host: host.trim_matches(['[', ']']).to_string(), port, path })
}

/// The webhooks a configuration object lists (its kind says the phase).
pub fn webhooks_of(phase: Phase, configuration: &Value) -> Vec<Webhook> {
    let name = configuration.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    let listed = configuration.get("webhooks").and_then(Value::as_array).into_iter().flatten();
    listed
        .filter_map(|w| {
            let config = w.get("clientConfig")?;
            let client = match (config.get("url").and_then(Value::as_str), config.get("service")) {
                (Some(url), _) => url_client(url)?,
                (None, Some(service)) => Client::Service {
                    namespace: service.get("namespace")?.as_str()?.to_string(),
                    name: service.get("name")?.as_str()?.to_string(),
                    path: service.get("path").and_then(Value::as_str).unwrap_or("/").to_string(),
                    port: service.get("port").and_then(Value::as_u64).unwrap_or(443) as u16,
                },
                _ => return None,
            };
            let ca_bundle = config
                .get("caBundle")
                .and_then(Value::as_str)
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok());
            let rules = w
                .get("rules")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|r| Rule {
                    operations: texts(r, "operations"),
                    groups: texts(r, "apiGroups"),
                    versions: texts(r, "apiVersions"),
                    resources: texts(r, "resources"),
                    scope: r.get("scope").and_then(Value::as_str).unwrap_or("*").to_string(),
                })
                .collect();
            let side_effects = w.get("sideEffects").and_then(Value::as_str).unwrap_or("Unknown");
            let seconds = w.get("timeoutSeconds").and_then(Value::as_u64).unwrap_or(10).clamp(1, 30);
            Some(Webhook {
                phase,
                configuration: name.to_string(),
                name: w.get("name").and_then(Value::as_str).unwrap_or_default().to_string(),
                client,
                ca_bundle,
                rules,
                fail_closed: w.get("failurePolicy").and_then(Value::as_str) != Some("Ignore"),
                namespace_selector: w.get("namespaceSelector").cloned().unwrap_or_else(|| json!({})),
                object_selector: w.get("objectSelector").cloned().unwrap_or_else(|| json!({})),
                dry_run_safe: matches!(side_effects, "None" | "NoneOnDryRun"),
                timeout: Duration::from_secs(seconds),
                reinvoke: w.get("reinvocationPolicy").and_then(Value::as_str) == Some("IfNeeded"),
            })
        })
        .collect()
}

fn registered() -> &'static RwLock<Vec<Arc<Webhook>>> {
    static REGISTERED: RwLock<Vec<Arc<Webhook>>> = RwLock::new(Vec::new());
    &REGISTERED
}

/// Call `webhooks` for the configuration `name` of `phase` in place of what it listed before.
pub fn set_configuration(phase: Phase, name: &str, webhooks: Vec<Webhook>) {
    let mut set = registered().write().expect("webhooks");
    set.retain(|w| !(w.phase == phase && w.configuration == name));
    set.extend(webhooks.into_iter().map(Arc::new));
    // Kubernetes calls them by configuration name, then in the order each lists them (a stable sort).
    set.sort_by(|a, b| a.configuration.cmp(&b.configuration));
}

/// Keep only the configurations of `phase` named in `names`.
pub fn retain_configurations(phase: Phase, names: &[String]) {
    registered().write().expect("webhooks").retain(|w| w.phase != phase || names.contains(&w.configuration));
}

/// The webhooks of `phase`, in calling order.
pub fn webhooks(phase: Phase) -> Vec<Arc<Webhook>> {
    registered().read().expect("webhooks").iter().filter(|w| w.phase == phase).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configurations_read_with_kubernetes_defaults() {
        let config = json!({"metadata": {"name": "labels"}, "webhooks": [
            {"name": "add.example.com", "clientConfig": {"url": "https://10.0.0.1:8443/mutate", "caBundle": "LS0t"},
             "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}],
             "sideEffects": "None", "admissionReviewVersions": ["v1"]},
            {"name": "svc.example.com", "clientConfig": {"service": {"namespace": "hooks", "name": "guard"}},
             "failurePolicy": "Ignore", "timeoutSeconds": 60, "reinvocationPolicy": "IfNeeded", "sideEffects": "Some"}]});
        let hooks = webhooks_of(Phase::Mutating, &config);
        assert_eq!(hooks[0].client, Client::Url { host: "10.0.0.1".into(), port: 8443, path: "/mutate".into() });
        assert_eq!(hooks[0].ca_bundle.as_deref(), Some(&b"---"[..]));
        assert!(hooks[0].fail_closed && hooks[0].dry_run_safe && !hooks[0].reinvoke);
        assert_eq!(hooks[0].timeout, Duration::from_secs(10));
        assert_eq!(hooks[0].rules[0].scope, "*");
        assert_eq!(
            hooks[1].client,
            Client::Service { namespace: "hooks".into(), name: "guard".into(), path: "/".into(), port: 443 }
        );
        assert!(!hooks[1].fail_closed && !hooks[1].dry_run_safe && hooks[1].reinvoke);
        assert_eq!(hooks[1].timeout, Duration::from_secs(30), "at most 30 s");
    }
}
