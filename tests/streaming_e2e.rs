//! kubectl logs, exec, attach, cp and port-forward (pod/, svc/, deploy/) end to end, on one lab cluster (`lab up 2` + `up`: a
//! master and a worker), with Debian's kubectl 1.20 (SPDY/3.1) and the machine's kubectl 1.33 (WebSocket:
//! v5.channel.k8s.io, and SPDY tunnelled in WebSocket for port-forward). The path is the real one: kubectl
//! → API server (authorizes, proxies) → the worker's node API on :10250 → Docker / the pod's network
//! namespace. The official Python client's logs, exec and port-forward take the same path
//! (tests/python/client_streams.py). A node's certificate is refused, by the API server and by the node API itself. Takes the lab
//! down at the end.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::kubectl::{text, Kubectl};
use common::{kubeboot, lab_sh};
use serde_json::Value;

/// Lines from `rx` until one satisfies `want`; all lines seen.
fn read_until(rx: &mpsc::Receiver<String>, limit: Duration, what: &str, want: impl Fn(&str) -> bool) -> Vec<String> {
    let start = Instant::now();
    let mut seen = Vec::new();
    loop {
        let left =
            limit.checked_sub(start.elapsed()).unwrap_or_else(|| panic!("not within {limit:?}: {what}; saw {seen:?}"));
        match rx.recv_timeout(left) {
            Ok(line) => {
                let done = want(&line);
                seen.push(line);
                if done {
                    return seen;
                }
            }
            Err(_) => panic!("not within {limit:?}: {what}; saw {seen:?}"),
        }
    }
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn manifest(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel).display().to_string()
}

/// One HTTP/1.0 GET through a forwarded local port; the whole answer.
fn http_get(port: u16) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    stream.write_all(b"GET / HTTP/1.0\r\nHost: pod\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

fn pod_ready(k: &Kubectl, name: &str) -> bool {
    let out = k.output(&["get", "pod", name, "-o", "json"]);
    let pod: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    pod["status"]["phase"] == "Running"
        && pod["status"]["containerStatuses"].as_array().is_some_and(|cs| cs.iter().all(|c| c["ready"] == true))
}

fn checks_with(k: &Kubectl, work: &Path) {
    let label = k.label.as_str();
    // logs: several containers and none named is Kubernetes' 400 (kubectl 1.20 leaves the choice to the
    // server; newer ones pick the first container themselves and say so).
    if label.starts_with("kubectl 1.20") {
        let out = k.output(&["logs", "talker"]);
        assert!(!out.status.success());
        assert!(
            text(&out).contains("a container name must be specified for pod talker, choose one of: [c1 c2]"),
            "{label}: {}",
            text(&out)
        );
    }
    let logs = k.ok(&["logs", "talker", "-c", "c1"]);
    assert!(logs.starts_with("hello-from-talker\n"), "{label}: {logs}");
    let tail = k.ok(&["logs", "talker", "-c", "c1", "--tail", "2", "--timestamps"]);
    assert_eq!(tail.lines().count(), 2, "{label}: {tail}");
    let stamped = |l: &str| l.split_once(' ').is_some_and(|(ts, _)| ts.ends_with('Z') && ts.contains('T'));
    assert!(tail.lines().all(stamped), "{label}: RFC 3339 timestamps: {tail}");

    // logs -f sees lines printed after it started.
    let (follow, lines) = k.spawn(&["logs", "-f", "talker", "-c", "c1", "--tail", "1"]);
    let first = read_until(&lines, Duration::from_secs(20), "a first tick", |l| l.starts_with("tick "))[0].clone();
    read_until(&lines, Duration::from_secs(20), "a later tick", |l| l.starts_with("tick ") && l != first);
    stop(follow);

    // exec: stdin from a pipe, exit codes, a missing command.
    let echoed = k.with_stdin(&["exec", "-i", "talker", "-c", "c1", "--", "cat"], b"through stdin\n");
    assert!(echoed.status.success(), "{label}: {}", text(&echoed));
    assert_eq!(String::from_utf8_lossy(&echoed.stdout), "through stdin\n", "{label}");
    let three = k.output(&["exec", "talker", "-c", "c1", "--", "sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert_eq!(three.status.code(), Some(3), "{label}: {}", text(&three));
    assert_eq!(String::from_utf8_lossy(&three.stdout), "out\n", "{label}");
    assert!(String::from_utf8_lossy(&three.stderr).contains("err"), "{label}: {}", text(&three));
    let missing = k.output(&["exec", "talker", "-c", "c1", "--", "no-such-command"]);
    assert!(!missing.status.success());
    assert!(text(&missing).contains("executable file not found"), "{label}: {}", text(&missing));

    // exec -t: a TTY of the terminal's size (kubectl under `script`, which gives it a pty).
    let inner = format!(
        "stty cols 97 rows 31; {} --kubeconfig {} exec -it talker -c c1 -- sh -c 'tty; sleep 1; stty size'",
        k.path.display(),
        k.kubeconfig.display()
    );
    let tty = Command::new("script").args(["-qec", &inner, "/dev/null"]).stdin(Stdio::null()).output().unwrap();
    let shown = text(&tty);
    assert!(shown.contains("/dev/pts/"), "{label}: {shown}");
    assert!(shown.contains("31 97"), "{label}: the resize reached the TTY: {shown}");

    // attach: the container's own output.
    let (attach, lines) = k.spawn(&["attach", "talker", "-c", "c1"]);
    read_until(&lines, Duration::from_secs(20), "output through attach", |l| l.starts_with("tick "));
    stop(attach);

    // cp both ways (tar over exec), 5 MB, byte for byte.
    let original = work.join("five-mb");
    let data: Vec<u8> = (0..5_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(&original, &data).unwrap();
    let remote = format!("talker:/tmp/copied-{}", label.replace(' ', "-").replace(['(', ')'], ""));
    k.ok(&["cp", original.to_str().unwrap(), &remote, "-c", "c1"]);
    let back = work.join("five-mb-back");
    k.ok(&["cp", &remote, back.to_str().unwrap(), "-c", "c1"]);
    assert!(std::fs::read(&back).unwrap() == data, "{label}: cp round trip differs");

    // port-forward: 20 requests at once, each answered by the pod's HTTP port; the forward outlives them.
    let port = common::free_port();
    let (forward, lines) = k.spawn(&["port-forward", "pod/talker", &format!("{port}:8000")]);
    read_until(&lines, Duration::from_secs(20), "port-forward ready", |l| l.contains("Forwarding from 127.0.0.1"));
    let answers: Vec<_> = (0..20).map(|_| std::thread::spawn(move || http_get(port))).collect();
    for answer in answers {
        let answer = answer.join().unwrap().expect("a forwarded request");
        assert!(answer.contains("containerPort : 8000"), "{label}: {answer}");
    }
    let again = http_get(port).expect("the forward survives closed connections");
    assert!(again.contains("containerPort : 8000"), "{label}: {again}");
    stop(forward);

    // svc/ and deploy/: kubectl finds the pod by their selectors (the Service's port 80 is targetPort 8000).
    for (target, remote) in [("svc/talker", 80), ("deploy/talker", 8000)] {
        let port = common::free_port();
        let (forward, lines) = k.spawn(&["port-forward", target, &format!("{port}:{remote}")]);
        read_until(&lines, Duration::from_secs(20), "port-forward ready", |l| l.contains("Forwarding from 127.0.0.1"));
        let answer = http_get(port).expect("a forwarded request");
        assert!(answer.contains("containerPort : 8000"), "{label} {target}: {answer}");
        stop(forward);
    }

    // A port nothing listens on: the request fails and kubectl reports why.
    let port = common::free_port();
    let (refused, lines) = k.spawn(&["port-forward", "pod/talker", &format!("{port}:9999")]);
    read_until(&lines, Duration::from_secs(20), "port-forward ready", |l| l.contains("Forwarding from 127.0.0.1"));
    let answer = http_get(port).unwrap_or_default();
    assert!(!answer.contains("containerPort"), "{label}: {answer}");
    read_until(&lines, Duration::from_secs(20), "the refusal reported", |l| {
        l.contains("error forwarding port 9999") && l.contains("Connection refused")
    });
    stop(refused);
}

#[test]
fn logs_exec_attach_cp_and_port_forward_through_the_node_api() {
    let kubectl_120 = common::kubectls::by_label("kubectl 1.20");
    let kubectl_133 = common::kubectls::by_label("kubectl.1.33");
    let work = tempfile::tempdir().unwrap();
    let inv_path = work.path().join("lab.yaml");
    let inv = inv_path.to_str().unwrap();
    common::fresh_lab(2, inv);
    let up = kubeboot(&["up", "-i", inv], &[]);
    assert!(up.status.success(), "up: {}", text(&up));
    let conf = kubeboot(&["kubeconfig", "-i", inv], &[]);
    assert!(conf.status.success());
    let kubeconfig = work.path().join("admin.conf");
    std::fs::write(&kubeconfig, &conf.stdout).unwrap();
    let k20 = Kubectl::at("kubectl 1.20 (SPDY)", &kubectl_120, &kubeconfig);
    let k33 = Kubectl::at("kubectl 1.33 (WebSocket)", &kubectl_133, &kubeconfig);

    k33.ok(&["apply", "-f", &manifest("tests/manifests/workloads/talker.yaml")]);
    k33.ok(&["apply", "-f", &manifest("tests/manifests/workloads/restarter.yaml")]);
    common::wait_for("talker Running and Ready", Duration::from_secs(120), || pod_ready(&k33, "talker"));

    // The protocols each kubectl chose, as it logs them.
    let chatty = k33.output(&["exec", "-v=7", "talker", "-c", "c1", "--", "true"]);
    assert!(text(&chatty).contains("The subprotocol is v5.channel.k8s.io"), "{}", text(&chatty));
    let chatty = k20.output(&["exec", "-v=8", "talker", "-c", "c1", "--", "true"]);
    assert!(text(&chatty).contains("X-Stream-Protocol-Version: v4.channel.k8s.io"), "{}", text(&chatty));

    // kubectl 1.33's typed reads (describe's pod and its events, the pods behind svc/ and deploy/ for
    // port-forward) are answered in protobuf, as it asks; 1.20 asks for JSON. A running pod's whole status
    // comes through.
    let described = k33.output(&["describe", "pod", "talker", "-v=8"]);
    let described = text(&described);
    assert!(described.contains("Content-Type: application/vnd.kubernetes.protobuf"), "{described}");
    let shows = |key: &str, value: &str| {
        described.lines().any(|l| l.trim_start().starts_with(key) && l.split_whitespace().any(|w| w.starts_with(value)))
    };
    for (key, value) in [("Status:", "Running"), ("Ready:", "True"), ("Restart Count:", "0"), ("Node:", "lab-node1/")] {
        assert!(shows(key, value), "{key} {value} in\n{described}");
    }

    for k in [&k20, &k33] {
        checks_with(k, work.path());
    }
    // Every answer asked for in protobuf was written so: the server logs each one it had to send as JSON.
    let fallbacks = lab_sh(
        "lab-master",
        "journalctl -u kubeboot-server --no-pager -o cat | grep 'cannot be written as protobuf' || true",
    );
    assert_eq!(fallbacks.trim(), "", "answers that could not be written as protobuf");
    let passed = common::python_client::run_script("client_streams.py", &kubeconfig, work.path());
    assert_eq!(passed.len(), 7, "every Python client check ran: {passed:?}");

    // --previous: the instance before the restart.
    common::wait_for("restarter restarted", Duration::from_secs(60), || {
        let out =
            k33.output(&["get", "pod", "restarter", "-o", "jsonpath={.status.containerStatuses[0].restartCount}"]);
        String::from_utf8_lossy(&out.stdout).trim().parse::<u32>().is_ok_and(|n| n >= 1)
    });
    let previous = k33.ok(&["logs", "restarter", "--previous"]);
    let current = k33.output(&["logs", "restarter"]);
    assert!(previous.starts_with("started-at-"), "{previous}");
    assert_ne!(previous, String::from_utf8_lossy(&current.stdout), "--previous is the instance before");

    // A node's certificate: refused by the API server, and by the node API itself (only the API server's
    // certificate is taken there; no certificate at all fails the TLS handshake).
    let node_conf = work.path().join("node.conf");
    std::fs::write(&node_conf, lab_sh("lab-node1", "cat /etc/kubeboot/agent.conf")).unwrap();
    let as_node = Kubectl::at("node", &k33.path, &node_conf);
    let refused = as_node.output(&["exec", "talker", "-c", "c1", "--", "true"]);
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains(r#"User "system:node:lab-node1" cannot create resource "pods/exec""#),
        "{}",
        text(&refused)
    );
    let refused = as_node.output(&["logs", "talker", "-c", "c1"]);
    assert!(text(&refused).contains(r#"cannot get resource "pods/log""#), "{}", text(&refused));

    let node_conf =
        kubeboot::bootstrap::kubeconfig::Kubeconfig::parse(&std::fs::read_to_string(&node_conf).unwrap()).unwrap();
    let (cert, key) = node_conf.first_user_credentials().unwrap();
    let (_, ca) = node_conf.first_cluster().unwrap();
    for (name, pem) in [("node.crt", &cert), ("node.key", &key), ("ca.crt", &ca)] {
        std::fs::write(work.path().join(name), pem).unwrap();
    }
    let node_ip = String::from_utf8_lossy(
        &k33.output(&["get", "node", "lab-node1", "-o", "jsonpath={.status.addresses[0].address}"]).stdout,
    )
    .into_owned();
    let url = format!("https://{node_ip}:10250/containerLogs/default/talker/c1");
    let ca_path = work.path().join("ca.crt");
    let with_node_cert = common::run(
        "curl",
        &[
            "-s",
            "--cacert",
            ca_path.to_str().unwrap(),
            "--cert",
            work.path().join("node.crt").to_str().unwrap(),
            "--key",
            work.path().join("node.key").to_str().unwrap(),
            &url,
        ],
    );
    assert!(with_node_cert.contains("Forbidden (user=system:node:lab-node1"), "{with_node_cert}");
    let without = Command::new("curl").args(["-s", "--cacert", ca_path.to_str().unwrap(), &url]).output().unwrap();
    assert!(!without.status.success(), "no client certificate, no node API: {}", text(&without));
    assert!(!String::from_utf8_lossy(&without.stdout).contains("hello-from-talker"));

    let down = kubeboot(&["lab", "down"], &[]);
    assert!(down.status.success());
}
