//! Root filesystems: one Debian base made once with debootstrap (cached), and a copy of it per host with
//! its own name, machine id, SSH host keys and the lab's authorized key.

use std::path::{Path, PathBuf};

use super::error::{io, LabError};
use super::sh::run;
use super::state::LabHost;

const SUITE: &str = "bookworm";
const MIRROR: &str = "http://deb.debian.org/debian";
/// What a lab host needs: systemd as PID 1, sshd, sudo for become tests, python3 for Ansible (the benchmark
/// peer), and the basics package installs expect.
const PACKAGES: &str = "openssh-server,systemd,systemd-sysv,dbus,iproute2,sudo,ca-certificates,python3,gnupg,curl";
const COMPLETE_MARKER: &str = ".kubeboot-base-complete";

/// A cached image `lab_dir/name`, built by `build` into `name.partial` and renamed into place only once
/// complete: a killed build leaves only the `.partial` folder, which the next call removes.
pub(super) fn cached_image(
    lab_dir: &Path,
    name: &str,
    build: impl FnOnce(&Path) -> Result<(), LabError>,
) -> Result<PathBuf, LabError> {
    let image = lab_dir.join(name);
    if image.join(COMPLETE_MARKER).exists() {
        return Ok(image);
    }
    let partial = lab_dir.join(format!("{name}.partial"));
    remove_tree(&partial)?;
    remove_tree(&image)?;
    build(&partial)?;
    std::fs::write(partial.join(COMPLETE_MARKER), name).map_err(io(format!("marking {name} complete")))?;
    std::fs::rename(&partial, &image).map_err(io(format!("moving {name} into place")))?;
    Ok(image)
}

/// The cached Debian base root, built on first use with debootstrap.
pub fn ensure_base(lab_dir: &Path) -> Result<PathBuf, LabError> {
    cached_image(lab_dir, "base-debian", |partial| {
        eprintln!("kubeboot lab: building the base image with debootstrap ({SUITE}, about a minute, done once)");
        run(
            "debootstrap",
            &["--variant=minbase", &format!("--include={PACKAGES}"), SUITE, &partial.to_string_lossy(), MIRROR],
        )?;
        // Host keys are made per host; the base must not carry any.
        remove_matching(&partial.join("etc/ssh"), "ssh_host_")
    })
}

/// Packages an EL-flavor host adds to the Debian base: real dnf and rpm, plus what Docker from our test RPMs
/// links against or calls (on real EL these come with the distribution).
const EL_PACKAGES: &[&str] = &["dnf", "rpm", "iptables", "libdevmapper1.02.1"];

const EL_OS_RELEASE: &str = r#"NAME="Rocky Linux"
VERSION="9.3 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.3"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Rocky Linux 9.3 (kubeboot lab stand-in: Debian userland with dnf and rpm)"
"#;

/// The EL-flavor base: a copy of the Debian base with dnf and rpm, an EL /etc/os-release, `yum` linked to
/// dnf as on EL 8/9, dnf's release version, and the lab's base repository (stand-ins for the distribution's
/// repositories: yum-utils, lvm2, …), which may be absent (skip_if_unavailable).
pub fn ensure_el_base(lab_dir: &Path, base: &Path) -> Result<PathBuf, LabError> {
    cached_image(lab_dir, "base-el", |partial| {
        eprintln!("kubeboot lab: building the EL base image (dnf, rpm; done once)");
        run("cp", &["-a", "--reflink=auto", &base.to_string_lossy(), &partial.to_string_lossy()])?;
        let root = partial.to_string_lossy().into_owned();
        let mut args = vec![
            root.as_str(),
            "env",
            "DEBIAN_FRONTEND=noninteractive",
            "apt-get",
            "install",
            "-y",
            "-qq",
            "--no-install-recommends",
        ];
        args.extend_from_slice(EL_PACKAGES);
        if run("chroot", &args).is_err() {
            run("chroot", &[&root, "apt-get", "update", "-qq"])?;
            run("chroot", &args)?;
        }
        run("chroot", &[&root, "apt-get", "clean"])?;
        let write = |rel: &str, text: &str| {
            let path = partial.join(rel);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
            }
            let _ = std::fs::remove_file(&path); // /etc/os-release is a symlink on Debian
            std::fs::write(&path, text).map_err(io(format!("writing {}", path.display())))
        };
        write("etc/os-release", EL_OS_RELEASE)?;
        write("etc/dnf/vars/releasever", "9\n")?;
        write(
            "etc/yum.repos.d/lab-base.repo",
            &format!(
                "[lab-base]\nname=kubeboot lab base repository\nbaseurl={}/base/\nenabled=1\ngpgcheck=0\nskip_if_unavailable=1\n",
                super::el_repo::url()
            ),
        )?;
        let yum = partial.join("usr/bin/yum");
        if std::fs::symlink_metadata(&yum).is_err() {
            std::os::unix::fs::symlink("dnf", &yum).map_err(io("linking yum to dnf"))?;
        }
        Ok(())
    })
}

/// A fresh root for `host`, copied from the base.
pub fn make_host_root(
    base: &Path,
    root: &Path,
    host: &LabHost,
    public_key: &str,
    lab_dir: &Path,
) -> Result<(), LabError> {
    remove_tree(root)?;
    if let Some(parent) = root.parent() {
        std::fs::create_dir_all(parent).map_err(io(format!("creating {}", parent.display())))?;
    }
    run("cp", &["-a", "--reflink=auto", &base.to_string_lossy(), &root.to_string_lossy()])?;
    let write = |rel: &str, text: &str| {
        let path = root.join(rel);
        std::fs::write(&path, text).map_err(io(format!("writing {}", path.display())))
    };
    write("etc/hostname", &format!("{}\n", host.name))?;
    let machine_id = std::fs::read_to_string("/proc/sys/kernel/random/uuid")
        .map_err(io("reading a random uuid"))?
        .trim()
        .replace('-', "");
    write("etc/machine-id", &format!("{machine_id}\n"))?;
    write("etc/hosts", &hosts_file(host, lab_dir))?;
    // No resolver: the lab forwards nothing but the package mirrors, so a nameserver outside would only time
    // out (10 s on every `docker pull`); with none, lookups fail at once and /etc/hosts answers the rest.
    let resolv = root.join("etc/resolv.conf");
    let _ = std::fs::remove_file(&resolv);
    write("etc/resolv.conf", "# kubeboot lab: no resolver (the package mirror is in /etc/hosts)\n")?;
    run("ssh-keygen", &["-q", "-A", "-f", &root.to_string_lossy()])?;
    let ssh_dir = root.join("root/.ssh");
    std::fs::create_dir_all(&ssh_dir).map_err(io("creating /root/.ssh"))?;
    write("root/.ssh/authorized_keys", public_key)?;
    run("chmod", &["700", &ssh_dir.to_string_lossy()])?;
    run("chmod", &["600", &ssh_dir.join("authorized_keys").to_string_lossy()])?;
    // The base's postinst enables ssh.service already; make sure, since a host without sshd is useless.
    let wants = root.join("etc/systemd/system/multi-user.target.wants");
    std::fs::create_dir_all(&wants).map_err(io("creating multi-user.target.wants"))?;
    let link = wants.join("ssh.service");
    if std::fs::symlink_metadata(&link).is_err() {
        std::os::unix::fs::symlink("/lib/systemd/system/ssh.service", &link).map_err(io("enabling ssh.service"))?;
    }
    Ok(())
}

/// The host's own name, plus the package mirror's address (the one the lab's forwarding rules allow): lab
/// hosts have no resolver of their own (LAB.md).
fn hosts_file(host: &LabHost, lab_dir: &Path) -> String {
    let mut text =
        format!("127.0.0.1\tlocalhost\n127.0.1.1\t{}\n::1\tlocalhost ip6-localhost ip6-loopback\n", host.name);
    if let Some(address) = super::network::mirror_addresses(lab_dir).first() {
        for mirror in super::network::MIRRORS {
            text.push_str(&format!("{address}\t{mirror}\n"));
        }
    }
    text
}

pub fn remove_tree(path: &Path) -> Result<(), LabError> {
    match std::fs::symlink_metadata(path) {
        Ok(_) => std::fs::remove_dir_all(path).map_err(io(format!("removing {}", path.display()))),
        Err(_) => Ok(()),
    }
}

fn remove_matching(dir: &Path, prefix: &str) -> Result<(), LabError> {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(prefix) {
                std::fs::remove_file(entry.path()).map_err(io(format!("removing {}", entry.path().display())))?;
            }
        }
    }
    Ok(())
}
