//! `kubeboot init`, `kubeboot server` and `kubeboot agent` as real processes on loopback: the master's node
//! registers and turns Ready; the server killed with SIGKILL and started again has lost nothing, and the
//! agent reconnects by itself; init on an initialised master keeps its CA.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

fn wait_for(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn master_registers_survives_a_server_kill_and_keeps_its_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, data) = (dir.path().join("etc"), dir.path().join("var"));
    let (cfg_s, data_s) = (cfg.to_str().unwrap(), data.to_str().unwrap());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let init = |extra: &[&str]| {
        let mut args = vec!["init", "--config-dir", cfg_s, "--data-dir", data_s, "--advertise-address", "127.0.0.1"];
        args.extend(["--port", &port, "--node-name", "m1", "--cluster-name", "t"]);
        args.extend_from_slice(extra);
        Command::new(env!("CARGO_BIN_EXE_kubeboot")).args(&args).output().unwrap()
    };
    let first = init(&[]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let join_line = String::from_utf8_lossy(&first.stdout).into_owned();
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
    wait_for("m1 Ready", Duration::from_secs(30), || {
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
    wait_for("the agent to heartbeat through the restarted server", Duration::from_secs(40), || {
        node(&admin, &rt)
            .is_some_and(|n| n["metadata"]["uid"] == uid && last_heartbeat(&n).is_some_and(|b| b > beat_before))
    });
    // A second node joins with the printed command and its agent registers.
    let words: Vec<&str> = join_line.split_whitespace().collect();
    let node_dir = dir.path().join("node1");
    let node_dir_s = node_dir.to_str().unwrap();
    let join = |hash: &str, extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_kubeboot"))
            .args([
                "join",
                words[2],
                "--token",
                words[4],
                "--discovery-token-ca-cert-hash",
                hash,
                "--config-dir",
                node_dir_s,
            ])
            .args(extra)
            .output()
            .unwrap()
    };
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
    wait_for("n1 Ready", Duration::from_secs(30), || {
        let reply = rt.block_on(admin.request("GET", "/api/v1/nodes/n1", None, None));
        reply.is_ok_and(|r| r.status == 200 && ready_status(&r.json()) == Some("True"))
    });
    let rejoin = join(words[6], &[]);
    assert!(rejoin.status.success() && String::from_utf8_lossy(&rejoin.stderr).contains("joined already"));
    let bad_input = Command::new(env!("CARGO_BIN_EXE_kubeboot"))
        .args(["join", words[2], "--token", "not-a-token", "--discovery-token-ca-cert-hash", words[6]])
        .output()
        .unwrap();
    assert_eq!(bad_input.status.code(), Some(2));
    drop(server);

    // init again: the CA stays, a new token is made.
    let again = init(&[]);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already initialised"));
    let line = String::from_utf8_lossy(&again.stdout).into_owned();
    assert_eq!(line.split_whitespace().last().unwrap(), pin, "the CA (and its pin) never changes on a rerun");
    assert_ne!(line, join_line, "a fresh token");
}
