//! Container images as `docker save` archives (manifest.json, the image config, one layer), built from a
//! list of files: what `docker load` (the pause image) and `skopeo copy docker-archive:` (the lab's
//! stand-in images) read. One layer is enough for images made of a few files.

use std::io::Write;

/// A file (or symlink) in the image's root filesystem.
pub enum Entry {
    File { path: String, contents: Vec<u8>, mode: u32 },
    Symlink { path: String, target: String },
    Dir { path: String, mode: u32 },
}

/// What the image runs and offers.
#[derive(Default)]
pub struct ImageConfig {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub exposed_ports: Vec<u16>,
    pub working_dir: String,
}

fn sha256_hex(data: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, data).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn header(path: &str, size: u64, mode: u32, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    let _ = h.set_path(path.trim_start_matches('/'));
    h
}

fn layer(entries: &[Entry]) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for entry in entries {
        match entry {
            Entry::File { path, contents, mode } => {
                let mut h = header(path, contents.len() as u64, *mode, tar::EntryType::Regular);
                h.set_cksum();
                builder.append(&h, contents.as_slice())?;
            }
            Entry::Symlink { path, target } => {
                let mut h = header(path, 0, 0o777, tar::EntryType::Symlink);
                h.set_link_name(target)?;
                h.set_cksum();
                builder.append(&h, std::io::empty())?;
            }
            Entry::Dir { path, mode } => {
                let mut h = header(&format!("{}/", path.trim_end_matches('/')), 0, *mode, tar::EntryType::Directory);
                h.set_cksum();
                builder.append(&h, std::io::empty())?;
            }
        }
    }
    builder.into_inner()
}

/// The archive of one image tagged `repo_tag` (e.g. `kubetm/p8000:latest`).
pub fn docker_archive(repo_tag: &str, entries: &[Entry], config: &ImageConfig) -> std::io::Result<Vec<u8>> {
    let layer = layer(entries)?;
    let diff_id = format!("sha256:{}", sha256_hex(&layer));
    let ports: serde_json::Map<String, serde_json::Value> =
        config.exposed_ports.iter().map(|p| (format!("{p}/tcp"), serde_json::json!({}))).collect();
    let mut env = vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string()];
    env.extend(config.env.iter().cloned());
    let image_config = serde_json::json!({
        "architecture": match std::env::consts::ARCH { "aarch64" => "arm64", "x86_64" => "amd64", other => other },
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": {
            "Entrypoint": if config.entrypoint.is_empty() { serde_json::Value::Null } else { serde_json::json!(config.entrypoint) },
            "Cmd": if config.cmd.is_empty() { serde_json::Value::Null } else { serde_json::json!(config.cmd) },
            "Env": env,
            "ExposedPorts": ports,
            "WorkingDir": if config.working_dir.is_empty() { "/" } else { config.working_dir.as_str() },
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "kubeboot image_archive"}],
    });
    let config_bytes = serde_json::to_vec(&image_config).expect("json");
    let config_name = format!("{}.json", sha256_hex(&config_bytes));
    let layer_dir = sha256_hex(&layer);
    let manifest = serde_json::json!([{
        "Config": config_name,
        "RepoTags": [repo_tag],
        "Layers": [format!("{layer_dir}/layer.tar")],
    }]);
    let mut out = tar::Builder::new(Vec::new());
    let mut add = |path: &str, data: &[u8]| -> std::io::Result<()> {
        let mut h = header(path, data.len() as u64, 0o644, tar::EntryType::Regular);
        h.set_cksum();
        out.append(&h, data)
    };
    add(&format!("{layer_dir}/layer.tar"), &layer)?;
    add(&format!("{layer_dir}/VERSION"), b"1.0")?;
    add(&config_name, &config_bytes)?;
    add("manifest.json", &serde_json::to_vec(&manifest).expect("json"))?;
    let mut bytes = out.into_inner()?;
    bytes.flush()?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_has_manifest_config_and_layer() {
        let entries = vec![
            Entry::Dir { path: "/bin".into(), mode: 0o755 },
            Entry::File { path: "/bin/busybox".into(), contents: b"binary".to_vec(), mode: 0o755 },
            Entry::Symlink { path: "/bin/sh".into(), target: "busybox".into() },
        ];
        let config = ImageConfig { cmd: vec!["sh".into()], exposed_ports: vec![8000], ..Default::default() };
        let bytes = docker_archive("kubetm/p8000:latest", &entries, &config).unwrap();
        let mut archive = tar::Archive::new(bytes.as_slice());
        let names: Vec<String> =
            archive.entries().unwrap().map(|e| e.unwrap().path().unwrap().display().to_string()).collect();
        assert!(names.contains(&"manifest.json".to_string()));
        assert!(names.iter().any(|n| n.ends_with("/layer.tar")));
        assert_eq!(names.iter().filter(|n| n.ends_with(".json")).count(), 2);
    }
}
