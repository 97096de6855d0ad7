//! The bundle's images: the walkthrough's and the user's list, each copied with skopeo (the field's tool for
//! moving images between registries and folders) from the registry Docker on the hosts would pull it
//! from: for Docker Hub images, the inventory's registry mirrors, as the hosts' Docker is configured. An
//! image is kept as skopeo's `dir:` layout (its manifest and blobs unchanged), so the digest a registry
//! serving it answers with is the one the source had.

use std::path::Path;

use super::error::{io, tool_start, BundleError};
use super::manifest::ImageEntry;
use crate::UsageError;

/// The images the walkthrough's steps run (pod-1, the ReplicaSet, the Deployment's two versions, the init
/// container).
pub const WALKTHROUGH_IMAGES: [&str; 5] =
    ["kubetm/p8000", "kubetm/p8080", "kubetm/app:v1", "kubetm/app:v2", "kubetm/init"];

/// An image reference taken apart as Docker reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageName {
    /// `docker.io`, `registry.example:5000`.
    pub registry: String,
    /// `kubetm/p8000`, `library/busybox`.
    pub repository: String,
    /// `:latest` or `@sha256:…`.
    pub tag_or_digest: String,
}

impl ImageName {
    pub fn parse(text: &str) -> Result<ImageName, String> {
        let valid = |c: char| c.is_ascii_alphanumeric() || "._-/:@".contains(c);
        if text.is_empty() || !text.chars().all(valid) || text.starts_with(['/', ':', '@']) {
            return Err(format!("`{text}` is not an image reference"));
        }
        let (first, rest) = text.split_once('/').unwrap_or(("", text));
        let (registry, path) = if !first.is_empty() && (first.contains(['.', ':']) || first == "localhost") {
            (first.to_string(), rest.to_string())
        } else {
            ("docker.io".to_string(), text.to_string())
        };
        let (path, tag_or_digest) = if let Some((p, digest)) = path.split_once('@') {
            (p.to_string(), format!("@{digest}"))
        } else {
            match path.rsplit_once(':') {
                Some((p, tag)) if !tag.contains('/') => (p.to_string(), format!(":{tag}")),
                _ => (path.clone(), ":latest".to_string()),
            }
        };
        if path.is_empty() || path.split('/').any(str::is_empty) || tag_or_digest.len() < 2 {
            return Err(format!("`{text}` is not an image reference"));
        }
        let repository = if registry == "docker.io" && !path.contains('/') { format!("library/{path}") } else { path };
        Ok(ImageName { registry, repository, tag_or_digest })
    }

    /// `docker.io/kubetm/p8000:latest`.
    pub fn full(&self) -> String {
        format!("{}/{}{}", self.registry, self.repository, self.tag_or_digest)
    }
}

/// The image list file: one reference per line, `#` starts a comment. Errors name file:line (exit 2).
pub fn parse_list(path: &Path, text: &str) -> Result<Vec<String>, UsageError> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        ImageName::parse(line).map_err(|e| UsageError(format!("{}:{}: {e}", path.display(), n + 1)))?;
        out.push(line.to_string());
    }
    Ok(out)
}

/// Where to copy an image from: each registry mirror for a Docker Hub image (Docker's order), else its
/// own registry. With mirrors configured, Docker Hub itself is not asked: an air-gapped site's mirror is
/// where its images come from, and the bundle must hold what the hosts would get.
pub fn sources(name: &ImageName, mirrors: &[String], insecure: &[String]) -> Vec<(String, bool)> {
    let path = format!("{}{}", name.repository, name.tag_or_digest);
    if name.registry == "docker.io" && !mirrors.is_empty() {
        return mirrors
            .iter()
            .map(|m| {
                let plain_http = m.starts_with("http://");
                let host = m.trim_start_matches("http://").trim_start_matches("https://").trim_end_matches('/');
                let insecure = plain_http || insecure.iter().any(|i| i == host);
                (format!("{host}/{path}"), insecure)
            })
            .collect();
    }
    let insecure = insecure.contains(&name.registry);
    vec![(format!("{}/{path}", name.registry), insecure)]
}

/// Copy one image into `dest` (a new folder) from the first source that has it.
pub fn copy(requested: &str, sources: &[(String, bool)], dest: &Path, folder: &str) -> Result<ImageEntry, BundleError> {
    let name =
        ImageName::parse(requested).map_err(|message| BundleError::Image { reference: requested.into(), message })?;
    let mut failures = Vec::new();
    for (source, insecure) in sources {
        let _ = std::fs::remove_dir_all(dest);
        let mut command = std::process::Command::new("skopeo");
        command.args(["copy", "--quiet", "--retry-times", "2"]);
        if *insecure {
            command.arg("--src-tls-verify=false");
        }
        command.arg(format!("docker://{source}")).arg(format!("dir:{}", dest.display()));
        let output = command.output().map_err(tool_start("skopeo", "skopeo", "copy images"))?;
        if output.status.success() {
            let manifest = std::fs::read(dest.join("manifest.json")).map_err(io(dest.join("manifest.json")))?;
            let size = std::fs::read_dir(dest)
                .map_err(io(dest))?
                .filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum();
            return Ok(ImageEntry {
                requested: requested.into(),
                reference: name.full(),
                digest: format!("sha256:{}", crate::checksum::sha256_hex(&manifest)),
                source: source.clone(),
                folder: folder.into(),
                size,
            });
        }
        failures.push(format!("{source}: {}", String::from_utf8_lossy(&output.stderr).trim()));
    }
    Err(BundleError::Image {
        reference: requested.into(),
        message: format!("not copied from any source ({})", failures.join("; ")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_read_as_docker_reads_them() {
        let full = |t: &str| ImageName::parse(t).unwrap().full();
        assert_eq!(full("kubetm/p8000"), "docker.io/kubetm/p8000:latest");
        assert_eq!(full("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(full("kubetm/app:v1"), "docker.io/kubetm/app:v1");
        assert_eq!(full("10.88.0.1:5000/team/tool:2"), "10.88.0.1:5000/team/tool:2");
        assert_eq!(full("localhost/x"), "localhost/x:latest");
        let digest = format!("registry.example/a/b@sha256:{}", "0".repeat(64));
        assert_eq!(full(&digest), digest);
        for bad in ["", "a b", "/x", "x//y", "x:", "UPPER?"] {
            assert!(ImageName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hub_images_come_through_the_mirrors_others_from_their_registry() {
        let hub = ImageName::parse("kubetm/p8000").unwrap();
        let mirrors = ["http://10.88.0.1:5000".to_string()];
        assert_eq!(sources(&hub, &mirrors, &[]), [("10.88.0.1:5000/kubetm/p8000:latest".to_string(), true)]);
        assert_eq!(sources(&hub, &[], &[]), [("docker.io/kubetm/p8000:latest".to_string(), false)]);
        let own = ImageName::parse("reg.local:5000/x:1").unwrap();
        assert_eq!(sources(&own, &mirrors, &["reg.local:5000".into()]), [("reg.local:5000/x:1".to_string(), true)]);
    }

    #[test]
    fn the_list_file_names_the_line_of_a_bad_reference() {
        let path = Path::new("images.txt");
        assert_eq!(
            parse_list(path, "# mine\nkubetm/app:v1\n\nbusybox # a shell\n").unwrap(),
            ["kubetm/app:v1", "busybox"]
        );
        let err = parse_list(path, "busybox\nnot an image\n").unwrap_err().to_string();
        assert_eq!(err, "images.txt:2: `not an image` is not an image reference");
    }
}
