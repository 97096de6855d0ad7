//! An API server started in-process for a test, on a loopback port, with a fresh CA, one live and one expired
//! bootstrap token, an admin certificate, and curl as the client.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use kubeboot::bootstrap::kubeconfig::Kubeconfig;
use kubeboot::bootstrap::pki::ClusterCa;
use kubeboot::bootstrap::token::BootstrapToken;
use kubeboot::control_plane::api::{router, serve, server_config, ApiState, ClientCertificates};
use kubeboot::control_plane::store::{RedbStore, Store};
use kubeboot::control_plane::tokens;

pub const TOKEN: &str = "abcdef.0123456789abcdef";
pub const EXPIRED: &str = "zzzzzz.0123456789abcdef";

pub struct Server {
    pub state: Arc<ApiState>,
    pub port: u16,
    pub dir: tempfile::TempDir,
    pub ca_pem: String,
    pub pin: String,
    pub admin: (String, String),
    _stop: tokio::sync::oneshot::Sender<()>,
}

pub fn start() -> Server {
    start_inner(false, None, None)
}

/// The server with its store file at `store` (a small filesystem, say).
#[allow(dead_code)]
pub fn start_with_store(store: &Path) -> Server {
    start_inner(false, Some(store), None)
}

/// The server over a store the test built (one that wraps a RedbStore to hold its writes, say). No
/// controller runs: the store sees only the test's writes (the namespace controller's leader election
/// would write a Lease).
#[allow(dead_code)]
pub fn start_over(store: Arc<dyn Store>) -> Server {
    start_inner(false, None, Some(store))
}

/// The same server with the whole controller manager running beside it (as `kubeboot server` runs it).
#[allow(dead_code)]
pub fn start_with_controllers() -> Server {
    start_inner(true, None, None)
}

fn start_inner(controllers: bool, store_path: Option<&Path>, store: Option<Arc<dyn Store>>) -> Server {
    let namespace_controller = store.is_none();
    let dir = tempfile::tempdir().unwrap();
    let (ca, _) = ClusterCa::generate("t").unwrap();
    let ca_pem = ca.cert_pem().to_string();
    let pin = ca.pin().unwrap();
    let admin = ca.issue_client("kubernetes-admin", &["system:masters"]).unwrap();
    let admin = (admin.cert_pem.clone(), admin.key_pem.clone());
    let serving = ca.issue_serving("kubeboot-apiserver", &["127.0.0.1".into(), "localhost".into()]).unwrap();
    let store_path = store_path.map(Path::to_path_buf).unwrap_or_else(|| dir.path().join("state.redb"));
    let store: Arc<dyn Store> = store.unwrap_or_else(|| Arc::new(RedbStore::open(&store_path).unwrap()));
    tokens::create(store.as_ref(), &BootstrapToken::parse(TOKEN).unwrap(), Some(3600)).unwrap();
    tokens::create(store.as_ref(), &BootstrapToken::parse(EXPIRED).unwrap(), Some(0)).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let tls = server_config(&ca_pem, &serving.cert_pem, &serving.key_pem, ClientCertificates::Optional).unwrap();
    let kubeconfig = Kubeconfig::cluster_only("t", &format!("https://127.0.0.1:{port}"), &ca_pem).to_yaml();
    let state = Arc::new(ApiState::new(store, ca, kubeconfig).unwrap());
    let served = state.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async move {
            tokio::spawn(kubeboot::control_plane::api_extensions::follow(served.store.clone(), served.watch.clone()));
            // Without the controller manager, the namespace controller still runs: a namespace's
            // deletion is part of the API's behaviour (kubectl waits for it).
            if controllers {
                let all = kubeboot::control_plane::controllers::all("10.244.0.0/16".parse().unwrap());
                tokio::spawn(kubeboot::control_plane::runtime::run(served.clone(), all));
            } else if namespace_controller {
                let namespace: std::sync::Arc<dyn kubeboot::control_plane::runtime::Reconciler> =
                    std::sync::Arc::new(kubeboot::control_plane::controllers::namespace::NamespaceController);
                tokio::spawn(kubeboot::control_plane::runtime::run(served.clone(), vec![namespace]));
            }
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            serve(listener, tls, router(served), async move {
                let _ = stopped.await;
            })
            .await;
        });
    });
    std::fs::write(dir.path().join("ca.pem"), &ca_pem).unwrap();
    Server { state, port, dir, ca_pem, pin, admin, _stop: stop }
}

impl Server {
    /// An admin kubeconfig for kubectl, written into the server's directory.
    #[allow(dead_code)]
    pub fn admin_kubeconfig(&self) -> (PathBuf, Kubeconfig) {
        let path = self.dir.path().join("admin.conf");
        let conf = Kubeconfig::with_user(
            "t",
            &format!("https://127.0.0.1:{}", self.port),
            &self.ca_pem,
            "kubernetes-admin",
            &self.admin.0,
            &self.admin.1,
        );
        std::fs::write(&path, conf.to_yaml()).unwrap();
        (path, conf)
    }

    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// (HTTP status, body); status 0 when the TLS connection itself failed.
    pub fn curl(&self, path: &str, client: Option<(&Path, &Path)>, extra: &[&str]) -> (u16, String) {
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "-o", "-", "-w", "\n%{http_code}", "--cacert"]).arg(self.dir.path().join("ca.pem"));
        if let Some((cert, key)) = client {
            cmd.arg("--cert").arg(cert).arg("--key").arg(key);
        }
        cmd.args(extra).arg(format!("https://127.0.0.1:{}{path}", self.port));
        let out = cmd.output().expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }
}
