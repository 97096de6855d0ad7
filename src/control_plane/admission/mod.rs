//! Admission webhooks, kube-apiserver's MutatingAdmissionWebhook and ValidatingAdmissionWebhook: every
//! write the registry makes (create, update, patch, apply, delete) passes the mutating webhooks whose rules
//! and selectors match it, each answer's JSONPatch applied in turn (a webhook with reinvocationPolicy
//! IfNeeded called once more when a later one changed the object), then — after the registry's own
//! validation — the validating webhooks. A refusal is the write's answer; a webhook that cannot be called
//! refuses the write when its failurePolicy is Fail and is passed over (after at most its timeout) when Ignore.

mod client;
pub mod configuration;
mod review;
mod rules;

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use serde_json::Value;

pub use configuration::Phase;
use configuration::{Client, Webhook};

use crate::control_plane::store::Store;
use crate::resources::kinds::{served, ResourceKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
    Delete,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
        }
    }
}

/// What a write is, as the webhooks' rules and reviews see it.
#[derive(Debug, Clone)]
pub struct Attributes<'a> {
    pub kind: &'a ResourceKind,
    /// "" or "status".
    pub subresource: &'a str,
    pub namespace: Option<&'a str>,
    pub name: &'a str,
    pub operation: Operation,
    pub dry_run: bool,
    pub user: &'a User,
}

/// Who makes a write, as a webhook's review names them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub groups: Vec<String>,
}

impl User {
    /// The server itself, for its own writes (the controllers', the scheduler's, those at start).
    pub fn server() -> &'static User {
        static SERVER: std::sync::LazyLock<User> = std::sync::LazyLock::new(|| User {
            name: "system:apiserver".into(),
            groups: vec!["system:masters".into(), "system:authenticated".into()],
        });
        &SERVER
    }
}

/// Why a write did not pass.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AdmissionError {
    /// A webhook refused it: the Status it gave (code at least 400).
    #[error("{message}")]
    Denied { code: u16, message: String },
    /// A webhook with failurePolicy Fail could not be called or answered nonsense.
    #[error("failed calling webhook {webhook:?}: {message}")]
    Failed { webhook: String, message: String },
    /// A dry run reached a webhook that may have side effects.
    #[error("admission webhook {0:?} does not support dry run")]
    NoDryRun(String),
}

/// The kinds no webhook is called for: the webhook configurations themselves (a broken webhook must
/// not keep its own configuration from being fixed), as kube-apiserver exempts them.
fn exempt(kind: &ResourceKind) -> bool {
    kind.group == "admissionregistration.k8s.io"
}

/// Run the mutating webhooks on `object` (changed in place), for `request` (`old`: the stored object);
/// whether any of them changed it.
pub fn mutate(
    store: &dyn Store,
    request: &Attributes,
    object: &mut Value,
    old: Option<&Value>,
) -> Result<bool, AdmissionError> {
    if exempt(request.kind) {
        return Ok(false);
    }
    let hooks = matching(store, Phase::Mutating, request, Some(object), old);
    // After which webhook (by its place in the order) the object last changed.
    let mut changed_after: Option<usize> = None;
    for (i, hook) in hooks.iter().enumerate() {
        if call_mutating(store, hook, request, object, old)? {
            changed_after = Some(i);
        }
    }
    // Reinvocation: webhooks asking for it that ran before the last change see the object once more.
    if let Some(last) = changed_after {
        for hook in hooks.iter().take(last).filter(|h| h.reinvoke) {
            call_mutating(store, hook, request, object, old)?;
        }
    }
    Ok(changed_after.is_some())
}

/// Run the validating webhooks on `object` (None: a delete) and `old`.
pub fn validate(
    store: &dyn Store,
    request: &Attributes,
    object: Option<&Value>,
    old: Option<&Value>,
) -> Result<(), AdmissionError> {
    if exempt(request.kind) {
        return Ok(());
    }
    for hook in matching(store, Phase::Validating, request, object, old) {
        call(&hook, request, object, old, store)?;
    }
    Ok(())
}

/// The webhooks of `phase` that apply to this write.
fn matching(
    store: &dyn Store,
    phase: Phase,
    request: &Attributes,
    object: Option<&Value>,
    old: Option<&Value>,
) -> Vec<std::sync::Arc<Webhook>> {
    let hooks = configuration::webhooks(phase);
    if hooks.is_empty() {
        return hooks;
    }
    let namespace = request.namespace.filter(|_| request.kind.namespaced).and_then(|ns| {
        let stored = store.get(&served("", "namespaces").key(None, ns)).ok()??;
        serde_json::from_slice::<Value>(&stored.value).ok()
    });
    let labels = namespace.as_ref().and_then(crate::resources::label_selector::labels);
    hooks.into_iter().filter(|h| rules::applies(h, request, object, old, labels)).collect()
}

/// Call one mutating webhook and apply its patch; whether the object changed.
fn call_mutating(
    store: &dyn Store,
    hook: &Webhook,
    request: &Attributes,
    object: &mut Value,
    old: Option<&Value>,
) -> Result<bool, AdmissionError> {
    let Some(verdict) = call(hook, request, Some(object), old, store)? else { return Ok(false) };
    let Some(patch) = verdict.patch else { return Ok(false) };
    let failed = |message: String| AdmissionError::Failed { webhook: hook.name.clone(), message };
    let operations: json_patch::Patch =
        serde_json::from_value(patch).map_err(|e| failed(format!("the webhook's patch: {e}")))?;
    let before = object.clone();
    json_patch::patch(object, &operations).map_err(|e| failed(format!("applying the webhook's patch: {e}")))?;
    Ok(*object != before)
}

/// Call `hook`: its verdict when it allowed the write, None when it could not be called and fails open.
fn call(
    hook: &Webhook,
    request: &Attributes,
    object: Option<&Value>,
    old: Option<&Value>,
    store: &dyn Store,
) -> Result<Option<review::Verdict>, AdmissionError> {
    if request.dry_run && !hook.dry_run_safe {
        return Err(AdmissionError::NoDryRun(hook.name.clone()));
    }
    let uid = crate::resources::meta::uuid_v4();
    let body = serde_json::to_vec(&review::request(&uid, request, object, old)).expect("JSON values serialize");
    let answer = endpoint(hook, store).and_then(|endpoint| {
        let url = format!("https://{}:{}{}", endpoint.server_name, endpoint.address.port(), endpoint.path);
        client::post(&endpoint, hook.ca_bundle.as_deref(), body, hook.timeout)
            .map_err(|e| format!("failed to call webhook: Post \"{url}\": {e}"))
            .and_then(|bytes| review::verdict(&uid, &bytes))
    });
    let verdict = match answer {
        Ok(verdict) => verdict,
        Err(message) if hook.fail_closed => return Err(AdmissionError::Failed { webhook: hook.name.clone(), message }),
        Err(message) => {
            eprintln!("kubeboot server: webhook {:?} ignored (failurePolicy Ignore): {message}", hook.name);
            return Ok(None);
        }
    };
    if !verdict.allowed {
        return Err(denied(&hook.name, verdict.status.as_ref()));
    }
    Ok(Some(verdict))
}

/// Kubernetes' refusal: `admission webhook "NAME" denied the request: MESSAGE`, at the webhook's code (400
/// at least).
fn denied(webhook: &str, status: Option<&Value>) -> AdmissionError {
    let text = |field: &str| status.and_then(|s| s.get(field)).and_then(Value::as_str).unwrap_or_default().to_string();
    let code = status.and_then(|s| s.get("code")).and_then(Value::as_u64).unwrap_or(0).max(400) as u16;
    let by = format!("admission webhook {webhook:?} denied the request");
    let message = match (text("message"), text("reason")) {
        (m, _) if !m.is_empty() => format!("{by}: {m}"),
        (_, r) if !r.is_empty() => format!("{by}: {r}"),
        _ => format!("{by} without explanation"),
    };
    AdmissionError::Denied { code, message }
}

/// Where `hook` is reached: its URL's host, or its Service's ClusterIP (the name its certificate must
/// carry being SERVICE.NAMESPACE.svc).
fn endpoint(hook: &Webhook, store: &dyn Store) -> Result<client::Endpoint, String> {
    match &hook.client {
        Client::Url { host, port, path } => {
            let address = match host.parse::<IpAddr>() {
                Ok(ip) => SocketAddr::new(ip, *port),
                Err(_) => (host.as_str(), *port)
                    .to_socket_addrs()
                    .map_err(|e| format!("dial tcp: lookup {host}: {e}"))?
                    .next()
                    .ok_or_else(|| format!("dial tcp: lookup {host}: no such host"))?,
            };
            Ok(client::Endpoint { address, server_name: host.clone(), path: path.clone() })
        }
        Client::Service { namespace, name, path, port } => {
            let services = served("", "services");
            let stored = store
                .get(&services.key(Some(namespace), name))
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("service \"{name}\" not found"))?;
            let service: Value = serde_json::from_slice(&stored.value).unwrap_or(Value::Null);
            let ip = service
                .pointer("/spec/clusterIP")
                .and_then(Value::as_str)
                .and_then(|ip| ip.parse::<IpAddr>().ok())
                .ok_or_else(|| format!("service \"{namespace}/{name}\" has no ClusterIP"))?;
            Ok(client::Endpoint {
                address: SocketAddr::new(ip, *port),
                server_name: format!("{name}.{namespace}.svc"),
                path: path.clone(),
            })
        }
    }
}
