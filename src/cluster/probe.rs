//! What a host already has of the cluster, read in one round trip before `up` decides anything: the
//! installed binary's checksum, whether init/join happened, whether the units run, and the SSH user's
//! ~/.kube/config checksum.

use crate::transport::shell_quote;

pub const REMOTE_BINARY: &str = "/usr/local/bin/kubeboot";
pub const CONFIG_DIR: &str = crate::host::layout::DEFAULT_CONFIG_DIR;
/// Where `init` leaves the admin kubeconfig on a master.
pub const ADMIN_CONF: &str = "/etc/kubeboot/admin.conf";
/// The installed binary's checksum, keyed by its size, inode and modification time: hashing tens of MB on
/// every rerun would cost half a second per host. Any replacement (a new inode, size or time) re-hashes.
const BINARY_SUM_CACHE: &str = "/var/cache/kubeboot/binary.sha256";

/// What the cache is keyed by (shell): the installed binary's size, inode and modification time.
fn binary_key() -> String {
    format!("stat -c '%s %i %y' {REMOTE_BINARY}")
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostState {
    pub binary_sha256: Option<String>,
    /// server.yaml exists: `init` finished here.
    pub initialised: bool,
    /// agent.conf exists: the host has node credentials.
    pub joined: bool,
    pub server_active: bool,
    pub agent_active: bool,
    /// The unit runs a binary that has since been replaced (an `up` killed between the install and the
    /// restart left it on the old one).
    pub server_stale: bool,
    pub agent_stale: bool,
    /// This master runs an etcd member (kubeboot-etcd) and its server keeps the objects there.
    pub etcd_active: bool,
    pub stacked_etcd: bool,
    /// The SSH user's home folder and the checksum of its ~/.kube/config.
    pub home: String,
    pub kube_config_sha256: Option<String>,
}

/// After an install: the checksum `up` just put there, cached for the next probe (which would otherwise
/// hash the new file on every host, half a second of a rerun).
pub fn remember_binary_sum(sha256: &str) -> String {
    write_sum_cache(&format!("$({})", binary_key()), sha256)
}

/// The shell that writes the cache line `KEY|SUM` (both shell words) whole, through a rename.
fn write_sum_cache(key: &str, sum: &str) -> String {
    format!(
        "mkdir -p \"$(dirname {BINARY_SUM_CACHE})\" && echo \"{key}|{sum}\" > {BINARY_SUM_CACHE}.tmp \
         && mv {BINARY_SUM_CACHE}.tmp {BINARY_SUM_CACHE}"
    )
}

/// The probe, as one shell script printing `key=value` lines. `user` is the SSH login (whose
/// ~/.kube/config `up` manages on masters).
pub fn script(user: &str) -> String {
    format!(
        r#"sum() {{ [ -f "$1" ] && sha256sum "$1" | cut -d' ' -f1; }}
binary_sum() {{
  [ -f {REMOTE_BINARY} ] || return 0
  key=$({key})
  cached=$(cat {BINARY_SUM_CACHE} 2>/dev/null)
  if [ "${{cached%|*}}" = "$key" ]; then echo "${{cached##*|}}"; return; fi
  s=$(sum {REMOTE_BINARY})
  {write}
  echo "$s"
}}
stale() {{
  pid=$(systemctl show -p MainPID --value "$1" 2>/dev/null)
  [ -n "$pid" ] && [ "$pid" != 0 ] && case "$(readlink /proc/$pid/exe)" in *" (deleted)") echo yes;; esac
}}
home=$(getent passwd {user} | cut -d: -f6)
echo "binary=$(binary_sum)"
echo "initialised=$([ -f {CONFIG_DIR}/server.yaml ] && echo yes)"
echo "joined=$([ -f {CONFIG_DIR}/agent.conf ] && echo yes)"
echo "server=$(systemctl is-active kubeboot-server 2>/dev/null)"
echo "agent=$(systemctl is-active kubeboot-agent 2>/dev/null)"
echo "server_stale=$(stale kubeboot-server)"
echo "agent_stale=$(stale kubeboot-agent)"
echo "etcd=$(systemctl is-active kubeboot-etcd 2>/dev/null)"
echo "stacked_etcd=$(grep -qF '{LOCAL_ETCD}' {CONFIG_DIR}/server.yaml 2>/dev/null && echo yes)"
echo "home=$home"
echo "kube_config=$(sum "$home/.kube/config")"
"#,
        user = shell_quote(user),
        key = binary_key(),
        write = write_sum_cache("$key", "$s"),
        LOCAL_ETCD = crate::control_plane::etcd_member::LOCAL_ENDPOINT,
    )
}

pub fn parse(output: &str) -> HostState {
    let mut state = HostState::default();
    for line in output.lines() {
        let Some((key, value)) = line.split_once('=') else { continue };
        let value = value.trim();
        let some = || (!value.is_empty()).then(|| value.to_string());
        match key {
            "binary" => state.binary_sha256 = some(),
            "initialised" => state.initialised = value == "yes",
            "joined" => state.joined = value == "yes",
            "server" => state.server_active = value == "active",
            "agent" => state.agent_active = value == "active",
            "server_stale" => state.server_stale = value == "yes",
            "agent_stale" => state.agent_stale = value == "yes",
            "etcd" => state.etcd_active = value == "active",
            "stacked_etcd" => state.stacked_etcd = value == "yes",
            "home" => state.home = value.to_string(),
            "kube_config" => state.kube_config_sha256 = some(),
            _ => {}
        }
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_and_running_hosts() {
        let fresh = "binary=\ninitialised=\njoined=\nserver=inactive\nagent=inactive\nhome=/root\nkube_config=\n";
        assert_eq!(parse(fresh), HostState { home: "/root".into(), ..Default::default() });
        let master =
            "binary=ab12\ninitialised=yes\njoined=yes\nserver=active\nagent=active\nhome=/home/u\nkube_config=cd\n";
        assert_eq!(
            parse(master),
            HostState {
                binary_sha256: Some("ab12".into()),
                initialised: true,
                joined: true,
                server_active: true,
                agent_active: true,
                server_stale: false,
                agent_stale: false,
                etcd_active: false,
                stacked_etcd: false,
                home: "/home/u".into(),
                kube_config_sha256: Some("cd".into()),
            }
        );
    }

    #[test]
    fn units_on_a_replaced_binary() {
        let state = parse("binary=ab12\nserver=active\nagent=active\nserver_stale=\nagent_stale=yes\n");
        assert!(!state.server_stale && state.agent_stale);
    }

    #[test]
    fn script_quotes_the_user() {
        assert!(script("a b").contains("getent passwd 'a b'"));
    }
}
