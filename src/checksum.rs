//! Lower-case hex SHA-256, as sha256sum prints it: file and binary comparisons with the hosts' copies, CA
//! pins, names derived from paths. Below every other module (ring, the one crypto backend).

use ring::digest::{digest, SHA256};

pub fn sha256_hex(bytes: &[u8]) -> String {
    digest(&SHA256, bytes).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}
