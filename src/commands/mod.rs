//! One file per CLI command: argument handling and output. The work itself lives in the library modules.

pub mod backup;
pub mod bundle;
pub mod certs;
pub mod daemons;
pub mod delete;
pub mod drain;
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
pub mod restore;
pub mod snapshot;
pub mod token;
mod units;
pub mod upgrade;
pub mod upload_certs;

pub use crate::host::hostname;
