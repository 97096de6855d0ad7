//! Certificates that renew themselves on a lab cluster (issue 29): `lab up 2` + `up` with
//! `cluster.certificate_validity: 90s`, so a year of renewals happens in minutes. While kubectl 1.33 polls
//! the nodes and pods every 2 s (with the admin kubeconfig `kubeboot kubeconfig -i` hands out, fetched
//! again every 20 s: the server renews admin.conf too), every agent renews its node client certificate
//! and its node API's serving certificate through the API, and the API server its own: no request
//! fails, both nodes stay Ready, no pod restarts or is replaced, `kubectl logs` works through the renewed
//! certificates; `up` names the certificates that expire within 30 days. Then an agent stopped until its certificate has expired (its notAfter, read from agent.conf) says so plainly when started.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::kubectl::{manifest, Kubectl};
use common::{kubeboot, lab_sh};
use serde_json::Value;

/// The client certificate in a host's agent.conf (its base64 text is enough to tell two apart).
fn agent_certificate(host: &str) -> String {
    let conf = lab_sh(host, "cat /etc/kubeboot/agent.conf");
    conf.lines().find(|l| l.contains("client-certificate-data")).unwrap_or_default().trim().to_string()
}

/// When the certificate of an agent.conf line (`client-certificate-data: BASE64`) expires (unix seconds).
fn certificate_expiry(line: &str) -> i64 {
    use base64::Engine;
    let data = line.rsplit(' ').next().unwrap_or_default();
    let pem = base64::engine::general_purpose::STANDARD.decode(data).expect("base64 certificate data");
    let described = kubeboot::bootstrap::certificate_lifetime::describe(&String::from_utf8_lossy(&pem));
    described.expect("the agent's certificate").not_after
}

/// The steady pods: name -> (uid, restarts).
fn steady_pods(k: &Kubectl) -> BTreeMap<String, (String, i64)> {
    k.pods("app=steady")
        .iter()
        .map(|p| {
            let restarts = p["status"]["containerStatuses"][0]["restartCount"].as_i64().unwrap_or(-1);
            (p["metadata"]["name"].as_str().unwrap().to_string(), (p["metadata"]["uid"].to_string(), restarts))
        })
        .collect()
}

#[test]
fn certificates_renew_themselves_on_the_lab_without_disturbing_anything() {
    let work = tempfile::tempdir().unwrap();
    let inv_path = work.path().join("lab.yaml");
    let inv = inv_path.to_str().unwrap();
    common::fresh_lab(2, inv);
    common::add_cluster_setting(&inv_path, "certificate_validity: 90s");
    let up = kubeboot(&["up", "-i", inv], &[]);
    let said = String::from_utf8_lossy(&up.stderr);
    assert!(up.status.success(), "up: {said}");
    // `up` names what expires within 30 days: here everything (90 s).
    assert!(said.contains("lab-master: certificate apiserver expires in"), "{said}");
    let kubeconfig = work.path().join("admin.conf");
    common::fetch_kubeconfig(inv, &kubeconfig);
    let k = Kubectl::new("kubectl.1.33", &kubeconfig);
    k.ok(&["apply", "-f", &manifest("tests/manifests/workloads/steady.yaml")]);
    k.ok(&["rollout", "status", "deploy/steady", "--timeout=180s"]);
    let pods = steady_pods(&k);
    assert!(pods.values().all(|(_, restarts)| *restarts == 0), "{pods:?}");
    let first = [("lab-master", agent_certificate("lab-master")), ("lab-node1", agent_certificate("lab-node1"))];

    // Two lifetimes' worth of renewals (each at two thirds of 90 s, + 9 s of clock slack).
    let started = Instant::now();
    let (mut requests, mut failed, mut fetched) = (0, Vec::new(), Instant::now());
    while started.elapsed() < Duration::from_secs(150) {
        if fetched.elapsed() >= Duration::from_secs(20) {
            common::fetch_kubeconfig(inv, &kubeconfig);
            fetched = Instant::now();
        }
        requests += 1;
        let (ok, out) = k.run(&["get", "nodes", "-o", "json"]);
        let nodes: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
        let all_ready = nodes["items"].as_array().is_some_and(|items| {
            items.len() == 2
                && items.iter().all(|n| {
                    n["status"]["conditions"]
                        .as_array()
                        .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
                })
        });
        if !ok || !all_ready {
            failed.push(format!("{:?}: {out}", started.elapsed()));
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    assert!(failed.is_empty(), "{} of {requests} polls failed or saw a node not Ready: {failed:#?}", failed.len());
    for (host, before) in &first {
        assert_ne!(&agent_certificate(host), before, "{host}'s agent.conf certificate was never renewed");
        let journal = lab_sh(host, "journalctl -u kubeboot-agent --no-pager");
        let renewals = journal.matches("node client certificate renewed").count();
        assert!(renewals >= 2, "{host}: {renewals} renewals in 150 s of a 90 s lifetime:\n{journal}");
        assert!(journal.contains("node API serving certificate renewed"), "{host}:\n{journal}");
    }
    let server_journal = lab_sh("lab-master", "journalctl -u kubeboot-server --no-pager");
    assert!(server_journal.contains("certificate for serving the Kubernetes API renewed"), "{server_journal}");
    common::fetch_kubeconfig(inv, &kubeconfig);
    assert_eq!(steady_pods(&k), pods, "a pod restarted or was replaced while certificates renewed");
    let name = pods.keys().next().unwrap();
    let (ok, logs) = k.run(&["logs", name]);
    assert!(ok, "kubectl logs through the renewed node API certificates: {logs}");
    eprintln!("certificates: {requests} polls over 150 s, none failed; agents renewed on both hosts");

    // An agent away for longer than its certificate lives cannot renew it: it says so, plainly. (Stopped,
    // then started again once the certificate it holds has expired: between 30 and 90 s later.)
    lab_sh("lab-node1", "systemctl stop kubeboot-agent");
    let expires = certificate_expiry(&agent_certificate("lab-node1"));
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    std::thread::sleep(Duration::from_secs((expires - now).max(0) as u64 + 5));
    lab_sh("lab-node1", "systemctl start kubeboot-agent");
    common::wait_for("the agent reporting its expired certificate", Duration::from_secs(60), || {
        let journal = lab_sh("lab-node1", "journalctl -u kubeboot-agent --no-pager -n 50");
        journal.contains("the node certificate expired at") && journal.contains("Join this node again")
    });
    let down = kubeboot(&["lab", "down"], &[]);
    assert!(down.status.success());
}
