//! What the certificate rotations read of a certificate — its subject and names (kept by a renewal) and
//! its validity — and when one is due: at two thirds of its lifetime, as kubelet rotates (kubeadm's
//! renewals and the API server's and agents' own use the same rule).

use std::time::Duration;

use x509_parser::extensions::GeneralName;

/// What renewal keeps of a certificate and what expiry reads: its subject, SANs, lifetime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    pub common_name: String,
    pub organizations: Vec<String>,
    pub sans: Vec<String>,
    pub not_before: i64,
    pub not_after: i64,
}

/// A PEM certificate's subject, SANs and validity (the error: why it does not parse).
pub fn describe(pem: &str) -> Result<Described, String> {
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).map_err(|e| e.to_string())?;
    let (_, cert) = x509_parser::parse_x509_certificate(&block.contents).map_err(|e| e.to_string())?;
    let text = |a: &x509_parser::x509::AttributeTypeAndValue| a.as_str().ok().map(String::from);
    let sans = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|ext| {
            ext.value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    GeneralName::DNSName(d) => Some(d.to_string()),
                    GeneralName::IPAddress(b) if b.len() == 4 => {
                        Some(std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string())
                    }
                    GeneralName::IPAddress(b) if b.len() == 16 => {
                        <[u8; 16]>::try_from(*b).ok().map(|o| std::net::Ipv6Addr::from(o).to_string())
                    }
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let common_name = cert.subject().iter_common_name().next().and_then(text).unwrap_or_default();
    let organizations = cert.subject().iter_organization().filter_map(text).collect();
    let (not_before, not_after) = (cert.validity().not_before.timestamp(), cert.validity().not_after.timestamp());
    Ok(Described { common_name, organizations, sans, not_before, not_after })
}

/// Whether a certificate valid from `not_before` to `not_after` is due for renewal at `now`.
pub fn due(not_before: i64, not_after: i64, now: i64) -> bool {
    now >= not_before + (not_after - not_before) * 2 / 3
}

/// How often to look at a certificate of this lifetime: often enough for short test lifetimes, every
/// 10 s at most.
pub fn check_every(lifetime_seconds: u64) -> Duration {
    Duration::from_secs((lifetime_seconds / 20).clamp(1, 10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_is_due_at_two_thirds_of_the_lifetime() {
        assert!(!due(0, 300, 199));
        assert!(due(0, 300, 200));
        assert_eq!(check_every(365 * 86400), Duration::from_secs(10));
        assert_eq!(check_every(60), Duration::from_secs(3));
    }
}
