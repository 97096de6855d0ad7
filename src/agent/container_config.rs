//! A pod's containers as the runtime is asked for them: the sandbox with no network of the runtime's (its
//! veth comes from network/),
//! each container joined to the sandbox's network and IPC namespaces, with kubelet's names and labels,
//! command/args, env (value, fieldRef, configMapKeyRef, secretKeyRef, envFrom), workingDir, volume mounts,
//! resources as cgroup limits and securityContext. Pure functions of the pod and what was fetched for it.

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::Value;

use super::runtime::{
    docker_name, ContainerSpec, LABEL_ATTEMPT, LABEL_CONTAINER_NAME, LABEL_INIT, LABEL_POD_NAME, LABEL_POD_NAMESPACE,
    LABEL_POD_UID, LABEL_SANDBOX, LABEL_SPEC_HASH, LABEL_TYPE, SANDBOX_NAME,
};
use super::volumes::VolumeSources;
use crate::resources::meta::text;
use crate::resources::quantity::{cpu_millis, units};

/// What a container's configuration depends on besides the pod.
pub struct PodContext<'a> {
    pub pod: &'a Value,
    pub pod_ip: String,
    pub host_ip: String,
    pub node_name: String,
    pub sandbox_id: String,
    pub sources: &'a VolumeSources,
    pub volume_paths: &'a HashMap<String, PathBuf>,
    /// The pod's resolv.conf on the node, mounted in each container (unless it mounts its own there).
    pub resolv_conf: Option<PathBuf>,
}

fn pod_labels(pod: &Value, kind: &str) -> HashMap<String, String> {
    [
        (LABEL_POD_NAME, text(pod, "/metadata/name")),
        (LABEL_POD_NAMESPACE, text(pod, "/metadata/namespace")),
        (LABEL_POD_UID, text(pod, "/metadata/uid")),
        (LABEL_TYPE, kind.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The sandbox: the pause image, the pod's hostname, no network of the runtime's.
pub fn sandbox(pod: &Value, pause_image: &str, attempt: u32) -> ContainerSpec {
    let mut labels = pod_labels(pod, "podsandbox");
    labels.insert(LABEL_ATTEMPT.into(), attempt.to_string());
    let name = text(pod, "/metadata/name");
    let hostname = pod.pointer("/spec/hostname").and_then(Value::as_str).unwrap_or(&name);
    ContainerSpec {
        name: docker_name(SANDBOX_NAME, &name, &text(pod, "/metadata/namespace"), &text(pod, "/metadata/uid"), attempt),
        image: pause_image.to_string(),
        hostname: Some(hostname.chars().take(63).collect()),
        labels,
        ..Default::default()
    }
}

/// kubelet's container hash: what the container was started from, so a changed spec is noticed.
pub fn spec_hash(container: &Value) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, container.to_string().as_bytes());
    digest.as_ref()[..4].iter().map(|b| format!("{b:02x}")).collect()
}

fn field_ref(ctx: &PodContext, path: &str) -> Result<String, String> {
    Ok(match path {
        "metadata.name" => text(ctx.pod, "/metadata/name"),
        "metadata.namespace" => text(ctx.pod, "/metadata/namespace"),
        "metadata.uid" => text(ctx.pod, "/metadata/uid"),
        "spec.nodeName" => ctx.node_name.clone(),
        "spec.serviceAccountName" => text(ctx.pod, "/spec/serviceAccountName"),
        "status.podIP" => ctx.pod_ip.clone(),
        "status.podIPs" => ctx.pod_ip.clone(),
        "status.hostIP" => ctx.host_ip.clone(),
        other => {
            if let Some(key) = other.strip_prefix("metadata.labels['").and_then(|k| k.strip_suffix("']")) {
                text(ctx.pod, &format!("/metadata/labels/{}", key.replace('~', "~0").replace('/', "~1")))
            } else if let Some(key) = other.strip_prefix("metadata.annotations['").and_then(|k| k.strip_suffix("']")) {
                text(ctx.pod, &format!("/metadata/annotations/{}", key.replace('~', "~0").replace('/', "~1")))
            } else {
                return Err(format!("unsupported fieldRef {other:?}"));
            }
        }
    })
}

fn key_ref(
    objects: &HashMap<String, Option<Value>>,
    r: &Value,
    what: &str,
    decode: bool,
) -> Result<Option<String>, String> {
    let (name, key) = (text(r, "/name"), text(r, "/key"));
    let optional = r.get("optional").and_then(Value::as_bool) == Some(true);
    let value = objects
        .get(&name)
        .cloned()
        .flatten()
        .and_then(|o| o.pointer(&format!("/data/{key}")).and_then(Value::as_str).map(String::from));
    match value {
        Some(v) if decode => {
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(v)
                .map_err(|e| format!("{what} {name:?} key {key:?}: {e}"))?;
            Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
        }
        Some(v) => Ok(Some(v)),
        None if optional => Ok(None),
        None => Err(format!("couldn't find key {key} in {what} {}/{name}", text(r, "/namespace"))),
    }
}

/// The container's environment, in Kubernetes' order: envFrom first, then env (later wins), with
/// $(VAR) references to earlier variables expanded.
pub fn environment(ctx: &PodContext, container: &Value) -> Result<Vec<String>, String> {
    let mut vars: Vec<(String, String)> = Vec::new();
    let set = |vars: &mut Vec<(String, String)>, k: String, v: String| {
        vars.retain(|(name, _)| *name != k);
        vars.push((k, v));
    };
    for from in container.get("envFrom").and_then(Value::as_array).into_iter().flatten() {
        let prefix = text(from, "/prefix");
        let (source, decode) = if let Some(r) = from.get("configMapRef") {
            (ctx.sources.config_maps.get(&text(r, "/name")).cloned().flatten(), false)
        } else if let Some(r) = from.get("secretRef") {
            (ctx.sources.secrets.get(&text(r, "/name")).cloned().flatten(), true)
        } else {
            continue;
        };
        for (k, v) in source.and_then(|o| o.get("data").and_then(Value::as_object).cloned()).unwrap_or_default() {
            let mut value = v.as_str().unwrap_or("").to_string();
            if decode {
                use base64::Engine;
                value = base64::engine::general_purpose::STANDARD
                    .decode(&value)
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
            }
            set(&mut vars, format!("{prefix}{k}"), value);
        }
    }
    for env in container.get("env").and_then(Value::as_array).into_iter().flatten() {
        let name = text(env, "/name");
        let value = if let Some(v) = env.get("value").and_then(Value::as_str) {
            Some(expand(v, &vars))
        } else if let Some(f) = env.pointer("/valueFrom/fieldRef/fieldPath").and_then(Value::as_str) {
            Some(field_ref(ctx, f)?)
        } else if let Some(r) = env.pointer("/valueFrom/configMapKeyRef") {
            key_ref(&ctx.sources.config_maps, r, "configmap", false)?
        } else if let Some(r) = env.pointer("/valueFrom/secretKeyRef") {
            key_ref(&ctx.sources.secrets, r, "secret", true)?
        } else if let Some(r) = env.pointer("/valueFrom/resourceFieldRef") {
            Some(text(container, &format!("/resources/{}", text(r, "/resource").replace('.', "/"))))
        } else {
            Some(String::new())
        };
        if let Some(value) = value {
            set(&mut vars, name, value);
        }
    }
    Ok(vars.into_iter().map(|(k, v)| format!("{k}={v}")).collect())
}

/// Kubernetes' $(VAR) expansion against variables defined before; $$ escapes; unknown ones stay as written.
pub fn expand(input: &str, vars: &[(String, String)]) -> String {
    let mut out = String::new();
    let mut rest = input;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            rest = stripped;
        } else if let Some(inner) = after.strip_prefix('(') {
            match inner.find(')') {
                Some(end) => {
                    let name = &inner[..end];
                    match vars.iter().rev().find(|(k, _)| k == name) {
                        Some((_, v)) => out.push_str(v),
                        None => out.push_str(&format!("$({name})")),
                    }
                    rest = &inner[end + 1..];
                }
                None => {
                    out.push_str("$(");
                    rest = inner;
                }
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// One container of the pod, joined to the sandbox.
pub fn container(ctx: &PodContext, container: &Value, init: bool, attempt: u32) -> Result<ContainerSpec, String> {
    let name = text(container, "/name");
    let mut labels = pod_labels(ctx.pod, "container");
    labels.insert(LABEL_CONTAINER_NAME.into(), name.clone());
    labels.insert(LABEL_ATTEMPT.into(), attempt.to_string());
    labels.insert(LABEL_SANDBOX.into(), ctx.sandbox_id.clone());
    labels.insert(LABEL_SPEC_HASH.into(), spec_hash(container));
    if init {
        labels.insert(LABEL_INIT.into(), "true".into());
    }
    let env = environment(ctx, container)?;
    let strings = |field: &str| -> Option<Vec<String>> {
        container
            .get(field)
            .and_then(Value::as_array)
            .map(|a| a.iter().map(|v| expand(v.as_str().unwrap_or(""), &env_pairs(&env))).collect())
    };
    let mut binds = Vec::new();
    for mount in container.get("volumeMounts").and_then(Value::as_array).into_iter().flatten() {
        let volume = text(mount, "/name");
        let Some(host) = ctx.volume_paths.get(&volume) else {
            return Err(format!("volumeMount {volume:?} names no volume of the pod"));
        };
        let mut host = host.clone();
        let sub = text(mount, "/subPath");
        if !sub.is_empty() {
            if sub.split('/').any(|p| p == "..") {
                return Err(format!("subPath {sub:?} must not contain '..'"));
            }
            host = host.join(&sub);
            if !host.exists() {
                std::fs::create_dir_all(&host).map_err(|e| format!("creating subPath {}: {e}", host.display()))?;
            }
        }
        // A claim mounted read-only for the whole pod is read-only in every container.
        let claim_read_only = ctx
            .pod
            .pointer("/spec/volumes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|v| v.get("name").and_then(Value::as_str) == Some(volume.as_str()))
            .and_then(|v| v.pointer("/persistentVolumeClaim/readOnly"))
            .and_then(Value::as_bool)
            == Some(true);
        let read_only = mount.get("readOnly").and_then(Value::as_bool) == Some(true) || claim_read_only;
        binds.push(format!("{}:{}{}", host.display(), text(mount, "/mountPath"), if read_only { ":ro" } else { "" }));
    }
    if let Some(path) =
        ctx.resolv_conf.as_ref().filter(|_| !binds.iter().any(|b| b.split(':').nth(1) == Some("/etc/resolv.conf")))
    {
        binds.push(format!("{}:/etc/resolv.conf:ro", path.display()));
    }
    let quantity = |kind: &str, resource: &str| {
        container.pointer(&format!("/resources/{kind}/{resource}")).and_then(crate::resources::pod::quantity_text)
    };
    let cpu_limit = quantity("limits", "cpu").and_then(|q| cpu_millis(&q));
    let cpu_request = quantity("requests", "cpu").or(quantity("limits", "cpu")).and_then(|q| cpu_millis(&q));
    let memory_limit = quantity("limits", "memory").and_then(|q| units(&q));
    let security = container.get("securityContext").or_else(|| ctx.pod.pointer("/spec/securityContext"));
    let user = security.and_then(|s| s.get("runAsUser")).and_then(Value::as_i64).map(|uid| {
        match security.and_then(|s| s.get("runAsGroup")).and_then(Value::as_i64) {
            Some(gid) => format!("{uid}:{gid}"),
            None => uid.to_string(),
        }
    });
    Ok(ContainerSpec {
        name: docker_name(
            &name,
            &text(ctx.pod, "/metadata/name"),
            &text(ctx.pod, "/metadata/namespace"),
            &text(ctx.pod, "/metadata/uid"),
            attempt,
        ),
        image: text(container, "/image"),
        entrypoint: strings("command"),
        args: strings("args"),
        env,
        working_dir: Some(text(container, "/workingDir")).filter(|w| !w.is_empty()),
        labels,
        user,
        tty: container.get("tty").and_then(Value::as_bool),
        stdin: container.get("stdin").and_then(Value::as_bool),
        stdin_once: container.get("stdinOnce").and_then(Value::as_bool),
        join_sandbox: Some(ctx.sandbox_id.clone()),
        binds,
        // Docker wants at least 6 MiB; a smaller limit would refuse the container outright.
        memory_limit: memory_limit.map(|m| m.max(6 << 20) as i64),
        nano_cpus: cpu_limit.map(|m| (m * 1_000_000) as i64),
        cpu_shares: cpu_request.map(|m| ((m * 1024) / 1000).max(2) as i64),
        privileged: security.and_then(|s| s.get("privileged")).and_then(Value::as_bool),
        hostname: None,
    })
}

fn env_pairs(env: &[String]) -> Vec<(String, String)> {
    env.iter().filter_map(|e| e.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn env_command_mounts_and_limits() {
        let pod = json!({"metadata": {"name": "pod-1", "namespace": "default", "uid": "u1"}, "spec": {}});
        let mut sources = VolumeSources::default();
        sources.config_maps.insert("cm".into(), Some(json!({"data": {"greeting": "hi"}})));
        sources.secrets.insert("s".into(), Some(json!({"data": {"pw": "c2VjcmV0"}})));
        let volumes: HashMap<String, PathBuf> =
            [("data".to_string(), PathBuf::from("/var/lib/kubeboot/pods/u1/volumes/empty-dir/data"))].into();
        let ctx = PodContext {
            pod: &pod,
            pod_ip: "10.244.1.5".into(),
            host_ip: "10.88.0.11".into(),
            node_name: "n1".into(),
            sandbox_id: "sb".into(),
            sources: &sources,
            volume_paths: &volumes,
            resolv_conf: Some(PathBuf::from("/var/lib/kubeboot/pods/u1/resolv.conf")),
        };
        let c = json!({"name": "c1", "image": "kubetm/p8000", "command": ["sh", "-c"], "args": ["echo $(POD)"],
            "env": [{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                    {"name": "G", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "greeting"}}},
                    {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "s", "key": "pw"}}},
                    {"name": "MSG", "value": "$(G) from $(POD) $$(POD)"}],
            "volumeMounts": [{"name": "data", "mountPath": "/data", "readOnly": true}],
            "resources": {"limits": {"cpu": "500m", "memory": "64Mi"}},
            "securityContext": {"runAsUser": 1000}});
        let body = container(&ctx, &c, false, 2).unwrap();
        assert_eq!(body.name, "k8s_c1_pod-1_default_u1_2");
        let env = body.env;
        for expected in ["POD=pod-1", "IP=10.244.1.5", "G=hi", "PW=secret", "MSG=hi from pod-1 $(POD)"] {
            assert!(env.contains(&expected.to_string()), "{expected} in {env:?}");
        }
        assert_eq!(body.args.unwrap(), ["echo pod-1"]);
        assert_eq!(body.join_sandbox.as_deref(), Some("sb"));
        assert_eq!(
            body.binds,
            [
                "/var/lib/kubeboot/pods/u1/volumes/empty-dir/data:/data:ro",
                "/var/lib/kubeboot/pods/u1/resolv.conf:/etc/resolv.conf:ro"
            ]
        );
        assert_eq!((body.nano_cpus, body.memory_limit), (Some(500_000_000), Some(64 << 20)));
        assert_eq!(body.user.as_deref(), Some("1000"));
        assert_eq!(body.labels[LABEL_ATTEMPT], "2");
        let missing = json!({"name": "c", "image": "x", "env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k"}}}]});
        assert!(container(&ctx, &missing, false, 0).unwrap_err().contains("couldn't find key k"));
    }
}
