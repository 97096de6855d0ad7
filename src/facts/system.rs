//! OS, package manager, init system, hardware: everything `ping` shows and the playbooks branch on.

use serde::Serialize;

/// One shell command that prints `key=value` lines. /etc/os-release is read in a subshell so its variables
/// cannot leak into the rest.
pub const SYSTEM_FACTS_COMMAND: &str = r#"LC_ALL=C; export LC_ALL
( . /etc/os-release 2>/dev/null; echo "os_id=$ID"; echo "os_like=$ID_LIKE"; echo "os_version=$VERSION_ID"; echo "os_name=$PRETTY_NAME"; echo "os_codename=$VERSION_CODENAME" )
for pm in dnf yum apt-get; do if command -v $pm >/dev/null 2>&1; then echo "package_manager=$pm"; break; fi; done
echo "init=$(cat /proc/1/comm 2>/dev/null)"
echo "arch=$(uname -m)"
echo "kernel=$(uname -r)"
echo "hostname=$(hostname 2>/dev/null || cat /proc/sys/kernel/hostname)"
echo "memory_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)"
echo "cpus=$(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc)"
echo "user=$(id -un)"
echo "deb_arch=$(dpkg --print-architecture 2>/dev/null)"
"#;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OsFamily {
    El,
    Debian,
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PackageManager {
    Dnf,
    Yum,
    Apt,
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SystemFacts {
    pub os_id: String,
    pub os_name: String,
    pub os_version: String,
    pub os_codename: String,
    pub family: OsFamily,
    pub package_manager: PackageManager,
    pub init: String,
    pub arch: String,
    pub kernel: String,
    pub hostname: String,
    pub memory_mb: u64,
    pub cpus: u32,
    pub user: String,
    /// Debian's architecture name (amd64, arm64), empty on EL.
    pub deb_arch: String,
}

pub fn parse_system_facts(text: &str) -> Result<SystemFacts, String> {
    let get = |key: &str| -> String {
        text.lines()
            .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
            .unwrap_or("")
            .trim()
            .to_string()
    };
    let os_id = get("os_id");
    let os_like = get("os_like");
    let words: Vec<&str> = os_id.split_whitespace().chain(os_like.split_whitespace()).collect();
    let family = if words.iter().any(|w| matches!(*w, "rhel" | "centos" | "fedora" | "rocky" | "almalinux")) {
        OsFamily::El
    } else if words.iter().any(|w| matches!(*w, "debian" | "ubuntu")) {
        OsFamily::Debian
    } else {
        OsFamily::Unknown
    };
    let package_manager = match get("package_manager").as_str() {
        "dnf" => PackageManager::Dnf,
        "yum" => PackageManager::Yum,
        "apt-get" => PackageManager::Apt,
        _ => PackageManager::None,
    };
    let number = |key: &str| -> Result<u64, String> {
        let raw = get(key);
        raw.parse().map_err(|_| format!("{key} is {raw:?}, not a number"))
    };
    let hostname = get("hostname");
    if hostname.is_empty() {
        return Err("no hostname in the fact output".into());
    }
    Ok(SystemFacts {
        os_name: get("os_name"),
        os_version: get("os_version"),
        os_codename: get("os_codename"),
        family,
        package_manager,
        init: get("init"),
        arch: get("arch"),
        kernel: get("kernel"),
        hostname,
        memory_mb: number("memory_kb")? / 1024,
        cpus: number("cpus")? as u32,
        user: get("user"),
        deb_arch: get("deb_arch"),
        os_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::facts::fixture;

    #[test]
    fn debian_bookworm() {
        let f = parse_system_facts(&fixture("debian12.txt")).unwrap();
        assert_eq!((f.family, f.package_manager), (OsFamily::Debian, PackageManager::Apt));
        assert_eq!((f.os_id.as_str(), f.os_version.as_str()), ("debian", "12"));
        assert_eq!((f.init.as_str(), f.arch.as_str(), f.cpus, f.memory_mb), ("systemd", "x86_64", 2, 23_995));
    }

    #[test]
    fn ubuntu_is_debian_family() {
        let f = parse_system_facts(&fixture("ubuntu2204.txt")).unwrap();
        assert_eq!((f.family, f.package_manager), (OsFamily::Debian, PackageManager::Apt));
    }

    #[test]
    fn centos7_uses_yum_and_rocky9_dnf() {
        let c7 = parse_system_facts(&fixture("centos7.txt")).unwrap();
        assert_eq!((c7.family, c7.package_manager, c7.os_version.as_str()), (OsFamily::El, PackageManager::Yum, "7"));
        let r9 = parse_system_facts(&fixture("rocky9.txt")).unwrap();
        assert_eq!((r9.family, r9.package_manager), (OsFamily::El, PackageManager::Dnf));
    }

    #[test]
    fn garbage_is_an_error_not_a_guess() {
        assert!(parse_system_facts("os_id=debian\nhostname=x\nmemory_kb=abc\ncpus=1\n").is_err());
        assert!(parse_system_facts("").is_err());
    }
}
