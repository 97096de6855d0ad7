//! Playbooks: the YAML model, where playbooks come from, the check that runs before any host is touched,
//! the runner and the recap.

mod check;
pub mod context;
pub mod installs;
pub mod loader;
mod model;
mod recap;
mod runner;

pub use check::check;
pub use model::{HostPattern, Play, Playbook, PlaybookError, TaskDef};
pub use recap::{ChangeRecord, Failure, HostRecap, Recap};
pub use runner::{run, RunOptions};
