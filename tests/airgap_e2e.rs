//! Air-gapped installs (issue 31) on fresh lab hosts, one Debian and one of the EL flavor:
//! - `bundle create` while the lab is online: the packages the preparation installs on each release (apt
//!   and rpm-md repositories, downloaded on the hosts), the walkthrough's images and one from a list file,
//!   the binary; `bundle list-images` shows the same digests skopeo reads from the lab's registry;
//! - then `lab offline` (no package mirror, no registry or repository on this machine) and, with
//!   `airgap: {bundle: …}` in the inventory, refusals before any host is changed (exit 2): a damaged
//!   bundle, a bundle without the master's release, a package the bundle lacks;
//! - `up` from the bundle: every node Ready, the walkthrough's pod-1 and Deployment running with images
//!   from the masters' kubeboot-registry, a rerun that changes nothing, and not one packet from a lab host
//!   dropped on its way out of the lab or to this machine (the lab's drop counters).
//!
//! Takes the lab down at the end.

mod common;

use std::path::Path;
use std::time::Duration;

use common::kubectl::{text, Kubectl};
use common::{kubeboot, lab_sh, wait_for};

/// (packets dropped leaving the lab, packets dropped on their way to this machine).
fn drops() -> (u64, u64) {
    let out = kubeboot(&["lab", "drops"], &[]);
    assert!(out.status.success(), "lab drops: {}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    let count = |label: &str| -> u64 {
        said.lines().find_map(|l| l.strip_prefix(label)?.trim().parse().ok()).unwrap_or_else(|| panic!("{said}"))
    };
    (count("leaving the lab:"), count("to this machine:"))
}

/// Nothing of kubeboot's on either host: what a refused `up` must leave.
fn untouched(why: &str) {
    for host in ["lab-master", "lab-node1"] {
        let found = lab_sh(
            host,
            "ls -d /var/lib/kubeboot-airgap /usr/local/bin/kubeboot /etc/docker/daemon.json 2>/dev/null; \
             command -v dockerd; true",
        );
        assert_eq!(found, "", "{why}: {host} was changed");
    }
}

fn with_bundle(inventory: &str, bundle: &Path) -> String {
    inventory.replacen("hosts:", &format!("airgap:\n  bundle: {}\nhosts:", bundle.display()), 1)
}

const WALKTHROUGH: &str = "
apiVersion: v1
kind: Pod
metadata: {name: pod-1, labels: {app: pod}}
spec:
  containers:
  - {name: container1, image: kubetm/p8000, ports: [{containerPort: 8000}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: deployment-1}
spec:
  replicas: 2
  selector: {matchLabels: {type: app}}
  template:
    metadata: {labels: {type: app}}
    spec:
      containers:
      - {name: container, image: 'kubetm/app:v1'}
";

#[test]
fn a_bundle_made_online_builds_the_cluster_with_the_lab_cut_off() {
    let work = tempfile::tempdir().unwrap();
    let _ = kubeboot(&["lab", "down"], &[]);
    let lab_inv = work.path().join("lab.yaml");
    let lab_inv_s = lab_inv.to_str().unwrap();
    for (count, flavor) in [("1", "debian"), ("2", "el")] {
        let out = kubeboot(&["lab", "up", count, "--flavor", flavor, "--inventory", lab_inv_s], &[]);
        assert!(out.status.success(), "lab up {count} {flavor}: {}", text(&out));
    }
    let lab_text = std::fs::read_to_string(&lab_inv).unwrap();

    // Online: the bundle, with one image more from a list (from its own registry, not through a mirror).
    let images = work.path().join("images.txt");
    std::fs::write(&images, "# ours\n10.88.0.1:5000/kubetm/init:latest\nkubetm/app:v1   # also the walkthrough's\n")
        .unwrap();
    let bundle = work.path().join("site.bundle");
    let out = kubeboot(
        &["bundle", "create", "-i", lab_inv_s, "--images", images.to_str().unwrap(), "-o", bundle.to_str().unwrap()],
        &[],
    );
    assert!(out.status.success(), "bundle create: {}", text(&out));
    let listing = kubeboot(&["bundle", "list-images", "-o", "json", bundle.to_str().unwrap()], &[]);
    assert!(listing.status.success(), "list-images: {}", text(&listing));
    let manifest: serde_json::Value = serde_json::from_slice(&listing.stdout).unwrap();
    let references: Vec<&str> =
        manifest["images"].as_array().unwrap().iter().map(|i| i["reference"].as_str().unwrap()).collect();
    assert_eq!(
        references,
        [
            "docker.io/kubetm/p8000:latest",
            "docker.io/kubetm/p8080:latest",
            "docker.io/kubetm/app:v1",
            "docker.io/kubetm/app:v2",
            "docker.io/kubetm/init:latest",
            "10.88.0.1:5000/kubetm/init:latest"
        ]
    );
    for image in manifest["images"].as_array().unwrap() {
        let source = image["source"].as_str().unwrap();
        let inspect = common::run("skopeo", &["inspect", "--tls-verify=false", &format!("docker://{source}")]);
        let digest = serde_json::from_str::<serde_json::Value>(&inspect).unwrap()["Digest"].clone();
        assert_eq!(image["digest"], digest, "{source}");
    }
    let systems: Vec<String> = manifest["systems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| format!("{} {}", s["system"]["osId"], s["collectedOn"]))
        .collect();
    assert_eq!(systems, ["\"debian\" \"lab-master\"", "\"rocky\" \"lab-node1\""]);
    // The Debian repository holds docker.io's dependencies down to a bare system (libc6 among them).
    let files: Vec<&str> = manifest["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    for wanted in [
        "packages/debian-12-x86_64/docker.io_",
        "packages/debian-12-x86_64/libc6_",
        "packages/debian-12-x86_64/Release",
    ] {
        assert!(files.iter().any(|f| f.starts_with(wanted)), "{wanted} in {files:?}");
    }
    assert!(files.iter().any(|f| f.starts_with("packages/rocky-9-x86_64/docker-ce-18.06.2.ce")), "{files:?}");
    assert!(files.contains(&"packages/rocky-9-x86_64/repodata/repomd.xml") && files.contains(&"kubeboot"));
    let text_listing = kubeboot(&["bundle", "list-images", bundle.to_str().unwrap()], &[]);
    assert!(
        String::from_utf8_lossy(&text_listing.stdout).contains("docker.io/kubetm/app:v1"),
        "{}",
        text(&text_listing)
    );
    // A bundle of the EL host alone, for the refusal below.
    let el_only = work.path().join("el.bundle");
    let out =
        kubeboot(&["bundle", "create", "-i", lab_inv_s, "--limit", "lab-node1", "-o", el_only.to_str().unwrap()], &[]);
    assert!(out.status.success(), "bundle create --limit: {}", text(&out));

    // Offline from here on.
    let out = kubeboot(&["lab", "offline"], &[]);
    assert!(out.status.success(), "lab offline: {}", text(&out));
    let mirror =
        lab_sh("lab-master", "timeout 3 curl -sS -o /dev/null http://deb.debian.org/debian/ && echo reached; true");
    assert_eq!(mirror, "", "the package mirror is out of reach");
    let registry = lab_sh("lab-node1", "timeout 3 curl -sS http://10.88.0.1:5000/v2/ && echo reached; true");
    assert_eq!(registry, "", "the lab's registry is out of reach");
    let before = drops();

    // Refusals, each before any host is changed. (`up` unpacks bundles into a cache of the test's own.)
    let cache_dir = work.path().join("cache");
    let cache = [("XDG_CACHE_HOME", cache_dir.to_str().unwrap())];
    let damaged = work.path().join("damaged.bundle");
    let mut bytes = std::fs::read(&bundle).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&damaged, bytes).unwrap();
    let inv = work.path().join("inv.yaml");
    for (file, want) in [
        (&damaged, "does not match the bundle's manifest"),
        (
            &el_only,
            "lab-master: debian 12 (bookworm) x86_64: the bundle has no packages for it (it holds rocky 9 x86_64)",
        ),
    ] {
        std::fs::write(&inv, with_bundle(&lab_text, file)).unwrap();
        let out = kubeboot(&["up", "-i", inv.to_str().unwrap()], &cache);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(text(&out).contains(want), "{}", text(&out));
        untouched(want);
    }
    let newer_pin = with_bundle(&lab_text, &bundle).replace("version: \"18.06.2.ce\"", "version: \"18.09.1\"");
    std::fs::write(&inv, newer_pin).unwrap();
    let out = kubeboot(&["up", "-i", inv.to_str().unwrap()], &cache);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("lab-node1: the bundle's rocky 9 x86_64 repository lacks docker-ce 18.09.1"),
        "{}",
        text(&out)
    );
    untouched("a missing package");

    // The cluster from the bundle.
    std::fs::write(&inv, with_bundle(&lab_text, &bundle)).unwrap();
    let inv_s = inv.to_str().unwrap();
    let out = kubeboot(&["up", "-i", inv_s], &cache);
    let said = text(&out);
    assert!(out.status.success(), "up from the bundle: {said}");
    for host in ["lab-master", "lab-node1"] {
        assert!(said.lines().any(|l| l.starts_with(host) && l.contains(" Ready ")), "{host} Ready: {said}");
    }
    assert_eq!(lab_sh("lab-node1", "rpm -q docker-ce"), "docker-ce-18.06.2.ce-3.el9.x86_64\n");
    assert!(lab_sh("lab-master", "dpkg-query -W -f '${Status}' docker.io").contains("install ok installed"));
    // The hosts' own package sources were left as they were; Docker pulls through the master's registry.
    assert!(lab_sh("lab-master", "cat /etc/apt/sources.list.d/*.list /etc/apt/sources.list 2>/dev/null")
        .find("kubeboot")
        .is_none());
    let daemon = lab_sh("lab-node1", "cat /etc/docker/daemon.json");
    assert!(daemon.contains("\"registry-mirrors\": [\"http://10.88.0.10:5000\"]"), "{daemon}");
    assert_eq!(lab_sh("lab-master", "systemctl is-active kubeboot-registry"), "active\n");

    let kubeconfig = work.path().join("admin.conf");
    common::fetch_kubeconfig(inv_s, &kubeconfig);
    let k = Kubectl::new("kubectl.1.33", &kubeconfig);
    let manifests = work.path().join("walkthrough.yaml");
    std::fs::write(&manifests, WALKTHROUGH).unwrap();
    k.ok(&["apply", "-f", manifests.to_str().unwrap()]);
    wait_for("pod-1 and deployment-1 running", Duration::from_secs(90), || {
        let pods = [k.pods("app=pod"), k.pods("type=app")].concat();
        pods.len() == 3 && pods.iter().all(common::kubectl::ready)
    });
    let pod_ip = k.stdout(&["get", "pod", "pod-1", "-o", "jsonpath={.status.podIP}"]);
    let answer = lab_sh("lab-master", &format!("curl -s --max-time 5 http://{pod_ip}:8000/"));
    assert!(answer.contains("containerPort : 8000"), "pod-1 answers: {answer:?}");
    let images = lab_sh("lab-node1", "docker images --format '{{.Repository}}:{{.Tag}}' | sort");
    assert!(images.contains("kubetm/p8000:latest") && images.contains("kubetm/app:v1"), "{images}");

    // A rerun changes nothing and sends nothing.
    let out = kubeboot(&["up", "-i", inv_s, "--output", "json"], &cache);
    assert!(out.status.success(), "rerun: {}", text(&out));
    let recap: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for host in ["lab-master", "lab-node1"] {
        assert_eq!(recap["hosts"][host]["changed"], 0, "{host}: {:?}", common::change_summaries(&recap, host));
    }

    // Not one packet tried to leave the lab or reach this machine the whole time.
    assert_eq!(drops(), before, "packets from lab hosts dropped while offline");

    let _ = kubeboot(&["lab", "online"], &[]);
    let _ = kubeboot(&["lab", "down"], &[]);
}
