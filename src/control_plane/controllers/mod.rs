//! Control loops inside `kubeboot server`. Each is a plain function over the store, run on an interval.

pub mod node_ipam;
pub mod node_lifecycle;
