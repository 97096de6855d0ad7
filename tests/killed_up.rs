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

/// What a host holds now, read in one SSH round trip (the checks run after every kill and every rerun):
/// kubeboot's files with their modes (pods' volumes left out) and whether each certificate and key parses
/// (openssl, on the host), the text of each kubeconfig and YAML file (parsed here), the CA certificate,
/// and any temp or staged file left anywhere.
struct HostFiles {
    /// (mode, path, "ok" | "partial" | "text:BASE64").
    files: Vec<(u32, String, String)>,
    ca: String,
    leftovers: Vec<String>,
}

const READ_FILES: &str = r#"find /etc/kubeboot /var/lib/kubeboot -type f -not -path '/var/lib/kubeboot/pods/*' -printf '%m %p
' 2>/dev/null |
while read -r mode path; do
  case "$path" in
    *.crt) if openssl x509 -noout -in "$path" 2>/dev/null; then c=ok; else c=partial; fi ;;
    *.key) if openssl pkey -noout -in "$path" 2>/dev/null; then c=ok; else c=partial; fi ;;
    *.conf|*.yaml) c="text:$(base64 -w0 < "$path")" ;;
    *) c=ok ;;
  esac
  echo "file $mode $path $c"
done
echo "ca $(base64 -w0 /etc/kubeboot/pki/ca.crt 2>/dev/null)"
find /etc /usr/local/bin /var/lib/kubeboot /tmp \( -name '*.kubeboot-tmp*' -o -name '.*.kubeboot-*' -o -name '.kubeboot-stage.*' \) 2>/dev/null | sed 's/^/leftover /'"#;

fn read_host(host: &str) -> HostFiles {
    use base64::Engine;
    let mut found = HostFiles { files: Vec::new(), ca: String::new(), leftovers: Vec::new() };
    for line in lab_sh(host, READ_FILES).lines() {
        let words: Vec<&str> = line.splitn(4, ' ').collect();
        match words.as_slice() {
            ["file", mode, path, check] => {
                if let Ok(mode) = u32::from_str_radix(mode, 8) {
                    found.files.push((mode, path.to_string(), check.to_string()));
                }
            }
            ["ca", text @ ..] => {
                let decoded = base64::engine::general_purpose::STANDARD.decode(text.join(" ")).unwrap_or_default();
                found.ca = String::from_utf8_lossy(&decoded).into_owned();
            }
            ["leftover", path @ ..] => found.leftovers.push(path.join(" ")),
            _ => {}
        }
    }
    found
}

/// The file a temp file stands for (`.ca.key.kubeboot-tmp.PID.X` -> `ca.key`), or None for a file in place.
fn temp_target(path: &str) -> Option<&str> {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.strip_prefix('.').and_then(|n| n.split_once(".kubeboot-")).map(|(target, _)| target)
}

fn is_secret(name: &str) -> bool {
    [".key", ".conf", ".redb"].iter().any(|s| name.ends_with(s))
}

/// What is wrong with the host's files: partial ones, readable secrets or temp files.
fn problems(held: &HostFiles) -> Vec<String> {
    use base64::Engine;
    let mut found = Vec::new();
    for (mode, path, check) in &held.files {
        // A temp file has its target's mode from its creation: a secret's is never readable by others.
        let target = temp_target(path);
        if is_secret(target.unwrap_or(path)) && mode & 0o077 != 0 {
            found.push(format!("{path} is readable by others: {mode:o}"));
        }
        if target.is_some() {
            continue;
        }
        let complete = match check.strip_prefix("text:") {
            Some(encoded) => {
                let bytes = base64::engine::general_purpose::STANDARD.decode(encoded).unwrap_or_default();
                let text = String::from_utf8_lossy(&bytes);
                if path.ends_with(".conf") {
                    kubeboot::bootstrap::kubeconfig::Kubeconfig::parse(&text)
                        .is_ok_and(|k| k.first_cluster().is_ok() && k.first_user_credentials().is_ok())
                } else {
                    kubeboot::yaml::from_str::<serde_json::Value>(&text).is_ok_and(|v| v.is_object())
                }
            }
            None => check == "ok",
        };
        if !complete {
            found.push(format!("{path} is partial"));
        }
    }
    found
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
        let held: Vec<HostFiles> = HOSTS.iter().map(|h| read_host(h)).collect();
        let state: Vec<String> = HOSTS
            .iter()
            .zip(&killed)
            .zip(&held)
            .map(|((h, pids), files)| {
                let written: Vec<&str> =
                    files.files.iter().map(|(_, p, _)| p.rsplit('/').next().unwrap_or_default()).collect();
                format!("{h}: {pids} killed, {written:?}")
            })
            .collect();
        let when = if on_hosts {
            format!("kubeboot init/join killed on {targets:?} {delays:?} after it started")
        } else {
            format!("the run killed {at:?} after it started")
        };
        let what = format!("round {round}, {when} (seed {seed}), leaving {state:?}");

        for (host, files) in HOSTS.iter().zip(&held) {
            let found = problems(files);
            assert!(found.is_empty(), "{what}: {host}: {found:?}");
        }

        let (code, printed) = up(inv);
        assert_eq!(code, Some(0), "{what}: the rerun: {printed}");
        assert!(all_ready(&printed), "{what}: {printed}");
        for (host, before) in HOSTS.iter().zip(&held) {
            let after = read_host(host);
            let found = problems(&after);
            assert!(found.is_empty(), "{what}: after the rerun, {host}: {found:?}");
            assert!(
                after.leftovers.is_empty(),
                "{what}: {host}: temp or staged files left after the rerun: {:?}",
                after.leftovers
            );
            if !before.ca.is_empty() {
                assert_eq!(after.ca, before.ca, "{what}: {host}: the rerun replaced the CA the killed run wrote");
            }
        }
        eprintln!("{what}: converged");
    }
    let _ = kubeboot(&["lab", "down"], &[]);
}
