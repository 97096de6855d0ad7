//! SPDY/3 header blocks (draft 3.1, section 2.6.10): `count(32)` then `len(32) name len(32) value` pairs,
//! compressed with zlib primed with the protocol's dictionary. Each direction of a connection has one zlib
//! stream for all its header blocks (each block ends with a sync flush), so the compressor and decompressor
//! live as long as the connection.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The dictionary of SPDY/3 (draft 3.1, section 2.6.10.1), 1423 bytes of protocol data.
const DICTIONARY: &[u8] = include_bytes!("dictionary.bin");
/// A decompressed header block larger than this is refused (a zip bomb would otherwise grow without bound).
const MAX_BLOCK: usize = 1 << 20;

pub type Headers = Vec<(String, String)>;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HeaderError {
    #[error("SPDY header block: {0}")]
    Zlib(String),
    #[error("SPDY header block is malformed")]
    Malformed,
    #[error("SPDY header block is larger than {MAX_BLOCK} bytes")]
    TooLarge,
}

pub struct HeaderCompressor {
    zlib: Compress,
}

impl Default for HeaderCompressor {
    fn default() -> Self {
        let mut zlib = Compress::new(Compression::default(), true);
        zlib.set_dictionary(DICTIONARY).expect("a fresh deflate stream takes a dictionary");
        HeaderCompressor { zlib }
    }
}

impl HeaderCompressor {
    pub fn compress(&mut self, headers: &[(&str, &str)]) -> Bytes {
        let mut plain = BytesMut::new();
        plain.put_u32(headers.len() as u32);
        for (name, value) in headers {
            plain.put_u32(name.len() as u32);
            plain.put_slice(name.to_ascii_lowercase().as_bytes());
            plain.put_u32(value.len() as u32);
            plain.put_slice(value.as_bytes());
        }
        let mut out = Vec::with_capacity(plain.len() + 64);
        let mut input = &plain[..];
        loop {
            out.reserve(256);
            let before = self.zlib.total_in();
            self.zlib.compress_vec(input, &mut out, FlushCompress::Sync).expect("deflate into a growing buffer");
            input = &input[(self.zlib.total_in() - before) as usize..];
            // Done when all input is taken and the flush fit (spare room left in the buffer).
            if input.is_empty() && out.len() < out.capacity() {
                return out.into();
            }
        }
    }
}

#[derive(Default)]
pub struct HeaderDecompressor {
    zlib: Option<Decompress>,
}

impl HeaderDecompressor {
    pub fn decompress(&mut self, block: &[u8]) -> Result<Headers, HeaderError> {
        let zlib = self.zlib.get_or_insert_with(|| Decompress::new(true));
        let mut out = Vec::with_capacity(block.len() * 4 + 64);
        let mut input = block;
        while !input.is_empty() || out.len() == out.capacity() {
            if out.len() >= MAX_BLOCK {
                return Err(HeaderError::TooLarge);
            }
            out.reserve(1024);
            let before = zlib.total_in();
            let produced_before = out.len();
            match zlib.decompress_vec(input, &mut out, FlushDecompress::Sync) {
                Ok(Status::Ok | Status::BufError | Status::StreamEnd) => {}
                Err(e) if e.needs_dictionary().is_some() => {
                    zlib.set_dictionary(DICTIONARY).map_err(|e| HeaderError::Zlib(e.to_string()))?;
                }
                Err(e) => return Err(HeaderError::Zlib(e.to_string())),
            }
            input = &input[(zlib.total_in() - before) as usize..];
            let stalled = zlib.total_in() == before && out.len() == produced_before;
            if stalled && out.len() < out.capacity() {
                break;
            }
        }
        parse(&out)
    }
}

fn parse(mut plain: &[u8]) -> Result<Headers, HeaderError> {
    let take_u32 =
        |p: &mut &[u8]| if p.remaining() >= 4 { Ok(p.get_u32() as usize) } else { Err(HeaderError::Malformed) };
    let take_str = |p: &mut &[u8], len: usize| {
        if p.remaining() < len {
            return Err(HeaderError::Malformed);
        }
        let s = String::from_utf8_lossy(&p[..len]).into_owned();
        p.advance(len);
        Ok(s)
    };
    let count = take_u32(&mut plain)?;
    let mut headers = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        let len = take_u32(&mut plain)?;
        let name = take_str(&mut plain, len)?;
        let len = take_u32(&mut plain)?;
        let value = take_str(&mut plain, len)?;
        headers.push((name, value));
    }
    Ok(headers)
}

/// The first value of `name` (names are lowercase on the wire).
pub fn header<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_round_trip_on_one_zlib_stream() {
        let mut compressor = HeaderCompressor::default();
        let mut decompressor = HeaderDecompressor::default();
        for i in 0..20 {
            let port = format!("{}", 8000 + i);
            let id = i.to_string();
            let sent = [("streamtype", "data"), ("port", port.as_str()), ("requestid", id.as_str())];
            let block = compressor.compress(&sent);
            let got = decompressor.decompress(&block).unwrap();
            let want: Headers = sent.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
            assert_eq!(got, want);
        }
        let empty = compressor.compress(&[]);
        assert_eq!(decompressor.decompress(&empty).unwrap(), Vec::new());
    }

    #[test]
    fn the_dictionary_is_spdy3s() {
        assert_eq!(DICTIONARY.len(), 1423);
        // The dictionary id a SPDY/3 zlib header names (FDICT), as every SPDY/3 peer computes it.
        let mut compressor = HeaderCompressor::default();
        let block = compressor.compress(&[("a", "b")]);
        assert_eq!(&block[2..6], &[0xe3, 0xc6, 0xa7, 0xc2]);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(HeaderDecompressor::default().decompress(b"not zlib at all").is_err());
        let mut compressor = HeaderCompressor::default();
        let mut block = compressor.compress(&[("streamtype", "stdin")]).to_vec();
        block.truncate(block.len() / 2);
        assert!(HeaderDecompressor::default().decompress(&block).is_err());
        assert_eq!(parse(&[0, 0, 0, 1, 0, 0, 0, 9, b'x']), Err(HeaderError::Malformed));
    }
}
