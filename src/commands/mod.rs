//! One file per CLI command: argument handling and output. The work itself lives in the library modules.

pub mod daemons;
pub mod hosts;
pub mod lab;
pub mod ping;
pub mod playbook;
