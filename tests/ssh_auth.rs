//! Every way to authenticate, and become, through the real binary (`kubeboot ping --output json`) against a
//! real sshd: the facts' `user` says who the commands ran as.

mod common;

use std::path::Path;

use common::{kubeboot, make_key, write_inventory, Agent, Sshd};

/// Run ping with HOME in `dir` (so no default key of the machine is used) and return (exit, json, stderr).
fn ping(dir: &Path, inventory: &Path, envs: &[(&str, &str)]) -> (i32, serde_json::Value, String) {
    let home = dir.to_str().unwrap();
    let mut all = vec![("HOME", home)];
    all.extend_from_slice(envs);
    let out = kubeboot(&["ping", "-i", inventory.to_str().unwrap(), "--output", "json"], &all);
    let json = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code().unwrap_or(-1), json, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn user_of(json: &serde_json::Value) -> &str {
    json["hosts"]["m1"]["facts"]["user"].as_str().unwrap_or("")
}

fn error_of(json: &serde_json::Value) -> &str {
    json["hosts"]["m1"]["error"].as_str().unwrap_or("")
}

#[test]
fn private_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let key = make_key(dir.path(), "id", "");
    let sshd = Sshd::start(&[("root", &key.with_extension("pub"))]);
    let inv = write_inventory(dir.path(), sshd.port, &format!("  private_key: {}\n", key.display()));
    let (code, json, stderr) = ping(dir.path(), &inv, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(user_of(&json), "root");
    assert_eq!(json["hosts"]["m1"]["reachable"], true);
}

#[test]
fn encrypted_key_with_passphrase_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let key = make_key(dir.path(), "id", "correct horse");
    let sshd = Sshd::start(&[("root", &key.with_extension("pub"))]);
    let inv = write_inventory(dir.path(), sshd.port, &format!("  private_key: {}\n", key.display()));

    let (code, json, stderr) = ping(dir.path(), &inv, &[("KUBEBOOT_KEY_PASSPHRASE", "correct horse")]);
    assert_eq!((code, user_of(&json)), (0, "root"), "{stderr}");

    let (code, json, _) = ping(dir.path(), &inv, &[("KUBEBOOT_KEY_PASSPHRASE", "wrong")]);
    assert_eq!(code, 1);
    assert!(error_of(&json).contains("wrong passphrase"), "{json}");
    assert!(!json.to_string().contains("wrong\""), "the passphrase must not be echoed");

    let (code, json, _) = ping(dir.path(), &inv, &[]);
    assert_eq!(code, 1);
    assert!(error_of(&json).contains("the key is encrypted: set $KUBEBOOT_KEY_PASSPHRASE"), "{json}");
}

#[test]
fn ssh_agent() {
    let dir = tempfile::tempdir().unwrap();
    let key = make_key(dir.path(), "agent_key", "");
    let agent = Agent::start(dir.path(), &key);
    let sshd = Sshd::start(&[("root", &key.with_extension("pub"))]);
    // No private_key in the inventory and none in $HOME: only the agent can get us in.
    let inv = write_inventory(dir.path(), sshd.port, "");
    std::fs::remove_file(&key).unwrap();
    let (code, json, stderr) = ping(dir.path(), &inv, &[("SSH_AUTH_SOCK", agent.socket.to_str().unwrap())]);
    assert_eq!((code, user_of(&json)), (0, "root"), "{stderr} {json}");

    let (code, json, _) = ping(dir.path(), &inv, &[]);
    assert_eq!(code, 1);
    assert!(error_of(&json).contains("authentication as root failed"), "{json}");
}

#[test]
fn password_from_the_environment() {
    common::ensure_test_users();
    let dir = tempfile::tempdir().unwrap();
    let sshd = Sshd::start(&[]);
    let inv = write_inventory(
        dir.path(),
        sshd.port,
        &format!("  user: {}\n  password_env: KB_TEST_PW\n", common::PASSWORD_USER),
    );
    let (code, json, stderr) = ping(dir.path(), &inv, &[("KB_TEST_PW", common::PASSWORD)]);
    assert_eq!((code, user_of(&json)), (0, common::PASSWORD_USER), "{stderr} {json}");

    let (code, json, _) = ping(dir.path(), &inv, &[("KB_TEST_PW", "not-the-password")]);
    assert_eq!(code, 1);
    assert!(error_of(&json).contains("tried: password"), "{json}");
    assert!(!json.to_string().contains("not-the-password"));
}

#[test]
fn become_with_a_sudo_password() {
    common::ensure_test_users();
    let dir = tempfile::tempdir().unwrap();
    let key = make_key(dir.path(), "id", "");
    let sshd = Sshd::start(&[(common::SUDO_USER, &key.with_extension("pub"))]);
    let lines = format!("  user: {}\n  private_key: {}\n  become: true\n", common::SUDO_USER, key.display());
    let inv = write_inventory(dir.path(), sshd.port, &lines);

    let (code, json, stderr) = ping(dir.path(), &inv, &[("KUBEBOOT_BECOME_PASSWORD", common::SUDO_PASSWORD)]);
    assert_eq!((code, user_of(&json)), (0, "root"), "{stderr} {json}");

    let (code, json, _) = ping(dir.path(), &inv, &[("KUBEBOOT_BECOME_PASSWORD", "bad-sudo-pw")]);
    assert_eq!(code, 1);
    assert!(error_of(&json).contains("sudo refused the become password"), "{json}");
    assert!(!json.to_string().contains("bad-sudo-pw"));

    let (code, json, _) = ping(dir.path(), &inv, &[]);
    assert_eq!(code, 1);
    assert!(error_of(&json).contains("sudo asks for a password: set $KUBEBOOT_BECOME_PASSWORD"), "{json}");
}

#[test]
fn become_uploads_root_owned_files_atomically() {
    use kubeboot::transport::{secrets, SshSession, SshTarget, Transport};
    common::ensure_test_users();
    let dir = tempfile::tempdir().unwrap();
    let key = make_key(dir.path(), "id", "");
    let sshd = Sshd::start(&[(common::SUDO_USER, &key.with_extension("pub"))]);
    let mut t = SshTarget::new("m1", "127.0.0.1", sshd.port);
    t.user = common::SUDO_USER.into();
    t.private_key = Some(key.clone());
    t.known_hosts_file = dir.path().join("known_hosts");
    t.become_root = true;
    t.become_password_env = "KB_TEST_BECOME_UPLOAD".into();
    secrets::remember("KB_TEST_BECOME_UPLOAD", common::SUDO_PASSWORD.into());
    let dest_dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dest_dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let dest = dest_dir.path().join("root-only.conf");
    // What a run killed mid-upload left: a staged copy of this file in /tmp (the only place the login user
    // can write), named by the target's hash.
    let key = kubeboot::bootstrap::pin::sha256_hex(dest.to_str().unwrap().as_bytes());
    let stale = format!("/tmp/.kubeboot-stage.{}.1-dead", &key[..16]);
    std::fs::write(&stale, "partial").unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let s = SshSession::connect(&t).await.unwrap();
        s.upload(b"secret: 1\n", dest.to_str().unwrap(), 0o600).await.unwrap();
        assert_eq!(s.read(dest.to_str().unwrap()).await.unwrap().as_deref(), Some(&b"secret: 1\n"[..]));
        s.close().await;
    });
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = std::fs::metadata(&dest).unwrap();
    assert_eq!((meta.uid(), meta.permissions().mode() & 0o777), (0, 0o600));
    let staged: Vec<String> = std::fs::read_dir("/tmp")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!(".kubeboot-stage.{}.", &key[..16])))
        .collect();
    assert!(staged.is_empty(), "staged copies left in /tmp: {staged:?}");
}
