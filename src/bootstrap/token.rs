//! Bootstrap tokens, as kubeadm makes them: `[a-z0-9]{6}.[a-z0-9]{16}` (id.secret). The id is public (it
//! names the token, e.g. as a JWS key id); the secret never appears in Debug, Display or errors.

use std::fmt;

use ring::rand::{SecureRandom, SystemRandom};

const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
pub const ID_LEN: usize = 6;
pub const SECRET_LEN: usize = 16;

#[derive(Clone, PartialEq, Eq)]
pub struct BootstrapToken {
    id: String,
    secret: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("a bootstrap token has the form [a-z0-9]{{6}}.[a-z0-9]{{16}} (e.g. abcdef.0123456789abcdef)")]
    Format,
    #[error("no randomness available from the system")]
    Random,
}

fn valid(part: &str, len: usize) -> bool {
    part.len() == len && part.bytes().all(|b| ALPHABET.contains(&b))
}

impl BootstrapToken {
    pub fn parse(text: &str) -> Result<Self, TokenError> {
        let (id, secret) = text.trim().split_once('.').ok_or(TokenError::Format)?;
        if valid(id, ID_LEN) && valid(secret, SECRET_LEN) {
            Ok(BootstrapToken { id: id.into(), secret: secret.into() })
        } else {
            Err(TokenError::Format)
        }
    }

    /// A new random token (rejection sampling keeps the 36 symbols uniform).
    pub fn generate() -> Result<Self, TokenError> {
        let rng = SystemRandom::new();
        let pick = |n: usize| -> Result<String, TokenError> {
            let mut out = String::with_capacity(n);
            while out.len() < n {
                let mut byte = [0u8; 1];
                rng.fill(&mut byte).map_err(|_| TokenError::Random)?;
                // 252 = 7 * 36: bytes above it would favour the first symbols.
                if byte[0] < 252 {
                    out.push(ALPHABET[(byte[0] % 36) as usize] as char);
                }
            }
            Ok(out)
        };
        Ok(BootstrapToken { id: pick(ID_LEN)?, secret: pick(SECRET_LEN)? })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The secret: only for signing, verifying and the one place a user is shown the token.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// `id.secret`, for the join command a user copies.
    pub fn expose(&self) -> String {
        format!("{}.{}", self.id, self.secret)
    }
}

impl fmt::Debug for BootstrapToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BootstrapToken({}.<redacted>)", self.id)
    }
}

impl fmt::Display for BootstrapToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.<redacted>", self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kubeadm_tokens_only() {
        let t = BootstrapToken::parse("abcdef.0123456789abcdef").unwrap();
        assert_eq!((t.id(), t.secret()), ("abcdef", "0123456789abcdef"));
        for bad in [
            "abcdef0123456789abcdef",
            "ABCDEF.0123456789abcdef",
            "abcde.0123456789abcdef",
            "abcdef.0123456789abcde_",
            "",
        ] {
            assert_eq!(BootstrapToken::parse(bad), Err(TokenError::Format), "{bad}");
        }
    }

    #[test]
    fn generated_tokens_are_valid_and_differ() {
        let a = BootstrapToken::generate().unwrap();
        let b = BootstrapToken::generate().unwrap();
        assert_eq!(BootstrapToken::parse(&a.expose()).unwrap(), a);
        assert_ne!(a, b);
    }

    #[test]
    fn the_secret_never_shows_in_debug_or_display() {
        let t = BootstrapToken::parse("abcdef.0123456789abcdef").unwrap();
        assert_eq!(format!("{t:?} {t}"), "BootstrapToken(abcdef.<redacted>) abcdef.<redacted>");
    }
}
