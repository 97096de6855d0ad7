//! Detached JWS (RFC 7515, compact serialization with the payload left out: `header..signature`) with HS256,
//! keyed by a bootstrap token's secret and naming the token id as `kid` — what kubeadm's cluster-info carries
//! so a joining node can check the server knows its token before trusting the CA in it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::hmac;

use super::token::BootstrapToken;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwsError {
    #[error("the signature is not a detached JWS (header..signature)")]
    Format,
    #[error("the signature's header is not HS256 for token {0}")]
    Header(String),
    #[error("the signature does not match: the server does not hold this token, or cluster-info was altered")]
    Mismatch,
}

fn header(token_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"HS256","kid":"{token_id}"}}"#))
}

/// Sign `payload` (the exact bytes served), returning `header..signature`.
pub fn sign_detached(payload: &[u8], token: &BootstrapToken) -> String {
    let protected = header(token.id());
    let signing_input = format!("{protected}.{}", URL_SAFE_NO_PAD.encode(payload));
    let key = hmac::Key::new(hmac::HMAC_SHA256, token.secret().as_bytes());
    let tag = hmac::sign(&key, signing_input.as_bytes());
    format!("{protected}..{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

/// Check a detached signature over `payload` with `token` (constant-time comparison).
pub fn verify_detached(jws: &str, payload: &[u8], token: &BootstrapToken) -> Result<(), JwsError> {
    let (protected, signature) = jws.split_once("..").ok_or(JwsError::Format)?;
    if protected != header(token.id()) {
        return Err(JwsError::Header(token.id().to_string()));
    }
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| JwsError::Format)?;
    let signing_input = format!("{protected}.{}", URL_SAFE_NO_PAD.encode(payload));
    let key = hmac::Key::new(hmac::HMAC_SHA256, token.secret().as_bytes());
    hmac::verify(&key, signing_input.as_bytes(), &signature).map_err(|_| JwsError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tampering() {
        let token = BootstrapToken::parse("abcdef.0123456789abcdef").unwrap();
        let other = BootstrapToken::parse("abcdef.fedcba9876543210").unwrap();
        let payload = b"apiVersion: v1\nkind: Config\n";
        let jws = sign_detached(payload, &token);
        assert!(jws.contains(".."));
        assert_eq!(verify_detached(&jws, payload, &token), Ok(()));
        assert_eq!(verify_detached(&jws, b"apiVersion: v1\nkind: Config \n", &token), Err(JwsError::Mismatch));
        assert_eq!(verify_detached(&jws, payload, &other), Err(JwsError::Mismatch));
        let wrong_id = BootstrapToken::parse("zzzzzz.0123456789abcdef").unwrap();
        assert_eq!(verify_detached(&jws, payload, &wrong_id), Err(JwsError::Header("zzzzzz".into())));
        assert!(!jws.contains(token.secret()));
    }

    #[test]
    fn known_hs256_vector() {
        // RFC 7515 appendix-style check: HMAC-SHA256 over "header.payload" with the secret as key.
        let token = BootstrapToken::parse("abcdef.0123456789abcdef").unwrap();
        let jws = sign_detached(b"x", &token);
        let (h, s) = jws.split_once("..").unwrap();
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"0123456789abcdef");
        let expected = hmac::sign(&key, format!("{h}.{}", URL_SAFE_NO_PAD.encode(b"x")).as_bytes());
        assert_eq!(URL_SAFE_NO_PAD.decode(s).unwrap(), expected.as_ref());
    }
}
