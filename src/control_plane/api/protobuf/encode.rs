//! An object's JSON as the protobuf message Kubernetes' Go types would write, field by field through the
//! generated table (fields.rs): the inverse of decode.rs. Absent and null members are not written (Go
//! reads them as their zero values); members the table does not know (newer than it) are left out.
//! Errors name the field and what was wrong, never the value: they are logged, and values may be secrets.

use base64::Engine;
use prost::encoding::{encode_key, encode_varint, WireType};
use prost::Message as _;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::fields::{self, Field, FieldType};
use super::special_messages;

type Result<T> = std::result::Result<T, String>;

/// The message `name` (a full protobuf name) that `value` is the JSON of.
pub fn message(value: &Value, name: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    encode_message(value, name, &mut out, 0)?;
    Ok(out)
}

fn own_json(value: &Value, name: &str) -> Option<Result<Vec<u8>>> {
    let encoded = match name {
        "k8s.io.apimachinery.pkg.apis.meta.v1.Time" | "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime" => match value {
            Value::String(text) => OffsetDateTime::parse(text, &Rfc3339)
                .map(|t| {
                    let nanos = i32::try_from(t.nanosecond()).expect("under a second");
                    special_messages::Timestamp { seconds: t.unix_timestamp(), nanos }.encode_to_vec()
                })
                .map_err(|e| format!("not an RFC 3339 time: {e}")),
            _ => Ok(Vec::new()),
        },
        "k8s.io.apimachinery.pkg.util.intstr.IntOrString" => match value {
            Value::String(s) => {
                Ok(special_messages::IntOrString { kind: 1, int_val: 0, str_val: s.clone() }.encode_to_vec())
            }
            Value::Number(n) => n
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .map(|int_val| {
                    special_messages::IntOrString { kind: 0, int_val, str_val: String::new() }.encode_to_vec()
                })
                .ok_or_else(|| "an int beyond int32".to_string()),
            _ => Err("neither an int nor a string".into()),
        },
        "k8s.io.apimachinery.pkg.api.resource.Quantity" => match value {
            Value::String(s) => Ok(special_messages::Quantity { string: s.clone() }.encode_to_vec()),
            Value::Number(n) => Ok(special_messages::Quantity { string: n.to_string() }.encode_to_vec()),
            _ => Err("not a quantity".into()),
        },
        "k8s.io.apimachinery.pkg.runtime.RawExtension" | "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1" => {
            Ok(special_messages::Raw { raw: serde_json::to_vec(value).expect("json") }.encode_to_vec())
        }
        _ => return None,
    };
    Some(encoded)
}

fn encode_message(value: &Value, name: &str, out: &mut Vec<u8>, depth: usize) -> Result<()> {
    fields::within_depth(name, depth)?;
    if let Some(encoded) = own_json(value, name) {
        out.extend(encoded?);
        return Ok(());
    }
    let schema = fields::message(name).ok_or_else(|| format!("{name} is not a message of the served kinds"))?;
    if schema.list {
        let field = schema.fields.first().ok_or_else(|| format!("{name} has no field"))?;
        return field_values(value, field, out, depth).map_err(|e| format!("{name}: {e}"));
    }
    let object = value.as_object().ok_or_else(|| format!("{name} is not an object"))?;
    for field in &schema.fields {
        let at = |e: String| format!("{name}.{}: {e}", field.json);
        if field.inline {
            // The embedded struct's members are the parent's own.
            let FieldType::Message(inner) = &field.ty else { return Err(at("an inlined scalar".into())) };
            let mut bytes = Vec::new();
            encode_message(value, inner, &mut bytes, depth + 1).map_err(at)?;
            length_delimited(field.number, &bytes, out);
            continue;
        }
        match object.get(&field.json) {
            None | Some(Value::Null) => {}
            Some(member) => field_values(member, field, out, depth).map_err(at)?,
        }
    }
    Ok(())
}

fn field_values(member: &Value, field: &Field, out: &mut Vec<u8>, depth: usize) -> Result<()> {
    if field.map {
        let map = member.as_object().ok_or("not a map")?;
        for (key, value) in map {
            let mut entry = Vec::new();
            length_delimited(1, key.as_bytes(), &mut entry);
            single(2, value, &field.ty, &mut entry, depth)?;
            length_delimited(field.number, &entry, out);
        }
        return Ok(());
    }
    if field.repeated {
        let items = member.as_array().ok_or("not a list")?;
        for item in items {
            single(field.number, item, &field.ty, out, depth)?;
        }
        return Ok(());
    }
    single(field.number, member, &field.ty, out, depth)
}

fn single(number: u32, value: &Value, ty: &FieldType, out: &mut Vec<u8>, depth: usize) -> Result<()> {
    let int = || value.as_i64().ok_or("not an integer");
    let float = || value.as_f64().ok_or("not a number");
    match ty {
        FieldType::String => {
            let text = value.as_str().ok_or("not a string")?;
            length_delimited(number, text.as_bytes(), out);
        }
        FieldType::Bytes => {
            let text = value.as_str().ok_or("not base64")?;
            let bytes =
                base64::engine::general_purpose::STANDARD.decode(text).map_err(|e| format!("not base64: {e}"))?;
            length_delimited(number, &bytes, out);
        }
        FieldType::Message(name) => {
            let mut bytes = Vec::new();
            encode_message(value, name, &mut bytes, depth + 1)?;
            length_delimited(number, &bytes, out);
        }
        FieldType::Bool => {
            let b = value.as_bool().ok_or("not a boolean")?;
            encode_key(number, WireType::Varint, out);
            encode_varint(u64::from(b), out);
        }
        FieldType::Varint => {
            encode_key(number, WireType::Varint, out);
            encode_varint(int()? as u64, out);
        }
        FieldType::ZigZag => {
            let v = int()?;
            encode_key(number, WireType::Varint, out);
            encode_varint(((v << 1) ^ (v >> 63)) as u64, out);
        }
        FieldType::Fixed32 => {
            encode_key(number, WireType::ThirtyTwoBit, out);
            out.extend((int()? as u32).to_le_bytes());
        }
        FieldType::Fixed64 => {
            encode_key(number, WireType::SixtyFourBit, out);
            out.extend((int()? as u64).to_le_bytes());
        }
        FieldType::Float => {
            encode_key(number, WireType::ThirtyTwoBit, out);
            out.extend((float()? as f32).to_le_bytes());
        }
        FieldType::Double => {
            encode_key(number, WireType::SixtyFourBit, out);
            out.extend(float()?.to_le_bytes());
        }
    }
    Ok(())
}

fn length_delimited(number: u32, bytes: &[u8], out: &mut Vec<u8>) {
    encode_key(number, WireType::LengthDelimited, out);
    encode_varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}
