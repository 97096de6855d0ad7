//! A pod's volumes as folders on the node, bind-mounted into its containers: emptyDir (a folder, or a
//! tmpfs for `medium: Memory`) under the pod's folder and removed with the pod; hostPath as asked (`type`
//! checked or created); persistentVolumeClaim as the folder of its bound hostPath or `local` volume;
//! configMap, secret and downwardAPI written as files (defaultMode / items' mode).

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// What the volumes need from the API: configmaps, secrets and claims by name, the volumes those claims are
/// bound to by volume name (None = not found).
#[derive(Default)]
pub struct VolumeSources {
    pub config_maps: HashMap<String, Option<Value>>,
    pub secrets: HashMap<String, Option<Value>>,
    pub claims: HashMap<String, Option<Value>>,
    pub volumes: HashMap<String, Option<Value>>,
}

/// The folder of a pod on the node: /var/lib/kubeboot/pods/<uid>.
pub fn pod_dir(data_dir: &Path, uid: &str) -> PathBuf {
    data_dir.join("pods").join(uid)
}

/// The uids of the pods that have a folder on the node.
pub fn pod_dirs(data_dir: &Path) -> Vec<String> {
    std::fs::read_dir(data_dir.join("pods"))
        .map(|entries| entries.flatten().filter_map(|e| e.file_name().into_string().ok()).collect())
        .unwrap_or_default()
}

fn io(what: &str, path: &Path, e: std::io::Error) -> String {
    format!("{what} {}: {e}", path.display())
}

/// Files of a configMap/secret volume: every key, or `items` (key -> path, mode).
fn write_projection(
    dir: &Path,
    data: &serde_json::Map<String, Value>,
    volume: &Value,
    decode: bool,
) -> Result<(), String> {
    let default_mode = volume.get("defaultMode").and_then(Value::as_u64).unwrap_or(0o644) as u32;
    let items: Vec<(String, String, u32)> = match volume.get("items").and_then(Value::as_array) {
        Some(items) => items
            .iter()
            .filter_map(|i| {
                let key = i.get("key")?.as_str()?.to_string();
                let path = i.get("path").and_then(Value::as_str).unwrap_or(&key).to_string();
                let mode = i.get("mode").and_then(Value::as_u64).map(|m| m as u32).unwrap_or(default_mode);
                Some((key, path, mode))
            })
            .collect(),
        None => data.keys().map(|k| (k.clone(), k.clone(), default_mode)).collect(),
    };
    std::fs::create_dir_all(dir).map_err(|e| io("creating", dir, e))?;
    for (key, rel, mode) in items {
        let Some(value) = data.get(&key).and_then(Value::as_str) else {
            return Err(format!("configmap/secret has no key {key:?}"));
        };
        let bytes = if decode {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.decode(value).map_err(|e| format!("key {key}: {e}"))?
        } else {
            value.as_bytes().to_vec()
        };
        if rel.split('/').any(|p| p == "..") {
            return Err(format!("item path {rel:?} must not contain '..'"));
        }
        let path = dir.join(&rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io("creating", parent, e))?;
        }
        std::fs::write(&path, bytes).map_err(|e| io("writing", &path, e))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).map_err(|e| io("chmod", &path, e))?;
    }
    Ok(())
}

fn downward_value(pod: &Value, field_path: &str) -> Option<String> {
    let text = match field_path {
        "metadata.name" => pod.pointer("/metadata/name")?.as_str()?.to_string(),
        "metadata.namespace" => pod.pointer("/metadata/namespace")?.as_str()?.to_string(),
        "metadata.uid" => pod.pointer("/metadata/uid")?.as_str()?.to_string(),
        "metadata.labels" | "metadata.annotations" => {
            let map = pod.pointer(&format!("/metadata/{}", &field_path[9..]))?.as_object()?;
            let mut lines: Vec<String> =
                map.iter().map(|(k, v)| format!("{k}=\"{}\"", v.as_str().unwrap_or(""))).collect();
            lines.sort();
            lines.join("\n")
        }
        other => {
            return other
                .strip_prefix("metadata.labels['")
                .and_then(|k| k.strip_suffix("']"))
                .and_then(|k| pod.pointer("/metadata/labels")?.get(k)?.as_str().map(String::from))
        }
    };
    Some(text)
}

/// A hostPath volume's path, checked or created as its `type` says (`mode` for a folder it creates).
fn host_path(host: &Value, mode: u32) -> Result<PathBuf, String> {
    let path = PathBuf::from(host.get("path").and_then(Value::as_str).unwrap_or("/"));
    let kind = host.get("type").and_then(Value::as_str).unwrap_or("");
    let fail = |what: &str| Err(format!("hostPath type check failed: {} is not a {what}", path.display()));
    match kind {
        "DirectoryOrCreate" if !path.exists() => {
            std::fs::create_dir_all(&path).map_err(|e| io("creating", &path, e))?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                .map_err(|e| io("chmod", &path, e))?;
        }
        "FileOrCreate" if !path.exists() => {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| io("creating", parent, e))?;
            }
            std::fs::write(&path, b"").map_err(|e| io("creating", &path, e))?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
                .map_err(|e| io("chmod", &path, e))?;
        }
        "Directory" if !path.is_dir() => return fail("directory"),
        "File" if !path.is_file() => return fail("file"),
        "Socket" | "CharDevice" | "BlockDevice" if !path.exists() => return fail(kind),
        _ => {}
    }
    Ok(path)
}

/// The folder of the volume a claim is bound to: hostPath as above (a local-path folder made writable by
/// anyone, as k3s makes them), `local` as it is (it must exist, as kubelet requires).
fn claimed_path(claim: &Value, sources: &VolumeSources) -> Result<PathBuf, String> {
    let name = claim.get("claimName").and_then(Value::as_str).unwrap_or("");
    let Some(pvc) = sources.claims.get(name).cloned().flatten() else {
        return Err(format!("persistentvolumeclaim {name:?} not found"));
    };
    let volume = pvc.pointer("/spec/volumeName").and_then(Value::as_str).unwrap_or("");
    let bound = pvc.pointer("/status/phase").and_then(Value::as_str) == Some("Bound");
    if volume.is_empty() || !bound {
        return Err(format!("persistentvolumeclaim {name:?} is not bound"));
    }
    let Some(pv) = sources.volumes.get(volume).cloned().flatten() else {
        return Err(format!("persistentvolume {volume:?} not found"));
    };
    if let Some(host) = pv.pointer("/spec/hostPath") {
        let mode = if crate::resources::storage::is_local_path(&pv) { 0o777 } else { 0o755 };
        return host_path(host, mode);
    }
    if let Some(path) = pv.pointer("/spec/local/path").and_then(Value::as_str) {
        let path = PathBuf::from(path);
        if !path.exists() {
            return Err(format!("local volume {volume:?}: path {:?} does not exist", path.display().to_string()));
        }
        return Ok(path);
    }
    Err(format!("persistentvolume {volume:?}: only hostPath and local volumes can be mounted by kubeboot"))
}

/// Make every volume of `pod` ready on the node; returns volume name -> host path.
pub fn prepare(pod: &Value, pod_dir: &Path, sources: &VolumeSources) -> Result<HashMap<String, PathBuf>, String> {
    let mut out = HashMap::new();
    for volume in pod.pointer("/spec/volumes").and_then(Value::as_array).into_iter().flatten() {
        let Some(name) = volume.get("name").and_then(Value::as_str) else { continue };
        let path = if let Some(empty) = volume.get("emptyDir") {
            let dir = pod_dir.join("volumes/empty-dir").join(name);
            if !dir.exists() {
                std::fs::create_dir_all(&dir).map_err(|e| io("creating", &dir, e))?;
                std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777))
                    .map_err(|e| io("chmod", &dir, e))?;
                if empty.get("medium").and_then(Value::as_str) == Some("Memory") {
                    let status = std::process::Command::new("mount").args(["-t", "tmpfs", "tmpfs"]).arg(&dir).status();
                    if !status.is_ok_and(|s| s.success()) {
                        return Err(format!("mounting a tmpfs on {}", dir.display()));
                    }
                }
            }
            dir
        } else if let Some(host) = volume.get("hostPath") {
            host_path(host, 0o755)?
        } else if let Some(claim) = volume.get("persistentVolumeClaim") {
            claimed_path(claim, sources)?
        } else if let Some(cm) = volume.get("configMap") {
            let source = cm.get("name").and_then(Value::as_str).unwrap_or("");
            let optional = cm.get("optional").and_then(Value::as_bool) == Some(true);
            let dir = pod_dir.join("volumes/configmap").join(name);
            match sources.config_maps.get(source).cloned().flatten() {
                Some(object) => {
                    let data = object.get("data").and_then(Value::as_object).cloned().unwrap_or_default();
                    write_projection(&dir, &data, cm, false)?;
                }
                None if optional => std::fs::create_dir_all(&dir).map_err(|e| io("creating", &dir, e))?,
                None => return Err(format!("configmap {source:?} not found")),
            }
            dir
        } else if let Some(secret) = volume.get("secret") {
            let source = secret.get("secretName").and_then(Value::as_str).unwrap_or("");
            let dir = pod_dir.join("volumes/secret").join(name);
            match sources.secrets.get(source).cloned().flatten() {
                Some(object) => {
                    let data = object.get("data").and_then(Value::as_object).cloned().unwrap_or_default();
                    write_projection(&dir, &data, secret, true)?;
                }
                None if secret.get("optional").and_then(Value::as_bool) == Some(true) => {
                    std::fs::create_dir_all(&dir).map_err(|e| io("creating", &dir, e))?
                }
                None => return Err(format!("secret {source:?} not found")),
            }
            dir
        } else if let Some(downward) = volume.get("downwardAPI") {
            let dir = pod_dir.join("volumes/downward-api").join(name);
            let mut data = serde_json::Map::new();
            let mut items = Vec::new();
            for item in downward.get("items").and_then(Value::as_array).into_iter().flatten() {
                let (Some(path), Some(field)) = (
                    item.get("path").and_then(Value::as_str),
                    item.pointer("/fieldRef/fieldPath").and_then(Value::as_str),
                ) else {
                    continue;
                };
                data.insert(path.to_string(), Value::String(downward_value(pod, field).unwrap_or_default()));
                items.push(serde_json::json!({"key": path, "path": path, "mode": item.get("mode")}));
            }
            let spec = serde_json::json!({"defaultMode": downward.get("defaultMode"), "items": items});
            write_projection(&dir, &data, &spec, false)?;
            dir
        } else {
            return Err(format!(
                "volume {name:?}: only emptyDir, hostPath, persistentVolumeClaim, configMap, secret and downwardAPI are supported"
            ));
        };
        out.insert(name.to_string(), path);
    }
    Ok(out)
}

/// Remove what the pod's volumes left on the node (tmpfs unmounted first); hostPath volumes stay.
pub fn clean(pod_dir: &Path) {
    let empty = pod_dir.join("volumes/empty-dir");
    if let Ok(entries) = std::fs::read_dir(&empty) {
        for entry in entries.flatten() {
            let _ = std::process::Command::new("umount").arg(entry.path()).stderr(std::process::Stdio::null()).status();
        }
    }
    let _ = std::fs::remove_dir_all(pod_dir);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn volumes_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let host = dir.path().join("host/data");
        let pod = json!({
        "metadata": {"name": "p", "namespace": "ns", "uid": "u", "labels": {"app": "web"}},
        "spec": {"volumes": [
            {"name": "scratch", "emptyDir": {}},
            {"name": "data", "hostPath": {"path": host.to_str().unwrap(), "type": "DirectoryOrCreate"}},
            {"name": "conf", "configMap": {"name": "cm", "items": [{"key": "a", "path": "sub/a.txt"}]}},
            {"name": "creds", "secret": {"secretName": "s", "defaultMode": 0o400}},
            {"name": "info", "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
        ]}});
        let mut sources = VolumeSources::default();
        sources.config_maps.insert("cm".into(), Some(json!({"data": {"a": "hello", "b": "x"}})));
        sources.secrets.insert("s".into(), Some(json!({"data": {"password": "c2VjcmV0"}})));
        let pod_dir = dir.path().join("pods/u");
        let paths = prepare(&pod, &pod_dir, &sources).unwrap();
        assert!(paths["scratch"].is_dir());
        assert!(host.is_dir());
        assert_eq!(std::fs::read_to_string(paths["conf"].join("sub/a.txt")).unwrap(), "hello");
        assert!(!paths["conf"].join("b").exists(), "only the listed items");
        let secret = paths["creds"].join("password");
        assert_eq!(std::fs::read_to_string(&secret).unwrap(), "secret");
        assert_eq!(std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777, 0o400);
        assert_eq!(std::fs::read_to_string(paths["info"].join("labels")).unwrap(), "app=\"web\"");
        clean(&pod_dir);
        assert!(!pod_dir.exists());
        assert!(host.is_dir(), "hostPath stays");
        let missing = json!({"spec": {"volumes": [{"name": "c", "configMap": {"name": "nope"}}]}});
        assert!(prepare(&missing, &pod_dir, &VolumeSources::default()).unwrap_err().contains("not found"));
    }
}
