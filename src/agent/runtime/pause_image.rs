//! The sandbox ("pause") image, which holds a pod's network and IPC namespaces. No registry is reachable
//! from an air-gapped node, so the agent builds it from itself: this kubeboot binary, the shared libraries
//! it links (read from its ELF interpreter's `--list`), run as `kubeboot pause`. It is loaded into Docker
//! once per kubeboot build (the tag carries the binary's digest).

use std::path::Path;

use crate::image_archive::{docker_archive, Entry, ImageConfig};

use super::{ContainerRuntime, RuntimeError};

const REPOSITORY: &str = "kubeboot/pause";

/// The image reference for this binary, e.g. `kubeboot/pause:0.1.0-1a2b3c4d5e6f`.
pub fn image_ref(binary: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, binary);
    let short: String = digest.as_ref()[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("{REPOSITORY}:{}-{short}", env!("CARGO_PKG_VERSION"))
}

/// The libraries the dynamic loader maps for `binary` (ldd's answer, without running ldd's shell script).
fn shared_libraries(binary: &Path) -> Vec<String> {
    let loaders = ["/lib64/ld-linux-x86-64.so.2", "/lib/ld-linux-aarch64.so.1"];
    let Some(loader) = loaders.iter().find(|l| Path::new(l).exists()) else { return Vec::new() };
    let output = std::process::Command::new(loader).arg("--list").arg(binary).output();
    let mut libs: Vec<String> = output
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split("=>").nth(1).and_then(|rest| rest.split_whitespace().next()).map(String::from))
        .filter(|p| p.starts_with('/'))
        .collect();
    libs.push(loader.to_string());
    libs
}

/// Make sure the pause image for this binary is in Docker; returns its reference.
pub async fn ensure<R: ContainerRuntime>(runtime: &R) -> Result<String, RuntimeError> {
    let exe =
        std::fs::read_link("/proc/self/exe").map_err(|e| RuntimeError::Docker(format!("finding this binary: {e}")))?;
    let binary = std::fs::read(&exe).map_err(|e| RuntimeError::Docker(format!("reading {}: {e}", exe.display())))?;
    let reference = image_ref(&binary);
    if runtime.image_present(&reference).await? {
        return Ok(reference);
    }
    let mut entries = vec![Entry::File { path: "/kubeboot".into(), contents: binary, mode: 0o755 }];
    for lib in shared_libraries(&exe) {
        // Libraries are often symlinks (libc.so.6 -> libc-2.36.so): the file's contents go in under the name
        // the loader asked for.
        if let Ok(contents) = std::fs::read(&lib) {
            entries.push(Entry::File { path: lib, contents, mode: 0o755 });
        }
    }
    let config = ImageConfig { entrypoint: vec!["/kubeboot".into(), "pause".into()], ..Default::default() };
    let archive = docker_archive(&reference, &entries, &config)
        .map_err(|e| RuntimeError::Docker(format!("building the pause image: {e}")))?;
    runtime.load(archive).await?;
    Ok(reference)
}

#[cfg(test)]
mod tests {
    use crate::agent::runtime::fake::FakeRuntime;

    #[tokio::test]
    async fn built_and_loaded_once() {
        let runtime = FakeRuntime::default();
        let first = super::ensure(&runtime).await.unwrap();
        assert!(first.starts_with("kubeboot/pause:"), "{first}");
        assert_eq!(super::ensure(&runtime).await.unwrap(), first);
        assert_eq!(*runtime.loaded.lock().unwrap(), 1, "the second call finds the image");
    }

    #[test]
    fn this_binary_lists_its_loader() {
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        let libs = super::shared_libraries(&exe);
        assert!(libs.iter().any(|l| l.contains("ld-linux")), "{libs:?}");
        assert!(libs.iter().any(|l| l.contains("libc.so")), "{libs:?}");
    }
}
