//! Who a client is, from its verified client certificate (Kubernetes' conventions): O=system:masters is an
//! admin; CN=system:node:<name> with O=system:nodes is that node; no certificate is anonymous.

/// SHA-256 (hex) of the client certificate a connection was made with (empty without one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertificateFingerprint(pub String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    Anonymous,
    Admin {
        user: String,
    },
    Node {
        name: String,
    },
    /// A valid certificate with no role we know: authenticated, allowed nothing.
    User {
        user: String,
    },
}

impl Identity {
    /// The user name Kubernetes would give this identity (in 403s, quotas, logs).
    pub fn user_name(&self) -> String {
        match self {
            Identity::Node { name } => format!("system:node:{name}"),
            Identity::User { user } | Identity::Admin { user } => user.clone(),
            Identity::Anonymous => "system:anonymous".into(),
        }
    }

    /// The groups Kubernetes would report for this identity (`kubectl auth whoami`).
    pub fn groups(&self) -> Vec<&'static str> {
        match self {
            Identity::Admin { .. } => vec!["system:masters", "system:authenticated"],
            Identity::Node { .. } => vec!["system:nodes", "system:authenticated"],
            Identity::User { .. } => vec!["system:authenticated"],
            Identity::Anonymous => vec!["system:unauthenticated"],
        }
    }

    /// From the DER of the client's (already verified) leaf certificate.
    pub fn from_cert_der(der: &[u8]) -> Identity {
        let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else { return Identity::Anonymous };
        let cn = cert.subject().iter_common_name().next().and_then(|a| a.as_str().ok()).unwrap_or("").to_string();
        let orgs: Vec<String> =
            cert.subject().iter_organization().filter_map(|a| a.as_str().ok().map(String::from)).collect();
        if orgs.iter().any(|o| o == "system:masters") {
            return Identity::Admin { user: cn };
        }
        match cn.strip_prefix("system:node:") {
            Some(name) if orgs.iter().any(|o| o == "system:nodes") => Identity::Node { name: name.to_string() },
            _ => Identity::User { user: cn },
        }
    }

    pub fn is_authenticated(&self) -> bool {
        !matches!(self, Identity::Anonymous)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bootstrap::pki::{node_csr, ClusterCa};

    fn der(pem: &str) -> Vec<u8> {
        x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap().1.contents
    }

    #[test]
    fn roles_from_certificates() {
        let (ca, _) = ClusterCa::generate("t").unwrap();
        let admin = ca.issue_client("kubernetes-admin", &["system:masters"]).unwrap();
        assert_eq!(Identity::from_cert_der(&der(&admin.cert_pem)), Identity::Admin { user: "kubernetes-admin".into() });
        let (csr, _) = node_csr("n1").unwrap();
        let node = ca.sign_node_csr(&csr, "n1").unwrap();
        assert_eq!(Identity::from_cert_der(&der(&node)), Identity::Node { name: "n1".into() });
        let other = ca.issue_client("system:node:n2", &["dev"]).unwrap();
        assert_eq!(Identity::from_cert_der(&der(&other.cert_pem)), Identity::User { user: "system:node:n2".into() });
    }
}
