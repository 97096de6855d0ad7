//! `package: {name, state: present|absent, version}` through the host's package manager (apt, dnf, yum).
//! Installed versions of every package in a play are read in one call (dpkg-query / rpm -q).

use serde::Deserialize;

use super::{Change, OneOrMany, PlanContext};
use crate::facts::{FactKey, FactValue, PackageManager};
use crate::transport::shell_quote;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PackageState {
    #[default]
    Present,
    Absent,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Package {
    pub name: OneOrMany,
    #[serde(default)]
    pub state: PackageState,
    /// A version pin, e.g. "18.06.2.ce"; empty means any version.
    #[serde(default)]
    pub version: Option<String>,
    /// Install from these package sources alone (an air-gapped bundle's, which `up` writes): a folder
    /// with apt/sources.list (and its own index in apt/lists) or yum.repos.d/; empty means the host's own.
    #[serde(default)]
    pub only_from: Option<String>,
}

/// Does the installed version satisfy the pin? The epoch ("5:") is ignored; the pin may be the whole
/// version, or its upstream part followed by a packaging suffix ("-3.el7", "~3-0~debian", "+dfsg1-1").
pub fn version_matches(installed: &str, pin: &str) -> bool {
    let installed = installed.split_once(':').map(|(_, v)| v).unwrap_or(installed);
    installed == pin || installed.strip_prefix(pin).is_some_and(|rest| rest.starts_with(['-', '~', '+']))
}

/// One package to manage: its name and the version it is pinned to, if any.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, Deserialize)]
pub struct Wanted {
    pub name: String,
    pub pin: Option<String>,
}

impl Package {
    /// Names as given, each optionally `NAME=VERSION` (its own pin; otherwise `version` applies). Names that
    /// render empty (`"{% if … %}docker.io{% endif %}"`) are dropped, so one task can install a list whose
    /// members depend on variables.
    fn wanted(&self) -> Vec<Wanted> {
        let task_pin = self.version.as_deref().filter(|v| !v.is_empty());
        self.name
            .to_vec()
            .into_iter()
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
            .map(|n| match n.split_once('=') {
                Some((name, pin)) => {
                    Wanted { name: name.to_string(), pin: Some(pin.to_string()).filter(|p| !p.is_empty()) }
                }
                None => Wanted { name: n, pin: task_pin.map(String::from) },
            })
            .collect()
    }

    /// What the task installs: every wanted package, or none for `state: absent`.
    pub fn installs(&self) -> Vec<Wanted> {
        match self.state {
            PackageState::Present => self.wanted(),
            PackageState::Absent => Vec::new(),
        }
    }

    pub fn fact_keys(&self) -> Vec<FactKey> {
        self.wanted().into_iter().map(|w| FactKey::Package(w.name)).collect()
    }

    pub fn plan(&self, cx: &PlanContext) -> Result<Vec<Change>, String> {
        let mut install = Vec::new();
        let mut remove = Vec::new();
        let mut diff = String::new();
        for w in self.wanted() {
            let installed = match cx.fact(&FactKey::Package(w.name.clone())) {
                Some(FactValue::Package(v)) => v.clone(),
                _ => None,
            };
            let name = &w.name;
            match (self.state, &installed) {
                (PackageState::Present, None) => {
                    diff.push_str(&format!("+ {name} {}\n", w.pin.as_deref().unwrap_or("(latest)")));
                    install.push(w);
                }
                (PackageState::Present, Some(v)) if w.pin.as_deref().is_some_and(|p| !version_matches(v, p)) => {
                    diff.push_str(&format!("- {name} {v}\n+ {name} {}\n", w.pin.as_deref().unwrap_or_default()));
                    install.push(w);
                }
                (PackageState::Absent, Some(v)) => {
                    diff.push_str(&format!("- {name} {v}\n"));
                    remove.push(w.name);
                }
                _ => {}
            }
        }
        let pm = cx.system.package_manager;
        let mut changes = Vec::new();
        if !install.is_empty() {
            let specs: Vec<String> = install.iter().map(|w| spec(pm, w)).collect();
            changes.push(Change {
                summary: format!("install {}", specs.join(" ")),
                diff: Some(diff.clone()),
                actions: vec![super::Action::Run(install_command(pm, &specs, self.only_from.as_deref())?)],
            });
        }
        if !remove.is_empty() {
            changes.push(Change {
                summary: format!("remove {}", remove.join(" ")),
                diff: Some(diff),
                actions: vec![super::Action::Run(remove_command(pm, &remove)?)],
            });
        }
        Ok(changes)
    }
}

/// NAME=PIN* for apt (a glob over the packaging suffix), NAME-PIN for yum/dnf.
pub fn spec(pm: PackageManager, w: &Wanted) -> String {
    match (pm, w.pin.as_deref()) {
        (PackageManager::Apt, Some(pin)) => format!("{}={pin}*", w.name),
        (_, Some(pin)) => format!("{}-{pin}", w.name),
        (_, None) => w.name.clone(),
    }
}

/// `apt-get update` only when the index is missing, older than an hour, or older than a repository file or
/// key (a repository added earlier in the run), like Ansible's cache_valid_time: three package tasks in a
/// play then refresh it once, not three times.
const REFRESH_APT_INDEX: &str = "newest=$(ls -t /var/lib/apt/lists/*_Packages* 2>/dev/null | head -n1); \
if [ -z \"$newest\" ] || [ -z \"$(find \"$newest\" -mmin -60)\" ] || \
[ -n \"$(find /etc/apt/sources.list /etc/apt/sources.list.d /etc/apt/keyrings -newer \"$newest\" 2>/dev/null | head -n1)\" ]; \
then apt-get -o DPkg::Lock::Timeout=300 update -qq; fi";

/// Up to five minutes for another apt or dpkg to finish (pgrep is in procps, on every Debian with systemd).
const WAIT_FOR_APT: &str =
    "for _ in $(seq 300); do pgrep -x 'apt-get|apt|dpkg|unattended-upgr' >/dev/null 2>&1 || break; sleep 1; done;";

/// apt-get's options (sources, and an index of their own) or dnf/yum's (the repository folder) for
/// installing from `only_from` alone.
fn only_from_options(pm: PackageManager, only_from: &str) -> String {
    let root = only_from.trim_end_matches('/');
    match pm {
        PackageManager::Apt => format!(
            "-o Dir::Etc::SourceList={} -o Dir::Etc::SourceParts={} -o Dir::State::Lists={}",
            shell_quote(&format!("{root}/apt/sources.list")),
            shell_quote(&format!("{root}/apt/sources.list.d")),
            shell_quote(&format!("{root}/apt/lists")),
        ),
        _ => format!("--setopt=reposdir={}", shell_quote(&format!("{root}/yum.repos.d"))),
    }
}

fn install_command(pm: PackageManager, specs: &[String], only_from: Option<&str>) -> Result<String, String> {
    let args: Vec<String> = specs.iter().map(|s| shell_quote(s)).collect();
    let args = args.join(" ");
    // With `only_from`, the package manager reads those sources alone; its options lead every call.
    let only_from = only_from.map(str::trim).filter(|r| !r.is_empty());
    let o = only_from.map(|root| format!("{} ", only_from_options(pm, root))).unwrap_or_default();
    Ok(match pm {
        // The index is refreshed only when something must be installed, so a rerun never touches it; a
        // bundle's index is local and read every time (no network, a fraction of a second).
        // An earlier run killed mid-install leaves apt running on the host (it outlives the SSH channel) or
        // dpkg half-configured: wait for the former (bounded), then `dpkg --configure -a` finishes the latter.
        PackageManager::Apt => {
            let refresh = match only_from {
                Some(_) => format!("apt-get {o}-o DPkg::Lock::Timeout=300 update -qq"),
                None => format!("{{ {REFRESH_APT_INDEX}; }}"),
            };
            format!(
                "export DEBIAN_FRONTEND=noninteractive; {WAIT_FOR_APT} dpkg --configure -a && {refresh} && apt-get {o}install -y -qq --no-install-recommends --allow-downgrades -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confold {args}"
            )
        }
        PackageManager::Dnf | PackageManager::Yum => {
            let pm = if pm == PackageManager::Dnf { "dnf" } else { "yum" };
            // install handles new packages and upgrades; a pin older than what is installed needs downgrade.
            format!("{pm} {o}install -y -q {args} || {pm} {o}downgrade -y -q {args}")
        }
        PackageManager::None => return Err("no supported package manager (apt, dnf, yum) on this host".into()),
    })
}

fn remove_command(pm: PackageManager, names: &[String]) -> Result<String, String> {
    let args: Vec<String> = names.iter().map(|s| shell_quote(s)).collect();
    let args = args.join(" ");
    Ok(match pm {
        PackageManager::Apt => {
            format!("DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq {args}")
        }
        PackageManager::Dnf => format!("dnf remove -y -q {args}"),
        PackageManager::Yum => format!("yum remove -y -q {args}"),
        PackageManager::None => return Err("no supported package manager (apt, dnf, yum) on this host".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{module, plan};
    use super::*;
    use crate::facts::FactCache;

    #[test]
    fn generated_commands_are_valid_shell() {
        for pm in [PackageManager::Apt, PackageManager::Dnf, PackageManager::Yum] {
            for cmd in [
                install_command(pm, &["a=1*".into(), "b".into()], None).unwrap(),
                install_command(pm, &["a=1*".into()], Some("/var/lib/kubeboot-airgap")).unwrap(),
                remove_command(pm, &["a".into()]).unwrap(),
            ] {
                let status = std::process::Command::new("/bin/sh").args(["-n", "-c", &cmd]).status().unwrap();
                assert!(status.success(), "{pm:?}: not valid shell: {cmd}");
            }
        }
    }

    #[test]
    fn pins_match_across_packaging_suffixes() {
        assert!(version_matches("18.06.2.ce-3.el7", "18.06.2.ce"));
        assert!(version_matches("5:18.09.1~3-0~debian-stretch", "18.09.1"));
        assert!(version_matches("20.10.24+dfsg1-1+b3", "20.10.24"));
        assert!(!version_matches("18.06.20.ce-3.el7", "18.06.2"));
        assert!(!version_matches("18.09.1-3.el7", "18.06.2.ce"));
    }

    #[test]
    fn el_installs_pinned_and_upgrades_on_pin_change() {
        let m = module("package: { name: docker-ce, version: 18.06.2.ce }");
        let none = FactCache::from([(FactKey::Package("docker-ce".into()), FactValue::Package(None))]);
        let changes = plan(&m, none, "el");
        assert_eq!(changes[0].summary, "install docker-ce-18.06.2.ce");
        let installed = FactCache::from([(
            FactKey::Package("docker-ce".into()),
            FactValue::Package(Some("18.06.2.ce-3.el7".into())),
        )]);
        assert!(plan(&m, installed.clone(), "el").is_empty());
        let newer = module("package: { name: docker-ce, version: 18.09.1 }");
        let up = plan(&newer, installed, "el");
        assert_eq!(up[0].diff.as_deref(), Some("- docker-ce 18.06.2.ce-3.el7\n+ docker-ce 18.09.1\n"));
    }

    #[test]
    fn per_name_pins_and_empty_names() {
        let m = module("package: { name: [lvm2, \"\", \"docker.io=20.10.24\"] }");
        let facts = FactCache::from([
            (FactKey::Package("lvm2".into()), FactValue::Package(None)),
            (FactKey::Package("docker.io".into()), FactValue::Package(None)),
        ]);
        assert_eq!(plan(&m, facts, "debian")[0].summary, "install lvm2 docker.io=20.10.24*");
    }

    #[test]
    fn apt_installs_only_missing_packages_in_one_call() {
        let m = module("package: { name: [lvm2, gnupg, dmsetup] }");
        let facts = FactCache::from([
            (FactKey::Package("lvm2".into()), FactValue::Package(Some("2.03".into()))),
            (FactKey::Package("gnupg".into()), FactValue::Package(None)),
            (FactKey::Package("dmsetup".into()), FactValue::Package(None)),
        ]);
        let changes = plan(&m, facts, "debian");
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].summary, "install gnupg dmsetup");
        assert!(
            matches!(&changes[0].actions[0], crate::tasks::Action::Run(c) if c.contains("apt-get install") && c.ends_with("gnupg dmsetup"))
        );
    }
}
