//! The API server's TLS and authentication with a real HTTP client (curl): anonymous access only to health
//! and cluster-info, 401 elsewhere, admin and node client certificates, certificates of another CA refused,
//! and the token-for-node-certificate exchange (valid, wrong, expired, wrong identity).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use kubeboot::bootstrap::discovery::verify_cluster_info;
use kubeboot::bootstrap::pki::{describe, node_csr, ClusterCa};
use kubeboot::bootstrap::token::BootstrapToken;
use serde_json::Value;

#[test]
fn anonymous_admin_node_and_token_access() {
    let s = common::api::start();
    assert_eq!(s.curl("/healthz", None, &[]), (200, "ok".into()));
    assert_eq!(s.curl("/readyz", None, &[]).0, 200);

    let (code, body) = s.curl("/api", None, &[]);
    assert_eq!(code, 401);
    let status: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((status["kind"].as_str(), status["code"].as_u64()), (Some("Status"), Some(401)));
    assert_eq!(s.curl("/api/v1/nodes", None, &[]).0, 401, "unknown paths say 401 to anonymous clients, not 404");
    for path in
        ["/version", "/apis", "/api/v1", "/openapi/v2", "/openapi/v3", "/livez", "/kubeboot/v1/bootstrap-tokens"]
    {
        assert_eq!(s.curl(path, None, &[]).0, 401, "{path} without a client certificate");
    }

    // cluster-info: anonymous, signed for the live token only, and passes the joining side's checks.
    let (code, body) = s.curl("/api/v1/namespaces/kube-public/configmaps/cluster-info", None, &[]);
    assert_eq!(code, 200);
    let cm: Value = serde_json::from_str(&body).unwrap();
    let kubeconfig = cm["data"]["kubeconfig"].as_str().unwrap();
    let sigs: Vec<(String, String)> = cm["data"]
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("jws-kubeconfig-")?.to_string(), v.as_str()?.to_string())))
        .collect();
    assert_eq!(
        sigs.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(),
        ["abcdef"],
        "no signature for the expired token"
    );
    let trusted =
        verify_cluster_info(kubeconfig.as_bytes(), &sigs, &BootstrapToken::parse(common::api::TOKEN).unwrap(), &s.pin)
            .unwrap();
    assert_eq!(trusted.ca_pem, s.ca_pem);
    assert!(!body.contains("0123456789abcdef"), "no token secret in cluster-info");

    // The token buys a node certificate for the CSR's own node name, nothing else.
    let (csr, key) = node_csr("n1").unwrap();
    let request = |name: &str, csr: &str| serde_json::json!({"nodeName": name, "csr": csr}).to_string();
    let post = |token: &str, body: String| {
        s.curl(
            "/kubeboot/v1/node-certificates",
            None,
            &[
                "-X",
                "POST",
                "-H",
                &format!("Authorization: Bearer {token}"),
                "-H",
                "Content-Type: application/json",
                "--data",
                &body,
            ],
        )
    };
    assert_eq!(post("abcdef.ffffffffffffffff", request("n1", &csr)).0, 401, "wrong secret");
    assert_eq!(post(common::api::EXPIRED, request("n1", &csr)).0, 401, "expired token");
    assert_eq!(post(common::api::TOKEN, request("n2", &csr)).0, 403, "CSR for another node");
    let (code, body) = post(common::api::TOKEN, request("n1", &csr));
    assert_eq!(code, 201, "{body}");
    let issued: Value = serde_json::from_str(&body).unwrap();
    let cert = issued["certificate"].as_str().unwrap();
    assert_eq!(describe(cert, &s.ca_pem).unwrap(), ("system:node:n1".into(), vec!["system:nodes".into()], true));

    // Client certificates: the node's and an admin's authenticate; one from another CA is refused at TLS.
    let node_cert = s.file("node.pem", cert);
    let node_key = s.file("node-key.pem", &key);
    assert_eq!(s.curl("/api", Some((&node_cert, &node_key)), &[]).0, 200);
    let (admin_cert, admin_key) = (s.file("admin.pem", &s.admin.0), s.file("admin-key.pem", &s.admin.1));
    assert_eq!(s.curl("/api", Some((&admin_cert, &admin_key)), &[]).0, 200);

    // A node's serving certificate (its node API): asked with its own certificate, for its own name, valid
    // for the address the server saw the request come from.
    let serving = "/kubeboot/v1/node-serving-certificates";
    let (serving_csr, _) = node_csr("n1").unwrap();
    let ask = |who: Option<(&Path, &Path)>, csr: &str| {
        let body = serde_json::json!({ "csr": csr }).to_string();
        s.curl(serving, who, &["-X", "POST", "-H", "Content-Type: application/json", "--data", &body])
    };
    let as_node = Some((node_cert.as_path(), node_key.as_path()));
    let as_admin = Some((admin_cert.as_path(), admin_key.as_path()));
    assert_eq!(ask(None, &serving_csr).0, 401);
    assert_eq!(ask(as_admin, &serving_csr).0, 403, "only nodes get serving certificates");
    assert_eq!(ask(as_node, &node_csr("n2").unwrap().0).0, 403, "only for itself");
    let (code, body) = ask(as_node, &serving_csr);
    assert_eq!(code, 201, "{body}");
    let issued: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(issued["address"], "127.0.0.1");
    let der = x509_parser::pem::parse_x509_pem(issued["certificate"].as_str().unwrap().as_bytes()).unwrap().1.contents;
    let (_, parsed) = x509_parser::parse_x509_certificate(&der).unwrap();
    let sans = format!("{:?}", parsed.subject_alternative_name().unwrap().unwrap().value.general_names);
    assert_eq!(sans, r#"[IPAddress([127, 0, 0, 1]), DNSName("n1")]"#);

    // Subresources: unknown ones are 404, never the parent; a pod's log and exec are admins' only.
    let admin_pod =
        serde_json::json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}});
    let (code, _) = s.curl(
        "/api/v1/namespaces/default/pods",
        as_admin,
        &["-X", "POST", "-H", "Content-Type: application/json", "--data", &admin_pod.to_string()],
    );
    assert_eq!(code, 201);
    assert_eq!(s.curl("/api/v1/namespaces/default/pods/p/frobnicate", as_admin, &[]).0, 404);
    assert_eq!(s.curl("/api/v1/namespaces/default/pods/p/scale", as_admin, &[]).0, 404);
    let (code, body) = s.curl("/api/v1/namespaces/default/pods/p/log", as_node, &[]);
    assert_eq!(code, 403, "{body}");
    assert!(body.contains(r#"cannot get resource \"pods/log\""#), "{body}");
    let (code, body) = s.curl("/api/v1/namespaces/default/pods/p/log", as_admin, &[]);
    assert_eq!(code, 400, "not scheduled yet: {body}");
    assert!(body.contains("pod p does not have a host assigned"), "{body}");

    // Node authorization: a node writes only its own Node; an admin writes any; stale writes conflict.
    let (node, admin) =
        (Some((node_cert.as_path(), node_key.as_path())), Some((admin_cert.as_path(), admin_key.as_path())));
    let send = |method: &str, path: &str, who: Option<(&Path, &Path)>, body: Value| {
        s.curl(path, who, &["-X", method, "-H", "Content-Type: application/json", "--data", &body.to_string()])
    };
    let (code, created) = send("POST", "/api/v1/nodes", node, serde_json::json!({"metadata": {"name": "n1"}}));
    assert_eq!(code, 201, "{created}");
    let created: Value = serde_json::from_str(&created).unwrap();
    let rv = created["metadata"]["resourceVersion"].as_str().unwrap().to_string();
    assert_eq!(send("POST", "/api/v1/nodes", node, serde_json::json!({"metadata": {"name": "n2"}})).0, 403);
    assert_eq!(send("POST", "/api/v1/nodes", admin, serde_json::json!({"metadata": {"name": "n2"}})).0, 201);
    assert_eq!(send("PUT", "/api/v1/nodes/n2/status", node, serde_json::json!({"metadata": {"name": "n2"}})).0, 403);
    let fresh = serde_json::json!({"metadata": {"name": "n1", "resourceVersion": rv}, "status": {"phase": "x"}});
    assert_eq!(send("PUT", "/api/v1/nodes/n1/status", node, fresh.clone()).0, 200);
    assert_eq!(send("PUT", "/api/v1/nodes/n1/status", node, fresh).0, 409, "a stale resourceVersion conflicts");
    let (code, list) = s.curl("/api/v1/nodes", admin, &[]);
    assert_eq!(code, 200);
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list["kind"], "NodeList");
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    assert_eq!(s.curl("/api/v1/nodes/n2", None, &["-X", "DELETE"]).0, 401);
    assert_eq!(s.curl("/api/v1/nodes/n2", node, &["-X", "DELETE"]).0, 403);
    assert_eq!(s.curl("/api/v1/nodes/n2", admin, &["-X", "DELETE"]).0, 200);

    // Bootstrap tokens are an admin's business: anonymous 401, a node 403.
    let tokens = "/kubeboot/v1/bootstrap-tokens";
    assert_eq!(s.curl(tokens, None, &[]).0, 401);
    assert_eq!(s.curl(tokens, node, &[]).0, 403);
    assert_eq!(send("POST", tokens, node, serde_json::json!({"ttlSeconds": 60})).0, 403);
    assert_eq!(s.curl(&format!("{tokens}/abcdef"), node, &["-X", "DELETE"]).0, 403);
    let (code, listed) = s.curl(tokens, admin, &[]);
    assert_eq!(code, 200);
    assert!(!listed.contains(common::api::TOKEN.split('.').nth(1).unwrap()), "no secret in a token list: {listed}");

    let (other, _) = ClusterCa::generate("other").unwrap();
    let foreign = other.issue_client("kubernetes-admin", &["system:masters"]).unwrap();
    let (fc, fk) = (s.file("f.pem", &foreign.cert_pem), s.file("f-key.pem", &foreign.key_pem));
    assert_eq!(s.curl("/api", Some((&fc, &fk)), &[]).0, 0, "a certificate of another CA must not get through TLS");
}

/// A watch from a resourceVersion older than the server's memory replays what the store's history holds
/// since; once the store is compacted past it, the watch is one ERROR event with 410 Expired (the client
/// lists again); a current one streams.
#[test]
fn watch_from_old_versions_replays_until_compacted_then_is_gone() {
    let s = common::api::start();
    let admin = (s.file("admin.pem", &s.admin.0), s.file("admin-key.pem", &s.admin.1));
    let who = Some((admin.0.as_path(), admin.1.as_path()));
    let body = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"early"}}"#;
    let args = ["-X", "POST", "-H", "Content-Type: application/json", "-d", body];
    let (code, created) = s.curl("/api/v1/namespaces/default/configmaps", who, &args);
    assert_eq!(code, 201, "{created}");
    let made: u64 = serde_json::from_str::<Value>(&created).unwrap()["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let watch_from = |rv: u64| {
        s.curl(
            &format!("/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={rv}&timeoutSeconds=1"),
            who,
            &[],
        )
    };
    let (code, body) = watch_from(1);
    assert_eq!(code, 200);
    let event: Value = serde_json::from_str(body.lines().next().unwrap()).unwrap();
    assert_eq!(
        (event["type"].as_str(), event["object"]["metadata"]["name"].as_str()),
        (Some("ADDED"), Some("early")),
        "{body}"
    );
    // Compacted past revision 1, which is also older than the server's memory (it starts at its start).
    s.state.store.compact(made).unwrap();
    let (code, body) = watch_from(1);
    assert_eq!(code, 200);
    let event: Value = serde_json::from_str(body.lines().next().unwrap()).unwrap();
    assert_eq!((event["type"].as_str(), event["object"]["code"].as_u64()), (Some("ERROR"), Some(410)), "{body}");
    assert_eq!(event["object"]["reason"], "Expired");
    let (code, body) = watch_from(made);
    assert_eq!((code, body.as_str()), (200, ""), "nothing after it to report, and the stream ends at its timeout");
}

#[test]
fn malformed_metadata_is_refused_not_a_crash() {
    let s = common::api::start();
    let admin = (s.file("admin.pem", &s.admin.0), s.file("admin-key.pem", &s.admin.1));
    let who = Some((admin.0.as_path(), admin.1.as_path()));
    let cm = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"1"}}"#;
    let json = ["-H", "Content-Type: application/json"];
    let (code, _) =
        s.curl("/api/v1/namespaces/default/configmaps", who, &[&json[..], &["-X", "POST", "-d", cm]].concat());
    assert_eq!(code, 201);
    let merge = ["-X", "PATCH", "-H", "Content-Type: application/merge-patch+json", "-d", r#"{"metadata":"x"}"#];
    let (code, body) = s.curl("/api/v1/namespaces/default/configmaps/c", who, &merge);
    assert_eq!(code, 422, "{body}");
    assert!(body.contains("metadata"), "{body}");
    let put = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":["c"]}"#;
    let (code, body) =
        s.curl("/api/v1/namespaces/default/configmaps/c", who, &[&json[..], &["-X", "PUT", "-d", put]].concat());
    assert!(code == 400 || code == 422, "{code} {body}");
    let (code, _) = s.curl("/api/v1/namespaces/default/configmaps/c", who, &[]);
    assert_eq!(code, 200, "the server is still there");
}

/// Does the server still hold this connection open? (A read that ends means it closed it.)
async fn closed_by_server(stream: &mut tokio::net::TcpStream) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 1];
    matches!(tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buf)).await, Ok(Ok(0)) | Ok(Err(_)))
}

#[test]
fn idle_connections_are_limited_timed_out_and_never_block_admins() {
    let s = common::api::start();
    let admin = (s.file("admin.pem", &s.admin.0), s.file("admin-key.pem", &s.admin.1));
    let who = Some((admin.0.as_path(), admin.1.as_path()));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let per_source = kubeboot::control_plane::api::MAX_HANDSHAKES_PER_SOURCE;
    let server: std::net::SocketAddr = format!("127.0.0.1:{}", s.port).parse().unwrap();
    // An unauthenticated client on another address opens connections and sends nothing.
    let mut idle = rt.block_on(async {
        let mut idle = Vec::new();
        for _ in 0..per_source + 72 {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
            idle.push(socket.connect(server).await.unwrap());
        }
        idle
    });
    let started = Instant::now();
    let (code, body) = s.curl("/api/v1/namespaces", who, &[]);
    assert_eq!(code, 200, "an admin is served while {} idle connections are open: {body}", idle.len());
    assert!(started.elapsed() < Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(500));
    let closed_now = rt.block_on(async {
        // All at once: the check must not take longer than what it checks.
        futures::future::join_all(idle.iter_mut().map(closed_by_server)).await.into_iter().filter(|c| *c).count()
    });
    assert_eq!(closed_now, 72, "only {per_source} handshakes per source address are held");
    std::thread::sleep(kubeboot::control_plane::api::HANDSHAKE_TIMEOUT + Duration::from_secs(1));
    let closed_later = rt.block_on(async {
        // All at once: the check must not take longer than what it checks.
        futures::future::join_all(idle.iter_mut().map(closed_by_server)).await.into_iter().filter(|c| *c).count()
    });
    assert_eq!(closed_later, idle.len(), "a handshake that never comes is given up after the timeout");
}

#[test]
fn node_authorization_matrix() {
    let s = common::api::start();
    let admin = (s.file("admin.pem", &s.admin.0), s.file("admin-key.pem", &s.admin.1));
    let as_admin = Some((admin.0.as_path(), admin.1.as_path()));
    let n1 = s.state.ca.issue_client("system:node:n1", &["system:nodes"]).unwrap();
    let node = (s.file("n1.pem", &n1.cert_pem), s.file("n1-key.pem", &n1.key_pem));
    let as_n1 = Some((node.0.as_path(), node.1.as_path()));
    let send = |who, method: &str, path: &str, content_type: &str, body: &str| {
        let mut args = vec!["-X", method];
        if !body.is_empty() {
            args.extend(["-H", content_type, "-d", body]);
        }
        s.curl(path, who, &args).0
    };
    let json = "Content-Type: application/json";
    // What the admin sets up: a pod on n1 that uses configmap "used" and secret "used-s", a pod elsewhere.
    for (path, body) in [
        ("/api/v1/namespaces/default/configmaps", r#"{"metadata":{"name":"used"},"data":{"a":"1"}}"#),
        ("/api/v1/namespaces/default/configmaps", r#"{"metadata":{"name":"other"},"data":{"a":"1"}}"#),
        ("/api/v1/namespaces/default/secrets", r#"{"metadata":{"name":"used-s"},"data":{"a":"MQ=="}}"#),
        ("/api/v1/namespaces/default/secrets", r#"{"metadata":{"name":"other-s"},"data":{"a":"MQ=="}}"#),
        (
            "/api/v1/namespaces/default/pods",
            r#"{"metadata":{"name":"p1"},"spec":{"nodeName":"n1","containers":[{"name":"c","image":"x","env":[{"name":"E","valueFrom":{"secretKeyRef":{"name":"used-s","key":"a"}}}]}],"volumes":[{"name":"v","configMap":{"name":"used"}},{"name":"d","persistentVolumeClaim":{"claimName":"used-c"}}]}}"#,
        ),
        (
            "/api/v1/namespaces/default/pods",
            r#"{"metadata":{"name":"p2"},"spec":{"nodeName":"n2","containers":[{"name":"c","image":"x"}]}}"#,
        ),
    ] {
        assert_eq!(send(as_admin, "POST", path, json, body), 201, "{path} {body}");
    }
    // Claims (one its pod uses) and volumes: provisioned by local-path on n1, on n2, and one made by hand.
    let claim = |name: &str| {
        format!(
            r#"{{"metadata":{{"name":"{name}"}},"spec":{{"accessModes":["ReadWriteOnce"],"resources":{{"requests":{{"storage":"1Gi"}}}}}}}}"#
        )
    };
    let volume = |name: &str, node: &str, provisioned: bool| {
        let annotations = if provisioned {
            r#""annotations":{"pv.kubernetes.io/provisioned-by":"kubeboot.io/local-path"}"#
        } else {
            r#""labels":{}"#
        };
        format!(
            r#"{{"metadata":{{"name":"{name}",{annotations}}},"spec":{{"capacity":{{"storage":"1Gi"}},"accessModes":["ReadWriteOnce"],"hostPath":{{"path":"/var/lib/kubeboot/storage/{name}"}},"nodeAffinity":{{"required":{{"nodeSelectorTerms":[{{"matchExpressions":[{{"key":"kubernetes.io/hostname","operator":"In","values":["{node}"]}}]}}]}}}}}}}}"#
        )
    };
    for (path, body) in [
        ("/api/v1/namespaces/default/persistentvolumeclaims", claim("used-c")),
        ("/api/v1/namespaces/default/persistentvolumeclaims", claim("other-c")),
        ("/api/v1/persistentvolumes", volume("mine", "n1", true)),
        ("/api/v1/persistentvolumes", volume("theirs", "n2", true)),
        ("/api/v1/persistentvolumes", volume("by-hand", "n1", false)),
    ] {
        assert_eq!(send(as_admin, "POST", path, json, &body), 201, "{path} {body}");
    }
    let apply = "Content-Type: application/apply-patch+yaml";
    let merge = "Content-Type: application/merge-patch+json";
    let event = |kind: &str, name: &str| {
        format!(
            r#"{{"metadata":{{"name":"e-{name}"}},"involvedObject":{{"kind":"{kind}","name":"{name}","namespace":"default"}},"reason":"R","message":"m"}}"#
        )
    };
    let cases: Vec<(&str, &str, &str, &str, String, u16)> = vec![
        ("its own Node", "POST", "/api/v1/nodes", json, r#"{"metadata":{"name":"n1"}}"#.into(), 201),
        ("another Node", "POST", "/api/v1/nodes", json, r#"{"metadata":{"name":"n2"}}"#.into(), 403),
        ("a Node by generateName", "POST", "/api/v1/nodes", json, r#"{"metadata":{"generateName":"n"}}"#.into(), 403),
        (
            "another Node through apply on its own URL",
            "PATCH",
            "/api/v1/nodes/n1?fieldManager=x",
            apply,
            r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"n2"}}"#.into(),
            422,
        ),
        ("renaming its Node", "PATCH", "/api/v1/nodes/n1", merge, r#"{"metadata":{"name":"n2"}}"#.into(), 422),
        (
            "its own Lease",
            "POST",
            "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
            json,
            r#"{"metadata":{"name":"n1"}}"#.into(),
            201,
        ),
        (
            "a Lease by generateName",
            "POST",
            "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
            json,
            r#"{"metadata":{"generateName":"n"}}"#.into(),
            403,
        ),
        ("a configmap its pod uses", "GET", "/api/v1/namespaces/default/configmaps/used", json, String::new(), 200),
        (
            "a configmap no pod of it uses",
            "GET",
            "/api/v1/namespaces/default/configmaps/other",
            json,
            String::new(),
            403,
        ),
        ("a secret its pod uses", "GET", "/api/v1/namespaces/default/secrets/used-s", json, String::new(), 200),
        ("a secret no pod of it uses", "GET", "/api/v1/namespaces/default/secrets/other-s", json, String::new(), 403),
        ("the list of secrets", "GET", "/api/v1/namespaces/default/secrets", json, String::new(), 403),
        // kubelet's way of following one object: a list (or watch) of just its name.
        (
            "a list of the one secret its pod uses",
            "GET",
            "/api/v1/namespaces/default/secrets?fieldSelector=metadata.name%3Dused-s",
            json,
            String::new(),
            200,
        ),
        (
            "a list of one secret no pod of it uses",
            "GET",
            "/api/v1/namespaces/default/secrets?fieldSelector=metadata.name%3Dother-s",
            json,
            String::new(),
            403,
        ),
        (
            "a list of secrets by another field",
            "GET",
            "/api/v1/namespaces/default/secrets?fieldSelector=type%3DOpaque",
            json,
            String::new(),
            403,
        ),
        (
            "a list of configmaps named this or that",
            "GET",
            "/api/v1/namespaces/default/configmaps?fieldSelector=metadata.name%3Dused%2Cmetadata.name%3Dother",
            json,
            String::new(),
            403,
        ),
        (
            "a claim its pod uses",
            "GET",
            "/api/v1/namespaces/default/persistentvolumeclaims/used-c",
            json,
            String::new(),
            200,
        ),
        (
            "a claim no pod of it uses",
            "GET",
            "/api/v1/namespaces/default/persistentvolumeclaims/other-c",
            json,
            String::new(),
            403,
        ),
        ("the list of claims", "GET", "/api/v1/namespaces/default/persistentvolumeclaims", json, String::new(), 403),
        ("the list of volumes", "GET", "/api/v1/persistentvolumes", json, String::new(), 200),
        (
            "a volume provisioned on it",
            "PATCH",
            "/api/v1/persistentvolumes/mine",
            merge,
            r#"{"metadata":{"labels":{"x":"y"}}}"#.into(),
            200,
        ),
        (
            "a volume provisioned on another node",
            "PATCH",
            "/api/v1/persistentvolumes/theirs",
            merge,
            r#"{"metadata":{"labels":{"x":"y"}}}"#.into(),
            403,
        ),
        (
            "a volume made by hand on it",
            "PATCH",
            "/api/v1/persistentvolumes/by-hand",
            merge,
            r#"{"metadata":{"labels":{"x":"y"}}}"#.into(),
            403,
        ),
        ("deleting a volume provisioned on it", "DELETE", "/api/v1/persistentvolumes/mine", json, String::new(), 403),
        ("an event about its pod", "POST", "/api/v1/namespaces/default/events", json, event("Pod", "p1"), 201),
        ("an event about its Node", "POST", "/api/v1/namespaces/default/events", json, event("Node", "n1"), 201),
        (
            "an event about another node's pod",
            "POST",
            "/api/v1/namespaces/default/events",
            json,
            event("Pod", "p2"),
            403,
        ),
        (
            "patching an event",
            "PATCH",
            "/api/v1/namespaces/default/events/e-p1",
            merge,
            r#"{"message":"x"}"#.into(),
            403,
        ),
        (
            "the status of its pod",
            "PATCH",
            "/api/v1/namespaces/default/pods/p1/status",
            merge,
            r#"{"status":{"phase":"Running"}}"#.into(),
            200,
        ),
        (
            "the status of another node's pod",
            "PATCH",
            "/api/v1/namespaces/default/pods/p2/status",
            merge,
            r#"{"status":{"phase":"Running"}}"#.into(),
            403,
        ),
    ];
    for (what, method, path, content_type, body, expected) in cases {
        assert_eq!(send(as_n1, method, path, content_type, &body), expected, "node n1: {what}");
    }
}

/// Watches held open by one identity are capped; past the cap a watch is a 429 with Retry-After, other
/// identities are served, and a closed watch frees its slot.
#[test]
fn watches_are_capped_per_identity() {
    use http_body_util::Full;
    use kubeboot::apiclient::ApiClient;
    use kubeboot::bootstrap::kubeconfig::Kubeconfig;
    use kubeboot::control_plane::api::watch_quota::MAX_WATCHES_PER_IDENTITY;

    let s = common::api::start();
    let server = format!("https://127.0.0.1:{}", s.port);
    let node = s.state.ca.issue_client("system:node:n1", &["system:nodes"]).unwrap();
    let node_client = |_: usize| {
        let conf = Kubeconfig::with_user("t", &server, &s.ca_pem, "n1", &node.cert_pem, &node.key_pem);
        ApiClient::from_kubeconfig(&conf).unwrap()
    };
    let admin = {
        let conf = Kubeconfig::with_user("t", &server, &s.ca_pem, "admin", &s.admin.0, &s.admin.1);
        ApiClient::from_kubeconfig(&conf).unwrap()
    };
    async fn watch(client: &ApiClient) -> hyper::Response<hyper::body::Incoming> {
        let request = axum::http::Request::get("/api/v1/namespaces/default/pods?watch=1&timeoutSeconds=60")
            .body(Full::new(axum::body::Bytes::new()))
            .unwrap();
        client.send_request(request).await.unwrap()
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let clients: Vec<ApiClient> = (0..MAX_WATCHES_PER_IDENTITY).map(node_client).collect();
        let mut open = Vec::new();
        for client in &clients {
            let response = watch(client).await;
            assert_eq!(response.status(), 200);
            open.push(response);
        }
        let refused = watch(&clients[0]).await;
        assert_eq!(refused.status(), 429, "watch number {} of one node", MAX_WATCHES_PER_IDENTITY + 1);
        assert_eq!(refused.headers()["retry-after"], "1");
        assert_eq!(watch(&admin).await.status(), 200, "an admin still watches");
        drop(open.pop());
        // The server notices the closed connection when it next writes; a pod write makes it write.
        let pod = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"i"}]}}"#;
        let created = admin.request("POST", "/api/v1/namespaces/default/pods", Some(pod.as_bytes().to_vec()), None).await;
        assert_eq!(created.unwrap().status, 201);
        let mut freed = false;
        for _ in 0..50 {
            if watch(&clients[0]).await.status() == 200 {
                freed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(freed, "a closed watch gives its slot back");
    });
}

/// A node certificate stops working when its node joins again under the same name (the TLS bootstrap
/// issues a new one) or when an admin revokes the node's credentials (`reset -i`); nodes cannot revoke.
#[test]
fn an_old_or_revoked_node_certificate_is_refused() {
    let s = common::api::start();
    let admin = (s.file("admin.pem", &s.admin.0), s.file("admin-key.pem", &s.admin.1));
    let admin = Some((admin.0.as_path(), admin.1.as_path()));
    let join = |n: usize| {
        let (csr, key) = node_csr("n1").unwrap();
        let body = serde_json::json!({"nodeName": "n1", "csr": csr}).to_string();
        let auth = format!("Authorization: Bearer {}", common::api::TOKEN);
        let args = ["-X", "POST", "-H", &auth, "-H", "Content-Type: application/json", "--data", &body];
        let (code, answer) = s.curl("/kubeboot/v1/node-certificates", None, &args);
        assert_eq!(code, 201, "{answer}");
        let cert: Value = serde_json::from_str(&answer).unwrap();
        (
            s.file(&format!("n1-{n}.pem"), cert["certificate"].as_str().unwrap()),
            s.file(&format!("n1-{n}-key.pem"), &key),
        )
    };
    let first = join(1);
    let as_first = Some((first.0.as_path(), first.1.as_path()));
    assert_eq!(s.curl("/api/v1/nodes", as_first, &[]).0, 200);
    let second = join(2);
    let as_second = Some((second.0.as_path(), second.1.as_path()));
    assert_eq!(s.curl("/api/v1/nodes", as_first, &[]).0, 401, "the certificate of before the re-join");
    assert_eq!(s.curl("/api/v1/nodes", as_second, &[]).0, 200);
    let revoke = ["-X", "DELETE"];
    assert_eq!(s.curl("/kubeboot/v1/node-credentials/n2", as_second, &revoke).0, 403, "a node cannot revoke");
    let (code, body) = s.curl("/kubeboot/v1/node-credentials/n1", admin, &revoke);
    assert_eq!(code, 200, "{body}");
    assert_eq!(s.curl("/api/v1/nodes", as_second, &[]).0, 401, "revoked");
    assert_eq!(s.curl("/api/v1/nodes", admin, &[]).0, 200, "admins are untouched");
}

/// The API client keeps its connections alive: thirty requests of one client cost one or two TLS
/// handshakes on the server, not thirty (an agent's heartbeats and status writes reuse them).
#[test]
fn one_client_reuses_its_connections() {
    use kubeboot::apiclient::ApiClient;
    use kubeboot::bootstrap::kubeconfig::Kubeconfig;

    let s = common::api::start();
    let server = format!("https://127.0.0.1:{}", s.port);
    let conf = Kubeconfig::with_user("t", &server, &s.ca_pem, "admin", &s.admin.0, &s.admin.1);
    let admin = ApiClient::from_kubeconfig(&conf).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let handshakes = |client: &ApiClient| {
        let metrics = rt.block_on(client.request("GET", "/metrics", None, None)).unwrap();
        let text = String::from_utf8_lossy(&metrics.body).into_owned();
        text.lines().find_map(|l| l.strip_prefix("kubeboot_tls_handshakes_total ")).unwrap().parse::<u64>().unwrap()
    };
    let before = handshakes(&admin);
    for _ in 0..30 {
        let reply = rt.block_on(admin.request("GET", "/api/v1/namespaces/default", None, None)).unwrap();
        assert_eq!(reply.status, 200);
    }
    let after = handshakes(&admin);
    assert!(after - before <= 2, "30 requests took {} handshakes", after - before);
    // A second client is a connection of its own.
    let other = ApiClient::from_kubeconfig(&conf).unwrap();
    assert!(handshakes(&other) > after, "a new client connects anew");
}
