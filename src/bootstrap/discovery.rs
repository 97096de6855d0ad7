//! The joining side's checks on cluster-info, in kubeadm's order: the JWS made with our token proves the
//! server knows the token; only then is the CA inside trusted, and only if its pin matches what the operator
//! passed. (Fetching it — first without TLS verification, then again verified by that CA, requiring the same
//! bytes — is the caller's job; this module decides.)

use super::jws::{verify_detached, JwsError};
use super::kubeconfig::{Kubeconfig, KubeconfigError};
use super::pin::pins_match;
use super::pki::{ca_pin_of_pem, PkiError};
use super::token::BootstrapToken;

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("cluster-info has no signature for token {0}: the token is unknown to the server, expired or deleted")]
    NoSignature(String),
    #[error(transparent)]
    Signature(#[from] JwsError),
    #[error(transparent)]
    Kubeconfig(#[from] KubeconfigError),
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error(
        "the cluster CA's pin is {actual}, not the {expected} you gave: refusing to trust this server (check the \
         --discovery-token-ca-cert-hash printed by `kubeboot init` / `token create --print-join-command`)"
    )]
    PinMismatch { expected: String, actual: String },
    #[error("cluster-info changed between the unverified and the TLS-verified fetch: refusing to join")]
    Changed,
}

/// What a verified cluster-info says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedCluster {
    pub server: String,
    pub ca_pem: String,
}

/// Check cluster-info `payload` (the exact bytes served) and its `signatures` (token id → detached JWS).
pub fn verify_cluster_info(
    payload: &[u8],
    signatures: &[(String, String)],
    token: &BootstrapToken,
    expected_pin: &str,
) -> Result<TrustedCluster, DiscoveryError> {
    let jws = signatures
        .iter()
        .find(|(id, _)| id == token.id())
        .map(|(_, s)| s)
        .ok_or_else(|| DiscoveryError::NoSignature(token.id().to_string()))?;
    verify_detached(jws, payload, token)?;
    let config = Kubeconfig::parse(&String::from_utf8_lossy(payload))?;
    let (server, ca_pem) = config.first_cluster()?;
    let actual = ca_pin_of_pem(&ca_pem)?;
    if !pins_match(&actual, expected_pin) {
        return Err(DiscoveryError::PinMismatch { expected: expected_pin.to_string(), actual });
    }
    Ok(TrustedCluster { server, ca_pem })
}

/// The second fetch, over TLS verified by the trusted CA, must return the very same bytes.
pub fn require_same(first: &[u8], verified: &[u8]) -> Result<(), DiscoveryError> {
    if first == verified {
        Ok(())
    } else {
        Err(DiscoveryError::Changed)
    }
}

#[cfg(test)]
mod tests {
    use super::super::jws::sign_detached;
    use super::super::pki::ClusterCa;
    use super::*;

    fn cluster_info() -> (Vec<u8>, String) {
        let (ca, _) = ClusterCa::generate("demo").unwrap();
        let payload = Kubeconfig::cluster_only("demo", "https://10.88.0.10:6443", ca.cert_pem()).to_yaml().into_bytes();
        (payload, ca.pin().unwrap())
    }

    #[test]
    fn accepts_only_a_signed_cluster_info_with_the_pinned_ca() {
        let token = BootstrapToken::parse("abcdef.0123456789abcdef").unwrap();
        let (payload, pin) = cluster_info();
        let signatures = vec![(token.id().to_string(), sign_detached(&payload, &token))];
        let trusted = verify_cluster_info(&payload, &signatures, &token, &pin).unwrap();
        assert_eq!(trusted.server, "https://10.88.0.10:6443");

        let wrong_pin = format!("sha256:{}", "0".repeat(64));
        assert!(matches!(
            verify_cluster_info(&payload, &signatures, &token, &wrong_pin),
            Err(DiscoveryError::PinMismatch { .. })
        ));

        let unknown = BootstrapToken::parse("zzzzzz.0123456789abcdef").unwrap();
        assert!(matches!(
            verify_cluster_info(&payload, &signatures, &unknown, &pin),
            Err(DiscoveryError::NoSignature(_))
        ));

        let guessed = BootstrapToken::parse("abcdef.ffffffffffffffff").unwrap();
        assert!(matches!(
            verify_cluster_info(&payload, &signatures, &guessed, &pin),
            Err(DiscoveryError::Signature(_))
        ));

        // An attacker's cluster-info with its own CA fails the pin even when the signature were right.
        let (evil_payload, _) = cluster_info();
        let evil_sigs = vec![(token.id().to_string(), sign_detached(&evil_payload, &token))];
        assert!(matches!(
            verify_cluster_info(&evil_payload, &evil_sigs, &token, &pin),
            Err(DiscoveryError::PinMismatch { .. })
        ));

        assert!(require_same(&payload, &payload).is_ok());
        assert!(matches!(require_same(&payload, &evil_payload), Err(DiscoveryError::Changed)));
    }
}
