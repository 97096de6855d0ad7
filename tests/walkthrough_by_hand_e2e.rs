//! The walkthrough's manual flow on three fresh lab hosts (issue 31, item 4): `up --prepare-only` prepares
//! every host and installs the kubeboot binary there (as the walkthrough's preparation installs kubeadm),
//! and starts nothing; then, by hand over SSH, `kubeboot init` on the master and the `kubeboot join` it
//! prints on each node. Real kubectl sees three Ready nodes and runs the walkthrough's pod-1; a later
//! `up` adopts the hand-built cluster and changes nothing on it but the master's ~/.kube/config; one
//! more restarts a node's agent left running a replaced binary (an `up` killed between install and restart).
//! Takes the machine's lab down at the end.

mod common;

use common::kubectl::Kubectl;
use common::{kubeboot, lab_sh};
use serde_json::Value;

const NODES: [&str; 2] = ["lab-node1", "lab-node2"];
const HOSTS: [&str; 3] = ["lab-master", "lab-node1", "lab-node2"];

fn up_json(inv: &str, extra: &[&str]) -> Value {
    let mut args = vec!["up", "-i", inv, "--output", "json"];
    args.extend_from_slice(extra);
    let out = kubeboot(&args, &[]);
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "up {extra:?}: {said}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {said}"))
}

#[test]
fn prepared_hosts_carry_kubeboot_and_init_and_join_by_hand_build_the_cluster() {
    let work = tempfile::tempdir().unwrap();
    let inv_path = work.path().join("lab.yaml");
    let inv = inv_path.to_str().unwrap();
    common::fresh_lab(3, inv);

    let prepared = up_json(inv, &["--prepare-only"]);
    let local = kubeboot::bootstrap::pin::sha256_hex(&std::fs::read(env!("CARGO_BIN_EXE_kubeboot")).unwrap());
    for host in HOSTS {
        let changes = common::change_summaries(&prepared, host);
        assert!(changes.iter().any(|c| c.starts_with("install /usr/local/bin/kubeboot")), "{host}: {changes:?}");
        let installed = lab_sh(host, "sha256sum /usr/local/bin/kubeboot | cut -c1-64");
        assert_eq!(installed.trim(), local, "{host} has this build");
        let cached = lab_sh(host, "cat /var/cache/kubeboot/binary.sha256");
        assert!(cached.trim().ends_with(&format!("|{local}")), "{host}: the probe's cache has its sum: {cached}");
        let state = lab_sh(host, "systemctl is-active kubeboot-server kubeboot-agent; ls /etc/kubeboot 2>&1");
        assert!(!state.contains("\nactive") && !state.starts_with("active"), "{host} runs nothing yet: {state}");
        assert!(state.contains("No such file"), "{host} is not initialised: {state}");
    }
    let again = up_json(inv, &["--prepare-only"]);
    for host in HOSTS {
        assert_eq!(again["hosts"][host]["changed"], 0, "{host}: {:?}", common::change_summaries(&again, host));
    }

    // The walkthrough, by hand: init on the master, the printed join on each node.
    let init = lab_sh(
        "lab-master",
        "kubeboot init --advertise-address 10.88.0.10 --cluster-name lab \
         --pod-network-cidr 10.244.0.0/16 --service-cidr 10.96.0.0/16",
    );
    let join = init.lines().find(|l| l.starts_with("kubeboot join ")).unwrap_or_else(|| panic!("no join line: {init}"));
    assert!(join.contains("--discovery-token-ca-cert-hash sha256:"), "{join}");
    for node in NODES {
        let joined = lab_sh(node, join);
        assert!(joined.contains(&format!("has joined the cluster as {node}")), "{node}: {joined}");
    }
    let kubeconfig = work.path().join("admin.conf");
    std::fs::write(&kubeconfig, lab_sh("lab-master", "cat /etc/kubeboot/admin.conf")).unwrap();
    let k = Kubectl::new("kubectl.1.33", &kubeconfig);
    common::wait_for("3 Ready nodes", std::time::Duration::from_secs(120), || {
        let nodes = k.json(&["get", "nodes", "-o", "json"]);
        let ready = nodes["items"].as_array().unwrap().iter().filter(|n| {
            n["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        });
        ready.count() == 3
    });
    k.ok(&["run", "pod-1", "--image=kubetm/p8000"]);
    k.ok(&["wait", "--for=condition=Ready", "pod/pod-1", "--timeout=120s"]);

    // `up` on the hand-built cluster: it is adopted as it is.
    let adopted = up_json(inv, &[]);
    assert_eq!(
        common::change_summaries(&adopted, "lab-master"),
        ["/root/.kube/config for root"],
        "the walkthrough's copy of admin.conf is the only change"
    );
    for node in NODES {
        assert_eq!(adopted["hosts"][node]["changed"], 0, "{node}: {:?}", common::change_summaries(&adopted, node));
    }
    assert_eq!(k.pods("run=pod-1").len(), 1);

    // An `up` killed between a binary's install and the units' restart: the binary is in place (same
    // checksum, a new file) and the agent still runs the one it replaced. The next `up` restarts it.
    let agent_pid = || lab_sh("lab-node1", "systemctl show -p MainPID --value kubeboot-agent").trim().to_string();
    let before = agent_pid();
    lab_sh("lab-node1", "cp -p /usr/local/bin/kubeboot /usr/local/bin/kubeboot.new && mv /usr/local/bin/kubeboot.new /usr/local/bin/kubeboot");
    let healed = up_json(inv, &[]);
    let changes = common::change_summaries(&healed, "lab-node1");
    assert!(changes.iter().any(|c| c.starts_with("restart the kubeboot units")), "{changes:?}");
    assert_ne!(agent_pid(), before, "the agent was restarted onto the installed binary");
    let exe = lab_sh("lab-node1", "readlink /proc/$(systemctl show -p MainPID --value kubeboot-agent)/exe");
    assert_eq!(exe.trim(), "/usr/local/bin/kubeboot");
    let settled = up_json(inv, &[]);
    for host in HOSTS {
        assert_eq!(settled["hosts"][host]["changed"], 0, "{host}: {:?}", common::change_summaries(&settled, host));
    }

    let down = kubeboot(&["lab", "down"], &[]);
    assert!(down.status.success(), "lab down: {}", String::from_utf8_lossy(&down.stderr));
}
