//! `kubeboot init`, `server`, `agent`, `join`, `token`, `get nodes` and `delete nodes` as real processes on
//! loopback: the master's node registers and turns Ready; the server killed with SIGKILL and started again
//! has lost nothing, and the agent reconnects by itself; a node joins with the printed command; a second
//! host cannot join under a Ready node's name; tokens are created, listed (never their secrets) and deleted,
//! and a deleted token buys nothing; init on an initialised master changes nothing.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use kubeboot::apiclient::ApiClient;
use kubeboot::bootstrap::kubeconfig::Kubeconfig;
use kubeboot::resources::node::{last_heartbeat, ready_status};

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(args: &[&str]) -> Daemon {
    Daemon(
        Command::new(env!("CARGO_BIN_EXE_kubeboot"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

fn admin_client(admin_conf: &Path) -> ApiClient {
    ApiClient::from_kubeconfig(&Kubeconfig::parse(&std::fs::read_to_string(admin_conf).unwrap()).unwrap()).unwrap()
}

fn node(client: &ApiClient, rt: &tokio::runtime::Runtime) -> Option<serde_json::Value> {
    let reply = rt.block_on(client.request("GET", "/api/v1/nodes/m1", None, None)).ok()?;
    (reply.status == 200).then(|| reply.json())
}

#[test]
fn master_registers_survives_a_server_kill_and_keeps_its_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, data) = (dir.path().join("etc"), dir.path().join("var"));
    let (cfg_s, data_s) = (cfg.to_str().unwrap(), data.to_str().unwrap());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let init = |extra: &[&str]| {
        let mut args = vec!["init", "--config-dir", cfg_s, "--data-dir", data_s, "--advertise-address", "127.0.0.1"];
        args.push("--no-services");
        args.extend(["--port", &port, "--node-name", "m1", "--cluster-name", "t"]);
        args.extend_from_slice(extra);
        Command::new(env!("CARGO_BIN_EXE_kubeboot")).args(&args).output().unwrap()
    };
    let first = init(&[]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let printed = String::from_utf8_lossy(&first.stdout).into_owned();
    let join_line = printed.lines().find(|l| l.starts_with("kubeboot join")).unwrap_or_default().to_string();
    assert!(join_line.starts_with(&format!("kubeboot join 127.0.0.1:{port} --token ")), "{join_line}");
    let pin = join_line.split_whitespace().last().unwrap().to_string();
    use std::os::unix::fs::PermissionsExt;
    for secret in ["pki/ca.key", "pki/apiserver.key", "admin.conf", "agent.conf"] {
        assert_eq!(std::fs::metadata(cfg.join(secret)).unwrap().permissions().mode() & 0o777, 0o600, "{secret}");
    }

    let listen = format!("127.0.0.1:{port}");
    let server_args = ["server", "--config-dir", cfg_s, "--data-dir", data_s, "--listen", &listen];
    let mut server = spawn(&server_args);
    let agent_conf = cfg.join("agent.conf");
    let _agent = spawn(&[
        "agent",
        "--kubeconfig",
        agent_conf.to_str().unwrap(),
        "--node-name",
        "m1",
        "--address",
        "127.0.0.1",
        "--master",
    ]);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let admin = admin_client(&cfg.join("admin.conf"));
    common::wait_for("m1 Ready", Duration::from_secs(30), || {
        node(&admin, &rt).is_some_and(|n| ready_status(&n) == Some("True"))
    });
    let registered = node(&admin, &rt).unwrap();
    assert_eq!(registered["metadata"]["labels"]["node-role.kubernetes.io/master"], "");
    assert_eq!(registered["spec"]["taints"][0]["effect"], "NoSchedule");
    let uid = registered["metadata"]["uid"].clone();
    let beat_before = last_heartbeat(&registered).unwrap();

    // SIGKILL the server, start it again: the Node is still there (same uid) and heartbeats resume.
    let _ = server.0.kill();
    let _ = server.0.wait();
    server = spawn(&server_args);
    common::wait_for("the agent to heartbeat through the restarted server", Duration::from_secs(40), || {
        node(&admin, &rt)
            .is_some_and(|n| n["metadata"]["uid"] == uid && last_heartbeat(&n).is_some_and(|b| b > beat_before))
    });
    // A second node joins with the printed command and its agent registers.
    let words: Vec<&str> = join_line.split_whitespace().collect();
    let node_dir = dir.path().join("node1");
    let join_in = |config_dir: &Path, token: &str, hash: &str, extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_kubeboot"))
            .args(["join", words[2], "--token", token, "--discovery-token-ca-cert-hash", hash, "--no-services"])
            .arg("--config-dir")
            .arg(config_dir)
            .args(extra)
            .output()
            .unwrap()
    };
    let join = |hash: &str, extra: &[&str]| join_in(&node_dir, words[4], hash, extra);
    let bad = join(&format!("sha256:{}", "0".repeat(64)), &["--node-name", "n1"]);
    assert_eq!(bad.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("pin") && !stderr.contains(words[4].split('.').nth(1).unwrap()), "{stderr}");
    assert!(!node_dir.join("agent.conf").exists(), "a refused join writes nothing");
    let joined = join(words[6], &["--node-name", "n1"]);
    assert!(joined.status.success(), "{}", String::from_utf8_lossy(&joined.stderr));
    let node_conf = node_dir.join("agent.conf");
    let _agent_n1 =
        spawn(&["agent", "--kubeconfig", node_conf.to_str().unwrap(), "--node-name", "n1", "--address", "127.0.0.2"]);
    common::wait_for("n1 Ready", Duration::from_secs(30), || {
        let reply = rt.block_on(admin.request("GET", "/api/v1/nodes/n1", None, None));
        reply.is_ok_and(|r| r.status == 200 && ready_status(&r.json()) == Some("True"))
    });
    let rejoin = join(words[6], &[]);
    assert!(rejoin.status.success() && String::from_utf8_lossy(&rejoin.stdout).contains("joined already"));

    // Another host cannot take over a Ready node's name: refused by the server, nothing written.
    let other_dir = dir.path().join("impostor");
    let impostor = join_in(&other_dir, words[4], words[6], &["--node-name", "n1"]);
    assert_eq!(impostor.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&impostor.stderr).contains("a Ready node named \"n1\""), "{impostor:?}");
    assert!(!other_dir.join("agent.conf").exists());

    // `get nodes` prints kubectl's columns.
    let admin_conf = cfg.join("admin.conf");
    let kubeboot = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_kubeboot"))
            .args(args)
            .args(["--kubeconfig", admin_conf.to_str().unwrap()])
            .output()
            .unwrap()
    };
    let table = String::from_utf8_lossy(&kubeboot(&["get", "nodes"]).stdout).into_owned();
    let rows: Vec<Vec<&str>> = table.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows[0], ["NAME", "STATUS", "ROLES", "AGE", "VERSION"], "{table}");
    assert_eq!(&rows[1][..3], ["m1", "Ready", "master"], "{table}");
    assert_eq!(&rows[2][..3], ["n1", "Ready", "<none>"], "{table}");

    // Tokens: create prints a join command, list shows ids only, delete makes the token worthless.
    let created = kubeboot(&["token", "create", "--ttl", "10m", "--print-join-command"]);
    assert!(created.status.success(), "{created:?}");
    let created = String::from_utf8_lossy(&created.stdout).into_owned();
    let fresh: Vec<&str> = created.split_whitespace().collect();
    assert_eq!((fresh[2], fresh[6]), (words[2], pin.as_str()), "{created}");
    let (id, secret) = fresh[4].split_once('.').unwrap();
    let listed = String::from_utf8_lossy(&kubeboot(&["token", "list"]).stdout).into_owned();
    assert!(listed.lines().any(|l| l.starts_with(id) && (l.contains(" 10m ") || l.contains(" 9m "))), "{listed}");
    assert!(!listed.contains(secret), "token list never shows a secret");
    assert!(kubeboot(&["token", "delete", id]).status.success());
    assert!(!String::from_utf8_lossy(&kubeboot(&["token", "list"]).stdout).contains(id));
    let late_dir = dir.path().join("late");
    let late = join_in(&late_dir, fresh[4], words[6], &["--node-name", "n2"]);
    assert_eq!(late.status.code(), Some(1), "a deleted token is refused");
    assert!(!String::from_utf8_lossy(&late.stderr).contains(secret));
    assert!(!late_dir.join("agent.conf").exists());
    assert_eq!(kubeboot(&["token", "create", "--ttl", "1d"]).status.code(), Some(2), "bad duration is bad input");
    let deleted = kubeboot(&["delete", "nodes", "n1"]);
    assert!(String::from_utf8_lossy(&deleted.stdout).contains("node \"n1\" deleted"), "{deleted:?}");
    let bad_input = Command::new(env!("CARGO_BIN_EXE_kubeboot"))
        .args(["join", words[2], "--token", "not-a-token", "--discovery-token-ca-cert-hash", words[6]])
        .output()
        .unwrap();
    assert_eq!(bad_input.status.code(), Some(2));
    drop(server);

    // init again: reports it and changes nothing (every file byte for byte).
    let snapshot = |d: &Path| -> Vec<(std::path::PathBuf, Vec<u8>)> {
        let mut files = Vec::new();
        for sub in ["", "pki"] {
            for entry in std::fs::read_dir(d.join(sub)).unwrap() {
                let path = entry.unwrap().path();
                if path.is_file() {
                    files.push((path.clone(), std::fs::read(&path).unwrap()));
                }
            }
        }
        files.sort();
        files
    };
    let before = snapshot(&cfg);
    let again = init(&[]);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    assert!(String::from_utf8_lossy(&again.stdout).contains("already initialised"), "{again:?}");
    assert_eq!(snapshot(&cfg), before, "init on an initialised master writes nothing");
}
