//! The lab's own image registry, as an air-gapped site has one: Debian's distribution registry
//! (`docker-registry`) on the lab bridge, which lab hosts' Docker uses as its registry mirror, holding
//! stand-ins for the walkthrough's images built here from busybox-static (images.rs) and pushed with
//! skopeo. Started once per `lab up` when not running; stopped by its PID on `lab down`.

use std::path::{Path, PathBuf};

use super::background::Background;
use super::error::{io, LabError};
use super::network::GATEWAY;
use super::sh::run;

pub const PORT: u16 = 5000;

/// `10.88.0.1:5000`: what the lab inventory puts in daemon.json.
pub fn address() -> String {
    format!("{GATEWAY}:{PORT}")
}

fn dir(lab_dir: &Path) -> PathBuf {
    lab_dir.join("registry")
}

fn server(lab_dir: &Path) -> Background {
    Background {
        program: "docker-registry",
        pid_file: dir(lab_dir).join("registry.pid"),
        log_file: dir(lab_dir).join("registry.log"),
        address: address().parse().expect("the registry address"),
    }
}

/// Start the registry on the bridge address unless it runs.
pub fn ensure(lab_dir: &Path) -> Result<(), LabError> {
    super::sh::require_tools(&["docker-registry", "skopeo", "busybox"])?;
    let dir = dir(lab_dir);
    std::fs::create_dir_all(dir.join("data")).map_err(io(format!("creating {}", dir.display())))?;
    let config = format!(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {}\n",
        dir.join("data").display(),
        address()
    );
    let config_path = dir.join("config.yml");
    std::fs::write(&config_path, config).map_err(io("writing the registry configuration"))?;
    server(lab_dir).ensure(&["serve", &config_path.to_string_lossy()])
}

/// Stop the registry we started.
pub fn stop(lab_dir: &Path) {
    server(lab_dir).stop();
}

/// Push a docker-save archive to the registry as `reference` (e.g. `kubetm/p8000:latest`).
pub fn push(lab_dir: &Path, reference: &str, archive: &[u8]) -> Result<(), LabError> {
    let file = dir(lab_dir).join("push.tar");
    std::fs::write(&file, archive).map_err(io("writing an image archive"))?;
    let result = run(
        "skopeo",
        &[
            "copy",
            "--quiet",
            "--insecure-policy",
            "--dest-tls-verify=false",
            &format!("docker-archive:{}", file.display()),
            &format!("docker://{}/{reference}", address()),
        ],
    );
    let _ = std::fs::remove_file(&file);
    result.map(|_| ())
}
