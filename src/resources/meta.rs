//! Object metadata conventions: name, uid, creationTimestamp, resourceVersion (the store revision), and
//! RFC 3339 timestamps.

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub fn now_rfc3339() -> String {
    rfc3339(OffsetDateTime::now_utc())
}

pub fn rfc3339(t: OffsetDateTime) -> String {
    t.replace_nanosecond(0).unwrap_or(t).format(&Rfc3339).unwrap_or_default()
}

/// A Unix time (seconds) as RFC 3339 (out of range: the epoch).
pub fn rfc3339_unix(seconds: i64) -> String {
    rfc3339(OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH))
}

pub fn parse_rfc3339(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// The string at a JSON pointer, "" when it is absent or not a string.
pub fn text(object: &Value, pointer: &str) -> String {
    object.pointer(pointer).and_then(Value::as_str).unwrap_or("").to_string()
}

pub fn uid(object: &Value) -> Option<&str> {
    object.pointer("/metadata/uid").and_then(Value::as_str)
}

pub fn name(object: &Value) -> Option<&str> {
    object.pointer("/metadata/name").and_then(Value::as_str)
}

pub fn resource_version(object: &Value) -> Option<u64> {
    object.pointer("/metadata/resourceVersion").and_then(Value::as_str).and_then(|v| v.parse().ok())
}

/// Put the store's revision into the object as it is served.
pub fn set_resource_version(object: &mut Value, revision: u64) {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("resourceVersion".into(), Value::String(revision.to_string()));
    }
}

/// What the store keeps: the object without resourceVersion (the store's revision is the truth).
pub fn strip_resource_version(object: &mut Value) {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("resourceVersion");
    }
}

/// `t` moved by `seconds`, held to the calendar's ends: a client's `ttlSecondsAfterFinished`,
/// `activeDeadlineSeconds`, `--grace-period` or `tolerationSeconds` of i64::MAX means "never", not a panic.
pub fn plus_seconds(t: OffsetDateTime, seconds: i64) -> OffsetDateTime {
    let moved = t.checked_add(time::Duration::seconds(seconds));
    moved.unwrap_or_else(|| {
        let end = if seconds > 0 { time::Date::MAX } else { time::Date::MIN };
        time::PrimitiveDateTime::new(end, time::Time::MIDNIGHT).assume_utc()
    })
}

pub fn has_finalizer(object: &Value, finalizer: &str) -> bool {
    object.pointer("/metadata/finalizers").and_then(Value::as_array).is_some_and(|f| f.iter().any(|x| x == finalizer))
}

/// A copy of `object` without `finalizer` (what its owner writes back once its work is done).
pub fn without_finalizer(object: &Value, finalizer: &str) -> Value {
    let mut out = object.clone();
    if let Some(list) = out.pointer_mut("/metadata/finalizers").and_then(Value::as_array_mut) {
        list.retain(|f| f != finalizer);
    }
    out
}

/// `finalizer` added to `object`'s finalizers, once.
pub fn add_finalizer(object: &mut Value, finalizer: &str) {
    let list = &mut object["metadata"]["finalizers"];
    if !list.is_array() {
        *list = Value::Array(Vec::new());
    }
    let items = list.as_array_mut().expect("an array");
    if !items.iter().any(|f| f == finalizer) {
        items.push(Value::String(finalizer.to_string()));
    }
}

/// The object is being deleted (a deletionTimestamp is set).
pub fn is_deleting(object: &Value) -> bool {
    object.pointer("/metadata/deletionTimestamp").is_some_and(|t| !t.is_null())
}

/// uid and creationTimestamp for a new object.
pub fn stamp_new(object: &mut Value) {
    let uid = uuid_v4();
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("uid".into(), Value::String(uid));
        meta.insert("creationTimestamp".into(), Value::String(now_rfc3339()));
    }
}

/// generateName's suffix.
pub use crate::random_name::suffix as random_suffix;

pub fn uuid_v4() -> String {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut b = [0u8; 16];
    SystemRandom::new().fill(&mut b).expect("system randomness");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_and_versions() {
        let t = parse_rfc3339("2026-11-26T18:00:00Z").unwrap();
        assert_eq!(rfc3339(t), "2026-11-26T18:00:00Z");
        let mut o = serde_json::json!({"metadata": {"name": "n1"}});
        set_resource_version(&mut o, 42);
        assert_eq!((name(&o), resource_version(&o)), (Some("n1"), Some(42)));
        strip_resource_version(&mut o);
        assert_eq!(resource_version(&o), None);
        stamp_new(&mut o);
        assert_eq!(o["metadata"]["uid"].as_str().unwrap().len(), 36);
    }

    #[test]
    fn far_deadlines_saturate() {
        let now = OffsetDateTime::now_utc();
        assert_eq!(plus_seconds(now, 60) - now, time::Duration::seconds(60));
        assert_eq!(plus_seconds(now, i64::MAX).year(), 9999, "never, not a panic");
        assert_eq!(plus_seconds(now, i64::MIN).year(), -9999);
        assert!(!rfc3339(plus_seconds(now, i64::MAX)).is_empty());
    }
}
