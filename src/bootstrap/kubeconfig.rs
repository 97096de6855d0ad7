//! Standard kubeconfig files (what kubectl reads): admin.conf for the operator, the node's kubelet-style
//! config for the agent, and the CA-only config that cluster-info publishes.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Kubeconfig {
    /// kubectl writes `apiVersion`, every other key kebab-case.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub kind: String,
    pub clusters: Vec<NamedCluster>,
    #[serde(default)]
    pub contexts: Vec<NamedContext>,
    #[serde(default)]
    pub current_context: String,
    #[serde(default)]
    pub users: Vec<NamedUser>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedCluster {
    pub name: String,
    pub cluster: ClusterEntry,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ClusterEntry {
    pub server: String,
    pub certificate_authority_data: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedContext {
    pub name: String,
    pub context: ContextEntry,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContextEntry {
    pub cluster: String,
    pub user: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedUser {
    pub name: String,
    pub user: UserEntry,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct UserEntry {
    pub client_certificate_data: String,
    pub client_key_data: String,
}

impl std::fmt::Debug for UserEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UserEntry { client-certificate-data, client-key-data: <redacted> }")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    #[error("kubeconfig: {0}")]
    Yaml(String),
    #[error("kubeconfig has no cluster")]
    NoCluster,
    #[error("kubeconfig has no user credentials")]
    NoUser,
    #[error("kubeconfig: certificate or key data is not base64")]
    Base64,
}

fn b64(pem: &str) -> String {
    STANDARD.encode(pem.as_bytes())
}

impl Kubeconfig {
    /// Only the cluster (server + CA): what cluster-info publishes.
    pub fn cluster_only(cluster_name: &str, server: &str, ca_pem: &str) -> Self {
        Kubeconfig {
            api_version: "v1".into(),
            kind: "Config".into(),
            clusters: vec![NamedCluster {
                name: cluster_name.into(),
                cluster: ClusterEntry { server: server.into(), certificate_authority_data: b64(ca_pem) },
            }],
            contexts: vec![],
            current_context: String::new(),
            users: vec![],
        }
    }

    /// A full config for a user with a client certificate (admin.conf, the agent's config).
    pub fn with_user(
        cluster_name: &str,
        server: &str,
        ca_pem: &str,
        user: &str,
        cert_pem: &str,
        key_pem: &str,
    ) -> Self {
        let context = format!("{user}@{cluster_name}");
        let mut config = Self::cluster_only(cluster_name, server, ca_pem);
        config.contexts = vec![NamedContext {
            name: context.clone(),
            context: ContextEntry { cluster: cluster_name.into(), user: user.into() },
        }];
        config.current_context = context;
        config.users = vec![NamedUser {
            name: user.into(),
            user: UserEntry { client_certificate_data: b64(cert_pem), client_key_data: b64(key_pem) },
        }];
        config
    }

    pub fn to_yaml(&self) -> String {
        crate::yaml::to_string(self)
    }

    pub fn parse(text: &str) -> Result<Self, KubeconfigError> {
        crate::yaml::from_str(text).map_err(|e| KubeconfigError::Yaml(e.to_string()))
    }

    /// The first user's client certificate and key (PEM).
    pub fn first_user_credentials(&self) -> Result<(String, String), KubeconfigError> {
        let user = &self.users.first().ok_or(KubeconfigError::NoUser)?.user;
        let decode = |b64: &str| {
            STANDARD.decode(b64).map(|v| String::from_utf8_lossy(&v).into_owned()).map_err(|_| KubeconfigError::Base64)
        };
        Ok((decode(&user.client_certificate_data)?, decode(&user.client_key_data)?))
    }

    /// Replace the first user's client certificate and key (a renewal).
    pub fn set_first_user_credentials(&mut self, cert_pem: &str, key_pem: &str) -> Result<(), KubeconfigError> {
        let user = &mut self.users.first_mut().ok_or(KubeconfigError::NoUser)?.user;
        user.client_certificate_data = b64(cert_pem);
        user.client_key_data = b64(key_pem);
        Ok(())
    }

    /// The first cluster's server URL and CA certificate (PEM).
    pub fn first_cluster(&self) -> Result<(String, String), KubeconfigError> {
        let c = self.clusters.first().ok_or(KubeconfigError::NoCluster)?;
        let ca = STANDARD.decode(&c.cluster.certificate_authority_data).map_err(|_| KubeconfigError::Base64)?;
        Ok((c.cluster.server.clone(), String::from_utf8_lossy(&ca).into_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_conf_round_trips_in_kubectl_shape() {
        let conf =
            Kubeconfig::with_user("demo", "https://192.168.0.30:6443", "CA PEM", "kubernetes-admin", "CERT", "KEY");
        let yaml = conf.to_yaml();
        for key in [
            "apiVersion: v1",
            "kind: Config",
            "certificate-authority-data:",
            "current-context: kubernetes-admin@demo",
            "client-key-data:",
        ] {
            assert!(yaml.contains(key), "{key} missing:\n{yaml}");
        }
        let back = Kubeconfig::parse(&yaml).unwrap();
        assert_eq!(back, conf);
        assert_eq!(back.first_cluster().unwrap(), ("https://192.168.0.30:6443".into(), "CA PEM".into()));
        assert!(!format!("{back:?}").contains("S0VZ"), "keys stay out of Debug");
    }
}
