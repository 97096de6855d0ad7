//! API objects shared by the server and the agent, kept as JSON values in Kubernetes' wire shape (so fields
//! a client sends and we do not model survive a round trip), with typed helpers for what we act on.

pub mod condition;
pub mod cron_schedule;
pub mod custom_kinds;
pub mod custom_resource_definition;
pub mod custom_table;
pub mod disruption_budget;
pub mod event;
pub mod event_v1;
pub mod field_rules;
pub mod go_bool;
pub mod hpa_v1;
pub mod int_or_percent;
pub mod job_defaults;
pub mod kinds;
pub mod known_fields;
pub mod label_selector;
pub mod list_types;
pub mod meta;
pub mod node;
pub mod node_selector;
pub mod node_table;
pub mod object_change;
pub mod patch;
pub mod pod;
pub mod pod_defaults;
pub mod quantity;
pub mod secret;
pub mod selector;
pub mod storage;
pub mod storage_defaults;
pub mod structural_schema;
pub mod table;
pub mod tables;
pub mod validation;
pub mod workload_defaults;
