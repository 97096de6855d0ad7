//! The EL path for real: a mixed lab (EL master, EL node, Debian node), the docker-ce repository rendered from
//! the template and pointed at the lab's own RPM repository (built and served by `lab up --flavor el`),
//! `rpm -q` showing the pin, the walkthrough's pod-1 running on the EL node's docker-ce 18.06.2.ce and
//! reached through svc-1's ClusterIP from every host, a pin
//! upgrade on the EL hosts only, and a missing pin failing one host while the others complete. Takes the
//! machine's lab down at the end.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{kubeboot, lab_sh};
use serde_json::Value;

/// Where `lab up --flavor el` serves the lab's EL repositories.
const REPO_PORT: u16 = 8088;

fn inventory(version: &str, node1_override: &str) -> String {
    format!(
        "cluster: {{ name: lab, pod_network_cidr: 10.244.0.0/16 }}\n\
         docker: {{ source: docker-ce, version: \"{version}\", registry_mirrors: [\"http://10.88.0.1:5000\"], insecure_registries: [\"10.88.0.1:5000\"] }}\n\
         ssh: {{ user: root, private_key: /var/lib/kubeboot-lab/id_ed25519, known_hosts_file: /var/lib/kubeboot-lab/known_hosts }}\n\
         vars:\n\
         \x20 docker_ce_repo_baseurl: http://10.88.0.1:{REPO_PORT}/docker-ce/\n\
         \x20 docker_ce_repo_gpgcheck: 0\n\
         hosts:\n\
         \x20 - {{ name: lab-master, address: 10.88.0.10, role: master }}\n\
         \x20 - {{ name: lab-node1, address: 10.88.0.11, role: node{node1_override} }}\n\
         \x20 - {{ name: lab-node2, address: 10.88.0.12, role: node, docker: {{ source: distro, version: \"\" }} }}\n"
    )
}

fn up(inv: &Path, extra: &[&str]) -> (i32, Value, String) {
    let mut args = vec!["up", "-i", inv.to_str().unwrap()];
    args.extend_from_slice(extra);
    let json_wanted = !extra.contains(&"--diff");
    if json_wanted {
        args.extend(["--output", "json"]);
    }
    let out = kubeboot(&args, &[]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let json = if json_wanted { serde_json::from_str(&text).unwrap_or(Value::Null) } else { Value::Null };
    (out.status.code().unwrap_or(-1), json, text)
}

/// pod-1 of the walkthrough pinned to `node` (kubectl apply from this machine) answers from `from` by its
/// address, and through svc-1's ClusterIP from every host (each host's own proxy rules, EL's included).
fn pod_runs_on(inv: &Path, node: &str, from: &str, dir: &Path) {
    let conf = kubeboot(&["kubeconfig", "-i", inv.to_str().unwrap()], &[]);
    assert!(conf.status.success());
    let kubeconfig = dir.join("admin.conf");
    std::fs::write(&kubeconfig, &conf.stdout).unwrap();
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/service-1.yaml")).unwrap();
    let pinned = dir.join("service-1.yaml");
    // The first spec is pod-1's.
    std::fs::write(
        &pinned,
        manifest.replacen("spec:\n", &format!("spec:\n  nodeSelector:\n    kubernetes.io/hostname: {node}\n"), 1),
    )
    .unwrap();
    let kubectl = |args: &[&str]| {
        let out =
            Command::new("kubectl").arg("--kubeconfig").arg(&kubeconfig).args(args).output().expect("kubectl on PATH");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, out) = kubectl(&["apply", "-f", pinned.to_str().unwrap()]);
    assert!(ok, "{out}");
    let deadline = Instant::now() + Duration::from_secs(120);
    let ip = loop {
        let (_, out) =
            kubectl(&["get", "pod", "pod-1", "-o", "jsonpath={.status.phase} {.status.podIP} {.spec.nodeName}"]);
        let fields: Vec<&str> = out.split_whitespace().collect();
        if fields.len() == 3 && fields[0] == "Running" {
            assert_eq!(fields[2], node);
            break fields[1].to_string();
        }
        assert!(Instant::now() < deadline, "pod-1 did not run on {node}: {out}");
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(lab_sh(from, &format!("curl -s -m 5 {ip}:8000")).trim(), "containerPort : 8000");
    let (_, cluster_ip) = kubectl(&["get", "svc", "svc-1", "-o", "jsonpath={.spec.clusterIP}"]);
    for host in ["lab-master", "lab-node1", "lab-node2"] {
        let mut reply = String::new();
        // The endpoint reaches each host's proxy within a moment of the pod's readiness.
        for _ in 0..20 {
            reply = lab_sh(host, &format!("curl -s -m 5 {cluster_ip}:9000"));
            if reply.trim() == "containerPort : 8080" {
                break;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        assert_eq!(reply.trim(), "containerPort : 8080", "svc-1 from {host}: {}", lab_sh(host, "iptables --version"));
    }
    let (ok, out) = kubectl(&["delete", "-f", pinned.to_str().unwrap()]);
    assert!(ok, "{out}");
}

#[test]
fn mixed_el_and_debian_lab_converges_and_follows_the_pin() {
    let work = tempfile::tempdir().unwrap();

    let _ = kubeboot(&["lab", "down"], &[]);
    let lab_inv = work.path().join("lab.yaml");
    let lab_inv_s = lab_inv.to_str().unwrap();
    for (count, flavor) in [("2", "el"), ("3", "debian")] {
        let out = kubeboot(&["lab", "up", count, "--flavor", flavor, "--inventory", lab_inv_s], &[]);
        assert!(out.status.success(), "lab up {count} {flavor}: {}", String::from_utf8_lossy(&out.stderr));
    }
    // `lab up --flavor el` builds (once) and serves the EL repositories on the bridge.
    assert!(std::net::TcpStream::connect(("10.88.0.1", REPO_PORT)).is_ok(), "the lab serves the EL repositories");
    let lab_text = std::fs::read_to_string(&lab_inv).unwrap();
    assert!(lab_text.contains("docker_ce_repo_baseurl: http://10.88.0.1:8088/docker-ce/"), "{lab_text}");
    assert!(lab_text.contains("docker: { source: docker-ce, version: \"18.06.2.ce\" }"), "{lab_text}");

    // Facts: the EL hosts are EL with dnf, the Debian host Debian with apt.
    let ping = kubeboot(&["ping", "-i", lab_inv_s, "--output", "json"], &[]);
    let facts: Value = serde_json::from_slice(&ping.stdout).unwrap();
    for (host, family, pm) in [("lab-master", "el", "dnf"), ("lab-node1", "el", "dnf"), ("lab-node2", "debian", "apt")]
    {
        assert_eq!(facts["hosts"][host]["facts"]["family"], family, "{host}");
        assert_eq!(facts["hosts"][host]["facts"]["package_manager"], pm, "{host}");
    }

    let inv = work.path().join("inv.yaml");
    std::fs::write(&inv, inventory("18.06.2.ce", "")).unwrap();
    let (code, first, _) = up(&inv, &[]);
    assert_eq!(code, 0, "first up: {first}");
    let renderer = kubeboot::render::Renderer::new(None).unwrap();
    for host in ["lab-master", "lab-node1"] {
        assert_eq!(lab_sh(host, "rpm -q docker-ce"), "docker-ce-18.06.2.ce-3.el9.x86_64\n", "{host}");
        assert_eq!(lab_sh(host, "systemctl is-active docker"), "active\n", "{host}");
        assert_eq!(lab_sh(host, "rpm -q yum-utils lvm2 device-mapper-persistent-data | wc -l"), "3\n");
        let repo_file = lab_sh(host, "cat /etc/yum.repos.d/docker-ce.repo");
        let mut ctx = tera::Context::new();
        ctx.insert(
            "vars",
            &serde_json::json!({
                "docker_ce_repo_baseurl": format!("http://10.88.0.1:{REPO_PORT}/docker-ce/"),
                "docker_ce_repo_gpgcheck": 0,
            }),
        );
        assert_eq!(
            repo_file,
            renderer.render_template("docker-ce.repo", &ctx).unwrap(),
            "{host}: rendered from the template"
        );
    }
    assert_eq!(lab_sh("lab-node2", "dpkg-query -W -f='${Status}' docker.io"), "install ok installed");
    assert_eq!(lab_sh("lab-node2", "systemctl is-active docker"), "active\n");

    // The walkthrough's scenario: pod-1 runs on the EL node's docker-ce 18.06.2.ce and answers by pod IP
    // and through svc-1.
    pod_runs_on(&inv, "lab-node1", "lab-node2", work.path());

    let (code, rerun, _) = up(&inv, &[]);
    assert_eq!(code, 0);
    for host in ["lab-master", "lab-node1", "lab-node2"] {
        assert_eq!(rerun["hosts"][host]["changed"], 0, "{host}: {}", rerun["hosts"][host]["changes"]);
    }

    // The newer pin: --check --diff shows the upgrade on the EL hosts only; up does it.
    std::fs::write(&inv, inventory("18.09.1", "")).unwrap();
    let (code, _, report) = up(&inv, &["--check", "--diff"]);
    assert_eq!(code, 0, "{report}");
    let lines: Vec<&str> = report
        .lines()
        .filter(|l| l.starts_with("would change") || l.starts_with("- ") || l.starts_with("+ "))
        .collect();
    assert_eq!(
        lines,
        [
            "would change: [lab-master] Docker from the vendor repository (pinned) — install docker-ce-18.09.1",
            "- docker-ce 18.06.2.ce-3.el9",
            "+ docker-ce 18.09.1",
            "would change: [lab-node1] Docker from the vendor repository (pinned) — install docker-ce-18.09.1",
            "- docker-ce 18.06.2.ce-3.el9",
            "+ docker-ce 18.09.1",
        ],
        "{report}"
    );
    assert_eq!(
        lab_sh("lab-master", "rpm -q docker-ce"),
        "docker-ce-18.06.2.ce-3.el9.x86_64\n",
        "--check changed nothing"
    );
    let (code, upgrade, _) = up(&inv, &[]);
    assert_eq!(code, 0, "{upgrade}");
    for host in ["lab-master", "lab-node1"] {
        assert_eq!(lab_sh(host, "rpm -q docker-ce"), "docker-ce-18.09.1-3.el9.x86_64\n", "{host}");
    }
    assert_eq!(upgrade["hosts"]["lab-node2"]["changed"], 0);

    // A pin the repository does not have fails that host, naming package and version; the others complete.
    std::fs::write(&inv, inventory("18.09.1", ", docker: { version: \"99.0\" }")).unwrap();
    let (code, missing, _) = up(&inv, &[]);
    assert_eq!(code, 1);
    assert_eq!(missing["hosts"]["lab-node1"]["failed"], 1, "{missing}");
    let failure = missing["hosts"]["lab-node1"]["failures"][0].to_string();
    assert!(failure.contains("docker-ce-99.0"), "{failure}");
    for host in ["lab-master", "lab-node2"] {
        assert_eq!(
            (missing["hosts"][host]["failed"].as_u64(), missing["hosts"][host]["changed"].as_u64()),
            (Some(0), Some(0)),
            "{host}"
        );
    }

    let down = kubeboot(&["lab", "down"], &[]);
    assert!(down.status.success());
}
