//! A protobuf message as the JSON Kubernetes' Go types would marshal it, read field by field through the
//! generated table (fields.rs). Go's encoder writes every non-pointer field, zero or not, so a zero value
//! is kept only where the Go field is a pointer (`replicas: 0`, `emptyDir: {}`); everywhere else it means
//! "unset" and is left out, as `omitempty` leaves it out of JSON.

use base64::Engine;
use prost::bytes::Buf;
use prost::encoding::{decode_key, decode_varint, WireType};
use serde_json::{Map, Number, Value};
use time::OffsetDateTime;

use super::fields::{self, Field, FieldType};
use super::special_messages;

type Result<T> = std::result::Result<T, String>;

/// The JSON of the message `name` (a full protobuf name, e.g. k8s.io.api.apps.v1.Deployment).
pub fn message(bytes: &[u8], name: &str) -> Result<Value> {
    decode_message(bytes, name, 0)
}

fn own_json(bytes: &[u8], name: &str) -> Option<Result<Value>> {
    use prost::Message as _;
    let wire = |e: prost::DecodeError| format!("{name}: {e}");
    let decoded = match name {
        "k8s.io.apimachinery.pkg.apis.meta.v1.Time" | "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime" => {
            special_messages::Timestamp::decode(bytes)
                .map_err(wire)
                .and_then(|t| timestamp(&t, name.ends_with("MicroTime")))
        }
        "k8s.io.apimachinery.pkg.util.intstr.IntOrString" => {
            special_messages::IntOrString::decode(bytes).map_err(wire).map(|v| match v.kind {
                1 => Value::String(v.str_val),
                _ => Value::from(v.int_val),
            })
        }
        "k8s.io.apimachinery.pkg.api.resource.Quantity" => {
            special_messages::Quantity::decode(bytes).map_err(wire).map(|q| Value::String(q.string))
        }
        "k8s.io.apimachinery.pkg.runtime.RawExtension" | "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1" => {
            special_messages::Raw::decode(bytes).map_err(wire).and_then(|r| match r.raw.is_empty() {
                true => Ok(Value::Null),
                false => serde_json::from_slice(&r.raw).map_err(|e| format!("{name} does not hold JSON: {e}")),
            })
        }
        _ => return None,
    };
    Some(decoded)
}

/// Go marshals the zero time as null; others in RFC 3339, UTC (MicroTime with microseconds).
fn timestamp(t: &special_messages::Timestamp, micro: bool) -> Result<Value> {
    if t.seconds == 0 && t.nanos == 0 {
        return Ok(Value::Null);
    }
    let at = OffsetDateTime::from_unix_timestamp(t.seconds)
        .map_err(|e| format!("time {} is out of range: {e}", t.seconds))?;
    let text = crate::resources::meta::rfc3339(at);
    Ok(Value::String(match micro {
        true => format!("{}.{:06}Z", text.trim_end_matches('Z'), t.nanos / 1000),
        false => text,
    }))
}

fn decode_message(mut buf: &[u8], name: &str, depth: usize) -> Result<Value> {
    fields::within_depth(name, depth)?;
    if let Some(value) = own_json(buf, name) {
        return value;
    }
    let schema = fields::message(name).ok_or_else(|| format!("{name} is not a message of the served kinds"))?;
    let mut object = Map::new();
    let mut inlined = Map::new();
    while buf.has_remaining() {
        let (number, wire) = decode_key(&mut buf).map_err(|e| format!("{name}: {e}"))?;
        let Some(field) = schema.field(number) else {
            skip(wire, &mut buf)?;
            continue;
        };
        let at = |e: String| format!("{name}.{}: {e}", field.json);
        if field.map {
            let (key, value) = map_entry(length_delimited(&mut buf).map_err(at)?, field, depth).map_err(at)?;
            if let Value::Object(map) = object.entry(field.json.clone()).or_insert_with(|| Value::Object(Map::new())) {
                map.insert(key, value);
            }
        } else if field.repeated {
            let values = repeated(wire, &mut buf, field, depth).map_err(at)?;
            if let Value::Array(items) = object.entry(field.json.clone()).or_insert_with(|| Value::Array(Vec::new())) {
                items.extend(values);
            }
        } else {
            let value = value_of(wire, &mut buf, &field.ty, depth).map_err(at)?;
            if field.inline {
                if let Value::Object(fields) = value {
                    inlined.extend(fields);
                }
            } else if kept(field, &value) {
                object.insert(field.json.clone(), value);
            } else {
                object.remove(&field.json);
            }
        }
    }
    if schema.list {
        return Ok(object.into_iter().next().map(|(_, items)| items).unwrap_or(Value::Array(Vec::new())));
    }
    for (key, value) in inlined {
        object.entry(key).or_insert(value);
    }
    Ok(Value::Object(object))
}

fn kept(field: &Field, value: &Value) -> bool {
    match field.pointer {
        true => !value.is_null(),
        false => !is_zero(value),
    }
}

fn is_zero(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

fn map_entry(mut entry: &[u8], field: &Field, depth: usize) -> Result<(String, Value)> {
    let (mut key, mut value) = (String::new(), None);
    while entry.has_remaining() {
        let (number, wire) = decode_key(&mut entry).map_err(|e| e.to_string())?;
        match number {
            1 => match value_of(wire, &mut entry, &FieldType::String, depth)? {
                Value::String(k) => key = k,
                _ => return Err("a map key is not a string".into()),
            },
            2 => value = Some(value_of(wire, &mut entry, &field.ty, depth)?),
            _ => skip(wire, &mut entry)?,
        }
    }
    // An absent value is the type's zero value, as Go reads it.
    let zero = match &field.ty {
        FieldType::String | FieldType::Bytes => Value::String(String::new()),
        FieldType::Message(name) => decode_message(&[], name, depth + 1)?,
        FieldType::Bool => Value::Bool(false),
        _ => Value::from(0),
    };
    Ok((key, value.unwrap_or(zero)))
}

fn repeated(wire: WireType, buf: &mut &[u8], field: &Field, depth: usize) -> Result<Vec<Value>> {
    let packable = !matches!(field.ty, FieldType::String | FieldType::Bytes | FieldType::Message(_));
    if packable && wire == WireType::LengthDelimited {
        let mut packed = length_delimited(buf)?;
        let element = match field.ty {
            FieldType::Fixed32 | FieldType::Float => WireType::ThirtyTwoBit,
            FieldType::Fixed64 | FieldType::Double => WireType::SixtyFourBit,
            _ => WireType::Varint,
        };
        let mut values = Vec::new();
        while packed.has_remaining() {
            values.push(value_of(element, &mut packed, &field.ty, depth)?);
        }
        return Ok(values);
    }
    Ok(vec![value_of(wire, buf, &field.ty, depth)?])
}

fn value_of(wire: WireType, buf: &mut &[u8], ty: &FieldType, depth: usize) -> Result<Value> {
    let expected = match ty {
        FieldType::String | FieldType::Bytes | FieldType::Message(_) => WireType::LengthDelimited,
        FieldType::Fixed32 | FieldType::Float => WireType::ThirtyTwoBit,
        FieldType::Fixed64 | FieldType::Double => WireType::SixtyFourBit,
        FieldType::Bool | FieldType::Varint | FieldType::ZigZag => WireType::Varint,
    };
    if wire != expected {
        return Err(format!("wire type {wire:?} where {expected:?} belongs"));
    }
    Ok(match ty {
        FieldType::String => {
            let bytes = length_delimited(buf)?;
            Value::String(String::from_utf8(bytes.to_vec()).map_err(|_| "a string is not UTF-8".to_string())?)
        }
        FieldType::Bytes => Value::String(base64::engine::general_purpose::STANDARD.encode(length_delimited(buf)?)),
        FieldType::Message(name) => decode_message(length_delimited(buf)?, name, depth + 1)?,
        FieldType::Bool => Value::Bool(varint(buf)? != 0),
        FieldType::Varint => Value::from(varint(buf)? as i64),
        FieldType::ZigZag => {
            let v = varint(buf)?;
            Value::from(((v >> 1) as i64) ^ -((v & 1) as i64))
        }
        FieldType::Fixed32 => Value::from(u32::from_le_bytes(fixed(buf)?)),
        FieldType::Fixed64 => Value::from(u64::from_le_bytes(fixed(buf)?)),
        FieldType::Float => float(f64::from(f32::from_le_bytes(fixed(buf)?))),
        FieldType::Double => float(f64::from_le_bytes(fixed(buf)?)),
    })
}

fn float(v: f64) -> Value {
    Number::from_f64(v).map(Value::Number).unwrap_or(Value::Null)
}

fn varint(buf: &mut &[u8]) -> Result<u64> {
    decode_varint(buf).map_err(|e| e.to_string())
}

fn fixed<const N: usize>(buf: &mut &[u8]) -> Result<[u8; N]> {
    if buf.len() < N {
        return Err("the body ends inside a fixed-width value".into());
    }
    let (head, rest) = buf.split_at(N);
    *buf = rest;
    Ok(head.try_into().expect("N bytes"))
}

fn length_delimited<'a>(buf: &mut &'a [u8]) -> Result<&'a [u8]> {
    let len = usize::try_from(varint(buf)?).map_err(|_| "a length does not fit".to_string())?;
    if buf.len() < len {
        return Err("the body ends inside a length-delimited value".into());
    }
    let (head, rest) = buf.split_at(len);
    *buf = rest;
    Ok(head)
}

/// A field the table does not know: newer than the table, skipped as Go's generated code skips it.
fn skip(wire: WireType, buf: &mut &[u8]) -> Result<()> {
    match wire {
        WireType::Varint => varint(buf).map(drop),
        WireType::ThirtyTwoBit => fixed::<4>(buf).map(drop),
        WireType::SixtyFourBit => fixed::<8>(buf).map(drop),
        WireType::LengthDelimited => length_delimited(buf).map(drop),
        WireType::StartGroup | WireType::EndGroup => Err("protobuf groups are not used by Kubernetes".into()),
    }
}
