//! SPDY/3.1, the parts Kubernetes' streaming uses, server side: frames (frame.rs), zlib-compressed header
//! blocks with the protocol's dictionary (header_block.rs), and a connection serving client-opened streams
//! (connection.rs). Written here because no maintained Rust crate serves SPDY/3.1.

pub mod connection;
pub mod frame;
pub mod header_block;
