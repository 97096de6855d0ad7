//! This host's kubeboot files, below the control plane, the agent and the commands that set a host up:
//! where configuration, PKI and state live (/etc/kubeboot, /var/lib/kubeboot) and how they are written, and
//! how a host is reset.

pub mod layout;
pub mod reset;

/// The user's home folder ($HOME; root's when unset): where ~/ in an inventory and ~/.ssh point.
pub fn home_dir() -> std::path::PathBuf {
    std::env::var_os("HOME").map(std::path::PathBuf::from).unwrap_or_else(|| std::path::PathBuf::from("/root"))
}
