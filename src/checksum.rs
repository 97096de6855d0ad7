//! Lower-case hex SHA-256, as sha256sum prints it: file and binary comparisons with the hosts' copies, CA
//! pins, names derived from paths. Below every other module (ring, the one crypto backend).

use ring::digest::{digest, SHA256};

pub fn sha256_hex(bytes: &[u8]) -> String {
    digest(&SHA256, bytes).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of what is written through it: a file hashed while it is copied, without holding it whole.
pub struct Sha256Writer(ring::digest::Context);

impl Default for Sha256Writer {
    fn default() -> Self {
        Sha256Writer(ring::digest::Context::new(&SHA256))
    }
}

impl Sha256Writer {
    pub fn finish_hex(self) -> String {
        self.0.finish().as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl std::io::Write for Sha256Writer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The SHA-256 and size of a file, read in pieces.
pub fn sha256_file(path: &std::path::Path) -> std::io::Result<(String, u64)> {
    let mut hasher = Sha256Writer::default();
    let size = std::io::copy(&mut std::fs::File::open(path)?, &mut hasher)?;
    Ok((hasher.finish_hex(), size))
}
