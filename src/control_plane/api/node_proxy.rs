//! `pods/log`, `pods/exec`, `pods/attach` and `pods/portforward`, as kube-apiserver serves them: the client is
//! authenticated and authorized here (admins only), the container checked against the pod's spec with
//! Kubernetes' wording, then the request goes to the agent of the pod's node (its node API on :10250, over
//! TLS verified by the cluster CA, with our own client certificate). Logs stream back as the body; an
//! upgraded connection (SPDY or WebSocket, whichever the agent accepted) is spliced byte for byte.
// Errors here are the HTTP answers themselves, returned once per request: their size does not matter.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, StatusCode};
use axum::response::Response;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use serde_json::Value;

use super::identity::Identity;
use super::object_path::ObjectPath;
use super::state::ApiState;
use super::status::{bad_request, status};
use crate::apiclient::{ApiClient, Trust};
use crate::resources::meta;

/// The pod subresources served by a node.
pub const NODE_SUBRESOURCES: [&str; 4] = ["log", "exec", "attach", "portforward"];
const DEFAULT_NODE_API_PORT: u64 = 10250;
/// Request headers the agent needs to choose and confirm a streaming protocol.
const FORWARDED_HEADERS: [&str; 6] = [
    "connection",
    "upgrade",
    "x-stream-protocol-version",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
];

fn internal(message: String) -> Response {
    status(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", message)
}

pub async fn handle(state: Arc<ApiState>, identity: Identity, path: ObjectPath, mut request: Request) -> Response {
    let subresource = path.subresource.clone().unwrap_or_default();
    let (namespace, name) = (path.namespace.clone().unwrap_or_default(), path.name.clone().unwrap_or_default());
    let verb = if subresource == "log" { "get" } else { "create" };
    // Reading logs or running commands in pods is an admin's: a node's certificate never reaches a node API.
    if !matches!(identity, Identity::Admin { .. }) {
        return super::authz::forbidden(&identity, verb, path.kind, Some(&namespace), Some(&name), Some(&subresource));
    }
    let pod = match state.store.get(&path.kind.key(Some(&namespace), &name)) {
        Ok(Some(stored)) => serde_json::from_slice::<Value>(&stored.value).unwrap_or_default(),
        Ok(None) => {
            return super::error_status::store_error(
                path.kind,
                &name,
                crate::control_plane::store::StoreError::NotFound(String::new()),
            )
        }
        Err(e) => return internal(e.to_string()),
    };
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes()).into_owned().collect();
    let requested = pairs.iter().find(|(k, _)| k == "container").map(|(_, v)| v.clone());
    let container = if subresource == "portforward" {
        None
    } else {
        match choose_container(&pod, &name, requested.as_deref()) {
            Ok(c) => Some(c),
            Err(r) => return r,
        }
    };
    let Some(node_name) = pod.pointer("/spec/nodeName").and_then(Value::as_str).filter(|n| !n.is_empty()) else {
        return bad_request(format!("pod {name} does not have a host assigned"));
    };
    let (address, port) = match node_endpoint(&state, node_name) {
        Ok(e) => e,
        Err(r) => return r,
    };
    let uid = meta::text(&pod, "/metadata/uid");
    let query: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().filter(|(k, _)| k != "container" && k != "pretty"))
        .finish();
    let target = match (subresource.as_str(), container) {
        ("log", Some(c)) => format!("/containerLogs/{namespace}/{name}/{c}"),
        ("exec", Some(c)) => format!("/exec/{namespace}/{name}/{uid}/{c}"),
        ("attach", Some(c)) => format!("/attach/{namespace}/{name}/{uid}/{c}"),
        _ => format!("/portForward/{namespace}/{name}/{uid}"),
    };
    let target = if query.is_empty() { target } else { format!("{target}?{query}") };

    let server = node_api_url(&address, port);
    let client = match node_api_client(&state, &server) {
        Ok(c) => c,
        Err(e) => return internal(e),
    };
    let mut forwarded = hyper::Request::builder().method(request.method()).uri(&target);
    for name in FORWARDED_HEADERS {
        for value in request.headers().get_all(name) {
            forwarded = forwarded.header(HeaderName::from_static(name), value);
        }
    }
    let Ok(forwarded) = forwarded.body(Full::new(bytes::Bytes::new())) else {
        return internal(format!("cannot build the request to {server}{target}"));
    };
    let client_upgrade = hyper::upgrade::on(&mut request);
    let mut answer = match client.send_request(forwarded).await {
        Ok(r) => r,
        Err(e) => return internal(format!("{} {server}{target}: {e}", request.method())),
    };
    if answer.status() != StatusCode::SWITCHING_PROTOCOLS {
        let (parts, body) = answer.into_parts();
        return Response::from_parts(parts, Body::new(body));
    }
    let node_upgrade = hyper::upgrade::on(&mut answer);
    tokio::spawn(async move {
        let (Ok(client_io), Ok(node_io)) = (client_upgrade.await, node_upgrade.await) else { return };
        let _ = tokio::io::copy_bidirectional(&mut TokioIo::new(client_io), &mut TokioIo::new(node_io)).await;
    });
    let (parts, _) = answer.into_parts();
    Response::from_parts(parts, Body::empty())
}

/// The container a request means, as kube-apiserver decides it: the one named (which must be the pod's),
/// or the only one; several and none named is a 400 listing them.
fn choose_container(pod: &Value, pod_name: &str, requested: Option<&str>) -> Result<String, Response> {
    let names = |field: &str| -> Vec<String> {
        pod.pointer(&format!("/spec/{field}"))
            .and_then(Value::as_array)
            .map(|list| list.iter().filter_map(|c| c.get("name").and_then(Value::as_str).map(String::from)).collect())
            .unwrap_or_default()
    };
    let (containers, init) = (names("containers"), names("initContainers"));
    match requested {
        Some(c) if containers.iter().chain(init.iter()).chain(names("ephemeralContainers").iter()).any(|n| n == c) => {
            Ok(c.to_string())
        }
        Some(c) => Err(bad_request(format!("container {c} is not valid for pod {pod_name}"))),
        None if containers.len() == 1 => Ok(containers[0].clone()),
        None => {
            let mut message = format!(
                "a container name must be specified for pod {pod_name}, choose one of: [{}]",
                containers.join(" ")
            );
            if !init.is_empty() {
                message.push_str(&format!(" or one of the init containers: [{}]", init.join(" ")));
            }
            Err(bad_request(message))
        }
    }
}

/// The node's InternalIP and node API port, from its Node.
fn node_endpoint(state: &ApiState, node_name: &str) -> Result<(String, u64), Response> {
    let node: Value = match state.store.get(&format!("/nodes/{node_name}")) {
        Ok(Some(stored)) => serde_json::from_slice(&stored.value).unwrap_or_default(),
        Ok(None) => return Err(bad_request(format!("node {node_name:?} is not in the cluster"))),
        Err(e) => return Err(internal(e.to_string())),
    };
    node_api_address(&node).ok_or_else(|| bad_request(format!("node {node_name:?} has no InternalIP address")))
}

/// Where a Node's node API listens: `https://ADDRESS:PORT` (its InternalIP, its kubelet endpoint's port).
pub fn node_api_address(node: &Value) -> Option<(String, u64)> {
    let address = node
        .pointer("/status/addresses")
        .and_then(Value::as_array)
        .and_then(|list| list.iter().find(|a| a.get("type").and_then(Value::as_str) == Some("InternalIP")))
        .and_then(|a| a.get("address").and_then(Value::as_str))?;
    let port = node
        .pointer("/status/daemonEndpoints/kubeletEndpoint/Port")
        .and_then(Value::as_u64)
        .unwrap_or(DEFAULT_NODE_API_PORT);
    Some((address.to_string(), port))
}

/// The base URL of a node API at `address`:`port`.
pub fn node_api_url(address: &str, port: u64) -> String {
    if address.contains(':') {
        format!("https://[{address}]:{port}")
    } else {
        format!("https://{address}:{port}")
    }
}

/// A client of a node API: trusting the cluster CA, showing the API server's node-client certificate.
pub fn node_api_client(state: &ApiState, server: &str) -> Result<ApiClient, String> {
    let credentials = state.node_api_client()?;
    ApiClient::new(
        server,
        Trust::Ca(state.ca.cert_pem().to_string()),
        Some((&credentials.cert_pem, &credentials.key_pem)),
    )
    .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    async fn message(r: Response) -> String {
        let body = http_body_util::BodyExt::collect(r.into_body()).await.unwrap().to_bytes();
        serde_json::from_slice::<Value>(&body).unwrap()["message"].as_str().unwrap().to_string()
    }

    #[tokio::test]
    async fn containers_as_kube_apiserver_chooses_them() {
        let one = json!({"spec": {"containers": [{"name": "c1"}]}});
        assert_eq!(choose_container(&one, "pod-1", None).unwrap(), "c1");
        let two = json!({"spec": {"containers": [{"name": "container1"}, {"name": "container2"}]}});
        assert_eq!(
            message(choose_container(&two, "pod-1", None).unwrap_err()).await,
            "a container name must be specified for pod pod-1, choose one of: [container1 container2]"
        );
        assert_eq!(choose_container(&two, "pod-1", Some("container2")).unwrap(), "container2");
        assert_eq!(
            message(choose_container(&two, "pod-1", Some("nope")).unwrap_err()).await,
            "container nope is not valid for pod pod-1"
        );
        let with_init =
            json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}], "initContainers": [{"name": "i"}]}});
        assert!(message(choose_container(&with_init, "p", None).unwrap_err())
            .await
            .ends_with("or one of the init containers: [i]"));
        assert_eq!(choose_container(&with_init, "p", Some("i")).unwrap(), "i");
    }
}
