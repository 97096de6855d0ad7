//! Host state that tasks decide on: files, packages, services, sysctls, kernel modules, the hostname and
//! command guards. All keys a play needs are read in one round trip: `script` builds one shell script with a
//! delimited section per key (packages share one section), `parse` turns its output back into values.

use std::collections::HashMap;

use base64::Engine;

use super::{PackageManager, SystemFacts};
use crate::transport::shell_quote;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FactKey {
    File(String),
    Package(String),
    Service(String),
    Sysctl(String),
    KernelModule(String),
    Hostname,
    /// A guard command's success (command module's `unless`).
    Guard(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileState {
    pub kind: FileKind,
    pub mode: u32,
    pub owner: String,
    pub group: String,
    /// Contents for regular files only.
    pub content: Option<Vec<u8>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    File,
    Directory,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceState {
    /// loaded | not-found | …
    pub load_state: String,
    /// active | inactive | failed | …
    pub active_state: String,
    /// enabled | disabled | static | …
    pub unit_file_state: String,
    /// systemd has unit files on disk newer than what it loaded.
    pub need_daemon_reload: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FactValue {
    File(Option<FileState>),
    /// Installed version, if installed.
    Package(Option<String>),
    Service(ServiceState),
    Sysctl(Option<String>),
    KernelModule(bool),
    Hostname(String),
    Guard(bool),
}

pub type FactCache = HashMap<FactKey, FactValue>;

const MARK: &str = "@@kubeboot-fact";

/// Largest file whose contents are read as a fact. A bigger regular file comes back without contents; no
/// default playbook manages one (comparing large files by checksum is not built yet).
pub const MAX_FILE_FACT_BYTES: u64 = 4 * 1024 * 1024;

/// One script that prints every key's section.
pub fn script(keys: &[FactKey], system: &SystemFacts) -> String {
    let mut s = String::from("export LC_ALL=C\n");
    let mut packages = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        match key {
            FactKey::Package(name) => packages.push(shell_quote(name)),
            _ => {
                s.push_str(&format!("echo '{MARK} {i}'\n"));
                s.push_str(&section(key));
            }
        }
    }
    if !packages.is_empty() {
        s.push_str(&format!("echo '{MARK} packages'\n"));
        let names = packages.join(" ");
        match system.package_manager {
            PackageManager::Apt => s.push_str(&format!(
                "dpkg-query -W -f='${{Package}}\\t${{Version}}\\t${{db:Status-Abbrev}}\\n' {names} 2>/dev/null\n"
            )),
            _ => s.push_str(&format!(
                "rpm -q --qf '%{{NAME}}\\t%{{VERSION}}-%{{RELEASE}}\\tii \\n' {names} 2>/dev/null | grep -v 'is not installed'\n"
            )),
        }
    }
    s.push_str(&format!("echo '{MARK} end'\n"));
    s
}

fn section(key: &FactKey) -> String {
    match key {
        FactKey::File(path) => {
            let p = shell_quote(path);
            format!(
                "if [ -e {p} ] || [ -L {p} ]; then stat -L -c '%F|%a|%U|%G|%s' {p}; \
                 if [ -f {p} ] && [ $(stat -L -c %s {p}) -le {MAX_FILE_FACT_BYTES} ]; then base64 -w0 < {p}; echo; fi; \
                 else echo absent; fi\n"
            )
        }
        FactKey::Service(name) => format!(
            "systemctl show -p LoadState -p ActiveState -p UnitFileState -p NeedDaemonReload {} 2>/dev/null\n",
            shell_quote(name)
        ),
        FactKey::Sysctl(name) => {
            format!("sysctl -n {} 2>/dev/null || echo '@@absent'\n", shell_quote(name))
        }
        FactKey::KernelModule(name) => format!(
            "if grep -q '^{} ' /proc/modules 2>/dev/null || [ -d /sys/module/{} ]; then echo loaded; else echo absent; fi\n",
            name, name
        ),
        FactKey::Hostname => "hostname\n".to_string(),
        FactKey::Guard(cmd) => format!("if ( {cmd} ) >/dev/null 2>&1; then echo yes; else echo no; fi\n"),
        FactKey::Package(_) => String::new(),
    }
}

/// Parse the script's output back into values for `keys`.
pub fn parse(keys: &[FactKey], output: &str) -> Result<FactCache, String> {
    let mut sections: HashMap<String, Vec<&str>> = HashMap::new();
    let mut current: Option<String> = None;
    for line in output.lines() {
        if let Some(id) = line.strip_prefix(MARK).map(str::trim) {
            current = Some(id.to_string());
            sections.entry(id.to_string()).or_default();
            continue;
        }
        if let Some(id) = &current {
            sections.get_mut(id).expect("created above").push(line);
        }
    }
    if !sections.contains_key("end") {
        return Err("the fact script did not finish".into());
    }
    let installed: HashMap<&str, &str> = sections
        .get("packages")
        .map(|lines| {
            lines
                .iter()
                .filter_map(|l| {
                    let mut f = l.split('\t');
                    let (name, version, status) = (f.next()?, f.next()?, f.next().unwrap_or(""));
                    status.starts_with("ii").then_some((name, version))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut cache = FactCache::new();
    for (i, key) in keys.iter().enumerate() {
        let lines = sections.get(&i.to_string()).map(Vec::as_slice).unwrap_or(&[]);
        let value = match key {
            FactKey::Package(name) => FactValue::Package(installed.get(name.as_str()).map(|v| v.to_string())),
            FactKey::File(path) => FactValue::File(parse_file(lines).map_err(|e| format!("{path}: {e}"))?),
            FactKey::Service(_) => FactValue::Service(parse_service(lines)),
            FactKey::Sysctl(_) => {
                let v = lines.first().map(|l| l.trim().to_string());
                FactValue::Sysctl(v.filter(|v| v != "@@absent"))
            }
            FactKey::KernelModule(_) => FactValue::KernelModule(lines.first() == Some(&"loaded")),
            FactKey::Hostname => FactValue::Hostname(lines.first().map(|l| l.trim().to_string()).unwrap_or_default()),
            FactKey::Guard(_) => FactValue::Guard(lines.first() == Some(&"yes")),
        };
        cache.insert(key.clone(), value);
    }
    Ok(cache)
}

fn parse_file(lines: &[&str]) -> Result<Option<FileState>, String> {
    let Some(first) = lines.first() else {
        return Err("no output".into());
    };
    if *first == "absent" {
        return Ok(None);
    }
    let fields: Vec<&str> = first.split('|').collect();
    if fields.len() != 5 {
        return Err(format!("unexpected stat output {first:?}"));
    }
    let kind = match fields[0] {
        "regular file" | "regular empty file" => FileKind::File,
        "directory" => FileKind::Directory,
        _ => FileKind::Other,
    };
    let mode = u32::from_str_radix(fields[1], 8).map_err(|_| format!("bad mode {:?}", fields[1]))?;
    let content = match (kind, lines.get(1)) {
        (FileKind::File, Some(b64)) => {
            Some(base64::engine::general_purpose::STANDARD.decode(b64.trim()).map_err(|e| format!("bad base64: {e}"))?)
        }
        (FileKind::File, None) if fields[4] == "0" => Some(Vec::new()),
        _ => None,
    };
    Ok(Some(FileState { kind, mode, owner: fields[2].into(), group: fields[3].into(), content }))
}

fn parse_service(lines: &[&str]) -> ServiceState {
    let mut s = ServiceState::default();
    for line in lines {
        if let Some((k, v)) = line.split_once('=') {
            match k {
                "LoadState" => s.load_state = v.into(),
                "ActiveState" => s.active_state = v.into(),
                "UnitFileState" => s.unit_file_state = v.into(),
                "NeedDaemonReload" => s.need_daemon_reload = v == "yes",
                _ => {}
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::facts::fixture;

    #[test]
    fn parses_a_debian_state_dump() {
        let keys = vec![
            FactKey::File("/etc/docker/daemon.json".into()),
            FactKey::File("/etc/missing".into()),
            FactKey::File("/etc/docker".into()),
            FactKey::Package("docker.io".into()),
            FactKey::Package("lvm2".into()),
            FactKey::Package("gnupg".into()),
            FactKey::Service("docker".into()),
            FactKey::Sysctl("net.ipv4.ip_forward".into()),
            FactKey::Hostname,
            FactKey::Guard("test -e /x".into()),
        ];
        let cache = parse(&keys, &fixture("state-debian.txt")).unwrap();
        let daemon = match &cache[&keys[0]] {
            FactValue::File(Some(f)) => f.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!((daemon.kind, daemon.mode, daemon.owner.as_str()), (FileKind::File, 0o644, "root"));
        assert_eq!(daemon.content.as_deref(), Some(&b"{}\n"[..]));
        assert_eq!(cache[&keys[1]], FactValue::File(None));
        assert!(matches!(&cache[&keys[2]], FactValue::File(Some(FileState { kind: FileKind::Directory, .. }))));
        assert_eq!(cache[&keys[3]], FactValue::Package(Some("20.10.24+dfsg1-1+b3".into())));
        assert_eq!(cache[&keys[4]], FactValue::Package(None), "rc (removed, config left) is not installed");
        assert_eq!(cache[&keys[5]], FactValue::Package(None), "not listed is not installed");
        let svc = match &cache[&keys[6]] {
            FactValue::Service(s) => s.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            (svc.active_state.as_str(), svc.unit_file_state.as_str(), svc.need_daemon_reload),
            ("active", "enabled", false)
        );
        assert_eq!(cache[&keys[7]], FactValue::Sysctl(Some("1".into())));
        assert_eq!(cache[&keys[8]], FactValue::Hostname("lab-node1".into()));
        assert_eq!(cache[&keys[9]], FactValue::Guard(false));
    }

    #[test]
    fn parses_rpm_output_for_el() {
        let keys = vec![FactKey::Package("docker-ce".into()), FactKey::Package("lvm2".into())];
        let out = format!("{MARK} packages\ndocker-ce\t18.06.2.ce-3.el7\tii \n{MARK} end\n");
        let cache = parse(&keys, &out).unwrap();
        assert_eq!(cache[&keys[0]], FactValue::Package(Some("18.06.2.ce-3.el7".into())));
        assert_eq!(cache[&keys[1]], FactValue::Package(None));
    }

    #[test]
    fn a_cut_short_dump_is_an_error() {
        assert!(parse(&[FactKey::Hostname], &format!("{MARK} 0\nhost\n")).is_err());
    }
}
