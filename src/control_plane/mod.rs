//! The control plane `kubeboot server` runs: the store, bootstrap tokens, and the API server. (The process,
//! nodes API, controllers and the agent come with the rest of the cluster-bootstrap issue.)

pub mod api;
pub mod controllers;
pub mod init;
pub mod layout;
pub mod server;
pub mod store;
pub mod tokens;
