//! The node agent (`kubeboot agent`): registers its Node and posts a heartbeat (the Ready condition) every
//! 10 s through the API server with its node certificate.

pub mod local_address;
pub mod node_info;
pub mod registration;
pub mod run;
