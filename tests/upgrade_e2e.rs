//! `kubeboot upgrade` on a lab cluster (issue 29): `lab up 3` + `up` builds 1 master + 2 nodes on this
//! build (0.1.0, or whatever Cargo.toml says), and the "newer build" is a copy of the same binary with
//! another version written into its version stamp (src/version.rs): it reports that version everywhere
//! (`--version`, the API server's gitVersion, the nodes' kubeletVersion) and its checksum differs, which
//! is all an upgrade looks at. A Deployment behind a NodePort (with a PodDisruptionBudget keeping one
//! of its two pods) is polled through the master the whole time: no request fails.
//! - a build two minor versions ahead, and one older than the cluster, are refused (exit 2), nothing changed;
//! - `--check` names each host's move; `--limit` a node alone is refused (it would run newer than its
//!   API server);
//! - a PodDisruptionBudget that allows no disruption stops the upgrade at the node it guards, named;
//! - with it gone, an upgrade killed with SIGKILL partway is finished by a rerun: every node on the new
//!   version, schedulable, the previous binary kept;
//! - `--rollback` puts the previous binary back everywhere.
//!
//! Takes the machine's lab down at the end.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::kubectl::Kubectl;
use common::lab_sh;

const MASTER_ADDRESS: &str = "10.88.0.10";
const HOSTS: [&str; 3] = ["lab-master", "lab-node1", "lab-node2"];

fn run(binary: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(binary).args(args).env_remove("SSH_AUTH_SOCK").stdin(Stdio::null()).output().unwrap();
    (out.status.code(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// Each node's reported kubeboot version and whether it is schedulable.
fn nodes(k: &Kubectl) -> Vec<(String, String, bool)> {
    let listed = k.json(&["get", "nodes", "-o", "json"]);
    listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let version = n["status"]["nodeInfo"]["kubeletVersion"].as_str().unwrap_or_default();
            let version = version.rsplit_once("kubeboot.").map(|(_, v)| v).unwrap_or(version).to_string();
            let schedulable = !n["spec"]["unschedulable"].as_bool().unwrap_or(false);
            (n["metadata"]["name"].as_str().unwrap().to_string(), version, schedulable)
        })
        .collect()
}

fn installed_sums() -> Vec<String> {
    HOSTS.iter().map(|h| lab_sh(h, "sha256sum /usr/local/bin/kubeboot | cut -c1-64").trim().to_string()).collect()
}

#[test]
fn the_cluster_is_upgraded_host_by_host_with_its_service_answering_and_rolled_back() {
    let work = tempfile::tempdir().unwrap();
    let inv_path = work.path().join("lab.yaml");
    let inv = inv_path.to_str().unwrap();
    common::fresh_lab(3, inv);
    let kubeconfig = common::up_with_kubeconfig(inv, work.path());
    let k = Kubectl::new("kubectl.1.33", &kubeconfig);
    let current = env!("CARGO_PKG_VERSION").to_string();
    let parts: Vec<u64> = current.split('.').map(|p| p.parse().unwrap()).collect();
    let next = format!("{}.{}.{}", parts[0], parts[1] + 1, parts[2]);
    let too_far = format!("{}.{}.{}", parts[0], parts[1] + 2, parts[2]);
    assert!(parts[1] >= 1, "the older build below needs a minor version above 0");
    let older = format!("{}.{}.{}", parts[0], parts[1] - 1, parts[2]);

    k.ok(&["create", "deployment", "web", "--image=kubetm/p8000", "--replicas=2"]);
    k.ok(&["expose", "deployment", "web", "--port=8000", "--type=NodePort"]);
    k.ok(&["create", "poddisruptionbudget", "web", "--selector=app=web", "--min-available=1"]);
    k.ok(&["rollout", "status", "deploy/web", "--timeout=180s"]);
    let port = k.json(&["get", "service", "web"])["spec"]["ports"][0]["nodePort"].as_u64().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let probe = common::serve_probe(format!("http://{MASTER_ADDRESS}:{port}/"), stop.clone());

    // Skews Kubernetes would refuse: nothing is touched.
    let before = installed_sums();
    let (code, said) = run(&common::build_with_version(work.path(), &too_far), &["upgrade", "-i", inv]);
    assert_eq!(code, Some(2), "{said}");
    assert!(said.contains("skips a minor version") && said.contains("nothing was changed"), "{said}");
    let (code, said) = run(&common::build_with_version(work.path(), &older), &["upgrade", "-i", inv]);
    assert_eq!(code, Some(2), "{said}");
    assert!(said.contains("an upgrade never downgrades"), "{said}");
    assert_eq!(installed_sums(), before, "a refused upgrade changed a binary");

    let newer = common::build_with_version(work.path(), &next);
    let (code, plan) = run(&newer, &["upgrade", "-i", inv, "--check"]);
    assert_eq!(code, Some(0), "{plan}");
    for host in HOSTS {
        assert!(plan.contains(&format!("{host}: {current} -> {next}")), "{plan}");
    }
    assert_eq!(installed_sums(), before, "--check changed a binary");
    // A node alone (--limit) would run newer than its API server.
    let (code, said) = run(&newer, &["upgrade", "-i", inv, "--limit", "lab-node1"]);
    assert_eq!(code, Some(2), "{said}");
    assert!(said.contains("agents are never newer than the API servers"), "{said}");
    let (code, plan) = run(&newer, &["upgrade", "-i", inv, "--check", "--limit", "lab-master"]);
    assert_eq!(code, Some(0), "{plan}");
    assert!(plan.contains(&format!("lab-node1: at {current}, not in --limit")), "{plan}");
    assert_eq!(installed_sums(), before, "a refused upgrade changed a binary");

    // A budget that allows no disruption stops the upgrade at the node its pod is on.
    k.ok(&["create", "deployment", "guarded", "--image=kubetm/p8000", "--replicas=1"]);
    k.ok(&["create", "poddisruptionbudget", "guarded", "--selector=app=guarded", "--max-unavailable=0"]);
    k.ok(&["rollout", "status", "deploy/guarded", "--timeout=180s"]);
    let guarded_on = k.pods("app=guarded")[0]["spec"]["nodeName"].as_str().unwrap().to_string();
    let (code, said) = run(&newer, &["upgrade", "-i", inv, "--drain-timeout", "15s"]);
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains(&format!("the upgrade stopped at {guarded_on}: drain")), "{said}");
    assert!(said.contains("The disruption budget guarded needs"), "the PDB is named: {said}");
    assert!(said.contains("Rerun the same command"), "{said}");
    k.ok(&["delete", "poddisruptionbudget", "guarded"]);

    // Killed partway (SIGKILL), then finished by a rerun.
    let started = Instant::now();
    let mut killed = Command::new(&newer)
        .args(["upgrade", "-i", inv])
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(4));
    killed.kill().unwrap();
    killed.wait().unwrap();
    let halfway = nodes(&k);
    assert!(halfway.iter().any(|(_, version, schedulable)| *version != next || !schedulable), "{halfway:?}");
    let (code, said) = run(&newer, &["upgrade", "-i", inv]);
    assert_eq!(code, Some(0), "the rerun after a kill: {said}");
    eprintln!(
        "upgrade of 1 master + 2 nodes, killed at 4 s and rerun: {:.1} s in all",
        started.elapsed().as_secs_f64()
    );
    for (name, version, schedulable) in nodes(&k) {
        assert_eq!(version, next, "{name} reports {version}");
        assert!(schedulable, "{name} left cordoned");
    }
    for host in HOSTS {
        let kept = lab_sh(host, "/usr/local/bin/kubeboot.previous --version");
        assert_eq!(kept.trim(), format!("kubeboot {current}"), "{host} keeps the previous binary");
    }
    // stdout alone: kubectl warns of the version skew on stderr.
    let server: serde_json::Value = serde_json::from_str(&k.stdout(&["version", "-o", "json"])).unwrap();
    assert!(server["serverVersion"]["gitVersion"].as_str().unwrap().ends_with(&next), "{server}");

    // And back.
    let started = Instant::now();
    let (code, said) = run(Path::new(env!("CARGO_BIN_EXE_kubeboot")), &["upgrade", "-i", inv, "--rollback"]);
    assert_eq!(code, Some(0), "rollback: {said}");
    eprintln!("rollback of 1 master + 2 nodes: {:.1} s", started.elapsed().as_secs_f64());
    for (name, version, schedulable) in nodes(&k) {
        assert_eq!(version, current, "{name} reports {version} after the rollback");
        assert!(schedulable, "{name} left cordoned");
    }
    assert_eq!(installed_sums(), before, "the rollback put the first binaries back");
    for (host, sum) in HOSTS.iter().zip(&before) {
        let cached = lab_sh(host, "cat /var/cache/kubeboot/binary.sha256");
        assert!(cached.trim().ends_with(&format!("|{sum}")), "{host}: the probe's cache follows the swap: {cached}");
    }

    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (answered, failed) = probe.join().unwrap();
    eprintln!("web through the master's NodePort: {answered} answered, {failed} failed");
    assert!(answered > 100, "{answered}");
    assert_eq!(failed, 0, "requests to the Service failed during the upgrade and rollback ({answered} answered)");

    let down = common::kubeboot(&["lab", "down"], &[]);
    assert!(down.status.success());
}
