//! The cluster PKI (rcgen, ECDSA P-256): a CA, the API server's serving certificate with its SANs, client
//! certificates (admin: O=system:masters), and node certificates signed from a node's CSR — whose subject must
//! be exactly CN=system:node:<name>, O=system:nodes, so a bootstrap token only ever buys a node certificate.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};

use super::pin::pin_of_spki;

/// The API server's identity towards the agents' node APIs (kubeadm's apiserver-kubelet-client).
pub const API_SERVER_NODE_CLIENT: &str = "kube-apiserver-kubelet-client";

/// kubeadm's lifetimes: ten years for the CA, one for everything it signs.
const CA_DAYS: i64 = 3650;
const LEAF_DAYS: i64 = 365;

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("certificate: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("certificate request: {0}")]
    Request(String),
    #[error("not a PEM certificate: {0}")]
    Parse(String),
}

/// A certificate and its private key, both PEM.
#[derive(Clone)]
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
}

impl Issued {
    /// Write the key (0600) and then the certificate (0644) beside it, each atomically (a killed run leaves
    /// no certificate without its key); on failure, the path that could not be written and why.
    pub fn write(&self, crt: &Path, key: &Path) -> Result<(), (PathBuf, std::io::Error)> {
        use crate::host::layout::write_file;
        write_file(key, self.key_pem.as_bytes(), 0o600).map_err(|e| (key.to_path_buf(), e))?;
        write_file(crt, self.cert_pem.as_bytes(), 0o644).map_err(|e| (crt.to_path_buf(), e))
    }
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Issued { cert_pem, key_pem: <redacted> }")
    }
}

pub struct ClusterCa {
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
    /// How long what it signs lives (kubeadm's year unless the cluster says otherwise).
    leaf_validity: Duration,
}

fn validity(params: &mut CertificateParams, lifetime: Duration) {
    let now = OffsetDateTime::now_utc();
    // A little slack for clocks a few minutes apart (a tenth of a short lifetime, so that renewal at
    // two thirds of not-before..not-after stays two thirds of the way from issue to expiry).
    params.not_before = now - Duration::minutes(5).min(lifetime / 10);
    params.not_after = now + lifetime;
}

fn name(cn: &str, orgs: &[&str]) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    for o in orgs {
        dn.push(DnType::OrganizationName, *o);
    }
    dn
}

impl ClusterCa {
    pub fn generate(cluster_name: &str) -> Result<(Self, Issued), PkiError> {
        Self::generate_named(&format!("kubeboot-ca-{cluster_name}"))
    }

    /// A CA whose certificate's common name is `common_name` (kubeadm's etcd CA is `etcd-ca`).
    pub fn generate_named(common_name: &str) -> Result<(Self, Issued), PkiError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = name(common_name, &[]);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        validity(&mut params, Duration::days(CA_DAYS));
        let cert = params.self_signed(&key)?;
        let issued = Issued { cert_pem: cert.pem(), key_pem: key.serialize_pem() };
        Ok((Self::load(&issued.cert_pem, &issued.key_pem)?, issued))
    }

    pub fn load(cert_pem: &str, key_pem: &str) -> Result<Self, PkiError> {
        let key = KeyPair::from_pem(key_pem)?;
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key)?;
        Ok(ClusterCa { cert_pem: cert_pem.to_string(), issuer, leaf_validity: Duration::days(LEAF_DAYS) })
    }

    /// The same CA signing certificates that live `seconds` (the cluster's `certificate_validity`).
    pub fn with_leaf_validity(mut self, seconds: u64) -> Self {
        self.leaf_validity = Duration::seconds(seconds.min(i64::MAX as u64) as i64);
        self
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// kubeadm's --discovery-token-ca-cert-hash for this CA.
    pub fn pin(&self) -> Result<String, PkiError> {
        ca_pin_of_pem(&self.cert_pem)
    }

    /// The API server's certificate: SANs are IP addresses or DNS names.
    pub fn issue_serving(&self, common_name: &str, sans: &[String]) -> Result<Issued, PkiError> {
        self.issue_for_names(common_name, sans, vec![ExtendedKeyUsagePurpose::ServerAuth])
    }

    /// A certificate that serves and is also a client of its peers under the same names (an etcd member's
    /// server and peer certificates, as kubeadm issues them).
    pub fn issue_serving_and_client(&self, common_name: &str, sans: &[String]) -> Result<Issued, PkiError> {
        let both = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        self.issue_for_names(common_name, sans, both)
    }

    fn issue_for_names(
        &self,
        common_name: &str,
        sans: &[String],
        usages: Vec<ExtendedKeyUsagePurpose>,
    ) -> Result<Issued, PkiError> {
        let mut params = CertificateParams::default();
        params.distinguished_name = name(common_name, &[]);
        params.subject_alt_names = sans
            .iter()
            .map(|s| match s.parse::<IpAddr>() {
                Ok(ip) => Ok(SanType::IpAddress(ip)),
                Err(_) => Ok(SanType::DnsName(s.as_str().try_into()?)),
            })
            .collect::<Result<_, rcgen::Error>>()?;
        params.extended_key_usages = usages;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        self.sign_new_key(params)
    }

    /// A client certificate (e.g. the admin's: CN=kubernetes-admin, O=system:masters).
    pub fn issue_client(&self, common_name: &str, orgs: &[&str]) -> Result<Issued, PkiError> {
        let mut params = CertificateParams::default();
        params.distinguished_name = name(common_name, orgs);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        self.sign_new_key(params)
    }

    fn sign_new_key(&self, mut params: CertificateParams) -> Result<Issued, PkiError> {
        validity(&mut params, self.leaf_validity);
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Issued { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
    }

    /// Sign a node's CSR. Only the public key is taken from it; the subject must name `node_name` as a node
    /// and nothing else, and the certificate is a client certificate whatever the CSR asks for.
    pub fn sign_node_csr(&self, csr_pem: &str, node_name: &str) -> Result<String, PkiError> {
        let (public_key, mut params) = node_request(csr_pem, node_name, self.leaf_validity)?;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        Ok(params.signed_by(&public_key, &self.issuer)?.pem())
    }

    /// A node agent's serving certificate (kubelet's `kubernetes.io/kubelet-serving`): the same subject
    /// rule as `sign_node_csr`, and as SANs only the node's address as the server saw it and its name.
    pub fn sign_node_serving_csr(&self, csr_pem: &str, node_name: &str, address: IpAddr) -> Result<String, PkiError> {
        let (public_key, mut params) = node_request(csr_pem, node_name, self.leaf_validity)?;
        params.subject_alt_names = vec![SanType::IpAddress(address), SanType::DnsName(node_name.try_into()?)];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        Ok(params.signed_by(&public_key, &self.issuer)?.pem())
    }
}

/// A node's CSR checked: its public key, and the certificate's parameters with the node's subject.
fn node_request(
    csr_pem: &str,
    node_name: &str,
    lifetime: Duration,
) -> Result<(rcgen::PublicKey, CertificateParams), PkiError> {
    let csr = CertificateSigningRequestParams::from_pem(csr_pem).map_err(|e| PkiError::Request(e.to_string()))?;
    let expected_cn = format!("system:node:{node_name}");
    let mut cns = Vec::new();
    let mut orgs = Vec::new();
    for (ty, value) in csr.params.distinguished_name.iter() {
        let text = match value {
            DnValue::Utf8String(s) => s.clone(),
            DnValue::PrintableString(s) => s.as_str().to_string(),
            other => format!("{other:?}"),
        };
        match ty {
            DnType::CommonName => cns.push(text),
            DnType::OrganizationName => orgs.push(text),
            other => return Err(PkiError::Request(format!("unexpected subject field {other:?}"))),
        }
    }
    if cns != [expected_cn.clone()] || orgs != ["system:nodes"] {
        return Err(PkiError::Request(format!(
            "the request's subject must be CN={expected_cn}, O=system:nodes (got CN={cns:?}, O={orgs:?})"
        )));
    }
    let mut params = CertificateParams::default();
    params.distinguished_name = name(&expected_cn, &["system:nodes"]);
    params.use_authority_key_identifier_extension = true;
    validity(&mut params, lifetime);
    Ok((csr.public_key, params))
}

/// A node's key and CSR for CN=system:node:<name>, O=system:nodes.
pub fn node_csr(node_name: &str) -> Result<(String, String), PkiError> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    params.distinguished_name = name(&format!("system:node:{node_name}"), &["system:nodes"]);
    let csr = params.serialize_request(&key)?;
    Ok((csr.pem()?, key.serialize_pem()))
}

/// The CA pin of a PEM certificate (the first one in `pem`).
pub fn ca_pin_of_pem(pem: &str) -> Result<String, PkiError> {
    let der = first_cert_der(pem)?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der).map_err(|e| PkiError::Parse(e.to_string()))?;
    Ok(pin_of_spki(cert.public_key().raw))
}

fn first_cert_der(pem: &str) -> Result<Vec<u8>, PkiError> {
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).map_err(|e| PkiError::Parse(e.to_string()))?;
    Ok(block.contents)
}

/// Subject CN and O values of a PEM certificate, and whether `ca_pem` signed it (for tests and checks).
pub fn describe(cert_pem: &str, ca_pem: &str) -> Result<(String, Vec<String>, bool), PkiError> {
    let der = first_cert_der(cert_pem)?;
    let ca_der = first_cert_der(ca_pem)?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der).map_err(|e| PkiError::Parse(e.to_string()))?;
    let (_, ca) = x509_parser::parse_x509_certificate(&ca_der).map_err(|e| PkiError::Parse(e.to_string()))?;
    let cn = cert.subject().iter_common_name().next().and_then(|a| a.as_str().ok()).unwrap_or("").to_string();
    let orgs = cert.subject().iter_organization().filter_map(|a| a.as_str().ok().map(String::from)).collect();
    let signed = cert.verify_signature(Some(ca.public_key())).is_ok();
    Ok((cn, orgs, signed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_issues_serving_admin_and_node_certificates() {
        let (ca, issued) = ClusterCa::generate("demo").unwrap();
        let pin = ca.pin().unwrap();
        assert!(pin.starts_with("sha256:") && pin.len() == 71);
        assert_eq!(
            ClusterCa::load(&issued.cert_pem, &issued.key_pem).unwrap().pin().unwrap(),
            pin,
            "stable across loads"
        );

        let serving = ca
            .issue_serving("kubeboot-apiserver", &["10.88.0.10".into(), "k8s-master".into(), "127.0.0.1".into()])
            .unwrap();
        let (_, _, signed) = describe(&serving.cert_pem, ca.cert_pem()).unwrap();
        assert!(signed);

        let admin = ca.issue_client("kubernetes-admin", &["system:masters"]).unwrap();
        assert_eq!(
            describe(&admin.cert_pem, ca.cert_pem()).unwrap(),
            ("kubernetes-admin".into(), vec!["system:masters".into()], true)
        );

        let (csr, _key) = node_csr("k8s-node1").unwrap();
        let node = ca.sign_node_csr(&csr, "k8s-node1").unwrap();
        assert_eq!(
            describe(&node, ca.cert_pem()).unwrap(),
            ("system:node:k8s-node1".into(), vec!["system:nodes".into()], true)
        );

        let (other_ca, _) = ClusterCa::generate("other").unwrap();
        assert!(!describe(&node, other_ca.cert_pem()).unwrap().2, "not signed by a different CA");
        assert_ne!(other_ca.pin().unwrap(), pin);
    }

    #[test]
    fn node_serving_certificates_name_the_nodes_address() {
        let (ca, _) = ClusterCa::generate("demo").unwrap();
        let (csr, _) = node_csr("k8s-node1").unwrap();
        let ip: IpAddr = "10.88.0.11".parse().unwrap();
        let cert = ca.sign_node_serving_csr(&csr, "k8s-node1", ip).unwrap();
        let der = first_cert_der(&cert).unwrap();
        let (_, parsed) = x509_parser::parse_x509_certificate(&der).unwrap();
        let sans = parsed.subject_alternative_name().unwrap().unwrap().value.general_names.clone();
        assert_eq!(format!("{sans:?}"), r#"[IPAddress([10, 88, 0, 11]), DNSName("k8s-node1")]"#);
        assert!(parsed.extended_key_usage().unwrap().unwrap().value.server_auth);
        assert!(ca.sign_node_serving_csr(&csr, "k8s-node2", ip).is_err(), "only for the node it names");
    }

    #[test]
    fn a_csr_for_another_identity_is_refused() {
        let (ca, _) = ClusterCa::generate("demo").unwrap();
        let (csr, _) = node_csr("k8s-node2").unwrap();
        assert!(ca.sign_node_csr(&csr, "k8s-node1").unwrap_err().to_string().contains("CN=system:node:k8s-node1"));
        let key = KeyPair::generate().unwrap();
        let mut admin = CertificateParams::default();
        admin.distinguished_name = name("system:node:k8s-node1", &["system:masters"]);
        let sneaky = admin.serialize_request(&key).unwrap().pem().unwrap();
        assert!(ca.sign_node_csr(&sneaky, "k8s-node1").is_err(), "a token must never buy system:masters");
    }
}
