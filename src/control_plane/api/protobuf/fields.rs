//! The protobuf field table of every message the served group-versions use: fields.json, written by
//! tools/protobuf_fields.py from k8s.io/api's and k8s.io/apimachinery's generated.proto files and Go types
//! (rerun it to follow a newer Kubernetes). This one is from k8s.io/api 10b39a39 and k8s.io/apimachinery
//! eed236ce (2026-07-24, after Kubernetes 1.36): fields newer than the OpenAPI schemas (1.30) decode too,
//! and are kept as any JSON field would be. Parsed once, at the first protobuf body.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::resources::kinds::ResourceKind;

/// How a field's values are written: a protobuf scalar, or a message named in the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldType {
    String,
    Bytes,
    Bool,
    /// int32, int64, uint32, uint64: varints read as Go reads them (int32 sign-extended to 64 bits).
    Varint,
    /// sint32, sint64: zigzag varints.
    ZigZag,
    Fixed32,
    Fixed64,
    Float,
    Double,
    Message(String),
}

#[derive(Debug, Clone)]
pub struct Field {
    pub number: u32,
    /// The JSON name (empty for an inlined struct).
    pub json: String,
    pub ty: FieldType,
    pub repeated: bool,
    /// map<string, ty>.
    pub map: bool,
    /// A Go pointer: its zero value was set on purpose, so it is kept.
    pub pointer: bool,
    /// An embedded Go struct without a JSON name: its fields are the parent's.
    pub inline: bool,
}

#[derive(Debug, Default)]
pub struct Message {
    /// A Go slice type (metav1.Verbs, ExtraValue): its JSON is its one repeated field's array.
    pub list: bool,
    pub fields: Vec<Field>,
}

impl Message {
    pub fn field(&self, number: u32) -> Option<&Field> {
        self.fields.iter().find(|f| f.number == number)
    }
}

#[derive(Deserialize)]
struct MessageEntry {
    #[serde(default)]
    list: bool,
    fields: Vec<(u32, String, String, String)>,
}

fn field_type(name: &str) -> FieldType {
    match name {
        "string" => FieldType::String,
        "bytes" => FieldType::Bytes,
        "bool" => FieldType::Bool,
        "int32" | "int64" | "uint32" | "uint64" => FieldType::Varint,
        "sint32" | "sint64" => FieldType::ZigZag,
        "fixed32" => FieldType::Fixed32,
        "fixed64" => FieldType::Fixed64,
        "float" => FieldType::Float,
        "double" => FieldType::Double,
        message => FieldType::Message(message.to_string()),
    }
}

fn table() -> &'static HashMap<String, Message> {
    static TABLE: OnceLock<HashMap<String, Message>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let entries: HashMap<String, MessageEntry> =
            serde_json::from_str(include_str!("fields.json")).expect("fields.json is the generator's JSON");
        entries
            .into_iter()
            .map(|(name, entry)| {
                let fields = entry
                    .fields
                    .into_iter()
                    .map(|(number, json, ty, flags)| Field {
                        number,
                        json,
                        ty: field_type(&ty),
                        repeated: flags.contains('r'),
                        map: flags.contains('m'),
                        pointer: flags.contains('p'),
                        inline: flags.contains('i'),
                    })
                    .collect();
                (name, Message { list: entry.list, fields })
            })
            .collect()
    })
}

/// Deeper than any Kubernetes object nests; a bound for hostile bodies, read or written.
const MAX_DEPTH: usize = 64;

/// Refuses a message nested past MAX_DEPTH.
pub fn within_depth(name: &str, depth: usize) -> Result<(), String> {
    match depth > MAX_DEPTH {
        true => Err(format!("{name} is nested more than {MAX_DEPTH} deep")),
        false => Ok(()),
    }
}

pub fn message(name: &str) -> Option<&'static Message> {
    table().get(name)
}

/// The protobuf message of a served kind.
pub fn message_name(kind: &ResourceKind) -> String {
    message_name_of(kind.group, kind.version, kind.kind)
}

/// The protobuf message of `kind` (DeploymentList too) in a group-version: k8s.io/api's package is the
/// group's first label ("core" for the legacy group), then the version.
pub fn message_name_of(group: &str, version: &str, kind: &str) -> String {
    let package = group.split('.').next().filter(|g| !g.is_empty()).unwrap_or("core");
    format!("k8s.io.api.{package}.{version}.{kind}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::kinds::KINDS;

    #[test]
    fn every_served_kind_has_its_message_and_every_field_type_is_in_the_table() {
        // CustomResourceDefinitions and webhook configurations are served in JSON only (the table holds
        // the workload packages of k8s.io/api; clients of these kinds read JSON).
        for kind in KINDS.iter().filter(|k| !matches!(k.group, "apiextensions.k8s.io" | "admissionregistration.k8s.io"))
        {
            assert!(message(&message_name(kind)).is_some(), "{} has no message", message_name(kind));
        }
        for (name, message) in table() {
            for field in &message.fields {
                if let FieldType::Message(ty) = &field.ty {
                    assert!(table().contains_key(ty), "{name}.{} is a {ty}, which the table lacks", field.json);
                }
            }
        }
    }

    #[test]
    fn go_pointers_and_embedded_structs_are_marked() {
        let spec = message("k8s.io.api.apps.v1.DeploymentSpec").unwrap();
        let replicas = spec.fields.iter().find(|f| f.json == "replicas").unwrap();
        let paused = spec.fields.iter().find(|f| f.json == "paused").unwrap();
        assert!(replicas.pointer && !paused.pointer);
        let selector = message("k8s.io.api.core.v1.ConfigMapKeySelector").unwrap();
        assert!(selector.field(1).unwrap().inline, "LocalObjectReference is embedded");
    }
}
