//! Certificates that renew themselves (issue 29): a master made by `kubeboot init` with a certificate
//! lifetime of 90 s, its server running. `kubeboot certs check-expiration` prints kubeadm's table and
//! JSON; the server issues its own serving certificate again at two thirds of its lifetime and serves it
//! without a restart, then `certs renew all` renews everything (admin.conf works after), while the
//! official Python client lists namespaces every 100 ms over kept-alive connections: no request fails.
//! Needs openssl (the served certificate is read with `openssl s_client`) and the Python client.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

fn kubeboot(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kubeboot")).args(args).output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

/// The serial number of the certificate the server at `port` presents to a new connection.
fn served_serial(port: &str) -> String {
    let script =
        format!("openssl s_client -connect 127.0.0.1:{port} </dev/null 2>/dev/null | openssl x509 -noout -serial");
    let out = Command::new("sh").args(["-c", &script]).output().expect("openssl (apt-get install openssl)");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn certificates_are_reported_and_renewed_without_a_request_failing() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, data, port) = common::init_master_with(dir.path(), "cert-master", &["--certificate-validity", "90s"]);
    let config_dir = cfg.to_str().unwrap();
    let _server = common::Stopped(common::start_server(&cfg, &data, &port));
    common::wait_for("the server serving", Duration::from_secs(30), || served_serial(&port).starts_with("serial="));

    // kubeadm's table and JSON.
    let (code, table, err) = kubeboot(&["certs", "check-expiration", "--config-dir", config_dir]);
    assert_eq!(code, 0, "{err}");
    let header = table.lines().next().unwrap();
    for column in ["CERTIFICATE", "EXPIRES", "RESIDUAL TIME", "CERTIFICATE AUTHORITY", "EXTERNALLY MANAGED"] {
        assert!(header.contains(column), "{table}");
    }
    for row in ["admin.conf", "agent.conf", "apiserver "] {
        let line = table.lines().find(|l| l.starts_with(row)).unwrap_or_else(|| panic!("no {row}: {table}"));
        assert!(line.contains(" ca ") && line.trim_end().ends_with("no"), "{line}");
        assert!(line.contains("s ") || line.contains("1m "), "residual under 90 s: {line}");
    }
    assert!(table.lines().any(|l| l.starts_with("ca ") && (l.contains(" 10y ") || l.contains(" 9y "))), "{table}");
    let (_, json, _) = kubeboot(&["certs", "check-expiration", "--config-dir", config_dir, "-o", "json"]);
    let info: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(info["kind"], "CertificateExpirationInfo");
    let apiserver = info["certificates"].as_array().unwrap().iter().find(|c| c["name"] == "apiserver").unwrap();
    let residual = apiserver["residualTime"].as_i64().unwrap();
    assert!(residual > 0 && residual <= 90_000_000_000, "{apiserver}");
    assert_eq!((&apiserver["caName"], &apiserver["externallyManaged"]), (&Value::from("ca"), &Value::from(false)));

    // Bad input: exit 2, nothing touched.
    let (code, _, err) = kubeboot(&["certs", "renew", "nope", "--config-dir", config_dir]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no certificate named \"nope\"") && err.contains("apiserver"), "{err}");
    let (code, _, err) = kubeboot(&["certs", "check-expiration", "--config-dir", "/nonexistent"]);
    assert_eq!(code, 2, "{err}");

    // A client that keeps requesting throughout.
    let admin_conf = cfg.join("admin.conf");
    let client = common::python_client::script("steady_client.py", &admin_conf, dir.path(), &["75"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // The server renews its own certificate at two thirds of its 90 s (+ 9 s of clock slack).
    let first = served_serial(&port);
    let renewed_at =
        common::wait_for("the server's own renewal served", Duration::from_secs(80), || served_serial(&port) != first);
    eprintln!("served certificate renewed by the server {renewed_at:?} after the first check");
    let log = std::fs::read_to_string(common::server_log(&data)).unwrap();
    assert!(log.contains("certificate for serving the Kubernetes API renewed"), "{log}");
    assert!(log.contains("serving certificate now served"), "{log}");

    // kubeadm's `certs renew all`: everything issued again; admin.conf works with its new certificate.
    let admin_before = std::fs::read_to_string(&admin_conf).unwrap();
    let second = served_serial(&port);
    let (code, out, err) = kubeboot(&["certs", "renew", "all", "--config-dir", config_dir]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("certificate for serving the Kubernetes API renewed"), "{out}");
    assert!(out.contains("certificate embedded in the kubeconfig file for the admin"), "{out}");
    assert_ne!(std::fs::read_to_string(&admin_conf).unwrap(), admin_before);
    common::wait_for("the renewed certificate served", Duration::from_secs(10), || served_serial(&port) != second);
    let (code, _, err) = kubeboot(&["get", "nodes", "--kubeconfig", admin_conf.to_str().unwrap()]);
    assert_eq!(code, 0, "admin.conf after renewal: {err}");

    let out = client.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    let last = said.lines().last().unwrap_or_default().to_string();
    let numbers: Vec<u64> = last.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    assert!(
        numbers.len() == 2 && numbers[0] > 300 && numbers[1] == 0,
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("python client across two renewals: {last}");
}
