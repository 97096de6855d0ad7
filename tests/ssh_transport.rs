//! The SSH transport against a real OpenSSH sshd on loopback: exec, concurrency, upload, host keys,
//! bastion, retries. Authentication methods are exercised through the real binary in ssh_auth.rs.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{make_key, Sshd};
use kubeboot::transport::{HostKeyPolicy, SshSession, SshTarget, Transport, TransportError};

fn target(port: u16, key: &Path, dir: &Path) -> SshTarget {
    let mut t = SshTarget::new("m1", "127.0.0.1", port);
    t.private_key = Some(key.to_path_buf());
    t.private_key_explicit = true;
    t.known_hosts_file = dir.join("known_hosts");
    t
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap()
}

struct Fixture {
    client: tempfile::TempDir,
    key: std::path::PathBuf,
    sshd: Sshd,
}

fn fixture() -> Fixture {
    let client = tempfile::tempdir().unwrap();
    let key = make_key(client.path(), "id_ed25519", "");
    let sshd = Sshd::start(&[("root", &key.with_extension("pub"))]);
    Fixture { client, key, sshd }
}

#[test]
fn exec_returns_stdout_stderr_and_exit_status() {
    let f = fixture();
    runtime().block_on(async {
        let s = SshSession::connect(&target(f.sshd.port, &f.key, f.client.path())).await.unwrap();
        let out = s.exec("echo out; echo err >&2; exit 3").await.unwrap();
        assert_eq!((out.stdout_text().as_str(), out.stderr_text().as_str(), out.exit_status), ("out\n", "err\n", 3));
        let out = s.exec_with_stdin("tr a-z A-Z", b"hello").await.unwrap();
        assert_eq!(out.stdout_text(), "HELLO");
        let out = s.exec("kill -TERM $$").await.unwrap();
        assert_eq!(out.exit_status, 128 + 15, "a signal death is reported as 128+N");
        s.close().await;
    });
}

#[test]
fn many_commands_share_one_connection_concurrently() {
    let f = fixture();
    let barrier = tempfile::tempdir().unwrap();
    let dir = barrier.path().display().to_string();
    const N: usize = 40;
    runtime().block_on(async {
        let s = SshSession::connect(&target(f.sshd.port, &f.key, f.client.path())).await.unwrap();
        // Each command waits until all N have started: run one after another, none could finish.
        let runs = (0..N).map(|i| {
            let (s, dir) = (&s, &dir);
            async move {
                let script = format!(
                    "touch {dir}/{i}; for t in $(seq 600); do [ $(ls {dir} | wc -l) -ge {N} ] && echo {i} && exit 0; sleep 0.05; done; exit 9"
                );
                s.exec(&script).await.unwrap()
            }
        });
        let outputs = futures::future::join_all(runs).await;
        for (i, out) in outputs.iter().enumerate() {
            assert_eq!((out.exit_status, out.stdout_text()), (0, format!("{i}\n")), "command {i} never saw the others");
        }
        s.close().await;
    });
    let accepted = f.sshd.log().matches("Accepted publickey").count();
    assert_eq!(accepted, 1, "one connection for all commands");
}

#[test]
fn upload_10_mb_keeps_bytes_and_mode_atomically() {
    let f = fixture();
    let dest_dir = tempfile::tempdir().unwrap();
    let dest = dest_dir.path().join("blob.bin");
    let data: Vec<u8> = (0..10 * 1024 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    runtime().block_on(async {
        let s = SshSession::connect(&target(f.sshd.port, &f.key, f.client.path())).await.unwrap();
        std::fs::write(&dest, b"old contents").unwrap();
        // What a run killed mid-upload left beside the target.
        std::fs::write(dest_dir.path().join(".blob.bin.kubeboot-1-dead"), b"partial").unwrap();
        s.upload(&data, dest.to_str().unwrap(), 0o640).await.unwrap();
        let back = s.read(dest.to_str().unwrap()).await.unwrap().expect("file exists");
        assert!(back == data, "downloaded bytes differ from uploaded");
        assert_eq!(s.read(&format!("{}/missing", dest_dir.path().display())).await.unwrap(), None);
        s.close().await;
    });
    assert!(std::fs::read(&dest).unwrap() == data, "bytes on disk differ");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&dest).unwrap().permissions().mode() & 0o7777, 0o640);
    let leftovers: Vec<_> = std::fs::read_dir(dest_dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 1, "temp files left behind: {leftovers:?}");
}

#[test]
fn changed_host_key_is_refused_and_known_hosts_kept() {
    let mut f = fixture();
    let t = target(f.sshd.port, &f.key, f.client.path());
    runtime().block_on(async { SshSession::connect(&t).await.unwrap().close().await });
    let recorded = std::fs::read_to_string(&t.known_hosts_file).unwrap();
    assert_eq!(recorded.lines().count(), 1, "one line, no blank: {recorded:?}");
    assert!(
        recorded.starts_with(&format!("[127.0.0.1]:{} ssh-ed25519 ", f.sshd.port)),
        "accept-new records: {recorded}"
    );

    let accepted_before = f.sshd.log().matches("Accepted publickey").count();
    f.sshd.restart_with_new_host_key();
    for policy in [HostKeyPolicy::AcceptNew, HostKeyPolicy::Strict, HostKeyPolicy::Off] {
        let mut t = t.clone();
        t.host_key_policy = policy;
        let err = runtime().block_on(SshSession::connect(&t)).err().expect("a changed key must be refused");
        assert!(matches!(err, TransportError::HostKeyChanged { line: 1, .. }), "{policy:?}: {err}");
        let text = err.to_string();
        assert!(text.contains("HOST KEY CHANGED") && text.contains("ssh-keygen -f"), "{text}");
    }
    assert_eq!(std::fs::read_to_string(&t.known_hosts_file).unwrap(), recorded, "known_hosts must not change");
    let accepted_after = f.sshd.log().matches("Accepted publickey").count();
    assert_eq!(accepted_after, accepted_before, "no credentials sent to the changed host");
}

#[test]
fn strict_refuses_unknown_hosts() {
    let f = fixture();
    let mut t = target(f.sshd.port, &f.key, f.client.path());
    t.host_key_policy = HostKeyPolicy::Strict;
    let err = runtime().block_on(SshSession::connect(&t)).err().expect("unknown host refused");
    assert!(matches!(err, TransportError::HostKeyUnknown { .. }), "{err}");
    assert!(!t.known_hosts_file.exists(), "strict never writes known_hosts");
}

#[test]
fn bastion_hop_reaches_the_target_through_direct_tcpip() {
    let f = fixture();
    let bastion = Sshd::start(&[("root", &f.key.with_extension("pub"))]);
    let mut t = target(f.sshd.port, &f.key, f.client.path());
    t.bastion = Some(Box::new(target(bastion.port, &f.key, f.client.path())));
    runtime().block_on(async {
        let s = SshSession::connect(&t).await.unwrap();
        assert_eq!(s.exec("echo through").await.unwrap().stdout_text(), "through\n");
        s.close().await;
    });
    let log = bastion.log();
    assert!(
        log.contains("direct-tcpip") && log.contains(&format!("port {}", f.sshd.port)),
        "the bastion did not forward to the target:\n{log}"
    );
}

#[test]
fn wrong_key_fails_once_without_retry() {
    let f = fixture();
    let other = make_key(f.client.path(), "other_key", "");
    let err = runtime().block_on(SshSession::connect(&target(f.sshd.port, &other, f.client.path()))).err().unwrap();
    assert!(matches!(err, TransportError::AuthFailed { .. }), "{err}");
    std::thread::sleep(Duration::from_millis(300));
    let connections = f.sshd.log().matches("Connection from 127.0.0.1").count();
    assert_eq!(connections, 1, "authentication failures are never retried:\n{}", f.sshd.log());
}

#[test]
fn connection_refused_is_retried_until_the_host_is_up() {
    let client = tempfile::tempdir().unwrap();
    let key = make_key(client.path(), "id_ed25519", "");
    let port = common::free_port();
    let mut sshd = Sshd::prepare(port, &[("root", &key.with_extension("pub"))]);
    let t = target(port, &key, client.path());
    let rt = runtime();
    let connecting = rt.spawn(async move { SshSession::connect(&t).await.map(|_| ()) });
    std::thread::sleep(Duration::from_millis(1200));
    sshd.launch();
    rt.block_on(connecting).unwrap().expect("connect succeeds once sshd listens");
}

#[test]
fn unreachable_port_gives_a_clear_error() {
    let client = tempfile::tempdir().unwrap();
    let key = make_key(client.path(), "id_ed25519", "");
    let t = target(common::free_port(), &key, client.path());
    let err = runtime().block_on(SshSession::connect(&t)).err().unwrap();
    assert!(err.is_unreachable(), "{err}");
    assert!(err.to_string().contains("cannot connect to 127.0.0.1:"), "{err}");
}

#[test]
fn known_host_presenting_another_key_type_is_refused() {
    let mut f = fixture();
    let t = target(f.sshd.port, &f.key, f.client.path());
    runtime().block_on(async { SshSession::connect(&t).await.unwrap().close().await });
    let recorded = std::fs::read_to_string(&t.known_hosts_file).unwrap();
    assert!(recorded.contains(" ssh-ed25519 "), "{recorded}");
    let original = f.sshd.host_key.clone();

    // A host that has keys of two types: the one recorded is asked for first, so it connects as before.
    f.sshd.stop();
    let rsa = f.sshd.dir.path().join("extra_rsa_key");
    common::run("ssh-keygen", &["-q", "-t", "rsa", "-N", "", "-f", rsa.to_str().unwrap()]);
    f.sshd.extra_host_keys = vec![rsa];
    f.sshd.host_key = original;
    f.sshd.launch();
    runtime().block_on(async { SshSession::connect(&t).await.unwrap().close().await });
    assert_eq!(std::fs::read_to_string(&t.known_hosts_file).unwrap(), recorded, "nothing new recorded");

    // A man in the middle with only an RSA key: refused under accept-new, nothing recorded, nothing sent.
    let accepted_before = f.sshd.log().matches("Accepted publickey").count();
    f.sshd.restart_with_host_key_types(&["rsa"]);
    let err = runtime().block_on(SshSession::connect(&t)).err().expect("a new key type from a known host is refused");
    assert!(matches!(err, TransportError::HostKeyChanged { line: 1, .. }), "{err}");
    assert_eq!(std::fs::read_to_string(&t.known_hosts_file).unwrap(), recorded, "known_hosts must not change");
    assert_eq!(f.sshd.log().matches("Accepted publickey").count(), accepted_before, "no credentials sent");
}
