//! A Secret as the API server stores it: `stringData` is write-only — each key is base64-encoded into
//! `data` (winning over a `data` key of the same name) and the field dropped — and `type` defaults to
//! Opaque.

use base64::Engine;
use serde_json::{json, Value};

pub fn normalize(secret: &mut Value) {
    let Some(object) = secret.as_object_mut() else { return };
    if let Some(Value::Object(plain)) = object.remove("stringData") {
        if !object.get("data").is_some_and(Value::is_object) {
            object.insert("data".into(), json!({}));
        }
        let data = object.get_mut("data").and_then(Value::as_object_mut).expect("just made an object");
        for (key, value) in plain {
            let text = match value {
                Value::String(s) => s,
                other => other.to_string(),
            };
            data.insert(key, json!(base64::engine::general_purpose::STANDARD.encode(text)));
        }
    }
    if object.get("type").is_none_or(|t| t.as_str().is_none_or(|t| t.is_empty())) {
        object.insert("type".into(), json!("Opaque"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_data_is_merged_into_data_and_dropped() {
        let mut s = json!({"metadata": {"name": "s"}, "data": {"a": "b2xk", "keep": "eA=="},
                           "stringData": {"a": "new", "password": "secret"}});
        normalize(&mut s);
        assert_eq!(s["data"], json!({"a": "bmV3", "keep": "eA==", "password": "c2VjcmV0"}));
        assert!(s.get("stringData").is_none());
        assert_eq!(s["type"], "Opaque");
        let mut typed = json!({"type": "kubernetes.io/tls", "stringData": {"tls.crt": "x"}});
        normalize(&mut typed);
        assert_eq!(typed["type"], "kubernetes.io/tls");
        assert_eq!(typed["data"]["tls.crt"], "eA==");
    }
}
