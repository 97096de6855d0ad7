//! Real kubectl reads the kubeconfig kubeboot writes (admin.conf shape): cluster, server, CA and user.

use kubeboot::bootstrap::kubeconfig::Kubeconfig;
use kubeboot::bootstrap::pki::ClusterCa;

#[test]
fn kubectl_reads_our_admin_conf() {
    let kubectl = which("kubectl").unwrap_or_else(|_| panic!("this test needs kubectl on PATH"));
    let (ca, _) = ClusterCa::generate("demo").unwrap();
    let admin = ca.issue_client("kubernetes-admin", &["system:masters"]).unwrap();
    let conf = Kubeconfig::with_user(
        "demo",
        "https://10.88.0.10:6443",
        ca.cert_pem(),
        "kubernetes-admin",
        &admin.cert_pem,
        &admin.key_pem,
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("admin.conf");
    std::fs::write(&path, conf.to_yaml()).unwrap();
    let out = std::process::Command::new(kubectl)
        .args(["config", "view", "--raw", "--kubeconfig"])
        .arg(&path)
        .args(["-o", "jsonpath={.current-context} {.clusters[0].cluster.server} {.users[0].name}"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "kubernetes-admin@demo https://10.88.0.10:6443 kubernetes-admin");
}

fn which(program: &str) -> Result<std::path::PathBuf, ()> {
    let path = std::env::var_os("PATH").ok_or(())?;
    std::env::split_paths(&path).map(|d| d.join(program)).find(|p| p.is_file()).ok_or(())
}
