//! Services end to end on the shared lab cluster, with real Docker, iptables and kubectl 1.20
//! and 1.33: the walkthrough's svc-1 (ClusterIP), svc-2 (NodePort 30000) and svc-3 (LoadBalancer, pending)
//! get addresses from the lab's service range, a taken ClusterIP or NodePort is refused with Kubernetes'
//! 422 (also after a server restart) and a freed one can be had again; Endpoints and EndpointSlices follow
//! the pods; svc-1 answers with container2's page from every node and from a pod, its own pod included
//! (hairpin); NodePorts answer on every lab host's address from this machine; a Deployment's Service spreads
//! requests, ClientIP affinity pins them, a Service without endpoints refuses at once; cluster DNS (the
//! kube-dns Service on every node, pods' resolv.conf, short names, headless and SRV records, a Job reaching
//! svc-1 by name); endpoints follow a scale; a client sending requests through a rolling update sees no failure; `reset` leaves no KUBEBOOT
//! chain or rule on any host.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::common::kubectl::{manifest, ready, Kubectl, LabCluster};
use crate::common::{self, kubeboot, lab_sh};

const HOSTS: [(&str, &str); 3] =
    [("lab-master", "10.88.0.10"), ("lab-node1", "10.88.0.11"), ("lab-node2", "10.88.0.12")];
/// The lab inventory's service range.
const SERVICE_RANGE: &str = "10.96.";

fn cluster_ip(k: &Kubectl, svc: &str) -> String {
    k.json(&["get", "svc", svc])["spec"]["clusterIP"].as_str().unwrap_or_default().to_string()
}

fn node_port(k: &Kubectl, svc: &str) -> u64 {
    k.json(&["get", "svc", svc])["spec"]["ports"][0]["nodePort"].as_u64().unwrap_or(0)
}

/// An HTTP/1.0 GET from this machine; the response body.
fn http_get(address: &str) -> String {
    let mut stream = TcpStream::connect_timeout(&address.parse().unwrap(), Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("connecting to {address}: {e}"));
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    stream.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    reply.split("\r\n\r\n").nth(1).unwrap_or_default().trim().to_string()
}

fn ready_addresses(k: &Kubectl, svc: &str) -> BTreeSet<String> {
    ready_addresses_in(k, "default", svc)
}

fn ready_addresses_in(k: &Kubectl, namespace: &str, svc: &str) -> BTreeSet<String> {
    let ep = k.json(&["-n", namespace, "get", "endpoints", svc]);
    ep["subsets"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["addresses"].as_array().cloned().unwrap_or_default())
        .filter_map(|a| a["ip"].as_str().map(String::from))
        .collect()
}

fn pod_ips(k: &Kubectl, selector: &str) -> BTreeSet<String> {
    k.pods(selector)
        .iter()
        .filter(|p| ready(p))
        .filter_map(|p| p["status"]["podIP"].as_str().map(String::from))
        .collect()
}

fn allocation_checks(k: &Kubectl) {
    let ip = cluster_ip(k, "svc-1");
    assert!(ip.starts_with(SERVICE_RANGE), "svc-1's ClusterIP {ip} is not in the lab's range");
    assert_eq!(node_port(k, "svc-2"), 30000, "the requested nodePort");
    let lb = node_port(k, "svc-3");
    assert!((30000..=32767).contains(&lb), "svc-3's nodePort {lb}");
    let table = k.ok(&["get", "svc", "svc-3"]);
    assert!(table.contains("LoadBalancer") && table.contains("<pending>"), "{table}");
    assert_eq!(cluster_ip(k, "web-headless"), "None");
    assert_eq!(cluster_ip(k, "kubernetes"), "10.96.0.1");
    assert_eq!(ready_addresses(k, "kubernetes"), BTreeSet::from(["10.88.0.10".to_string()]));

    let taken_port = r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"dup-port"},
        "spec":{"type":"NodePort","selector":{"app":"pod"},"ports":[{"port":80,"nodePort":30000}]}}"#;
    let taken_ip = format!(
        r#"{{"apiVersion":"v1","kind":"Service","metadata":{{"name":"dup-ip"}},
        "spec":{{"clusterIP":"{ip}","selector":{{"app":"pod"}},"ports":[{{"port":80}}]}}}}"#
    );
    let create = |body: &str| {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), body).unwrap();
        k.run(&["create", "-f", file.path().to_str().unwrap()])
    };
    for body in [taken_port, taken_ip.as_str()] {
        let (ok, out) = create(body);
        assert!(!ok && out.contains("already allocated") && out.contains("Invalid value"), "{out}");
    }
    // A freed NodePort can be had again.
    let free = r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"again"},
        "spec":{"type":"NodePort","selector":{"app":"pod"},"ports":[{"port":80,"nodePort":30999}]}}"#;
    for _ in 0..2 {
        let (ok, out) = create(free);
        assert!(ok, "{out}");
        k.ok(&["delete", "svc", "again"]);
    }
    // Allocations outlive the server.
    lab_sh("lab-master", "systemctl restart kubeboot-server");
    common::wait_for("the API server back", Duration::from_secs(60), || k.run(&["get", "svc"]).0);
    let (ok, out) = create(&taken_ip);
    assert!(!ok && out.contains("already allocated"), "after a restart: {out}");
}

fn endpoints_checks(k20: &Kubectl, k33: &Kubectl) {
    let pod_ip = k33.json(&["get", "pod", "pod-1"])["status"]["podIP"].as_str().unwrap().to_string();
    for k in [k20, k33] {
        let table = k.ok(&["get", "endpoints", "svc-1"]);
        assert!(table.contains(&format!("{pod_ip}:8080")), "{}: {table}", k.label);
        let described = k.ok(&["describe", "svc", "svc-2"]);
        for line in ["Type:                     NodePort", "NodePort:                 <unset>  30000/TCP"] {
            assert!(described.contains(line), "{}: {described}", k.label);
        }
        assert!(described.contains(&format!("Endpoints:                {pod_ip}:8080")), "{}: {described}", k.label);
    }
    let slices = k33.json(&["get", "endpointslices", "-l", "kubernetes.io/service-name=svc-1"]);
    let slice = &slices["items"][0];
    assert_eq!(slice["addressType"], "IPv4", "{slices}");
    assert_eq!(slice["endpoints"][0]["addresses"][0], pod_ip.as_str(), "{slices}");
    assert_eq!(slice["ports"][0]["port"], 8080, "{slices}");
    // The named targetPort `http` resolved per pod.
    let web = k33.json(&["get", "endpoints", "web"]);
    assert_eq!(web["subsets"][0]["ports"][0]["port"], 8080, "{web}");
}

fn data_path_checks(k: &Kubectl) {
    let svc1 = cluster_ip(k, "svc-1");
    for (host, address) in HOSTS {
        let reply = lab_sh(host, &format!("curl -s -m 5 http://{svc1}:9000/"));
        assert_eq!(reply.trim(), "containerPort : 8080", "svc-1 from {host}");
        assert_eq!(http_get(&format!("{address}:30000")), "containerPort : 8080", "svc-2's NodePort on {host}");
        let lb = node_port(k, "svc-3");
        assert_eq!(http_get(&format!("{address}:{lb}")), "containerPort : 8080", "svc-3's NodePort on {host}");
    }
    let from_pod = |pod: &str, container: &str, url: &str| {
        k.run(&["exec", pod, "-c", container, "--", "timeout", "5", "wget", "-qO-", url])
    };
    let (ok, out) = from_pod("client", "client", &format!("http://{svc1}:9000/"));
    assert!(ok && out.trim() == "containerPort : 8080", "svc-1 from a pod: {out}");
    let (ok, out) = from_pod("pod-1", "container1", &format!("http://{svc1}:9000/"));
    assert!(ok && out.trim() == "containerPort : 8080", "svc-1 from its own pod (hairpin): {out}");

    // Spread over the endpoints, pinned by ClientIP affinity.
    let hostnames = |svc: &str| -> BTreeSet<String> {
        let ip = cluster_ip(k, svc);
        let script = format!("for i in $(seq 1 30); do curl -s -m 5 http://{ip}/; echo; done");
        lab_sh("lab-master", &script)
            .lines()
            .filter_map(|l| l.split("Hostname : ").nth(1).map(|h| h.trim().to_string()))
            .collect()
    };
    let spread = hostnames("web");
    assert!(spread.len() >= 2, "30 requests reached only {spread:?}");
    let pinned = hostnames("web-sticky");
    assert_eq!(pinned.len(), 1, "ClientIP affinity: {pinned:?}");

    // No endpoints: refused at once (curl exit 7), not a timeout (28).
    let nobody = cluster_ip(k, "nobody");
    let code = lab_sh("lab-node1", &format!("curl -s -m 5 http://{nobody}/; echo $?"));
    assert_eq!(code.trim(), "7", "a Service without endpoints");
}

fn dns_checks(k: &Kubectl) {
    let table = k.ok(&["-n", "kube-system", "get", "svc", "kube-dns"]);
    assert!(table.contains("10.96.0.10") && table.contains("53/UDP,53/TCP"), "{table}");
    let dns_endpoints = ready_addresses_in(k, "kube-system", "kube-dns");
    let nodes: BTreeSet<String> = HOSTS.iter().map(|(_, a)| a.to_string()).collect();
    assert_eq!(dns_endpoints, nodes, "every Ready node serves DNS");
    let resolv = k.ok(&["exec", "client", "--", "cat", "/etc/resolv.conf"]);
    assert_eq!(
        resolv,
        "nameserver 10.96.0.10\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n"
    );
    let svc1 = cluster_ip(k, "svc-1");
    let lookup = k.ok(&["exec", "client", "--", "nslookup", "svc-1.default.svc.cluster.local"]);
    assert!(lookup.contains(&format!("Address: {svc1}")), "{lookup}");
    for url in ["http://svc-1:9000/", "http://svc-1.default:9000/", "http://svc-1.default.svc.cluster.local:9000/"] {
        let (ok, out) = k.run(&["exec", "client", "--", "timeout", "5", "wget", "-qO-", url]);
        assert!(ok && out.trim() == "containerPort : 8080", "{url}: {out}");
    }
    // A headless Service: its ready pods, and SRV records per named port.
    let pods = pod_ips(k, "app=web");
    let (_, headless) = k.run(&["exec", "client", "--", "nslookup", "web-headless.default.svc.cluster.local"]);
    let answered: BTreeSet<String> =
        headless.lines().filter_map(|l| l.strip_prefix("Address: ").map(|a| a.trim().to_string())).collect();
    assert_eq!(answered, pods, "{headless}");
    let (_, srv) =
        k.run(&["exec", "client", "--", "nslookup", "-type=srv", "_http._tcp.web-headless.default.svc.cluster.local"]);
    assert_eq!(srv.matches("service = 0 100 8080 ").count(), pods.len(), "{srv}");
    // The issue's check: a Job reaching svc-1 by name completes.
    k.ok(&["apply", "-f", &manifest("tests/manifests/services/dns-job.yaml")]);
    k.ok(&["wait", "--for=condition=complete", "job/dns-job", "--timeout=120s"]);
}

fn scale_checks(k: &Kubectl) {
    for replicas in [5, 2, 3] {
        k.ok(&["scale", "deploy", "web", &format!("--replicas={replicas}")]);
        common::wait_for(&format!("web's endpoints follow a scale to {replicas}"), Duration::from_secs(90), || {
            let pods = pod_ips(k, "app=web");
            pods.len() == replicas && ready_addresses(k, "web") == pods
        });
    }
}

fn rollout_checks(k: &Kubectl) {
    k.ok(&["rollout", "status", "deploy/web", "--timeout=120s"]);
    let ip = cluster_ip(k, "web");
    let client = std::thread::spawn(move || {
        // Until told to stop, and at least 200 requests.
        let script = format!(
            "rm -f /tmp/stop-client; ok=0; bad=0; \
             while [ ! -f /tmp/stop-client ] || [ $((ok+bad)) -lt 200 ]; do \
               if [ \"$(curl -s -m 3 -o /dev/null -w '%{{http_code}}' http://{ip}/)\" = 200 ]; then ok=$((ok+1)); \
               else bad=$((bad+1)); fi; sleep 0.02; done; echo $ok $bad"
        );
        lab_sh("lab-master", &script)
    });
    std::thread::sleep(Duration::from_secs(2));
    k.ok(&["set", "image", "deploy/web", "app=kubetm/app:v2"]);
    k.ok(&["rollout", "status", "deploy/web", "--timeout=180s"]);
    std::thread::sleep(Duration::from_secs(2));
    lab_sh("lab-master", "touch /tmp/stop-client");
    let counts = client.join().unwrap();
    let (ok, bad): (u32, u32) = {
        let mut n = counts.split_whitespace().map(|c| c.parse().unwrap());
        (n.next().unwrap(), n.next().unwrap())
    };
    eprintln!("rolling update: {ok} requests answered, {bad} failed");
    assert!(ok + bad >= 200, "{counts}");
    assert_eq!(bad, 0, "requests failed during the rolling update ({ok} answered)");
    let images: BTreeSet<String> = k.pods("app=web").iter().map(common::kubectl::image).collect();
    assert_eq!(images, BTreeSet::from(["kubetm/app:v2".to_string()]));
}

fn reset_checks(inv: &str) {
    let reset = kubeboot(&["reset", "-i", inv], &[]);
    assert!(reset.status.success(), "reset: {}", String::from_utf8_lossy(&reset.stderr));
    for (host, _) in HOSTS {
        let left = lab_sh(host, "iptables-save | grep -c KUBEBOOT; true");
        assert_eq!(left.trim(), "0", "{host} keeps KUBEBOOT rules: {}", lab_sh(host, "iptables-save | grep KUBEBOOT"));
    }
}

/// The last of the shared cluster's checks: it ends with `kubeboot reset`.
pub fn checks(cluster: &LabCluster) {
    let (k20, k33, inv) = (&cluster.k20, &cluster.k33, cluster.inventory.as_str());
    for file in [
        "examples/service-1.yaml",
        "examples/service-2.yaml",
        "examples/service-3.yaml",
        "tests/manifests/services/rollout.yaml",
        "tests/manifests/services/extras.yaml",
    ] {
        k33.ok(&["apply", "-f", &manifest(file)]);
    }
    common::wait_for("pod-1, client and web running and in their endpoints", Duration::from_secs(180), || {
        let ready_pod = |name: &str| ready(&k33.json(&["get", "pod", name]));
        ready_pod("pod-1")
            && ready_pod("client")
            && pod_ips(k33, "app=web").len() == 3
            && ready_addresses(k33, "web") == pod_ips(k33, "app=web")
            && !ready_addresses(k33, "svc-1").is_empty()
    });

    allocation_checks(k33);
    endpoints_checks(k20, k33);
    data_path_checks(k33);
    dns_checks(k33);
    scale_checks(k20);
    rollout_checks(k33);
    reset_checks(inv);
}
