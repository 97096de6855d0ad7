//! The control plane: what `init` writes (layout, PKI, first token), the store, bootstrap tokens, the API
//! server and its controllers (`kubeboot server`), and `reset` of a host.

pub mod admission;
pub mod api;
pub mod api_extensions;
pub mod backup;
pub mod certificates;
pub mod controllers;
pub mod default_storage_class;
pub mod etcd_member;
pub mod init;
pub mod master_leases;
pub mod master_service;
pub mod node_credentials;
pub mod own_certificates;
pub mod registry;
pub mod resource_metrics;
pub mod runtime;
pub mod scheduler;
pub mod server;
pub mod store;
pub mod store_backend;
pub mod tokens;
pub mod uploaded_certificates;
