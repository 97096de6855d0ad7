//! `kubeboot up` end to end on three fresh lab hosts (real systemd, sshd, apt and Docker): a run killed
//! halfway, a rerun that converges, a rerun that changes nothing, drift shown by --check --diff and repaired
//! with one docker restart, and a host lost mid-run. Takes the machine's lab down at the end.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{kubeboot, lab_sh};
use serde_json::Value;

const HOSTS: [&str; 3] = ["lab-master", "lab-node1", "lab-node2"];

fn up_json(inv: &str, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["up", "-i", inv, "--output", "json"];
    args.extend_from_slice(extra);
    let out = kubeboot(&args, &[]);
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    });
    (out.status.code().unwrap_or(-1), json)
}

fn changed(json: &Value, host: &str) -> u64 {
    json["hosts"][host]["changed"].as_u64().unwrap()
}

#[test]
fn up_converges_reruns_clean_repairs_drift_and_survives_kills() {
    let work = tempfile::tempdir().unwrap();
    let inv_path = work.path().join("lab.yaml");
    let inv = inv_path.to_str().unwrap();
    common::fresh_lab(3, inv);

    // 1. SIGKILL the first run while it installs packages, then rerun: it must converge.
    let mut first = Command::new(env!("CARGO_BIN_EXE_kubeboot"))
        .args(["up", "-i", inv])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while lab_sh("lab-node1", "pgrep -x apt-get >/dev/null || pgrep -x dpkg >/dev/null && echo busy").trim() != "busy" {
        assert!(Instant::now() < deadline, "the first run never reached the package installs");
        std::thread::sleep(Duration::from_millis(300));
    }
    std::thread::sleep(Duration::from_secs(3));
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();

    let (code, run) = up_json(inv, &[]);
    assert_eq!(code, 0, "rerun after a kill: {run}");
    // daemon.json rendered from the embedded template with the lab inventory's registry mirror.
    let mut ctx = tera::Context::new();
    ctx.insert("vars", &serde_json::json!({}));
    ctx.insert(
        "docker",
        &serde_json::json!({"registry_mirrors": ["http://10.88.0.1:5000"], "insecure_registries": ["10.88.0.1:5000"]}),
    );
    let expected_daemon_json =
        kubeboot::render::Renderer::new(None).unwrap().render_template("daemon.json", &ctx).unwrap();
    assert!(
        expected_daemon_json.contains("\"registry-mirrors\": [\"http://10.88.0.1:5000\"]"),
        "{expected_daemon_json}"
    );
    for host in HOSTS {
        assert_eq!(
            lab_sh(host, "systemctl is-active docker; systemctl is-enabled docker"),
            "active\nenabled\n",
            "{host}"
        );
        assert_eq!(lab_sh(host, "cat /etc/docker/daemon.json"), expected_daemon_json, "{host}: daemon.json byte-exact");
        assert_eq!(lab_sh(host, "hostname"), format!("{host}\n"));
        let etc_hosts = lab_sh(host, "cat /etc/hosts");
        for (i, h) in HOSTS.iter().enumerate() {
            assert!(
                etc_hosts.contains(&format!("10.88.0.{} {h}\n", 10 + i)),
                "{host}: /etc/hosts lacks {h}:\n{etc_hosts}"
            );
        }
        let leftovers = lab_sh(
            host,
            r"find /etc /tmp /usr/local/bin \( -name '*.kubeboot-tmp' -o -name '.*.kubeboot-*' \) 2>/dev/null",
        );
        assert_eq!(leftovers, "", "{host}: partial files left");
        assert_eq!(lab_sh(host, "dpkg --audit"), "", "{host}: dpkg left half-configured packages");
        // docker really runs containers with the written configuration
        assert_eq!(lab_sh(host, "docker info --format '{{.CgroupDriver}} {{.Driver}}'"), "systemd overlay2\n");
    }

    // 2. A rerun changes nothing anywhere.
    let (code, rerun) = up_json(inv, &[]);
    assert_eq!(code, 0);
    for host in HOSTS {
        assert_eq!(changed(&rerun, host), 0, "{host} changed on a rerun: {:?}", common::change_summaries(&rerun, host));
        assert_eq!(rerun["hosts"][host]["failed"], 0);
    }

    // 3. Drift on one host: --check --diff shows exactly that and changes nothing; up repairs it.
    lab_sh("lab-node1", "sed -i 's/100m/5m/' /etc/docker/daemon.json");
    let drifted = lab_sh("lab-node1", "cat /etc/docker/daemon.json");
    let out = kubeboot(&["up", "-i", inv, "--check", "--diff"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let report = String::from_utf8_lossy(&out.stdout);
    let change_lines: Vec<&str> = report.lines().filter(|l| l.starts_with("would change")).collect();
    assert_eq!(
        change_lines,
        [
            "would change: [lab-node1] /etc/docker/daemon.json — update /etc/docker/daemon.json",
            "would change: [lab-node1] restart docker — restart docker"
        ],
        "{report}"
    );
    assert!(report.contains("-    \"max-size\": \"5m\"\n+    \"max-size\": \"100m\"\n"), "{report}");
    assert_eq!(lab_sh("lab-node1", "cat /etc/docker/daemon.json"), drifted, "--check must not change anything");
    let restarts_before = lab_sh(
        "lab-node1",
        "systemctl show -p NRestarts docker; journalctl -u docker --no-pager -q | grep -c 'Starting docker' || true",
    );
    let (code, fix) = up_json(inv, &[]);
    assert_eq!(code, 0);
    assert_eq!(common::change_summaries(&fix, "lab-node1"), ["update /etc/docker/daemon.json", "restart docker"]);
    assert_eq!((changed(&fix, "lab-master"), changed(&fix, "lab-node2")), (0, 0));
    assert_eq!(lab_sh("lab-node1", "cat /etc/docker/daemon.json"), expected_daemon_json);
    let restarts_after = lab_sh(
        "lab-node1",
        "systemctl show -p NRestarts docker; journalctl -u docker --no-pager -q | grep -c 'Starting docker' || true",
    );
    let starts = |s: &str| s.lines().last().unwrap_or("0").trim().parse::<u32>().unwrap_or(0);
    assert_eq!(starts(&restarts_after), starts(&restarts_before) + 1, "docker restarted exactly once");

    // 4. A host lost mid-run is unreachable; the others finish; exit 1.
    let playbook = work.path().join("slow.yaml");
    std::fs::write(&playbook, "- hosts: all\n  tasks:\n    - name: slow\n      command: sleep 6\n    - name: after\n      command: \"true\"\n").unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_kubeboot"))
        .args(["run", playbook.to_str().unwrap(), "-i", inv, "--output", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    // The container's init: killing it takes the whole host down (killing nspawn alone would not).
    let pid = std::fs::read_to_string("/var/lib/kubeboot-lab/hosts/lab-node2.init-pid").unwrap();
    Command::new("kill").args(["-KILL", pid.trim()]).status().unwrap();
    let out = run.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["hosts"]["lab-node2"]["unreachable"], true, "{json}");
    for host in ["lab-master", "lab-node1"] {
        assert_eq!(
            (json["hosts"][host]["ok"].as_u64(), json["hosts"][host]["failed"].as_u64()),
            (Some(2), Some(0)),
            "{json}"
        );
    }

    let down = kubeboot(&["lab", "down"], &[]);
    assert!(down.status.success());
}
