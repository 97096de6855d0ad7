//! `kubeboot registry` against skopeo (a registry client nobody here wrote): images in skopeo's `dir:`
//! layout, as a bundle holds them, are served by tag and by digest with the same manifest bytes and
//! digests, a Docker Hub image under its repository path and another registry's under its path too; a
//! missing image is the registry API's "manifest unknown", and a write is refused.

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use kubeboot::bundle::manifest::ImageEntry;
use kubeboot::image_archive::{docker_archive, Entry, ImageConfig};

fn skopeo(args: &[&str]) -> (bool, String) {
    let out =
        Command::new("skopeo").args(args).output().expect("skopeo (apt-get install skopeo; .ci/setup installs it)");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// An image of one file, copied by skopeo into `dir` as a bundle holds it; its manifest digest.
fn image(work: &Path, tag: &str, text: &str, dir: &Path) -> String {
    let entries = [Entry::File { path: "/hello.txt".into(), contents: text.as_bytes().to_vec(), mode: 0o644 }];
    let archive = work.join(format!("{}.tar", text.len()));
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    std::fs::write(&archive, docker_archive(tag, &entries, &ImageConfig::default()).unwrap()).unwrap();
    let (ok, said) = skopeo(&[
        "copy",
        "--quiet",
        &format!("docker-archive:{}", archive.display()),
        &format!("dir:{}", dir.display()),
    ]);
    assert!(ok, "skopeo copy into dir: {said}");
    format!("sha256:{}", kubeboot::checksum::sha256_hex(&std::fs::read(dir.join("manifest.json")).unwrap()))
}

fn raw_http(port: u16, request: &str) -> String {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

#[test]
fn skopeo_pulls_the_bundle_images_through_kubeboot_registry() {
    let work = tempfile::tempdir().unwrap();
    let images = work.path().join("images");
    let hub_digest = image(work.path(), "kubetm/hello:v1", "hello from the bundle", &images.join("0"));
    let other_digest = image(work.path(), "team/tool:2", "a tool of our own", &images.join("1"));
    let entry = |reference: &str, digest: &str, folder: &str| ImageEntry {
        requested: reference.into(),
        reference: reference.into(),
        digest: digest.into(),
        source: "test".into(),
        folder: folder.into(),
        size: 0,
    };
    let list = vec![
        entry("docker.io/kubetm/hello:v1", &hub_digest, "0"),
        entry("reg.example:5000/team/tool:2", &other_digest, "1"),
    ];
    std::fs::write(images.join("images.json"), serde_json::to_vec(&list).unwrap()).unwrap();

    let port = common::free_port();
    let listen = format!("127.0.0.1:{port}");
    let _registry = common::Stopped(
        Command::new(env!("CARGO_BIN_EXE_kubeboot"))
            .args(["registry", "--images", images.to_str().unwrap(), "--listen", &listen])
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    common::wait_for("the registry listening", Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });

    // By tag: the digest and tags skopeo reads, and the manifest and layer bytes it copies, are the bundle's.
    let (ok, said) = skopeo(&["inspect", "--tls-verify=false", &format!("docker://{listen}/kubetm/hello:v1")]);
    assert!(ok, "inspect: {said}");
    let inspected: serde_json::Value = serde_json::from_str(&said).unwrap();
    assert_eq!(inspected["Digest"], hub_digest.as_str());
    assert_eq!(inspected["RepoTags"], serde_json::json!(["v1"]));
    let copied = work.path().join("copied");
    let (ok, said) = skopeo(&[
        "copy",
        "--quiet",
        "--src-tls-verify=false",
        &format!("docker://{listen}/kubetm/hello:v1"),
        &format!("dir:{}", copied.display()),
    ]);
    assert!(ok, "copy through the registry: {said}");
    for file in std::fs::read_dir(images.join("0")).unwrap() {
        let name = file.unwrap().file_name();
        if name != "version" {
            assert_eq!(
                std::fs::read(copied.join(&name)).unwrap(),
                std::fs::read(images.join("0").join(&name)).unwrap(),
                "{name:?}"
            );
        }
    }
    // By digest, and another registry's image under its own path.
    let (ok, said) =
        skopeo(&["inspect", "--tls-verify=false", &format!("docker://{listen}/kubetm/hello@{hub_digest}")]);
    assert!(ok, "inspect by digest: {said}");
    let (ok, said) = skopeo(&["inspect", "--tls-verify=false", &format!("docker://{listen}/team/tool:2")]);
    assert!(ok, "inspect team/tool: {said}");
    assert!(said.contains(&other_digest), "{said}");

    // What it does not hold, and what it does not do.
    let (ok, said) = skopeo(&["inspect", "--tls-verify=false", &format!("docker://{listen}/kubetm/hello:v9")]);
    assert!(!ok && said.contains("manifest unknown"), "{said}");
    let answer =
        raw_http(port, "DELETE /v2/kubetm/hello/manifests/v1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 405"), "{answer}");
    let answer = raw_http(port, "GET /v2/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(
        answer.starts_with("HTTP/1.1 200")
            && answer.to_lowercase().contains("docker-distribution-api-version: registry/2.0"),
        "{answer}"
    );
}
