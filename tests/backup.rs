//! Snapshots and their restore on one master (issue 29), without the lab: a master made by `kubeboot
//! init --snapshot-interval 2s --snapshot-retention 2`, its server running, driven by kubectl 1.33.
//! `kubeboot snapshot save` takes one through the server (0600, in DATA_DIR/snapshots), the schedule
//! takes more and keeps two; a truncated or altered snapshot, a snapshot of another cluster, and a
//! restore under the running server are refused and change nothing; with the server stopped, `kubeboot
//! snapshot restore` brings back exactly the objects of the snapshot (same uids), keeps the old store, and
//! a watch from a resourceVersion of before is told to list again (410) instead of waiting.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::kubectl::Kubectl;
use serde_json::Value;

fn kubeboot(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kubeboot")).args(args).output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

fn snapshots(data: &Path, prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(data.join("snapshots"))
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.retain(|n| n.starts_with(prefix));
    names.sort();
    names
}

#[test]
fn snapshots_are_taken_and_a_restore_brings_back_exactly_their_objects() {
    let dir = tempfile::tempdir().unwrap();
    let extra = ["--snapshot-interval", "2s", "--snapshot-retention", "2"];
    let (cfg, data, port) = common::init_master_with(dir.path(), "backup-master", &extra);
    let dirs = ["--config-dir", cfg.to_str().unwrap(), "--data-dir", data.to_str().unwrap()];
    let mut server = common::Stopped(common::start_server(&cfg, &data, &port));
    common::wait_listening(&mut server.0, &data, &port);
    let kubeconfig = cfg.join("admin.conf");
    let k = Kubectl::new("kubectl.1.33", &kubeconfig);
    k.ok(&["create", "namespace", "team"]);
    k.ok(&["-n", "team", "create", "configmap", "kept", "--from-literal=a=1"]);
    k.ok(&["-n", "team", "create", "configmap", "deleted-later", "--from-literal=b=2"]);
    k.ok(&["-n", "team", "create", "secret", "generic", "token", "--from-literal=t=s3cret"]);
    let kept_uid = k.json(&["-n", "team", "get", "configmap", "kept", "-o", "json"])["metadata"]["uid"].clone();
    let gone_uid =
        k.json(&["-n", "team", "get", "configmap", "deleted-later", "-o", "json"])["metadata"]["uid"].clone();

    // On demand, through the server.
    let (code, out, err) = kubeboot(&["snapshot", "save", "--kubeconfig", kubeconfig.to_str().unwrap(), "-o", "json"]);
    assert_eq!(code, 0, "snapshot save: {err}");
    let saved: Value = serde_json::from_str(&out).unwrap();
    let path = saved["path"].as_str().unwrap().to_string();
    assert!(path.starts_with(data.join("snapshots/on-demand-").to_str().unwrap()), "{path}");
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(saved["keys"].as_u64().unwrap() > 10 && saved["bytes"].as_u64().unwrap() > 1000, "{saved}");
    let backup = dir.path().join("backup");
    std::fs::copy(&path, &backup).unwrap();
    let rv_before = k.json(&["-n", "team", "get", "configmap", "kept", "-o", "json"])["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    // Changes after the snapshot, which the restore takes back.
    k.ok(&["-n", "team", "create", "configmap", "after", "--from-literal=c=3"]);
    k.ok(&["-n", "team", "delete", "configmap", "deleted-later"]);

    // On a schedule: every 2 s, the newest two kept.
    common::wait_for("two scheduled snapshots", Duration::from_secs(30), || {
        snapshots(&data, "etcd-snapshot-").len() == 2
    });
    let first = snapshots(&data, "etcd-snapshot-");
    common::wait_for("a newer scheduled snapshot", Duration::from_secs(30), || {
        let now = snapshots(&data, "etcd-snapshot-");
        now.len() == 2 && now.last() != first.last()
    });
    assert!(!snapshots(&data, "etcd-snapshot-").contains(&first[0]), "the oldest beyond 2 went");
    assert_eq!(snapshots(&data, "on-demand-").len(), 1, "on-demand snapshots are not the schedule's to drop");

    // Refused before anything changes: damage, another cluster's CA, a store the running server holds.
    let bytes = std::fs::read(&backup).unwrap();
    let truncated = dir.path().join("truncated");
    std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let altered = dir.path().join("altered");
    let mut flipped = bytes.clone();
    flipped[bytes.len() / 2] ^= 0x20;
    std::fs::write(&altered, &flipped).unwrap();
    for bad in [&truncated, &altered] {
        let (code, _, err) = kubeboot(&[&["snapshot", "restore", bad.to_str().unwrap()], &dirs[..]].concat());
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("checksum does not match (truncated or altered)"), "{err}");
    }
    let other = tempfile::tempdir().unwrap();
    let (other_cfg, other_data, _) = common::init_master(other.path(), "other-master");
    let other_dirs = ["--config-dir", other_cfg.to_str().unwrap(), "--data-dir", other_data.to_str().unwrap()];
    let (code, _, err) = kubeboot(&[&["snapshot", "restore", backup.to_str().unwrap()], &other_dirs[..]].concat());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("the snapshot is from another cluster"), "{err}");
    let (code, _, err) = kubeboot(&[&["snapshot", "restore", backup.to_str().unwrap()], &dirs[..]].concat());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("is the API server still running?"), "{err}");
    assert!(k.run(&["-n", "team", "get", "configmap", "after"]).0, "a refused restore changed nothing");

    // With the server stopped: exactly the snapshot's objects, the old store kept.
    drop(server);
    let (code, out, err) = kubeboot(&[&["snapshot", "restore", backup.to_str().unwrap()], &dirs[..]].concat());
    assert_eq!(code, 0, "snapshot restore: {err}");
    assert!(out.contains(&format!("Restored {} keys", saved["keys"])), "{out}");
    assert!(data.join("state.redb.before-restore").exists(), "{out}");
    let mut server = common::Stopped(common::start_server(&cfg, &data, &port));
    common::wait_listening(&mut server.0, &data, &port);
    let cm = |name: &str| k.json(&["-n", "team", "get", "configmap", name, "-o", "json"])["metadata"]["uid"].clone();
    assert_eq!(cm("kept"), kept_uid);
    assert_eq!(cm("deleted-later"), gone_uid, "the object deleted after the snapshot is back, the same one");
    let (found, said) = k.run(&["-n", "team", "get", "configmap", "after"]);
    assert!(!found && said.contains("NotFound"), "the object made after the snapshot is gone: {said}");
    let secret = k.json(&["-n", "team", "get", "secret", "token", "-o", "json"]);
    assert_eq!(secret["data"]["t"], "czNjcmV0");

    // A watch from before the restore is told to list again; new writes go on past every old revision.
    let watch = format!("/api/v1/namespaces/team/configmaps?watch=1&resourceVersion={rv_before}&timeoutSeconds=2");
    let (_, said) = k.run(&["get", "--raw", &watch]);
    assert!(said.contains("410") || said.contains("Expired") || said.contains("too old"), "{said}");
    k.ok(&["-n", "team", "create", "configmap", "new", "--from-literal=d=4"]);
    let rv: u64 = k.json(&["-n", "team", "get", "configmap", "new", "-o", "json"])["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(rv > 1_000_000_000 && rv > rv_before.parse::<u64>().unwrap(), "{rv}");
}
