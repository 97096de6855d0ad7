//! A node cordoned and drained through the API, as `kubectl drain --ignore-daemonsets
//! --delete-emptydir-data` does: spec.unschedulable set (with an annotation saying kubeboot did it, so that
//! only its own cordons are undone), then every pod on the node evicted through pods/eviction, which
//! honours PodDisruptionBudgets (a 429 is tried again every 2 s), DaemonSet pods left where they are,
//! until no pod is left or the time limit passes; then the pods in the way are named with why.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{ApiClient, ClientError};

/// The annotation on a Node that kubeboot cordoned, with what for (`upgrade`).
pub const CORDONED_FOR: &str = "kubeboot.io/cordoned-for";

#[derive(Debug, thiserror::Error)]
pub enum DrainError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("node {0} not found")]
    NoNode(String),
    #[error("{node}: the drain did not finish in {seconds} s; in the way: {}", in_the_way.join("; "))]
    TimedOut { node: String, seconds: u64, in_the_way: Vec<String> },
}

fn status_error(client: &ApiClient, status: u16, message: String) -> DrainError {
    DrainError::Client(ClientError::Status { server: client.server(), status, message })
}

/// Set (or clear) spec.unschedulable; cordoning notes `reason` in CORDONED_FOR, uncordoning with
/// `only_ours` leaves a node someone else cordoned as it is. Returns whether the Node changed.
pub async fn set_cordon(
    client: &ApiClient,
    node: &str,
    cordon: Option<&str>,
    only_ours: bool,
) -> Result<bool, DrainError> {
    let path = format!("/api/v1/nodes/{node}");
    loop {
        let reply = client.request("GET", &path, None, None).await?;
        match reply.status {
            200 => {}
            404 => return Err(DrainError::NoNode(node.into())),
            status => return Err(status_error(client, status, reply.message())),
        }
        let mut object = reply.json();
        let ours = object["metadata"]["annotations"][CORDONED_FOR].is_string();
        let unschedulable = object["spec"]["unschedulable"].as_bool().unwrap_or(false);
        match cordon {
            Some(_) if unschedulable => return Ok(false),
            None if !unschedulable || (only_ours && !ours) => return Ok(false),
            _ => {}
        }
        object["spec"]["unschedulable"] = json!(cordon.is_some());
        let annotations = &mut object["metadata"]["annotations"];
        if !annotations.is_object() {
            *annotations = json!({});
        }
        let annotations = annotations.as_object_mut().expect("an object");
        match cordon {
            Some(reason) => annotations.insert(CORDONED_FOR.into(), json!(reason)),
            None => annotations.remove(CORDONED_FOR),
        };
        let reply = client.request("PUT", &path, Some(object.to_string().into_bytes()), None).await?;
        match reply.status {
            200 => return Ok(true),
            409 => continue, // written meanwhile (a heartbeat): read again
            status => return Err(status_error(client, status, reply.message())),
        }
    }
}

/// The pods a drain moves: not a DaemonSet's, not finished.
fn to_move(pods: &[Value]) -> Vec<&Value> {
    pods.iter()
        .filter(|p| {
            let daemon = p["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|o| o.iter().any(|r| r["kind"] == "DaemonSet" && r["controller"] == true));
            let phase = p["status"]["phase"].as_str().unwrap_or_default();
            !daemon && phase != "Succeeded" && phase != "Failed"
        })
        .collect()
}

fn name_of(pod: &Value) -> String {
    format!(
        "{}/{}",
        pod["metadata"]["namespace"].as_str().unwrap_or(""),
        pod["metadata"]["name"].as_str().unwrap_or("")
    )
}

/// Why an eviction was refused: the Status message and its causes (a budget's name and counts).
fn refusal(reply: &super::Reply) -> String {
    let status = reply.json();
    let causes: Vec<&str> =
        status["details"]["causes"].as_array().into_iter().flatten().filter_map(|c| c["message"].as_str()).collect();
    let message = reply.message();
    if causes.is_empty() {
        message
    } else {
        format!("{message} ({})", causes.join("; "))
    }
}

/// Evict every pod a drain moves from `node` and wait until they are gone, at most `limit`.
/// Returns how many pods were evicted.
pub async fn drain(client: &ApiClient, node: &str, limit: Duration) -> Result<usize, DrainError> {
    let deadline = Instant::now() + limit;
    let mut evicted = std::collections::HashSet::new();
    let mut in_the_way: std::collections::BTreeMap<String, String> = Default::default();
    loop {
        let reply =
            client.request("GET", &format!("/api/v1/pods?fieldSelector=spec.nodeName%3D{node}"), None, None).await?;
        if reply.status != 200 {
            return Err(status_error(client, reply.status, reply.message()));
        }
        let listed = reply.json();
        let pods: Vec<Value> = listed["items"].as_array().cloned().unwrap_or_default();
        let moving = to_move(&pods);
        if moving.is_empty() {
            return Ok(evicted.len());
        }
        in_the_way.retain(|name, _| moving.iter().any(|p| name_of(p) == *name));
        for pod in &moving {
            let name = name_of(pod);
            if pod["metadata"]["deletionTimestamp"].is_string() {
                in_the_way.insert(name, "terminating".into());
                continue;
            }
            let (namespace, pod_name) =
                (pod["metadata"]["namespace"].as_str().unwrap_or(""), pod["metadata"]["name"].as_str().unwrap_or(""));
            let body = json!({"apiVersion": "policy/v1", "kind": "Eviction",
                "metadata": {"name": pod_name, "namespace": namespace}});
            let path = format!("/api/v1/namespaces/{namespace}/pods/{pod_name}/eviction");
            let reply = client.request("POST", &path, Some(body.to_string().into_bytes()), None).await?;
            match reply.status {
                200 | 201 => {
                    evicted.insert(name.clone());
                    in_the_way.insert(name, "evicted, terminating".into());
                }
                404 => {}
                429 => {
                    in_the_way.insert(name, refusal(&reply));
                }
                status => return Err(status_error(client, status, format!("evicting {name}: {}", reply.message()))),
            }
        }
        if Instant::now() >= deadline {
            return Err(DrainError::TimedOut {
                node: node.into(),
                seconds: limit.as_secs(),
                in_the_way: in_the_way.into_iter().map(|(name, why)| format!("pod {name}: {why}")).collect(),
            });
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drain_moves_every_pod_but_daemonsets_and_finished_ones() {
        let pod = |name: &str, owner: &str, phase: &str| {
            json!({"metadata": {"namespace": "d", "name": name,
                "ownerReferences": [{"kind": owner, "controller": true}]}, "status": {"phase": phase}})
        };
        let pods = [
            pod("web", "ReplicaSet", "Running"),
            pod("agent", "DaemonSet", "Running"),
            pod("done", "Job", "Succeeded"),
            pod("bare", "", "Pending"),
        ];
        let names: Vec<String> = to_move(&pods).into_iter().map(name_of).collect();
        assert_eq!(names, ["d/web", "d/bare"]);
    }
}
