//! kubelet's probes: startup, liveness and readiness, each exec (in the container, through the runtime),
//! httpGet (a plain HTTP/1.1 GET to the pod's address; 200–399 is success) or tcpSocket (a connection),
//! with initialDelaySeconds, periodSeconds, timeoutSeconds, successThreshold and failureThreshold. The
//! results live here, keyed by container id, so a restarted container starts over. A failed startup or
//! liveness probe asks the sync to restart the container; readiness only sets the container's Ready.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::runtime::ContainerRuntime;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Startup,
    Liveness,
    Readiness,
}

impl Kind {
    fn field(self) -> &'static str {
        match self {
            Kind::Startup => "startupProbe",
            Kind::Liveness => "livenessProbe",
            Kind::Readiness => "readinessProbe",
        }
    }
}

#[derive(Debug, Default, Clone)]
struct Counters {
    last_run: Option<Instant>,
    successes: u32,
    failures: u32,
    /// The probe's current verdict (startup: started; readiness: ready; liveness: alive).
    passed: Option<bool>,
}

/// What the probes say about one running container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub ready: bool,
    /// Set when a startup or liveness probe failed failureThreshold times: restart the container.
    pub restart: Option<String>,
}

#[derive(Default)]
pub struct Prober {
    state: Mutex<HashMap<(String, Kind), Counters>>,
}

fn number(probe: &Value, field: &str, default: u64) -> u64 {
    probe.get(field).and_then(Value::as_u64).unwrap_or(default)
}

/// A named port (`http`) is looked up in the container's ports.
fn port(container: &Value, port: &Value) -> Option<u16> {
    match port {
        Value::Number(n) => n.as_u64().map(|p| p as u16),
        Value::String(name) => name.parse().ok().or_else(|| {
            container.get("ports")?.as_array()?.iter().find(|p| p["name"] == *name)?["containerPort"]
                .as_u64()
                .map(|p| p as u16)
        }),
        _ => None,
    }
}

async fn http_get(address: &str, port: u16, path: &str, timeout: Duration) -> Result<(), String> {
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect((address, port)).await.map_err(|e| e.to_string())?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {address}:{port}\r\nUser-Agent: kube-probe/1.30\r\nAccept: */*\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.map_err(|e| e.to_string())?;
        let mut head = vec![0u8; 64];
        let n = stream.read(&mut head).await.map_err(|e| e.to_string())?;
        let line = String::from_utf8_lossy(&head[..n]).to_string();
        let code: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("not an HTTP answer: {line:?}"))?;
        if (200..400).contains(&code) {
            Ok(())
        } else {
            Err(format!("HTTP probe failed with statuscode: {code}"))
        }
    };
    tokio::time::timeout(timeout, attempt).await.map_err(|_| "timeout".to_string())?
}

async fn tcp(address: &str, port: u16, timeout: Duration) -> Result<(), String> {
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect((address, port))).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timeout".into()),
    }
}

async fn exec<R: ContainerRuntime>(
    runtime: &R,
    container_id: &str,
    command: Vec<String>,
    timeout: Duration,
) -> Result<(), String> {
    match tokio::time::timeout(timeout, runtime.exec(container_id, command)).await {
        Ok(Ok(0)) => Ok(()),
        Ok(Ok(code)) => Err(format!("command exited with {code}")),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timeout".into()),
    }
}

impl Prober {
    /// Run the container's due probes and say what they conclude. `started_secs` is how long it has run.
    pub async fn check<R: ContainerRuntime>(
        &self,
        runtime: &R,
        container: &Value,
        container_id: &str,
        pod_ip: &str,
        started_secs: u64,
    ) -> Verdict {
        let mut verdict = Verdict { ready: true, restart: None };
        let has = |k: Kind| container.get(k.field()).is_some_and(Value::is_object);
        if has(Kind::Startup) {
            let started = self.run(runtime, Kind::Startup, container, container_id, pod_ip, started_secs).await;
            match started {
                Some(true) => {}
                Some(false) => {
                    verdict.restart = Some(format!(
                        "Container {} failed startup probe, will be restarted",
                        container["name"].as_str().unwrap_or("")
                    ));
                    verdict.ready = false;
                    return verdict;
                }
                None => {
                    verdict.ready = false;
                    return verdict;
                }
            }
        }
        if has(Kind::Liveness)
            && self.run(runtime, Kind::Liveness, container, container_id, pod_ip, started_secs).await == Some(false)
        {
            verdict.restart = Some(format!(
                "Container {} failed liveness probe, will be restarted",
                container["name"].as_str().unwrap_or("")
            ));
        }
        if has(Kind::Readiness) {
            verdict.ready =
                self.run(runtime, Kind::Readiness, container, container_id, pod_ip, started_secs).await == Some(true);
        }
        verdict
    }

    /// The probe's verdict after running it if due: Some(true) passed, Some(false) failed for good
    /// (failureThreshold reached), None not yet known.
    async fn run<R: ContainerRuntime>(
        &self,
        runtime: &R,
        kind: Kind,
        container: &Value,
        id: &str,
        pod_ip: &str,
        started_secs: u64,
    ) -> Option<bool> {
        let probe = &container[kind.field()];
        let key = (id.to_string(), kind);
        let counters = self.state.lock().expect("probes").get(&key).cloned().unwrap_or_default();
        // A startup probe that succeeded is not run again.
        if kind == Kind::Startup && counters.passed == Some(true) {
            return Some(true);
        }
        let period = Duration::from_secs(number(probe, "periodSeconds", 10).max(1));
        let due = started_secs >= number(probe, "initialDelaySeconds", 0)
            && counters.last_run.is_none_or(|t| t.elapsed() >= period);
        if !due {
            return counters.passed;
        }
        let timeout = Duration::from_secs(number(probe, "timeoutSeconds", 1).max(1));
        let outcome = if let Some(command) = probe.pointer("/exec/command").and_then(Value::as_array) {
            exec(runtime, id, command.iter().filter_map(|c| c.as_str().map(String::from)).collect(), timeout).await
        } else if let Some(get) = probe.get("httpGet") {
            let host = get.get("host").and_then(Value::as_str).unwrap_or(pod_ip);
            match port(container, &get["port"]) {
                Some(p) => http_get(host, p, get.get("path").and_then(Value::as_str).unwrap_or("/"), timeout).await,
                None => Err("unknown port".into()),
            }
        } else if let Some(socket) = probe.get("tcpSocket") {
            match port(container, &socket["port"]) {
                Some(p) => tcp(socket.get("host").and_then(Value::as_str).unwrap_or(pod_ip), p, timeout).await,
                None => Err("unknown port".into()),
            }
        } else {
            Err("no probe handler (exec, httpGet, tcpSocket) given".into())
        };
        let mut c = counters;
        c.last_run = Some(Instant::now());
        match outcome {
            Ok(()) => {
                c.successes += 1;
                c.failures = 0;
                let threshold = if kind == Kind::Readiness { number(probe, "successThreshold", 1) } else { 1 };
                if c.successes as u64 >= threshold {
                    c.passed = Some(true);
                }
            }
            Err(_) => {
                c.failures += 1;
                c.successes = 0;
                if c.failures as u64 >= number(probe, "failureThreshold", 3) {
                    c.passed = Some(false);
                }
            }
        }
        let verdict = c.passed;
        self.state.lock().expect("probes").insert(key, c);
        verdict
    }

    /// Forget containers that are gone.
    pub fn retain(&self, live_ids: &[String]) {
        self.state.lock().expect("probes").retain(|(id, _), _| live_ids.contains(id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_ports_resolve() {
        let c = serde_json::json!({"ports": [{"name": "http", "containerPort": 8080}]});
        assert_eq!(port(&c, &serde_json::json!("http")), Some(8080));
        assert_eq!(port(&c, &serde_json::json!(8000)), Some(8000));
        assert_eq!(port(&c, &serde_json::json!("nope")), None);
    }

    #[tokio::test]
    async fn liveness_fails_after_its_threshold_readiness_gates_ready() {
        let failing = crate::agent::runtime::fake::FakeRuntime { exit_code: 1, ..Default::default() };
        let container = serde_json::json!({"name": "c",
            "livenessProbe": {"exec": {"command": ["false"]}, "periodSeconds": 1, "failureThreshold": 2},
            "readinessProbe": {"exec": {"command": ["false"]}, "periodSeconds": 1}});
        let prober = Prober::default();
        let first = prober.check(&failing, &container, "id1", "127.0.0.1", 5).await;
        assert_eq!(first, Verdict { ready: false, restart: None }, "one failure is not enough");
        prober.state.lock().unwrap().values_mut().for_each(|c| c.last_run = None);
        let second = prober.check(&failing, &container, "id1", "127.0.0.1", 6).await;
        assert!(second.restart.is_some_and(|m| m.contains("failed liveness probe")));
        let passing = crate::agent::runtime::fake::FakeRuntime::default();
        let fresh = prober.check(&passing, &container, "id2", "127.0.0.1", 5).await;
        assert_eq!(fresh, Verdict { ready: true, restart: None }, "a new container starts over");
    }

    #[tokio::test]
    async fn http_and_tcp_probes_against_a_real_listener() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            for code in [200, 500] {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 512];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(format!("HTTP/1.1 {code} X\r\nContent-Length: 0\r\n\r\n").as_bytes()).await;
            }
        });
        let t = Duration::from_secs(2);
        assert!(http_get("127.0.0.1", port, "/", t).await.is_ok());
        assert!(http_get("127.0.0.1", port, "/", t).await.unwrap_err().contains("500"));
        assert!(tcp("127.0.0.1", 1, t).await.is_err());
    }
}
