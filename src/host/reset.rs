//! `kubeboot reset` on one host: undo init/join — stop and remove kubeboot's units, the pods' containers and
//! the pod network (through the cleanup the caller gives: the agent's), remove the configuration and state
//! folders. Docker and the kubeboot binary stay. Like kubeadm's reset it does not
//! touch the cluster: `reset -i` deletes the Node objects through the master first.

use std::path::Path;

use crate::host::layout::Layout;
use crate::systemd_units::{self, UnitError, AGENT_UNIT, ETCD_UNIT, SERVER_UNIT};

#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    #[error(transparent)]
    Unit(#[from] UnitError),
    #[error("{path}: {source}")]
    Remove { path: String, source: std::io::Error },
    #[error("refusing to remove {0}: not a kubeboot folder")]
    Unsafe(String),
}

/// What was removed, one line each (empty: nothing to reset). `units`: also the systemd units (when
/// systemd runs here), and then what `node_cleanup` removes of the stopped agent's work (given the state
/// folder; it returns a line per thing removed).
pub fn reset_host(
    layout: &Layout,
    units: bool,
    node_cleanup: impl FnOnce(&Path) -> Vec<String>,
) -> Result<Vec<String>, ResetError> {
    let mut removed = Vec::new();
    if units {
        // The etcd member last: the server uses it until it stops. (A master's member left its cluster
        // before: the command's `etcd_member::leave`.)
        for unit in [AGENT_UNIT, SERVER_UNIT, ETCD_UNIT] {
            if systemd_units::remove(unit)? {
                removed.push(format!("unit {unit}"));
            }
        }
        // With the agent stopped, its pods and pod network go too (kubeadm reset removes kubelet's containers).
        removed.extend(node_cleanup(&layout.data_dir));
    }
    for dir in [&layout.config_dir, &layout.data_dir] {
        if remove_folder(dir)? {
            removed.push(format!("folder {}", dir.display()));
        }
    }
    Ok(removed)
}

fn remove_folder(dir: &Path) -> Result<bool, ResetError> {
    // A typo like --config-dir / must never become rm -rf /.
    if dir.parent().is_none() || dir.as_os_str().is_empty() || dir == Path::new("/etc") || dir == Path::new("/var/lib")
    {
        return Err(ResetError::Unsafe(dir.display().to_string()));
    }
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(ResetError::Remove { path: dir.display().to_string(), source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_the_folders_once_and_refuses_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout::new(&tmp.path().join("etc"), &tmp.path().join("var"));
        std::fs::create_dir_all(layout.pki("")).unwrap();
        std::fs::write(layout.pki("ca.key"), "k").unwrap();
        assert_eq!(
            reset_host(&layout, false, |_| Vec::new()).unwrap(),
            [format!("folder {}", layout.config_dir.display())]
        );
        assert!(reset_host(&layout, false, |_| Vec::new()).unwrap().is_empty());
        assert!(matches!(remove_folder(Path::new("/")), Err(ResetError::Unsafe(_))));
    }
}
