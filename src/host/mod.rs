//! This host's kubeboot files, below the control plane, the agent and the commands that set a host up:
//! where configuration, PKI and state live (/etc/kubeboot, /var/lib/kubeboot) and how they are written, and
//! how a host is reset.

pub mod layout;
pub mod reset;

/// This host's name (the default node name), as the kernel has it.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// The user's home folder ($HOME; root's when unset): where ~/ in an inventory and ~/.ssh point.
pub fn home_dir() -> std::path::PathBuf {
    std::env::var_os("HOME").map(std::path::PathBuf::from).unwrap_or_else(|| std::path::PathBuf::from("/root"))
}
