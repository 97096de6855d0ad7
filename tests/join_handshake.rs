//! The joining side against a real server: the right token and pin buy a node certificate that then
//! authenticates; a wrong pin, an unknown or expired token, or a guessed secret fail before any token or CSR
//! reaches the server; the token never shows in errors.

mod common;

use std::sync::atomic::Ordering;

use kubeboot::apiclient::{ApiClient, Trust};
use kubeboot::bootstrap::tls_bootstrap::join;
use kubeboot::bootstrap::token::BootstrapToken;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

#[test]
fn join_checks_pin_and_token_before_sending_anything() {
    let s = common::api::start();
    let server = format!("https://127.0.0.1:{}", s.port);
    let requests = || s.state.node_certificate_requests.load(Ordering::Relaxed);
    let token = BootstrapToken::parse(common::api::TOKEN).unwrap();

    let wrong_pin = format!("sha256:{}", "ab".repeat(32));
    let err = rt().block_on(join(&server, &token, &wrong_pin, "n1")).unwrap_err().to_string();
    assert!(err.contains("pin"), "{err}");
    for bad in ["qqqqqq.0123456789abcdef", common::api::EXPIRED, "abcdef.ffffffffffffffff"] {
        let t = BootstrapToken::parse(bad).unwrap();
        let err = rt().block_on(join(&server, &t, &s.pin, "n1")).unwrap_err().to_string();
        assert!(!err.contains(t.secret()), "the secret leaked into: {err}");
    }
    assert_eq!(requests(), 0, "no token or CSR may reach the server before discovery succeeds");

    let creds = rt().block_on(join(&server, &token, &s.pin, "n1")).unwrap();
    assert_eq!(requests(), 1);
    assert!(!format!("{creds:?}").contains("PRIVATE"));
    let client =
        ApiClient::new(&server, Trust::Ca(creds.ca_pem.clone()), Some((&creds.cert_pem, &creds.key_pem))).unwrap();
    let reply = rt().block_on(client.request("GET", "/api", None, None)).unwrap();
    assert_eq!(reply.status, 200, "the node certificate authenticates");
    let own = serde_json::json!({"metadata": {"name": "n1"}}).to_string().into_bytes();
    assert_eq!(rt().block_on(client.request("POST", "/api/v1/nodes", Some(own), None)).unwrap().status, 201);
    let other = serde_json::json!({"metadata": {"name": "n9"}}).to_string().into_bytes();
    assert_eq!(rt().block_on(client.request("POST", "/api/v1/nodes", Some(other), None)).unwrap().status, 403);

    // The agent's registration and heartbeat with those credentials make the node Ready.
    let node = kubeboot::agent::node_info::node_object("n1", "127.0.0.1", false);
    rt().block_on(kubeboot::agent::registration::register(&client, &node)).unwrap();
    rt().block_on(kubeboot::agent::registration::heartbeat(&client, "n1", &serde_json::json!({}))).unwrap();
    let stored = rt().block_on(client.request("GET", "/api/v1/nodes/n1", None, None)).unwrap().json();
    assert_eq!(kubeboot::resources::node::ready_status(&stored), Some("True"));
    // A node cannot heartbeat for another.
    let err = rt()
        .block_on(kubeboot::agent::registration::heartbeat(&client, "n9", &serde_json::json!({})))
        .unwrap_err()
        .to_string();
    assert!(err.contains("404"), "{err}");
}
