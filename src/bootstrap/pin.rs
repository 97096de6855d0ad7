//! The CA pin a joining node checks: `sha256:` + hex(SHA-256 of the CA certificate's DER
//! SubjectPublicKeyInfo), exactly kubeadm's --discovery-token-ca-cert-hash, so its security argument holds.

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a CA pin has the form sha256:<64 hex digits>")]
pub struct PinFormatError;

/// The pin of a public key given as DER SubjectPublicKeyInfo.
pub fn pin_of_spki(spki_der: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(spki_der))
}

pub use crate::checksum::sha256_hex;

/// Check a pin given on the command line, normalised to lower case.
pub fn parse_pin(text: &str) -> Result<String, PinFormatError> {
    let hex = text.trim().strip_prefix("sha256:").ok_or(PinFormatError)?;
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(format!("sha256:{}", hex.to_ascii_lowercase()))
    } else {
        Err(PinFormatError)
    }
}

/// Constant-time comparison of two pins.
pub fn pins_match(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_is_sha256_of_the_spki() {
        // SHA-256 of the empty input, as a known vector.
        assert_eq!(pin_of_spki(b""), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    #[test]
    fn parses_and_normalises() {
        let upper = format!("sha256:{}", "AB".repeat(32));
        assert_eq!(parse_pin(&upper).unwrap(), format!("sha256:{}", "ab".repeat(32)));
        assert_eq!(parse_pin("md5:00"), Err(PinFormatError));
        assert_eq!(parse_pin("sha256:zz"), Err(PinFormatError));
        assert!(pins_match("sha256:ab", "sha256:ab") && !pins_match("sha256:ab", "sha256:ac"));
    }
}
