//! Stand-ins for the walkthrough's images, built from Debian's busybox-static (one static binary with sh,
//! httpd, wget, sleep, …) and pushed to the lab registry once; a marker per image set records what was
//! pushed, so `lab up` does nothing the second time.
//!   kubetm/p8000, kubetm/p8080  HTTP on 8000 / 8080, the body names the port
//!   kubetm/app:v1, kubetm/app:v2  HTTP on 8080, the body names the version and the pod's hostname
//!   kubetm/init  sh, echo, sleep, wget

use std::path::Path;

use super::error::{io, LabError};
use super::registry;
use crate::image_archive::{docker_archive, Entry, ImageConfig};

const BUSYBOX: &str = "/bin/busybox";

/// (reference, shell command run at start, exposed port).
fn images() -> Vec<(&'static str, String, Option<u16>)> {
    let http = |port: u16, body: &str| {
        // sh as PID 1 with a TERM trap: a PID 1 without a handler ignores SIGTERM and every delete would
        // wait out the grace period.
        format!(
            "mkdir -p /www; echo \"{body}\" > /www/index.html; trap 'exit 0' TERM; httpd -f -p {port} -h /www & wait"
        )
    };
    vec![
        ("kubetm/p8000:latest", http(8000, "containerPort : 8000"), Some(8000)),
        ("kubetm/p8080:latest", http(8080, "containerPort : 8080"), Some(8080)),
        ("kubetm/app:v1", http(8080, "Version : v1, Hostname : $(hostname)"), Some(8080)),
        ("kubetm/app:v2", http(8080, "Version : v2, Hostname : $(hostname)"), Some(8080)),
        ("kubetm/init:latest", "echo kubetm/init; trap 'exit 0' TERM; sleep 3600 & wait".into(), None),
    ]
}

fn root_filesystem() -> Result<Vec<Entry>, LabError> {
    let busybox = std::fs::read(BUSYBOX).map_err(io(format!("reading {BUSYBOX} (apt-get install busybox-static)")))?;
    let applets = super::sh::run(BUSYBOX, &["--list"])?;
    let mut entries = vec![
        Entry::Dir { path: "/bin".into(), mode: 0o755 },
        Entry::Dir { path: "/tmp".into(), mode: 0o1777 },
        Entry::Dir { path: "/etc".into(), mode: 0o755 },
        Entry::File {
            path: "/etc/passwd".into(),
            contents: b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n".to_vec(),
            mode: 0o644,
        },
        Entry::File { path: "/etc/group".into(), contents: b"root:x:0:\nnogroup:x:65534:\n".to_vec(), mode: 0o644 },
        Entry::File { path: "/bin/busybox".into(), contents: busybox, mode: 0o755 },
    ];
    for applet in applets.lines().map(str::trim).filter(|a| !a.is_empty() && *a != "busybox") {
        entries.push(Entry::Symlink { path: format!("/bin/{applet}"), target: "busybox".into() });
    }
    Ok(entries)
}

/// Build and push every stand-in image unless this set was pushed already.
pub fn ensure(lab_dir: &Path) -> Result<(), LabError> {
    let set: Vec<String> = images().iter().map(|(r, c, p)| format!("{r}|{c}|{p:?}")).collect();
    let digest = ring::digest::digest(&ring::digest::SHA256, set.join("\n").as_bytes());
    let marker = lab_dir
        .join("registry")
        .join(format!("images-{}", digest.as_ref()[..8].iter().map(|b| format!("{b:02x}")).collect::<String>()));
    if marker.exists() {
        return Ok(());
    }
    let root = root_filesystem()?;
    for (reference, command, port) in images() {
        eprintln!("kubeboot lab: pushing {reference} to the lab registry ({})", registry::address());
        let config = ImageConfig {
            cmd: vec!["/bin/sh".into(), "-c".into(), command],
            exposed_ports: port.into_iter().collect(),
            ..Default::default()
        };
        let archive = docker_archive(reference, &root, &config).map_err(io(format!("building {reference}")))?;
        registry::push(lab_dir, reference, &archive)?;
    }
    std::fs::write(&marker, set.join("\n")).map_err(io("marking the images pushed"))
}
