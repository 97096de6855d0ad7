//! The node agent (`kubeboot agent`): registers its Node and posts a heartbeat (the Ready condition) every
//! 10 s through the API server with its node certificate, runs the node's pods on Docker, and serves the
//! node API (logs, exec, attach, port-forward) to the API server.

pub mod api_source;
pub mod certificate_rotation;
pub mod container_config;
pub mod dns;
pub mod events;
pub mod local_address;
pub mod local_path;
pub mod masters;
pub mod network;
pub mod node_api;
pub mod node_cleanup;
pub mod node_info;
pub mod pause;
pub mod pod_status;
pub mod pod_sync;
pub mod pod_workers;
pub mod probes;
pub mod proxy;
pub mod referenced_objects;
pub mod registration;
pub mod run;
pub mod runtime;
pub mod usage;
pub mod usage_sampler;
pub mod volumes;
pub mod watch_cache;
