//! SPDY/3.1 frames on the wire (draft 3.1, section 2.2 and 2.6), as kubectl's spdystream writes and reads
//! them. Control frames: `1 | version(15) | type(16) | flags(8) | length(24)` then the type's fields; data
//! frames: `0 | stream id(31) | flags(8) | length(24)` then the payload. Header blocks stay compressed here
//! (header_block.rs owns the connection's zlib state).

use bytes::{Buf, BufMut, Bytes, BytesMut};

const VERSION: u16 = 3;
const HEADER_LEN: usize = 8;
/// The protocol's limit: the length field has 24 bits.
pub const MAX_FRAME_LEN: usize = (1 << 24) - 1;
pub const FLAG_FIN: u8 = 0x01;

const TYPE_SYN_STREAM: u16 = 1;
const TYPE_SYN_REPLY: u16 = 2;
const TYPE_RST_STREAM: u16 = 3;
const TYPE_SETTINGS: u16 = 4;
const TYPE_PING: u16 = 6;
const TYPE_GOAWAY: u16 = 7;
const TYPE_HEADERS: u16 = 8;
const TYPE_WINDOW_UPDATE: u16 = 9;

/// RST_STREAM status codes used here.
pub const RST_PROTOCOL_ERROR: u32 = 1;
pub const RST_REFUSED_STREAM: u32 = 3;
pub const RST_CANCEL: u32 = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    SynStream {
        stream_id: u32,
        associated_to: u32,
        priority: u8,
        flags: u8,
        header_block: Bytes,
    },
    SynReply {
        stream_id: u32,
        flags: u8,
        header_block: Bytes,
    },
    RstStream {
        stream_id: u32,
        status: u32,
    },
    /// (flags, id, value) entries; read and ignored (no setting changes what this server does).
    Settings {
        entries: Vec<(u8, u32, u32)>,
    },
    Ping {
        id: u32,
    },
    GoAway {
        last_good_stream_id: u32,
        status: u32,
    },
    Headers {
        stream_id: u32,
        flags: u8,
        header_block: Bytes,
    },
    WindowUpdate {
        stream_id: u32,
        delta: u32,
    },
    Data {
        stream_id: u32,
        flags: u8,
        data: Bytes,
    },
    /// A control frame of a type this version does not define: skipped, as the spec asks.
    Unknown {
        frame_type: u16,
    },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("SPDY version {0} is not supported (only 3)")]
    Version(u16),
    #[error("SPDY frame of type {frame_type} is too short ({len} bytes)")]
    Short { frame_type: u16, len: usize },
}

const STREAM_ID_MASK: u32 = 0x7fff_ffff;

impl Frame {
    /// One frame from the front of `buf`, or None when it does not hold a whole frame yet.
    pub fn decode(buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        if buf.len() < HEADER_LEN {
            return Ok(None);
        }
        let len = ((buf[5] as usize) << 16) | ((buf[6] as usize) << 8) | buf[7] as usize;
        if buf.len() < HEADER_LEN + len {
            buf.reserve(HEADER_LEN + len - buf.len());
            return Ok(None);
        }
        let mut head = buf.split_to(HEADER_LEN);
        let mut body = buf.split_to(len).freeze();
        let first = head.get_u32();
        let flags = head.get_u8();
        if first & 0x8000_0000 == 0 {
            return Ok(Some(Frame::Data { stream_id: first & STREAM_ID_MASK, flags, data: body }));
        }
        let version = ((first >> 16) & 0x7fff) as u16;
        if version != VERSION {
            return Err(FrameError::Version(version));
        }
        let frame_type = (first & 0xffff) as u16;
        let need = |n: usize| if len < n { Err(FrameError::Short { frame_type, len }) } else { Ok(()) };
        let frame = match frame_type {
            TYPE_SYN_STREAM => {
                need(10)?;
                let stream_id = body.get_u32() & STREAM_ID_MASK;
                let associated_to = body.get_u32() & STREAM_ID_MASK;
                let priority = body.get_u8() >> 5;
                let _slot = body.get_u8();
                Frame::SynStream { stream_id, associated_to, priority, flags, header_block: body }
            }
            TYPE_SYN_REPLY => {
                need(4)?;
                Frame::SynReply { stream_id: body.get_u32() & STREAM_ID_MASK, flags, header_block: body }
            }
            TYPE_HEADERS => {
                need(4)?;
                Frame::Headers { stream_id: body.get_u32() & STREAM_ID_MASK, flags, header_block: body }
            }
            TYPE_RST_STREAM => {
                need(8)?;
                Frame::RstStream { stream_id: body.get_u32() & STREAM_ID_MASK, status: body.get_u32() }
            }
            TYPE_SETTINGS => {
                need(4)?;
                let count = body.get_u32() as usize;
                need(4 + count.saturating_mul(8))?;
                let entries = (0..count)
                    .map(|_| {
                        let flag_id = body.get_u32();
                        ((flag_id >> 24) as u8, flag_id & 0x00ff_ffff, body.get_u32())
                    })
                    .collect();
                Frame::Settings { entries }
            }
            TYPE_PING => {
                need(4)?;
                Frame::Ping { id: body.get_u32() }
            }
            TYPE_GOAWAY => {
                need(4)?;
                let last_good_stream_id = body.get_u32() & STREAM_ID_MASK;
                // SPDY/3 added the status; tolerate its absence.
                let status = if body.remaining() >= 4 { body.get_u32() } else { 0 };
                Frame::GoAway { last_good_stream_id, status }
            }
            TYPE_WINDOW_UPDATE => {
                need(8)?;
                Frame::WindowUpdate {
                    stream_id: body.get_u32() & STREAM_ID_MASK,
                    delta: body.get_u32() & STREAM_ID_MASK,
                }
            }
            other => Frame::Unknown { frame_type: other },
        };
        Ok(Some(frame))
    }

    /// The frame's bytes. Data longer than MAX_FRAME_LEN must be split by the caller.
    pub fn encode(&self, out: &mut BytesMut) {
        let control = |out: &mut BytesMut, frame_type: u16, flags: u8, len: usize| {
            out.put_u16(0x8000 | VERSION);
            out.put_u16(frame_type);
            out.put_u32(((flags as u32) << 24) | len as u32);
        };
        match self {
            Frame::Data { stream_id, flags, data } => {
                out.put_u32(stream_id & STREAM_ID_MASK);
                out.put_u32(((*flags as u32) << 24) | data.len() as u32);
                out.put_slice(data);
            }
            Frame::SynStream { stream_id, associated_to, priority, flags, header_block } => {
                control(out, TYPE_SYN_STREAM, *flags, 10 + header_block.len());
                out.put_u32(*stream_id);
                out.put_u32(*associated_to);
                out.put_u8(priority << 5);
                out.put_u8(0);
                out.put_slice(header_block);
            }
            Frame::SynReply { stream_id, flags, header_block } => {
                control(out, TYPE_SYN_REPLY, *flags, 4 + header_block.len());
                out.put_u32(*stream_id);
                out.put_slice(header_block);
            }
            Frame::Headers { stream_id, flags, header_block } => {
                control(out, TYPE_HEADERS, *flags, 4 + header_block.len());
                out.put_u32(*stream_id);
                out.put_slice(header_block);
            }
            Frame::RstStream { stream_id, status } => {
                control(out, TYPE_RST_STREAM, 0, 8);
                out.put_u32(*stream_id);
                out.put_u32(*status);
            }
            Frame::Settings { entries } => {
                control(out, TYPE_SETTINGS, 0, 4 + 8 * entries.len());
                out.put_u32(entries.len() as u32);
                for (flags, id, value) in entries {
                    out.put_u32(((*flags as u32) << 24) | (id & 0x00ff_ffff));
                    out.put_u32(*value);
                }
            }
            Frame::Ping { id } => {
                control(out, TYPE_PING, 0, 4);
                out.put_u32(*id);
            }
            Frame::GoAway { last_good_stream_id, status } => {
                control(out, TYPE_GOAWAY, 0, 8);
                out.put_u32(*last_good_stream_id);
                out.put_u32(*status);
            }
            Frame::WindowUpdate { stream_id, delta } => {
                control(out, TYPE_WINDOW_UPDATE, 0, 8);
                out.put_u32(*stream_id);
                out.put_u32(*delta);
            }
            Frame::Unknown { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(frame: Frame) {
        let mut buf = BytesMut::new();
        frame.encode(&mut buf);
        let whole = buf.clone();
        // Every prefix is "not yet"; the whole is the frame.
        for cut in 0..whole.len() {
            let mut part = BytesMut::from(&whole[..cut]);
            assert_eq!(Frame::decode(&mut part).unwrap(), None, "{frame:?} cut at {cut}");
        }
        assert_eq!(Frame::decode(&mut buf).unwrap(), Some(frame));
        assert!(buf.is_empty());
    }

    #[test]
    fn frames_round_trip() {
        round_trip(Frame::Data { stream_id: 5, flags: FLAG_FIN, data: Bytes::from_static(b"hello") });
        round_trip(Frame::Data { stream_id: 7, flags: 0, data: Bytes::new() });
        round_trip(Frame::SynStream {
            stream_id: 1,
            associated_to: 0,
            priority: 0,
            flags: 0,
            header_block: Bytes::from_static(b"\x78\x01"),
        });
        round_trip(Frame::SynReply { stream_id: 2, flags: FLAG_FIN, header_block: Bytes::from_static(b"abc") });
        round_trip(Frame::RstStream { stream_id: 3, status: RST_CANCEL });
        round_trip(Frame::Settings { entries: vec![(0, 7, 65536), (1, 4, 100)] });
        round_trip(Frame::Ping { id: 1 });
        round_trip(Frame::GoAway { last_good_stream_id: 9, status: 0 });
        round_trip(Frame::WindowUpdate { stream_id: 1, delta: 1024 });
    }

    #[test]
    fn bad_frames_are_errors_not_panics() {
        // SPDY/2 control frame.
        let mut v2 = BytesMut::from(&[0x80, 0x02, 0x00, 0x06, 0, 0, 0, 4, 0, 0, 0, 1][..]);
        assert_eq!(Frame::decode(&mut v2), Err(FrameError::Version(2)));
        // A RST_STREAM with a 2-byte body.
        let mut short = BytesMut::from(&[0x80, 0x03, 0x00, 0x03, 0, 0, 0, 2, 0, 1][..]);
        assert!(matches!(Frame::decode(&mut short), Err(FrameError::Short { frame_type: 3, .. })));
        // A SETTINGS frame claiming more entries than it carries.
        let mut settings = BytesMut::from(&[0x80, 0x03, 0x00, 0x04, 0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff][..]);
        assert!(matches!(Frame::decode(&mut settings), Err(FrameError::Short { frame_type: 4, .. })));
        // An unknown type is skipped whole.
        let mut unknown = BytesMut::from(&[0x80, 0x03, 0x00, 0x0a, 0, 0, 0, 2, 1, 2, 9][..]);
        assert_eq!(Frame::decode(&mut unknown).unwrap(), Some(Frame::Unknown { frame_type: 10 }));
        assert_eq!(&unknown[..], &[9]);
    }
}
