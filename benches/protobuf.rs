//! Protobuf answers against JSON answers of the same server, in the same run: N Deployments (default
//! 1000, each with the defaults the server fills in) are created, then read back as client-go's typed
//! clients ask (`Accept: application/vnd.kubernetes.protobuf,application/json`) and as JSON: one object,
//! the whole list, and a watch's first N ADDED events. Prints the median wall time over R rounds (default
//! 20) and the bytes on the wire. The server keeps JSON and writes protobuf from it, so protobuf costs a
//! re-encode here where kube-apiserver saves one. Asserts nothing.
//!
//!     cargo bench --bench protobuf [-- N [R]]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use kubeboot::apiclient::ApiClient;
use serde_json::json;

const PROTOBUF: &str = "application/vnd.kubernetes.protobuf,application/json";
const JSON: &str = "application/json";

fn deployment(i: usize) -> Vec<u8> {
    let labels = json!({"app": format!("web-{i}"), "tier": "frontend"});
    serde_json::to_vec(&json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": format!("web-{i}"), "labels": labels},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{
                    "name": "nginx", "image": "nginx:1.25",
                    "ports": [{"containerPort": 80, "name": "http"}],
                    "env": [{"name": "MODE", "value": "fast"}],
                    "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                    "readinessProbe": {"httpGet": {"path": "/", "port": "http"}},
                }]},
            },
        },
    }))
    .unwrap()
}

/// (wall time, bytes) of one GET answered in full, or of a watch until `until_bytes` have arrived.
async fn get(client: &ApiClient, path: &str, accept: &str, until_bytes: Option<usize>) -> (Duration, usize) {
    let request = hyper::Request::builder()
        .method("GET")
        .uri(path)
        .header("accept", accept)
        .body(Full::new(Bytes::new()))
        .unwrap();
    let started = Instant::now();
    let response = client.send_request(request).await.unwrap();
    assert!(response.status().is_success(), "{path}: {}", response.status());
    let mut body = response.into_body();
    let mut received = 0;
    while let Some(frame) = body.frame().await {
        received += frame.unwrap().data_ref().map_or(0, |d| d.len());
        if until_bytes.is_some_and(|n| received >= n) {
            break;
        }
    }
    (started.elapsed(), received)
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let count = args.first().copied().unwrap_or(1000);
    let rounds = args.get(1).copied().unwrap_or(20);
    let server = common::api::start();
    let (_, conf) = server.admin_kubeconfig();
    let client = ApiClient::from_kubeconfig(&conf).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let deployments = "/apis/apps/v1/namespaces/default/deployments";
        let started = Instant::now();
        for i in 0..count {
            let reply = client.request("POST", deployments, Some(deployment(i)), None).await.unwrap();
            assert_eq!(reply.status, 201, "{}", reply.message());
        }
        println!("created {count} Deployments in {:.1} s", started.elapsed().as_secs_f64());
        println!("{:<28} {:>12} {:>12} {:>12} {:>12}", "", "JSON ms", "JSON bytes", "protobuf ms", "proto bytes");
        let one = format!("{deployments}/web-0");
        let watch = format!("{deployments}?watch=true");
        for (what, path) in [("one Deployment", one.as_str()), ("list", deployments)] {
            let mut row = Vec::new();
            for accept in [JSON, PROTOBUF] {
                let mut times = Vec::new();
                let mut bytes = 0;
                for _ in 0..rounds {
                    let (t, b) = get(&client, path, accept, None).await;
                    times.push(t);
                    bytes = b;
                }
                row.push((median(times), bytes));
            }
            print_row(what, &row);
        }
        // A watch without a resourceVersion starts with every object as ADDED: time until all arrived.
        let mut row = Vec::new();
        for accept in [JSON, PROTOBUF] {
            let (_, full) = get(&client, deployments, accept, None).await;
            // The list's size less its envelope is about the events' size; read until that much arrived.
            let mut times = Vec::new();
            let mut bytes = 0;
            for _ in 0..rounds.min(5) {
                let (t, b) = get(&client, &watch, accept, Some(full * 95 / 100)).await;
                times.push(t);
                bytes = b;
            }
            row.push((median(times), bytes));
        }
        print_row(&format!("watch, first {count} events"), &row);
    });
}

fn print_row(what: &str, row: &[(Duration, usize)]) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("{:<28} {:>12.2} {:>12} {:>12.2} {:>12}", what, ms(row[0].0), row[0].1, ms(row[1].0), row[1].1);
}
