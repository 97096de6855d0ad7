//! kubeadm's bootstrap handshake, the parts shared by `init`/`join` and the server: bootstrap tokens, the CA
//! pin, and the detached JWS that signs cluster-info. Nothing here knows about inventories or SSH.

pub mod certificate_bundle;
pub mod certificate_lifetime;
pub mod discovery;
pub mod etcd_pki;
pub mod jws;
pub mod kubeconfig;
pub mod pin;
pub mod pki;
pub mod tls_bootstrap;
pub mod token;
pub mod ttl;
