//! Three masters on etcd, end to end on fresh lab hosts (real systemd, sshd, Debian's etcd-server, real
//! kubectl and etcdctl): `lab up --masters 3` and `up` build 3 masters (the third an EL-flavor host) + 2
//! nodes whose etcd has 3 healthy members, and a rerun changes nothing. Then, on that one cluster:
//! - the power of the master holding the controllers' Lease is cut while a client writes ConfigMaps
//!   through the other two: every acknowledged write is there afterwards, writes are answered again, the
//!   Lease moves, a Deployment scaled during the outage reaches its replicas, its pods on the workers
//!   answer through a NodePort throughout, and the official Python client's watch through the cut master
//!   resumes through another from its resourceVersion with no event missed or seen twice; powered on, the
//!   master rejoins by itself;
//! - with the first master off, `kubeboot kubeconfig -i` names one that answers;
//! - two masters down: a write through the third is refused (no quorum), never acknowledged; powered on,
//!   the cluster heals with no manual step;
//! - a master partitioned from the others refuses writes (no split brain) while the others accept them,
//!   and catches up once mended;
//! - `reset -i` of the master holding the Lease takes its member out (2 left) and the controllers move; it
//!   joins again by hand with `upload-certs`' key (another key opens nothing; with its peer port blocked
//!   the join fails and leaves no member behind); the first master reset and
//!   `up` again joins the cluster the other two hold: 3 members, none stale.
//!
//! - backup and restore (issue 29): `backup -i`; `restore -i` refused while the masters serve; `restore
//!   --force` stops every master's server, makes etcd hold the backup and starts them again; then all
//!   three masters wiped (`reset -i`) and `restore -i` builds them again from the backup (the first on
//!   its restored store, grown into a new etcd, the others joined): 3 members, what was made after the
//!   backup gone, and web's pods on the workers the same containers, never restarted.
//!
//! - `kubeboot upgrade` with a newer build (tests/upgrade_e2e.rs makes it the same way): the masters one at
//!   a time, then the nodes, drained; every Node on the new version and schedulable, 3 healthy members,
//!   web (with a PodDisruptionBudget) answering through its NodePort throughout.
//!
//! Times are printed, never asserted. Takes the machine's lab down at the end.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::kubectl::Kubectl;
use common::{kubeboot, lab_sh, wait_for};
use serde_json::Value;

const MASTERS: [(&str, &str); 3] =
    [("lab-master1", "10.88.0.10"), ("lab-master2", "10.88.0.11"), ("lab-master3", "10.88.0.12")];
const NODES: [&str; 2] = ["lab-node1", "lab-node2"];
const NODE1_ADDRESS: &str = "10.88.0.13";

struct Ha {
    work: tempfile::TempDir,
    inventory: String,
    /// kubectl 1.33 through each master (index as MASTERS).
    through: Vec<Kubectl>,
}

impl Ha {
    fn master(&self, name: &str) -> &Kubectl {
        &self.through[MASTERS.iter().position(|(n, _)| *n == name).unwrap()]
    }

    /// Those of the masters other than `name`.
    fn others(&self, name: &str) -> Vec<Kubectl> {
        MASTERS.iter().zip(&self.through).filter(|((n, _), _)| *n != name).map(|(_, k)| k.clone()).collect()
    }

    fn lab(&self, args: &[&str]) {
        let out = kubeboot(&[&["lab"], args].concat(), &[]);
        assert!(out.status.success(), "lab {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// etcdctl against every master's member, with the API server's etcd client certificate.
    fn etcdctl(&self, args: &[&str]) -> (bool, String) {
        let pki = self.work.path().join("etcd-pki");
        let endpoints: Vec<String> = MASTERS.iter().map(|(_, a)| format!("https://{a}:2379")).collect();
        let out = std::process::Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={}", endpoints.join(",")))
            .arg(format!("--cacert={}", pki.join("ca.crt").display()))
            .arg(format!("--cert={}", pki.join("client.crt").display()))
            .arg(format!("--key={}", pki.join("client.key").display()))
            .args(["--dial-timeout=2s", "--command-timeout=5s"])
            .args(args)
            .output()
            .expect("etcdctl (Debian's etcd-client; .ci/setup installs it)");
        (
            out.status.success(),
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
        )
    }

    /// The members etcd lists: (name, peer URL); an empty name is a member added but never started.
    fn members(&self) -> Vec<(String, String)> {
        let (ok, out) = self.etcdctl(&["member", "list", "-w", "json"]);
        assert!(ok, "etcdctl member list: {out}");
        let json: Value = serde_json::from_str(&out).unwrap();
        let mut members: Vec<(String, String)> = json["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["name"].as_str().unwrap_or("").to_string(), m["peerURLs"][0].as_str().unwrap().to_string()))
            .collect();
        members.sort();
        members
    }

    fn healthy_members(&self) -> usize {
        let (_, out) = self.etcdctl(&["endpoint", "health"]);
        out.lines().filter(|l| l.contains("is healthy")).count()
    }

    fn wait_whole(&self, what: &str) {
        let took = wait_for(what, Duration::from_secs(180), || {
            self.healthy_members() == 3
                && MASTERS.iter().zip(&self.through).all(|(_, k)| k.run(&["get", "--raw", "/readyz"]).0)
                && ready_nodes(&self.through[0]) == 5
        });
        eprintln!("{what}: {:.1} s", took.as_secs_f64());
    }
}

fn ready_nodes(k: &Kubectl) -> usize {
    let (ok, out) = k.run(&["get", "nodes", "--no-headers", "--request-timeout=10s"]);
    if !ok {
        return 0;
    }
    out.lines().filter(|l| l.split_whitespace().nth(1) == Some("Ready")).count()
}

fn build() -> Ha {
    let work = tempfile::tempdir().unwrap();
    let inventory = work.path().join("lab.yaml").display().to_string();
    // lab-master3 is an EL-flavor host (etcd from the lab's EL repository), the others Debian.
    common::fresh_lab_with_masters(2, 2, &inventory);
    for (count, flavor) in [("3", "el"), ("5", "debian")] {
        let up = kubeboot(&["lab", "up", count, "--masters", "3", "--flavor", flavor, "--inventory", &inventory], &[]);
        assert!(up.status.success(), "lab up {count}: {}", String::from_utf8_lossy(&up.stderr));
    }
    // --check on the fresh hosts names each membership change and makes none.
    let check = kubeboot(&["up", "-i", &inventory, "--check"], &[]);
    let plan = format!("{}{}", String::from_utf8_lossy(&check.stdout), String::from_utf8_lossy(&check.stderr));
    assert!(check.status.success(), "up --check: {plan}");
    for (_, address) in &MASTERS[1..] {
        assert!(plan.contains(&format!("etcd member https://{address}:2380 added")), "{plan}");
    }
    assert_eq!(lab_sh("lab-master2", "test -e /etc/kubeboot && echo made").trim(), "", "--check made nothing");
    let kubeconfig = common::up_with_kubeconfig(&inventory, work.path());
    let text = std::fs::read_to_string(&kubeconfig).unwrap();
    let through = MASTERS
        .iter()
        .map(|(name, address)| {
            let path = work.path().join(format!("{name}.conf"));
            let server = text.lines().find(|l| l.trim_start().starts_with("server:")).unwrap().trim();
            std::fs::write(&path, text.replace(server, &format!("server: https://{address}:6443"))).unwrap();
            Kubectl::new("kubectl.1.33", &path).with_home(work.path())
        })
        .collect();
    let pki = work.path().join("etcd-pki");
    std::fs::create_dir_all(&pki).unwrap();
    for (file, name) in [
        ("etcd/ca.crt", "ca.crt"),
        ("apiserver-etcd-client.crt", "client.crt"),
        ("apiserver-etcd-client.key", "client.key"),
    ] {
        std::fs::write(pki.join(name), lab_sh("lab-master1", &format!("cat /etc/kubeboot/pki/{file}"))).unwrap();
    }
    Ha { work, inventory, through }
}

fn up_json(inventory: &str, extra: &[&str]) -> Value {
    let out = kubeboot(&[&["up", "-i", inventory, "--output", "json"], extra].concat(), &[]);
    assert!(
        out.status.success(),
        "up: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn built_checks(ha: &Ha) {
    assert_eq!(ha.members(), all_members(), "one started member per master");
    assert_eq!(ha.healthy_members(), 3);
    let rerun = up_json(&ha.inventory, &[]);
    for host in MASTERS.iter().map(|(h, _)| *h).chain(NODES) {
        assert_eq!(rerun["hosts"][host]["changed"], 0, "a rerun changed {host}: {}", rerun["hosts"][host]);
    }
    let endpoints = ha.through[0].json(&["get", "endpoints", "kubernetes"]);
    let mut addresses: Vec<&str> =
        endpoints["subsets"][0]["addresses"].as_array().unwrap().iter().map(|a| a["ip"].as_str().unwrap()).collect();
    addresses.sort();
    assert_eq!(addresses, MASTERS.iter().map(|(_, a)| *a).collect::<Vec<_>>(), "the kubernetes Service's endpoints");
}

fn lease_holder(k: &Kubectl) -> String {
    let lease = k.json(&["-n", "kube-system", "get", "lease", "kube-controller-manager"]);
    let holder = lease["spec"]["holderIdentity"].as_str().unwrap_or("");
    holder.rsplit_once('_').map_or(holder, |(host, _)| host).to_string()
}

/// A client writing ConfigMaps through `through` in turn until stopped: (name, acknowledged, when).
struct Writer {
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<(String, bool, Instant)>>>,
    thread: std::thread::JoinHandle<()>,
}

impl Writer {
    fn start(prefix: &str, through: Vec<Kubectl>) -> Writer {
        let (stop, log) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(Vec::new())));
        let (s, l, prefix) = (stop.clone(), log.clone(), prefix.to_string());
        let thread = std::thread::spawn(move || {
            let mut n = 0;
            while !s.load(Ordering::Relaxed) {
                let name = format!("{prefix}-{n}");
                let k = &through[n % through.len()];
                let (ok, _) = k.run(&["create", "configmap", &name, "--from-literal=n=1", "--request-timeout=30s"]);
                l.lock().unwrap().push((name, ok, Instant::now()));
                n += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Writer { stop, log, thread }
    }

    fn finish(self) -> Vec<(String, bool, Instant)> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap();
        Arc::try_unwrap(self.log).unwrap().into_inner().unwrap()
    }
}

/// tests/python/watch_resume.py in the background: the official client's watch of ConfigMaps through one
/// master, resumed through another when the first goes.
struct WatchResume {
    child: std::process::Child,
    output: std::sync::mpsc::Receiver<String>,
}

impl WatchResume {
    fn start(first: &std::path::Path, second: &std::path::Path, prefix: &str) -> WatchResume {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let python = root.join("target/pyclient/bin/python");
        assert!(python.exists(), "no Python client at {} (run .ci/setup)", python.display());
        let mut child = std::process::Command::new(python)
            .arg(root.join("tests/python/watch_resume.py"))
            .args([first, second])
            .args([prefix, &format!("{prefix}end")])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, output) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let ready = output.recv_timeout(Duration::from_secs(30)).expect("the watch script started");
        assert_eq!(ready, "ready");
        WatchResume { child, output }
    }

    /// (the ADDED names in order, whether it resumed)
    fn finish(mut self) -> (Vec<String>, bool) {
        let line = self.output.recv_timeout(Duration::from_secs(60));
        let _ = self.child.kill();
        let _ = self.child.wait();
        let json: Value = serde_json::from_str(&line.expect("the watch saw the end marker")).unwrap();
        let added = json["added"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()).collect();
        (added, json["resumed"] == true)
    }
}

fn configmaps(k: &Kubectl) -> Vec<String> {
    k.json(&["get", "configmaps"])["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["metadata"]["name"].as_str().unwrap().to_string())
        .collect()
}

fn assert_acknowledged_kept(k: &Kubectl, log: &[(String, bool, Instant)]) {
    let present = configmaps(k);
    let lost: Vec<&String> = log.iter().filter(|(n, ok, _)| *ok && !present.contains(n)).map(|(n, _, _)| n).collect();
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
}

fn power_cut_checks(ha: &Ha) {
    let k = &ha.through[0];
    k.ok(&["create", "deployment", "web", "--image=kubetm/p8000", "--replicas=2"]);
    k.ok(&["expose", "deployment", "web", "--port=8000", "--type=NodePort"]);
    wait_for("web's 2 replicas ready", Duration::from_secs(180), || {
        k.json(&["get", "deployment", "web"])["status"]["readyReplicas"] == 2
    });
    let port = k.json(&["get", "service", "web"])["spec"]["ports"][0]["nodePort"].as_u64().unwrap();
    let url = format!("http://{NODE1_ADDRESS}:{port}/");

    let holder = lease_holder(k);
    assert!(MASTERS.iter().any(|(n, _)| *n == holder), "the Lease is held by a master: {holder}");
    let survivors = ha.others(&holder);
    let watcher = WatchResume::start(&ha.master(&holder).kubeconfig, &survivors[0].kubeconfig, "cut-");
    let stop_probe = Arc::new(AtomicBool::new(false));
    let probe = common::serve_probe(url, stop_probe.clone());
    let writer = Writer::start("cut", survivors.clone());
    std::thread::sleep(Duration::from_secs(2));
    let cut = Instant::now();
    ha.lab(&["power-off", &holder]);
    // Scaled during the outage, through a survivor (retried until the API takes it).
    wait_for("the scale is accepted", Duration::from_secs(60), || {
        survivors[0].run(&["scale", "deployment", "web", "--replicas=4", "--request-timeout=20s"]).0
    });
    wait_for("web's 4 replicas ready", Duration::from_secs(120), || {
        survivors[0].json(&["get", "deployment", "web"])["status"]["readyReplicas"] == 4
    });
    let scaled = cut.elapsed();
    let new_holder = lease_holder(&survivors[0]);
    std::thread::sleep(Duration::from_secs(3));
    let log = writer.finish();
    stop_probe.store(true, Ordering::Relaxed);
    let (answered, failed) = probe.join().unwrap();

    let first_after = log.iter().find(|(_, ok, at)| *ok && *at > cut).map(|(_, _, at)| *at - cut);
    let acked = log.iter().filter(|(_, ok, _)| *ok).count();
    eprintln!(
        "power cut of {holder}: {acked}/{} writes acknowledged; first acknowledged write {:.2} s after the cut; \
         4 replicas ready {:.2} s after it; Lease now {new_holder}; NodePort {answered} answered, {failed} failed",
        log.len(),
        first_after.map_or(f64::NAN, |d| d.as_secs_f64()),
        scaled.as_secs_f64(),
    );
    assert!(first_after.is_some(), "no write was acknowledged after the cut: {log:?}");
    assert_ne!(new_holder, holder, "the Lease moved to a live master");
    assert_eq!(failed, 0, "the workers' pods stopped answering during the cut ({answered} answered)");
    assert_acknowledged_kept(&survivors[0], &log);
    // The official client's watch went on through another master from its resourceVersion: every
    // acknowledged write seen, none twice.
    survivors[0].ok(&["create", "configmap", "cut-end"]);
    let (added, resumed) = watcher.finish();
    assert!(resumed, "the watch never had to resume");
    let acknowledged: Vec<&String> = log.iter().filter(|(_, ok, _)| *ok).map(|(n, _, _)| n).collect();
    let missed: Vec<&&String> = acknowledged.iter().filter(|n| !added.contains(n)).collect();
    assert!(missed.is_empty(), "the resumed watch missed {missed:?}");
    let mut unique = added.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), added.len(), "the resumed watch saw events twice: {added:?}");

    ha.lab(&["power-on", &holder]);
    ha.wait_whole("the powered-on master rejoined");
    assert_acknowledged_kept(ha.master(&holder), &log);
}

/// With the first master off, `kubeboot kubeconfig -i` names a master that answers.
fn kubeconfig_checks(ha: &Ha) {
    let (first, _) = MASTERS[0];
    ha.lab(&["power-off", first]);
    let out = kubeboot(&["kubeconfig", "-i", &ha.inventory], &[]);
    assert!(out.status.success(), "kubeconfig: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let server = text.lines().find(|l| l.trim_start().starts_with("server:")).unwrap().trim().to_string();
    assert_ne!(server, format!("server: https://{}:6443", MASTERS[0].1), "it names the master that is off");
    let path = ha.work.path().join("live.conf");
    std::fs::write(&path, &text).unwrap();
    let live = Kubectl::new("kubectl.1.33", &path).with_home(ha.work.path());
    assert!(live.run(&["get", "nodes"]).0, "the kubeconfig works");
    ha.lab(&["power-on", first]);
    ha.wait_whole("the first master powered on again");
}

fn quorum_loss_checks(ha: &Ha) {
    let (alive, down) = (MASTERS[0].0, [MASTERS[1].0, MASTERS[2].0]);
    for name in down {
        ha.lab(&["power-off", name]);
    }
    let k = ha.master(alive);
    let (ok, out) = k.run(&["create", "configmap", "no-quorum", "--from-literal=n=1", "--request-timeout=40s"]);
    assert!(!ok, "a write without an etcd quorum was acknowledged: {out}");
    for name in down {
        ha.lab(&["power-on", name]);
    }
    ha.wait_whole("two masters powered on: the cluster healed");
    assert!(!configmaps(k).contains(&"no-quorum".to_string()), "the refused write appeared later");
    k.ok(&["create", "configmap", "after-quorum", "--from-literal=n=1"]);
}

fn partition_checks(ha: &Ha) {
    let cut_off = MASTERS[1].0;
    ha.lab(&["cut", cut_off]);
    let isolated = ha.master(cut_off);
    let (ok, out) =
        isolated.run(&["create", "configmap", "split-brain", "--from-literal=n=1", "--request-timeout=40s"]);
    assert!(!ok, "a master cut off from the others acknowledged a write: {out}");
    let others = ha.others(cut_off);
    others[0].ok(&["create", "configmap", "majority-side", "--from-literal=n=1", "--request-timeout=40s"]);
    ha.lab(&["mend", cut_off]);
    wait_for("the mended master serves the majority's write", Duration::from_secs(60), || {
        isolated.run(&["get", "configmap", "majority-side", "--request-timeout=10s"]).0
    });
    assert!(!configmaps(isolated).contains(&"split-brain".to_string()), "the refused write appeared later");
    ha.wait_whole("the partition mended");
}

fn reset_master(ha: &Ha, name: &str) {
    let reset = kubeboot(&["reset", "-i", &ha.inventory, "--limit", name], &[]);
    let said = format!("{}{}", String::from_utf8_lossy(&reset.stdout), String::from_utf8_lossy(&reset.stderr));
    assert!(reset.status.success(), "reset: {said}");
    let left: Vec<String> = ha.members().into_iter().map(|(n, _)| n).collect();
    let others: Vec<&str> = MASTERS.iter().map(|(n, _)| *n).filter(|n| *n != name).collect();
    assert_eq!(left, others, "reset took {name}'s member out");
    assert_eq!(lab_sh(name, "systemctl is-active kubeboot-etcd").trim(), "inactive");
}

fn all_members() -> Vec<(String, String)> {
    MASTERS.iter().map(|(n, a)| (n.to_string(), format!("https://{a}:2380"))).collect()
}

/// kubeadm's by-hand path: `upload-certs` on a master, the printed key and a join command on the new one.
fn join_by_hand(ha: &Ha, name: &str) {
    let source = MASTERS.iter().map(|(n, _)| *n).find(|n| *n != name).unwrap();
    let upload = lab_sh(source, "kubeboot upload-certs");
    let key =
        upload.lines().find(|l| l.len() == 64 && l.bytes().all(|b| b.is_ascii_hexdigit())).expect(&upload).to_string();
    let join = lab_sh(source, &format!("kubeboot token create --ttl 10m --print-join-command --certificate-key {key}"));
    let join = join.lines().find(|l| l.starts_with("kubeboot join ")).expect(&join).to_string();
    assert!(join.ends_with(&format!("--control-plane --certificate-key {key}")), "{join}");
    // Another key opens nothing, and changes nothing on the host.
    let wrong = join.replace(&key, &"0".repeat(64));
    let refused = lab_sh(name, &format!("{wrong} 2>&1; echo exit=$?; ls /etc/kubeboot 2>&1"));
    assert!(refused.contains("does not open") && !refused.contains("exit=0"), "{refused}");
    assert!(!refused.contains("agent.conf"), "a refused join wrote credentials: {refused}");
    // Its peer port blocked, the new member cannot start: the join fails and takes the member out again,
    // and nothing of it starts later on its own (a member left counted would cost the quorum).
    let block = "iptables -I INPUT -p tcp --dport 2380 -j DROP; iptables -I OUTPUT -p tcp --dport 2380 -j DROP";
    lab_sh(name, block);
    let blocked = lab_sh(name, &format!("{join} 2>&1; echo exit=$?"));
    assert!(blocked.contains("taken out of the cluster again") && !blocked.contains("exit=0"), "{blocked}");
    std::thread::sleep(Duration::from_secs(8));
    assert_eq!(ha.members().len(), 2, "the failed join left no member behind: {:?}", ha.members());
    assert_eq!(lab_sh(name, "systemctl is-active kubeboot-etcd").trim(), "inactive", "nothing restarts it");
    lab_sh(name, &block.replace("-I ", "-D "));
    let joined = lab_sh(name, &format!("{join} 2>&1; echo exit=$?"));
    assert!(joined.contains("exit=0") && joined.contains("joined the control plane"), "{joined}");
}

fn reset_and_rejoin_checks(ha: &Ha) {
    // A master reset while it holds the controllers' Lease: a live master takes the controllers over.
    let holder = lease_holder(&ha.through[0]);
    reset_master(ha, &holder);
    let others = ha.others(&holder);
    wait_for("the Lease moves to a live master", Duration::from_secs(60), || {
        let now = lease_holder(&others[0]);
        !now.is_empty() && now != holder
    });
    join_by_hand(ha, &holder);
    assert_eq!(ha.members(), all_members(), "3 members after the by-hand join, none stale");
    ha.wait_whole("the master joined by hand serves");
    let rerun = up_json(&ha.inventory, &[]);
    let entry = &rerun["hosts"][holder.as_str()];
    // A join by hand writes no ~/.kube/config (kubeadm's neither): that is all `up` has left to do there.
    let tasks: Vec<&str> = entry["changes"].as_array().unwrap().iter().map(|c| c["task"].as_str().unwrap()).collect();
    assert_eq!(tasks, ["admin.conf to ~/.kube/config"], "up takes the by-hand master as it is: {entry}");
    let own = lab_sh(&holder, "cmp /etc/kubeboot/admin.conf ~/.kube/config && echo same");
    assert_eq!(own.trim(), "same", "a master's ~/.kube/config is its own admin.conf");

    // The first master reset and `up` again: it joins the cluster the other two hold, as a further master.
    let first = MASTERS[0].0;
    reset_master(ha, first);
    let again = up_json(&ha.inventory, &[]);
    assert!(again["hosts"][first]["changed"].as_u64().unwrap() > 0, "{}", again["hosts"][first]);
    assert_eq!(ha.members(), all_members(), "3 members again, none stale");
    let ca = |host: &str| lab_sh(host, "sha256sum /etc/kubeboot/pki/ca.crt | cut -c1-64");
    assert_eq!(ca(first), ca(MASTERS[1].0), "the first master rejoined the cluster (same CA), not a new one");
    ha.wait_whole("the reset first master joined again");
}

/// web's pods: name -> (node, container id, the container's start time as Docker has it).
fn web_containers(k: &Kubectl) -> std::collections::BTreeMap<String, (String, String, String)> {
    k.pods("app=web")
        .iter()
        .map(|p| {
            let node = p["spec"]["nodeName"].as_str().unwrap_or_default().to_string();
            let id = p["status"]["containerStatuses"][0]["containerID"].as_str().unwrap_or_default();
            let id = id.trim_start_matches("docker://").to_string();
            let started = lab_sh(&node, &format!("docker inspect --format '{{{{.State.StartedAt}}}}' {id}"));
            (p["metadata"]["name"].as_str().unwrap().to_string(), (node, id, started.trim().to_string()))
        })
        .collect()
}

fn restore(ha: &Ha, backup: &str, extra: &[&str]) -> (Option<i32>, String) {
    let out = kubeboot(&[&["restore", "-i", &ha.inventory, backup], extra].concat(), &[]);
    (out.status.code(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

fn backup_and_restore_checks(ha: &Ha) {
    let k = &ha.through[0];
    let containers = web_containers(k);
    assert!(containers.values().all(|(_, id, started)| !id.is_empty() && !started.is_empty()), "{containers:?}");
    let backup = ha.work.path().join("ha.backup").display().to_string();
    let out = kubeboot(&["backup", "-i", &ha.inventory, "-o", &backup], &[]);
    assert!(out.status.success(), "backup: {}", String::from_utf8_lossy(&out.stderr));
    k.ok(&["create", "configmap", "after-backup", "--from-literal=n=1"]);

    let (code, said) = restore(ha, &backup, &[]);
    assert_eq!(code, Some(2), "{said}");
    assert!(said.contains("the API server on lab-master1, lab-master2, lab-master3 answers"), "{said}");
    let started = Instant::now();
    let (code, said) = restore(ha, &backup, &["--force"]);
    assert_eq!(code, Some(0), "restore --force: {said}");
    assert!(said.contains("restored replacing the store"), "{said}");
    eprintln!("restore --force onto three running masters: {:.1} s", started.elapsed().as_secs_f64());
    ha.wait_whole("the three masters serving the restored store");
    assert!(!k.run(&["get", "configmap", "after-backup"]).0, "made after the backup, still there");
    assert_eq!(ha.members(), all_members());

    k.ok(&["create", "configmap", "after-force", "--from-literal=n=1"]);
    let masters: Vec<&str> = MASTERS.iter().map(|(n, _)| *n).collect();
    let reset = kubeboot(&["reset", "-i", &ha.inventory, "--limit", &masters.join(",")], &[]);
    assert!(reset.status.success(), "reset: {}", String::from_utf8_lossy(&reset.stdout));
    let started = Instant::now();
    let (code, said) = restore(ha, &backup, &[]);
    assert_eq!(code, Some(0), "restore onto three wiped masters: {said}");
    assert!(said.contains("restored onto a master not initialised"), "{said}");
    eprintln!("restore onto three wiped masters: {:.1} s", started.elapsed().as_secs_f64());
    assert_eq!(ha.members(), all_members(), "3 members again");
    ha.wait_whole("the three wiped masters restored");
    for name in ["after-backup", "after-force"] {
        assert!(!k.run(&["get", "configmap", name]).0, "{name}: made after the backup, still there");
    }
    assert_eq!(web_containers(k), containers, "web's pods changed, or their containers restarted");
}

fn upgrade_checks(ha: &Ha) {
    let k = &ha.through[0];
    let next = common::next_minor(env!("CARGO_PKG_VERSION"));
    let newer = common::build_with_version(ha.work.path(), &next);
    let port = k.json(&["get", "service", "web"])["spec"]["ports"][0]["nodePort"].as_u64().unwrap();
    // As an operator would: without a budget a drain evicts all of a node's pods at once (kubectl's too),
    // and web's replicas all on one node would be down until their replacements are Ready.
    k.ok(&["create", "poddisruptionbudget", "web", "--selector=app=web", "--max-unavailable=1"]);
    let stop = Arc::new(AtomicBool::new(false));
    let probe = common::serve_probe(format!("http://{}:{port}/", MASTERS[0].1), stop.clone());
    let started = Instant::now();
    let out = std::process::Command::new(&newer).args(["upgrade", "-i", &ha.inventory]).output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "upgrade: {said}");
    eprintln!("upgrade of 3 masters + 2 nodes: {:.1} s", started.elapsed().as_secs_f64());
    let order: Vec<usize> =
        MASTERS.iter().map(|(n, _)| *n).chain(NODES).map(|n| said.find(&format!("  {n}: ")).unwrap()).collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "masters first, one at a time, then the nodes: {said}");
    stop.store(true, Ordering::Relaxed);
    let (answered, failed) = probe.join().unwrap();
    eprintln!("web through lab-master1's NodePort during the upgrade: {answered} answered, {failed} failed");
    assert_eq!(failed, 0, "requests to web failed during the upgrade");
    let nodes = k.json(&["get", "nodes"]);
    for node in nodes["items"].as_array().unwrap() {
        let version = node["status"]["nodeInfo"]["kubeletVersion"].as_str().unwrap();
        assert!(version.ends_with(&format!("kubeboot.{next}")), "{}: {version}", node["metadata"]["name"]);
        assert!(
            !node["spec"]["unschedulable"].as_bool().unwrap_or(false),
            "{} left cordoned",
            node["metadata"]["name"]
        );
    }
    assert_eq!(ha.members(), all_members());
    ha.wait_whole("the upgraded cluster");
}

#[test]
fn three_masters_on_etcd_survive_power_cuts_quorum_loss_and_partitions() {
    let ha = build();
    built_checks(&ha);
    power_cut_checks(&ha);
    kubeconfig_checks(&ha);
    quorum_loss_checks(&ha);
    partition_checks(&ha);
    reset_and_rejoin_checks(&ha);
    backup_and_restore_checks(&ha);
    upgrade_checks(&ha);
    let down = kubeboot(&["lab", "down"], &[]);
    assert!(down.status.success());
}
