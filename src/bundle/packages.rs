//! A system's packages for the bundle: downloaded on a host of that system with its own package manager
//! and repositories (plus the repositories the preparation would add, such as Docker's), with every
//! dependency down to an empty system (apt with an empty dpkg status, dnf/yum into an empty installroot),
//! so the repository serves a host however bare. Nothing on the host is changed: the download works in a
//! temporary folder that is removed afterwards. The index is made here (apt-ftparchive, createrepo_c).

use std::path::Path;

use super::error::{io, tool_start, BundleError};
use crate::facts::PackageManager;
use crate::playbook::installs::RepositoryFile;
use crate::tasks::{package_spec, WantedPackage};
use crate::transport::shell_quote;

/// Stands for the download's key folder in a repository file until the script knows where that is.
const KEYS: &str = "@KUBEBOOT_KEYS@";

/// The shell script that downloads `packages` on a host and writes them to stdout as a tar.
pub fn download_script(
    pm: PackageManager,
    release: &str,
    packages: &[WantedPackage],
    repositories: &[RepositoryFile],
) -> String {
    let specs: Vec<String> = packages.iter().map(|w| shell_quote(&package_spec(pm, w))).collect();
    let specs = specs.join(" ");
    let mut script =
        String::from("set -e; d=$(mktemp -d /var/tmp/kubeboot-bundle.XXXXXX); trap 'rm -rf \"$d\"' EXIT; cd \"$d\";\n");
    match pm {
        PackageManager::Apt => {
            script.push_str(
                "mkdir -p archives/partial lists/partial parts keys cache; : > status;\n\
                 if [ -f /etc/apt/sources.list ]; then cp /etc/apt/sources.list sources.list; else : > sources.list; fi;\n\
                 for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do if [ -f \"$f\" ]; then cp \"$f\" parts/; fi; done;\n",
            );
            for repo in repositories {
                let mut text = repo.text.clone();
                let file = shell_quote(&repo.file_name);
                let mut fix_key = String::new();
                if let Some((url, path)) = &repo.key {
                    // The list names its key where the preparation puts it; the download uses a copy of its own.
                    script.push_str(&format!("curl -fsSL {} -o keys/{file}.asc;\n", shell_quote(url)));
                    text = text.replace(path.as_str(), &format!("{KEYS}/{}.asc", repo.file_name));
                    fix_key = format!(" && sed -i \"s|{KEYS}|$d/keys|g\" parts/{file}");
                }
                script.push_str(&format!("printf '%s\\n' {} > parts/{file}{fix_key};\n", shell_quote(&text)));
            }
            script.push_str(&format!(
                "o=\"-o Dir::Etc::SourceList=$d/sources.list -o Dir::Etc::SourceParts=$d/parts -o Dir::State::Lists=$d/lists \
                 -o Dir::State::status=$d/status -o Dir::Cache=$d/cache -o Dir::Cache::archives=$d/archives -o Debug::NoLocking=1\";\n\
                 apt-get $o update -qq >&2;\n\
                 DEBIAN_FRONTEND=noninteractive apt-get $o install -y -qq --download-only --no-install-recommends {specs} >&2;\n\
                 cd archives; tar -cf - *.deb\n"
            ));
        }
        PackageManager::Dnf | PackageManager::Yum => {
            let tool = if pm == PackageManager::Dnf { "dnf" } else { "yum" };
            script.push_str("mkdir -p repos root rpms cache; for f in /etc/yum.repos.d/*.repo; do if [ -f \"$f\" ]; then cp \"$f\" repos/; fi; done;\n");
            for repo in repositories {
                script.push_str(&format!(
                    "printf '%s\\n' {} > repos/{};\n",
                    shell_quote(&repo.text),
                    shell_quote(&repo.file_name)
                ));
            }
            script.push_str(&format!(
                "{tool} -y -q --installroot=\"$d/root\" --releasever={} --setopt=reposdir=\"$d/repos\" \
                 --setopt=cachedir=\"$d/cache\" --setopt=install_weak_deps=False --downloadonly --downloaddir=\"$d/rpms\" \
                 install {specs} >&2;\n\
                 cd rpms; tar -cf - *.rpm\n",
                shell_quote(release)
            ));
        }
        PackageManager::None => {}
    }
    script
}

/// Make `dir` (the downloaded packages) a repository the package manager reads: a flat apt repository
/// (Packages and Release) or rpm-md metadata.
pub fn index(pm: PackageManager, dir: &Path) -> Result<(), BundleError> {
    match pm {
        PackageManager::Apt => {
            let packages = tool_output("apt-ftparchive", "apt-utils", dir, &["packages", "."])?;
            std::fs::write(dir.join("Packages"), packages).map_err(io(dir.join("Packages")))?;
            let release = tool_output("apt-ftparchive", "apt-utils", dir, &["release", "."])?;
            std::fs::write(dir.join("Release"), release).map_err(io(dir.join("Release")))
        }
        PackageManager::Dnf | PackageManager::Yum => {
            tool_output("createrepo_c", "createrepo-c", dir, &["--quiet", "--no-database", "."]).map(|_| ())
        }
        PackageManager::None => Ok(()),
    }
}

/// Run a tool of this machine's in `dir`; its stdout.
fn tool_output(tool: &str, package: &str, dir: &Path, args: &[&str]) -> Result<Vec<u8>, BundleError> {
    let output = std::process::Command::new(tool).args(args).current_dir(dir).output().map_err(tool_start(
        tool,
        package,
        "index the bundle's packages",
    ))?;
    if !output.status.success() {
        return Err(BundleError::Tool {
            tool: tool.into(),
            message: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Ok(output.stdout)
}

/// Unpack the tar a download script printed into `dir`; the number of package files.
pub fn unpack(tar_bytes: &[u8], dir: &Path) -> Result<usize, BundleError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut archive = tar::Archive::new(tar_bytes);
    let mut count = 0;
    for entry in archive.entries().map_err(io(dir))? {
        let mut entry = entry.map_err(io(dir))?;
        let name = entry.path().map_err(io(dir))?.to_string_lossy().into_owned();
        // Only plain package files at the top: a name with a path in it is not the script's output.
        if name.contains('/') || !(name.ends_with(".deb") || name.ends_with(".rpm")) {
            continue;
        }
        entry.unpack(dir.join(&name)).map_err(io(dir.join(&name)))?;
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted(name: &str, pin: Option<&str>) -> WantedPackage {
        WantedPackage { name: name.into(), pin: pin.map(String::from) }
    }

    #[test]
    fn apt_downloads_into_its_own_folders_with_an_empty_status_and_the_added_repositories() {
        let repo = RepositoryFile {
            file_name: "docker-ce.list".into(),
            text: "deb [arch=amd64 signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/debian bookworm stable".into(),
            key: Some(("https://download.docker.com/linux/debian/gpg".into(), "/etc/apt/keyrings/docker.asc".into())),
        };
        let script = download_script(
            PackageManager::Apt,
            "12",
            &[wanted("docker-ce", Some("18.06.2.ce")), wanted("lvm2", None)],
            &[repo],
        );
        assert!(script.contains("Dir::State::status=$d/status"), "{script}");
        assert!(script.contains("'docker-ce=18.06.2.ce*' lvm2"), "{script}");
        assert!(script.contains("signed-by=@KUBEBOOT_KEYS@/docker-ce.list.asc"), "{script}");
        assert!(script.contains("sed -i \"s|@KUBEBOOT_KEYS@|$d/keys|g\" parts/docker-ce.list"), "{script}");
        assert!(!script.contains("/etc/apt/keyrings"), "the host's keyring folder is not written: {script}");
    }

    #[test]
    fn dnf_downloads_into_an_empty_installroot_for_the_release() {
        let script = download_script(PackageManager::Dnf, "9", &[wanted("docker-ce", Some("18.06.2.ce"))], &[]);
        assert!(script.contains("dnf -y -q --installroot=\"$d/root\" --releasever=9"), "{script}");
        assert!(script.contains("install docker-ce-18.06.2.ce"), "{script}");
    }

    #[test]
    fn the_unpacked_files_are_the_top_level_packages_only() {
        let mut tar = tar::Builder::new(Vec::new());
        for (name, data) in [("a.deb", &b"deb"[..]), ("notes.txt", b"x"), ("sub/b.deb", b"y")] {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            tar.append_data(&mut header, name, data).unwrap();
        }
        let bytes = tar.into_inner().unwrap();
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(unpack(&bytes, dir.path()).unwrap(), 1);
        assert_eq!(std::fs::read(dir.path().join("a.deb")).unwrap(), b"deb");
    }
}
