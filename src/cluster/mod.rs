//! The cluster over SSH: `up`'s phases after host preparation, `kubeconfig -i` and `reset -i`.

pub mod airgap;
pub mod backup;
pub mod binary;
pub mod install_only;
pub mod kubeconfig;
mod members;
pub mod probe;
pub mod remote;
pub mod reset;
pub mod restore;
pub mod up;
pub mod upgrade;
pub mod wait_ready;

pub use up::{up, ClusterOptions};
