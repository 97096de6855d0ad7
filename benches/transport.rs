//! Exec round trips on one host: kubeboot's russh transport vs OpenSSH `ssh`, with and without
//! ControlMaster, against the same real sshd on loopback, in one run. Prints figures; asserts nothing.
//!
//!     cargo bench --bench transport [-- COMMANDS]      (default 200)

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kubeboot::transport::{SshSession, SshTarget, Transport};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let count: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(200);
    let dir = tempfile::tempdir().unwrap();
    let key = common::make_key(dir.path(), "id", "");
    // A user whose login shell is plain /bin/sh: root's shell on this kind of machine runs rc files
    // (pyenv init) that cost ~150 ms per command and would measure the rc files, not the transport.
    common::ensure_test_users();
    let user = common::PASSWORD_USER;
    let sshd = common::Sshd::start(&[(user, &key.with_extension("pub"))]);
    let known_hosts = dir.path().join("known_hosts");

    // kubeboot: one connection, one channel per command.
    let mut target = SshTarget::new("bench", "127.0.0.1", sshd.port);
    target.private_key = Some(key.clone());
    target.user = user.into();
    target.known_hosts_file = known_hosts.clone();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let (connect, kubeboot_total, kubeboot_median) = rt.block_on(async {
        let started = Instant::now();
        let session = SshSession::connect(&target).await.unwrap();
        let connect = started.elapsed();
        let mut rounds = Vec::with_capacity(count);
        let started = Instant::now();
        for _ in 0..count {
            let t = Instant::now();
            let out = session.exec("true").await.unwrap();
            assert!(out.success());
            rounds.push(t.elapsed());
        }
        let total = started.elapsed();
        session.close().await;
        (connect, total, median(rounds))
    });

    let ssh_base = |extra: &[&str]| {
        let mut cmd = Command::new("ssh");
        cmd.args(["-i", key.to_str().unwrap(), "-p", &sshd.port.to_string()])
            .args(["-o", &format!("UserKnownHostsFile={}", known_hosts.display())])
            .args(["-o", "StrictHostKeyChecking=accept-new", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR"])
            .args(extra)
            .stdin(Stdio::null());
        cmd
    };
    let time_ssh = |extra: &[&str]| {
        let mut rounds = Vec::with_capacity(count);
        let started = Instant::now();
        for _ in 0..count {
            let t = Instant::now();
            let status = ssh_base(extra).args([&format!("{user}@127.0.0.1"), "true"]).status().unwrap();
            assert!(status.success());
            rounds.push(t.elapsed());
        }
        (started.elapsed(), median(rounds))
    };

    let (plain_total, plain_median) = time_ssh(&[]);

    let socket = dir.path().join("cm.sock");
    let socket_opt = format!("ControlPath={}", socket.display());
    let master = ssh_base(&["-o", "ControlMaster=yes", "-o", &socket_opt, "-N", "-f", &format!("{user}@127.0.0.1")])
        .status()
        .unwrap();
    assert!(master.success(), "ControlMaster did not start");
    let (cm_total, cm_median) = time_ssh(&["-o", &socket_opt]);
    let _ = ssh_base(&["-o", &socket_opt, "-O", "exit", &format!("{user}@127.0.0.1")]).stderr(Stdio::null()).status();

    println!("exec round trips on one host (sshd on loopback, user {user}), {count} sequential `true` commands");
    println!("{:<42} {:>12} {:>14}", "client", "median", "total");
    println!(
        "{:<42} {:>12} {:>14}",
        "kubeboot transport (russh, 1 connection)",
        ms(kubeboot_median),
        ms(kubeboot_total)
    );
    println!("{:<42} {:>12} {:>14}", "OpenSSH ssh + ControlMaster", ms(cm_median), ms(cm_total));
    println!("{:<42} {:>12} {:>14}", "OpenSSH ssh, new connection each", ms(plain_median), ms(plain_total));
    println!("kubeboot connect + auth: {}", ms(connect));
    println!(
        "kubeboot vs ControlMaster: {:.1}x faster in total",
        cm_total.as_secs_f64() / kubeboot_total.as_secs_f64()
    );
}
