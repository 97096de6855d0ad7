//! The cluster end to end on fresh lab hosts (real systemd, sshd, the kubeboot units): `up --check` plans
//! the cluster phases and touches nothing; `up` builds a 3-node cluster that turns Ready; a rerun changes
//! nothing and leaves no token; no token secret reaches a journal or `up`'s output; a stopped agent turns
//! its node NotReady within 60 s and Ready again when it starts; a SIGKILLed server is restarted by systemd
//! with every Node kept; a node reset by hand cannot rejoin while its Node is Ready, and rejoins once it is
//! NotReady; `kubeboot kubeconfig -i` gives a working admin kubeconfig; a 4th host joins alone; `reset -i`
//! then `up` rebuilds a new cluster. Takes the machine's lab down at the end.

mod common;

use std::time::Duration;

use common::{kubeboot, lab_sh};
use serde_json::Value;

/// The nodes as the master's `kubeboot get nodes -o json` sees them: name -> Ready status.
fn node_status(master: &str) -> Vec<(String, String, String)> {
    let out = lab_sh(master, "kubeboot get nodes -o json");
    let list: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
    let mut rows: Vec<(String, String, String)> = list["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|n| {
                    let ready = kubeboot::resources::node::ready_status(n).unwrap_or("none").to_string();
                    (n["metadata"]["name"].as_str().unwrap_or("").to_string(), ready, n["metadata"]["uid"].to_string())
                })
                .collect()
        })
        .unwrap_or_default();
    rows.sort();
    rows
}

fn ready_names(master: &str) -> Vec<String> {
    node_status(master).into_iter().filter(|(_, ready, _)| ready == "True").map(|(n, _, _)| n).collect()
}

fn up(inv: &str) -> (i32, Value, String) {
    up_with(inv, &[])
}

fn up_with(inv: &str, extra: &[&str]) -> (i32, Value, String) {
    let mut args = vec!["up", "-i", inv, "--output", "json"];
    args.extend_from_slice(extra);
    let out = kubeboot(&args, &[]);
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), json, text)
}

fn tasks_changed(json: &Value, host: &str) -> Vec<String> {
    json["hosts"][host]["changes"]
        .as_array()
        .map(|a| a.iter().map(|c| c["task"].as_str().unwrap_or("").to_string()).collect())
        .unwrap_or_default()
}

/// Anything shaped like a bootstrap token (6 + 16 lower-case letters and digits around a dot).
fn token_shaped(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let tokenish = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let mut found = Vec::new();
    for (dot, _) in text.match_indices('.') {
        if dot < 6 || dot + 17 > bytes.len() {
            continue;
        }
        let (id, secret) = (&bytes[dot - 6..dot], &bytes[dot + 1..dot + 17]);
        let bounded = (dot == 6 || !tokenish(bytes[dot - 7])) && bytes.get(dot + 17).is_none_or(|b| !tokenish(*b));
        if bounded && id.iter().all(|b| tokenish(*b)) && secret.iter().all(|b| tokenish(*b)) {
            found.push(text[dot - 6..dot + 17].to_string());
        }
    }
    found
}

#[test]
fn up_builds_reruns_clean_heals_grows_and_rebuilds_after_reset() {
    assert_eq!(token_shaped("x abcdef.0123456789abcdef y"), ["abcdef.0123456789abcdef"], "the scanner works");
    assert!(token_shaped("lab-node1.service kubeboot-agent.service").is_empty());

    let work = tempfile::tempdir().unwrap();
    let inv_path = work.path().join("lab.yaml");
    let inv = inv_path.to_str().unwrap();
    common::fresh_lab(3, inv);
    let hosts = ["lab-master", "lab-node1", "lab-node2"];
    // The walkthrough's kubectl on the hosts (Debian's kubernetes-client, kubectl 1.20).
    let lab_inventory = std::fs::read_to_string(&inv_path).unwrap();
    std::fs::write(&inv_path, lab_inventory.replace("\nhosts:\n", "\nvars:\n  install_kubectl: true\nhosts:\n"))
        .unwrap();

    // 0. --check on fresh hosts: the cluster phases are planned, nothing is done.
    let (code, plan, _) = up_with(inv, &["--check"]);
    assert_eq!(code, 0, "{plan}");
    assert!(tasks_changed(&plan, "lab-master").contains(&"kubeboot init".to_string()), "{plan}");
    for host in &hosts[1..] {
        assert!(tasks_changed(&plan, host).contains(&"kubeboot join".to_string()), "{host}: {plan}");
    }
    assert_eq!(
        lab_sh("lab-master", "ls /etc/kubeboot /usr/local/bin/kubeboot 2>/dev/null"),
        "",
        "--check changed nothing"
    );

    // 1. One `up` from fresh hosts: three Ready nodes, the master labelled, the units enabled and running.
    let out = kubeboot(&["up", "-i", inv], &[]);
    let first_output = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{first_output}");
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    for host in hosts {
        assert!(table.lines().any(|l| l.starts_with(host) && l.split_whitespace().nth(1) == Some("Ready")), "{table}");
    }
    assert_eq!(ready_names("lab-master"), hosts);
    let printed = lab_sh("lab-master", "kubeboot get nodes");
    assert!(printed.starts_with("NAME") && printed.contains("master"), "{printed}");
    assert_eq!(
        lab_sh(
            "lab-master",
            "systemctl is-enabled kubeboot-server kubeboot-agent; stat -c %a /etc/kubeboot/pki/ca.key"
        ),
        "enabled\nenabled\n600\n"
    );
    assert_eq!(lab_sh("lab-master", "cmp /etc/kubeboot/admin.conf /root/.kube/config && echo same"), "same\n");
    // As in the walkthrough: on the master, kubectl with ~/.kube/config.
    let kubectl = lab_sh("lab-master", "kubectl get nodes --no-headers");
    let ready: Vec<&str> = kubectl.lines().filter(|l| l.split_whitespace().nth(1) == Some("Ready")).collect();
    assert_eq!(ready.len(), 3, "kubectl on the master:\n{kubectl}");
    for host in &hosts[1..] {
        assert_eq!(
            lab_sh(host, "systemctl is-active kubeboot-agent; systemctl is-active kubeboot-server"),
            "active\ninactive\n"
        );
    }

    // 2. A rerun changes nothing anywhere and leaves no token behind.
    let (code, rerun, _) = up(inv);
    assert_eq!(code, 0, "{rerun}");
    for host in hosts {
        assert_eq!(rerun["hosts"][host]["changed"], 0, "{host}: {:?}", tasks_changed(&rerun, host));
    }
    // With --limit the master serves the API but is not part of the run (nor of its recap).
    let limited = kubeboot(&["up", "-i", inv, "--limit", "lab-node1", "--output", "json"], &[]);
    let limited: Value = serde_json::from_slice(&limited.stdout).unwrap();
    let recapped: Vec<&String> = limited["hosts"].as_object().unwrap().keys().collect();
    assert_eq!(recapped, ["lab-node1"], "{limited}");
    assert_eq!(limited["hosts"]["lab-node1"]["changed"], 0);
    let tokens = lab_sh("lab-master", "kubeboot token list");
    assert_eq!(tokens.lines().count(), 1, "only the header: up deletes its token\n{tokens}");

    // 3. No token secret in any journal or in up's output.
    for host in hosts {
        let journal = lab_sh(host, "journalctl --no-pager -o cat");
        assert!(journal.contains("kubeboot"), "{host}: the journal has kubeboot's lines");
        assert_eq!(token_shaped(&journal), Vec::<String>::new(), "{host}: a token in the journal");
    }
    assert_eq!(token_shaped(&first_output), Vec::<String>::new(), "a token in up's output");

    // 4. The admin kubeconfig from `kubeconfig -i` works from this machine.
    let conf = kubeboot(&["kubeconfig", "-i", inv], &[]);
    assert!(conf.status.success());
    let conf_path = work.path().join("admin.conf");
    std::fs::write(&conf_path, &conf.stdout).unwrap();
    let local = kubeboot(&["get", "nodes", "--kubeconfig", conf_path.to_str().unwrap()], &[]);
    assert_eq!(String::from_utf8_lossy(&local.stdout).lines().count(), 4, "{local:?}");
    let out = std::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&conf_path)
        .args(["get", "nodes"])
        .output()
        .unwrap_or_else(|e| panic!("kubectl on this machine's PATH is needed for this check: {e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().filter(|l| l.contains(" Ready ")).count(), 3, "kubectl here: {out:?}");

    // 5. A stopped agent: NotReady within 60 s; started again: Ready.
    lab_sh("lab-node1", "systemctl stop kubeboot-agent");
    let took = common::wait_for("lab-node1 NotReady", Duration::from_secs(60), || {
        node_status("lab-master").iter().any(|(n, ready, _)| n == "lab-node1" && ready != "True")
    });
    eprintln!("lab-node1 NotReady {took:?} after its agent stopped");
    lab_sh("lab-node1", "systemctl start kubeboot-agent");
    common::wait_for("lab-node1 Ready again", Duration::from_secs(20), || ready_names("lab-master") == hosts);

    // 6. SIGKILL the server: systemd restarts it, every Node is still there (same uid), agents carry on.
    let before = node_status("lab-master");
    lab_sh("lab-master", "systemctl kill -s KILL kubeboot-server");
    std::thread::sleep(Duration::from_secs(3));
    common::wait_for("the server back", Duration::from_secs(30), || {
        lab_sh("lab-master", "systemctl is-active kubeboot-server") == "active\n"
    });
    common::wait_for("all Ready after the restart", Duration::from_secs(30), || node_status("lab-master") == before);

    // 6b. A node reset by hand while its Node is still Ready cannot join under that name (the server
    // refuses, up says so for that host and does not wait for it); once the Node has gone NotReady, up
    // joins it again.
    lab_sh("lab-node2", "cp /etc/kubeboot/agent.conf /root/old-agent.conf && kubeboot reset");
    let (code, refused, _) = up(inv);
    assert_eq!(code, 1, "{refused}");
    let failures = refused["hosts"]["lab-node2"]["failures"].as_array().unwrap().clone();
    assert_eq!(failures.len(), 1, "only the join failed, no wait timeout: {failures:?}");
    assert_eq!(failures[0]["task"], "kubeboot join");
    assert!(failures[0]["message"].as_str().unwrap().contains("a Ready node named \"lab-node2\""), "{failures:?}");
    assert!(failures[0]["command"].as_str().unwrap().contains("--token -"), "no token on the command line");
    common::wait_for("lab-node2 NotReady", Duration::from_secs(60), || {
        node_status("lab-master").iter().any(|(n, ready, _)| n == "lab-node2" && ready != "True")
    });
    let (code, rejoined, _) = up(inv);
    assert_eq!(code, 0, "{rejoined}");
    assert_eq!(ready_names("lab-master"), hosts);
    // The certificate the node had before it left is refused now that it joined again; the new one works.
    let old = lab_sh("lab-node2", "kubeboot get nodes --kubeconfig /root/old-agent.conf 2>&1; echo exit=$?");
    assert!(old.contains("401") && !old.contains("exit=0"), "{old}");
    let new = lab_sh("lab-node2", "kubeboot get nodes --kubeconfig /etc/kubeboot/agent.conf 2>&1; echo exit=$?");
    assert!(new.contains("exit=0"), "{new}");

    // 7. A 4th host: only it joins; the others change only their /etc/hosts (which lists every host).
    let lab = kubeboot(&["lab", "up", "4", "--inventory", inv], &[]);
    assert!(lab.status.success());
    let (code, grown, _) = up(inv);
    assert_eq!(code, 0, "{grown}");
    assert!(tasks_changed(&grown, "lab-node3").contains(&"kubeboot join".to_string()), "{grown}");
    for host in hosts {
        assert_eq!(tasks_changed(&grown, host), ["/etc/hosts lists every inventory host"], "{host}");
    }
    assert_eq!(ready_names("lab-master"), ["lab-master", "lab-node1", "lab-node2", "lab-node3"]);

    // 7b. reset -i of one node revokes its certificate (a copy kept on the host is refused); up joins it again.
    lab_sh("lab-node3", "cp /etc/kubeboot/agent.conf /root/old-agent.conf");
    let reset = kubeboot(&["reset", "-i", inv, "--limit", "lab-node3"], &[]);
    assert!(reset.status.success(), "{reset:?}");
    let old = lab_sh("lab-node3", "kubeboot get nodes --kubeconfig /root/old-agent.conf 2>&1; echo exit=$?");
    assert!(old.contains("401") && !old.contains("exit=0"), "{old}");
    let (code, rejoined, _) = up(inv);
    assert_eq!(code, 0, "{rejoined}");
    assert_eq!(ready_names("lab-master"), ["lab-master", "lab-node1", "lab-node2", "lab-node3"]);

    // 8. reset -i undoes it all (Docker stays); up then builds a new cluster (a new CA).
    let pin_before = lab_sh("lab-master", "sha256sum /etc/kubeboot/pki/ca.crt");
    let reset = kubeboot(&["reset", "-i", inv], &[]);
    assert!(reset.status.success(), "{reset:?}");
    for host in ["lab-master", "lab-node1", "lab-node2", "lab-node3"] {
        assert_eq!(
            lab_sh(host, "ls -d /etc/kubeboot /var/lib/kubeboot /etc/systemd/system/kubeboot-* 2>/dev/null; systemctl is-active docker"),
            "active\n",
            "{host}"
        );
    }
    assert_eq!(lab_sh("lab-master", "ls /root/.kube/config 2>/dev/null"), "");
    let (code, rebuilt, _) = up(inv);
    assert_eq!(code, 0, "{rebuilt}");
    assert_eq!(ready_names("lab-master"), ["lab-master", "lab-node1", "lab-node2", "lab-node3"]);
    assert_ne!(lab_sh("lab-master", "sha256sum /etc/kubeboot/pki/ca.crt"), pin_before, "a new cluster CA");

    let down = kubeboot(&["lab", "down"], &[]);
    assert!(down.status.success());
}
