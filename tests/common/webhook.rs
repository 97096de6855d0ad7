//! The test webhook (tests/tools/admission_webhook.rs) started on loopback under a CA of its own, whose
//! certificate the webhook configurations give as their caBundle; ended (by its pid) when dropped.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};

pub struct TestWebhook {
    child: Child,
    pub port: u16,
    /// The CA's certificate, base64 as a caBundle is written.
    pub ca_bundle: String,
}

impl TestWebhook {
    /// Start it with its certificate and key written into `dir`.
    pub fn start(dir: &Path) -> TestWebhook {
        let (ca, _) = kubeboot::bootstrap::pki::ClusterCa::generate("test-webhook-ca").unwrap();
        let serving = ca.issue_serving("test-webhook", &["127.0.0.1".into()]).unwrap();
        let (cert, key) = (dir.join("webhook.crt"), dir.join("webhook.key"));
        std::fs::write(&cert, &serving.cert_pem).unwrap();
        std::fs::write(&key, &serving.key_pem).unwrap();
        let port = super::free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_test-admission-webhook"))
            .arg(format!("127.0.0.1:{port}"))
            .args([&cert, &key])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        super::wait_for("the test webhook listening", Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        let ca_bundle = base64::engine::general_purpose::STANDARD.encode(ca.cert_pem());
        TestWebhook { child, port, ca_bundle }
    }

    /// A webhook's clientConfig calling `path` on it.
    pub fn client_config(&self, path: &str) -> Value {
        json!({"url": format!("https://127.0.0.1:{}{path}", self.port), "caBundle": self.ca_bundle})
    }
}

impl Drop for TestWebhook {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
