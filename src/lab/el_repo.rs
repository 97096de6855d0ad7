//! The package repositories EL-flavor lab hosts install from (what the walkthrough's CentOS hosts get from
//! their distribution and from download.docker.com): built once with rpmbuild and createrepo_c by
//! el-repo.sh (embedded here), cached in the lab folder, and served over HTTP on the lab bridge by
//! python3's http.server, started by `lab up` when any host is EL.

use std::path::Path;

use super::background::Background;
use super::error::LabError;
use super::image::cached_image;
use super::network::GATEWAY;

const SCRIPT: &str = include_str!("el-repo.sh");
pub const PORT: u16 = 8088;

/// Where lab hosts find the repositories: the bridge address.
pub fn url() -> String {
    format!("http://{GATEWAY}:{PORT}")
}

fn server(lab_dir: &Path) -> Background {
    Background {
        program: "python3",
        pid_file: lab_dir.join("el-repo.pid"),
        log_file: lab_dir.join("el-repo.log"),
        address: format!("{GATEWAY}:{PORT}").parse().expect("the repository address"),
    }
}

/// Build (once) and serve the EL repositories.
pub fn ensure(lab_dir: &Path) -> Result<(), LabError> {
    super::sh::require_tools(&["rpmbuild", "createrepo_c", "python3"])?;
    // The name changes with what the script builds, so a lab built before rebuilds its repositories.
    let repo = cached_image(lab_dir, "el-repo-2", |partial| {
        eprintln!("kubeboot lab: building the EL package repositories (rpmbuild, createrepo_c; done once)");
        super::sh::run("bash", &["-c", SCRIPT, "el-repo.sh", &partial.to_string_lossy()]).map(|_| ())
    })?;
    server(lab_dir).ensure(&[
        "-m",
        "http.server",
        &PORT.to_string(),
        "--bind",
        GATEWAY,
        "--directory",
        &repo.to_string_lossy(),
    ])
}

pub fn stop(lab_dir: &Path) {
    server(lab_dir).stop();
}

/// The inventory lines EL hosts need: where the docker-ce and kubernetes repositories are.
pub fn inventory_vars() -> String {
    format!(
        "vars:\n  docker_ce_repo_baseurl: {url}/docker-ce/\n  docker_ce_repo_gpgcheck: 0\n  kubernetes_repo_baseurl: {url}/kubernetes/\n  kubernetes_repo_gpgcheck: 0\n",
        url = url()
    )
}
