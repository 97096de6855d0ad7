//! Cluster DNS, served by every agent on its node's address (the kube-dns Service's endpoints are the
//! Ready nodes): the zone from Services and EndpointSlices, the wire format, the server loops, and each
//! pod's resolv.conf.

/// The cluster domain (kubelet's --cluster-domain default).
pub const CLUSTER_DOMAIN: &str = "cluster.local";

pub mod resolv_conf;
pub mod server;
pub mod wire;
pub mod zone;
