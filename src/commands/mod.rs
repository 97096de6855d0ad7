//! One file per CLI command: argument handling and output. The work itself lives in the library modules.

pub mod certs;
pub mod daemons;
pub mod delete;
pub mod get;
pub mod hosts;
pub mod init;
pub mod join;
mod join_control_plane;
pub mod kubeconfig;
pub mod lab;
pub mod ping;
pub mod playbook;
pub mod reset;
pub mod token;
mod units;
pub mod upload_certs;

/// This host's name (the default node name), as the kernel has it.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}
