//! `up` killed with SIGKILL at random points of init and join, 20 times, on three lab hosts (issue 14,
//! item 9). Each round resets the cluster, starts `up`, and at a random moment kills it together with the
//! `kubeboot init` / `join` / `token` processes it started on the hosts (a crash, or a power cut, of the
//! whole run). Then, on every host:
//! - no file is partial: every certificate and key under /etc/kubeboot parses, every kubeconfig parses;
//! - no secret, and no temp file of one, is readable by group or others;
//! - a rerun of `up` converges to 3 Ready nodes, keeps the CA the killed run wrote, and leaves no temp or
//!   staged file anywhere.
//!
//! The kill points are spread over the time an unkilled `up` takes from reset hosts, one per twentieth of
//! it, at a random place inside each; KUBEBOOT_KILL_SEED replays a run's points. Takes the lab down at
//! the end.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{kubeboot, lab_sh};

const HOSTS: [&str; 3] = ["lab-master", "lab-node1", "lab-node2"];
const ROUNDS: u32 = 20;

/// xorshift64*: enough randomness for kill points, and a seed that replays them.
struct Points(u64);

impl Points {
    fn next_fraction(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn reset(inv: &str) {
    let out = kubeboot(&["reset", "-i", inv], &[]);
    assert!(
        out.status.success(),
        "reset: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `up` to the end: its exit code and what it printed.
fn up(inv: &str) -> (Option<i32>, String) {
    let out = kubeboot(&["up", "-i", inv], &[]);
    (out.status.code(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

fn all_ready(printed: &str) -> bool {
    HOSTS.iter().all(|h| printed.lines().any(|l| l.starts_with(h) && l.split_whitespace().nth(1) == Some("Ready")))
}

/// The run's halves on the hosts, ended by their process ids (all started by this test's `up`).
fn kill_remote_halves(host: &str) -> String {
    lab_sh(host, "for p in $(pgrep -f '^/usr/local/bin/kubeboot (init|join|token)'); do kill -9 $p && echo $p; done")
}

/// How long after its start `kubeboot init` may be killed on the master: its files are written within about
/// 50 ms of it being seen (debug build), then it starts the units and waits for the API.
const INIT_WINDOW: Duration = Duration::from_millis(60);
/// The same for `kubeboot join` on a node (the handshake, agent.conf, the agent unit).
const JOIN_WINDOW: Duration = Duration::from_millis(150);

/// A script for a host: wait (up to `limit`) for `kubeboot init` or `join` to start, then SIGKILL it
/// `delay` later; prints `killed PID` when it was still running.
fn killer(delay: Duration, limit: Duration) -> String {
    format!(
        "end=$(( $(date +%s%N) + {limit} )); p=''; \
         while [ -z \"$p\" ]; do p=$(pgrep -f '^/usr/local/bin/kubeboot (init|join) ' | head -n1); \
         [ $(date +%s%N) -gt $end ] && exit 0; done; \
         sleep {delay:.3}; kill -9 $p 2>/dev/null && echo killed $p; true",
        limit = limit.as_nanos(),
        delay = delay.as_secs_f64(),
    )
}

/// Files under the host's kubeboot folders with their modes (pods' volumes left out).
fn files(host: &str) -> Vec<(u32, String)> {
    lab_sh(
        host,
        "find /etc/kubeboot /var/lib/kubeboot -type f -not -path '/var/lib/kubeboot/pods/*' -printf '%m %p\\n' 2>/dev/null",
    )
    .lines()
    .filter_map(|l| {
        let (mode, path) = l.split_once(' ')?;
        Some((u32::from_str_radix(mode, 8).ok()?, path.to_string()))
    })
    .collect()
}

/// The file a temp file stands for (`.ca.key.kubeboot-tmp.PID.X` -> `ca.key`), or None for a file in place.
fn temp_target(path: &str) -> Option<&str> {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.strip_prefix('.').and_then(|n| n.split_once(".kubeboot-")).map(|(target, _)| target)
}

fn is_secret(name: &str) -> bool {
    [".key", ".conf", ".redb"].iter().any(|s| name.ends_with(s))
}

/// What is wrong with the host's files now: partial ones, readable secrets or temp files.
fn problems(host: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (mode, path) in files(host) {
        // A temp file has its target's mode from its creation: a secret's is never readable by others.
        let target = temp_target(&path);
        if is_secret(target.unwrap_or(&path)) && mode & 0o077 != 0 {
            found.push(format!("{path} is readable by others: {mode:o}"));
        }
        if target.is_some() {
            continue;
        }
        let complete = if path.ends_with(".crt") {
            lab_sh(host, &format!("openssl x509 -noout -in {path} && echo ok")) == "ok\n"
        } else if path.ends_with(".key") {
            lab_sh(host, &format!("openssl pkey -noout -in {path} && echo ok")) == "ok\n"
        } else if path.ends_with(".conf") {
            let text = lab_sh(host, &format!("cat {path}"));
            kubeboot::bootstrap::kubeconfig::Kubeconfig::parse(&text)
                .is_ok_and(|k| k.first_cluster().is_ok() && k.first_user_credentials().is_ok())
        } else if path.ends_with(".yaml") {
            let text = lab_sh(host, &format!("cat {path}"));
            kubeboot::yaml::from_str::<serde_json::Value>(&text).is_ok_and(|v| v.is_object())
        } else {
            true
        };
        if !complete {
            found.push(format!("{path} is partial"));
        }
    }
    found
}

fn leftovers(host: &str) -> String {
    lab_sh(
        host,
        r"find /etc /usr/local/bin /var/lib/kubeboot /tmp \( -name '*.kubeboot-tmp*' -o -name '.*.kubeboot-*' -o -name '.kubeboot-stage.*' \) 2>/dev/null",
    )
}

fn ca(host: &str) -> String {
    lab_sh(host, "cat /etc/kubeboot/pki/ca.crt 2>/dev/null")
}

#[test]
fn up_killed_at_random_points_of_init_and_join_converges_every_time() {
    let work = tempfile::tempdir().unwrap();
    let inv_path = work.path().join("lab.yaml");
    let inv = inv_path.to_str().unwrap();
    common::fresh_lab(3, inv);
    let (code, printed) = up(inv);
    assert_eq!(code, Some(0), "the first up: {printed}");

    // How long `up` takes from reset hosts: the span the kill points are spread over.
    reset(inv);
    let start = Instant::now();
    let (code, printed) = up(inv);
    let span = start.elapsed();
    assert_eq!(code, Some(0), "up after reset: {printed}");
    assert!(all_ready(&printed), "{printed}");

    let seed = std::env::var("KUBEBOOT_KILL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1
    });
    eprintln!("kill points: KUBEBOOT_KILL_SEED={seed}, over {span:?}");
    let mut points = Points(seed);
    for round in 0..ROUNDS {
        reset(inv);
        // Rounds 1, 5, 9, … kill `kubeboot init` on the master and rounds 3, 7, … `kubeboot join` on the
        // nodes, a random time after each starts, timed on the host itself (an SSH round trip is longer than
        // init's file writes); the other rounds kill the whole run.
        let (targets, window): (&[&str], Duration) = match round % 4 {
            1 => (&HOSTS[..1], INIT_WINDOW),
            3 => (&HOSTS[1..], JOIN_WINDOW),
            _ => (&[], Duration::ZERO),
        };
        let on_hosts = !targets.is_empty();
        let at = span.mul_f64((round as f64 + points.next_fraction()) / ROUNDS as f64);
        let delays: Vec<Duration> = targets.iter().map(|_| window.mul_f64(points.next_fraction())).collect();
        let killers: Vec<_> = targets
            .iter()
            .zip(&delays)
            .map(|(h, delay)| {
                let script = killer(*delay, span + Duration::from_secs(2));
                (*h, std::thread::spawn(move || lab_sh(h, &script)))
            })
            .collect();
        if on_hosts {
            std::thread::sleep(Duration::from_millis(300)); // armed before the run starts
        }
        let mut run = Command::new(env!("CARGO_BIN_EXE_kubeboot"))
            .args(["up", "-i", inv])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let killed: Vec<usize> = if on_hosts {
            let counts: Vec<(&str, usize)> = killers
                .into_iter()
                .map(|(h, k)| (h, k.join().unwrap().lines().filter(|l| l.starts_with("killed")).count()))
                .collect();
            std::thread::sleep(Duration::from_millis(500));
            run.kill().unwrap();
            run.wait().unwrap();
            HOSTS.iter().map(|h| counts.iter().find(|(t, _)| t == h).map_or(0, |(_, n)| *n)).collect()
        } else {
            std::thread::sleep(at);
            run.kill().unwrap(); // SIGKILL
            run.wait().unwrap();
            HOSTS.iter().map(|h| kill_remote_halves(h).split_whitespace().count()).collect()
        };
        // Where the kill landed, per host: the processes ended there and the files the run had written.
        let state: Vec<String> = HOSTS
            .iter()
            .zip(&killed)
            .map(|(h, pids)| {
                let written: Vec<String> =
                    files(h).into_iter().map(|(_, p)| p.rsplit('/').next().unwrap_or_default().to_string()).collect();
                format!("{h}: {pids} killed, {written:?}")
            })
            .collect();
        let when = if on_hosts {
            format!("kubeboot init/join killed on {targets:?} {delays:?} after it started")
        } else {
            format!("the run killed {at:?} after it started")
        };
        let what = format!("round {round}, {when} (seed {seed}), leaving {state:?}");

        let mut cas = Vec::new();
        for host in HOSTS {
            let found = problems(host);
            assert!(found.is_empty(), "{what}: {host}: {found:?}");
            cas.push(ca(host));
        }

        let (code, printed) = up(inv);
        assert_eq!(code, Some(0), "{what}: the rerun: {printed}");
        assert!(all_ready(&printed), "{what}: {printed}");
        for (host, ca_before) in HOSTS.iter().zip(&cas) {
            let found = problems(host);
            assert!(found.is_empty(), "{what}: after the rerun, {host}: {found:?}");
            assert_eq!(leftovers(host), "", "{what}: {host}: temp or staged files left after the rerun");
            if !ca_before.is_empty() {
                assert_eq!(&ca(host), ca_before, "{what}: {host}: the rerun replaced the CA the killed run wrote");
            }
        }
        eprintln!("{what}: converged");
    }
    let _ = kubeboot(&["lab", "down"], &[]);
}
