//! The kinds whose strategies add to the registry's generic steps, one file each.

pub mod custom;
pub mod custom_resource_definition;
pub mod namespace;
pub mod node;
pub mod pod;
pub mod secret;
pub mod service;
pub mod storage;
pub mod workload;
