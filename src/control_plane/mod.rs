//! The control plane `kubeboot server` runs. So far: the store. (The API, controllers and the server
//! process come with the cluster-bootstrap issue.)

pub mod store;
