//! Every bad inventory under tests/inventories/bad is refused with exactly the message in its .expected
//! file, exit code 2, and no connection to the hosts it names.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

/// Listeners on the addresses the bad inventories name, all on one port, to catch any connection attempt.
fn listeners() -> (u16, Vec<TcpListener>) {
    let first = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let port = first.local_addr().unwrap().port();
    let mut all = vec![first];
    for addr in ["127.0.0.2", "127.0.0.3"] {
        all.push(TcpListener::bind((addr, port)).expect("bind loopback alias"));
    }
    for l in &all {
        l.set_nonblocking(true).unwrap();
    }
    (port, all)
}

#[test]
fn bad_inventories_fail_with_exact_messages_and_touch_no_host() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/inventories/bad");
    let (port, listeners) = listeners();
    let work = tempfile::tempdir().unwrap();
    let mut files: Vec<_> = std::fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 25, "the corpus must keep at least 25 bad inventories, has {}", files.len());

    let mut failures = Vec::new();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(file).unwrap().replace("{{PORT}}", &port.to_string());
        std::fs::write(work.path().join(&name), text).unwrap();
        let expected_path = file.with_extension("expected");
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|_| panic!("{} has no .expected file", name))
            .replace("{{PORT}}", &port.to_string());
        let out = Command::new(env!("CARGO_BIN_EXE_kubeboot"))
            .args(["ping", "-i", &name])
            .current_dir(work.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.code() != Some(2) || stderr != expected {
            failures.push(format!("{name}: exit {:?}\n  got:      {stderr}  expected: {expected}", out.status.code()));
        }
        assert!(out.stdout.is_empty(), "{name}: nothing may go to stdout on bad input");
    }
    for l in &listeners {
        assert!(l.accept().is_err(), "a bad inventory led to a connection on {}", l.local_addr().unwrap());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn unknown_limit_is_bad_input() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_kubeboot"))
        .args(["ping", "-i", "inventory.example.yaml", "--limit", "k8s-node9"])
        .current_dir(root)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: --limit names host \"k8s-node9\", which is not in inventory.example.yaml\n"
    );
}
