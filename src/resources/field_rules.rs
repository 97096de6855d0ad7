//! Kubernetes' value rules (k8s.io/apimachinery/pkg/util/validation and the API's validation of ports,
//! protocols, labels and names), with their messages word for word, so a refused object reads as
//! kube-apiserver's refusal: `spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535,
//! inclusive`.

use serde_json::Value;

use super::validation::FieldError;

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";

fn dns1123_subdomain_fmt() -> String {
    format!("{DNS1123_LABEL_FMT}(\\.{DNS1123_LABEL_FMT})*")
}

/// `Invalid value: <value as Go's %#v prints it>: <message>`.
pub fn invalid(field: &str, value: &Value, message: &str) -> FieldError {
    let shown = match value {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    };
    FieldError { field: field.into(), message: format!("Invalid value: {shown}: {message}") }
}

fn alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// RFC 1123 label (a container's or a namespace's name): the problems, as Kubernetes words them.
pub fn dns1123_label(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    if value.len() > 63 {
        out.push("must be no more than 63 characters".to_string());
    }
    let ok = !value.is_empty()
        && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && alnum(value.as_bytes()[0])
        && alnum(value.as_bytes()[value.len() - 1]);
    if !ok {
        out.push(format!(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and \
             end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '{DNS1123_LABEL_FMT}')"
        ));
    }
    out
}

/// RFC 1123 subdomain (most objects' names, a label key's prefix).
pub fn dns1123_subdomain(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    if value.len() > 253 {
        out.push("must be no more than 253 characters".to_string());
    }
    let ok = !value.is_empty()
        && value.split('.').all(|part| {
            !part.is_empty()
                && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && alnum(part.as_bytes()[0])
                && alnum(part.as_bytes()[part.len() - 1])
        });
    if !ok {
        out.push(format!(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must \
             start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '{}')",
            dns1123_subdomain_fmt()
        ));
    }
    out
}

/// RFC 1035 label (a Service's name).
pub fn dns1035_label(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    if value.len() > 63 {
        out.push("must be no more than 63 characters".to_string());
    }
    let ok = !value.is_empty()
        && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && value.as_bytes()[0].is_ascii_lowercase()
        && alnum(value.as_bytes()[value.len() - 1]);
    if !ok {
        out.push(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic \
             character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for \
             validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
                .to_string(),
        );
    }
    out
}

/// A label or annotation key: `[prefix/]name`.
pub fn qualified_name(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (prefix, name) = match value.split('/').collect::<Vec<_>>().as_slice() {
        [name] => (None, *name),
        [prefix, name] => (Some(*prefix), *name),
        _ => {
            return vec![format!(
            "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with \
                 an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is \
                 '{QUALIFIED_NAME_FMT}') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        )]
        }
    };
    match prefix {
        Some("") => out.push("prefix part must be non-empty".to_string()),
        Some(prefix) => out.extend(dns1123_subdomain(prefix).into_iter().map(|m| format!("prefix part {m}"))),
        None => {}
    }
    if name.is_empty() {
        out.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        out.push("name part must be no more than 63 characters".to_string());
    }
    let ok = !name.is_empty()
        && name.bytes().all(|b| alnum(b) || matches!(b, b'-' | b'_' | b'.'))
        && alnum(name.as_bytes()[0])
        && alnum(name.as_bytes()[name.len() - 1]);
    if !name.is_empty() && !ok {
        out.push(format!(
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an \
             alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is \
             '{QUALIFIED_NAME_FMT}')"
        ));
    }
    out
}

/// A label's value.
pub fn label_value(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    if value.len() > 63 {
        out.push("must be no more than 63 characters".to_string());
    }
    let ok = value.is_empty()
        || (value.bytes().all(|b| alnum(b) || matches!(b, b'-' | b'_' | b'.'))
            && alnum(value.as_bytes()[0])
            && alnum(value.as_bytes()[value.len() - 1]));
    if !ok {
        out.push(format!(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must \
             start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used \
             for validation is '{LABEL_VALUE_FMT}')"
        ));
    }
    out
}

/// Labels (`field`: metadata.labels, or a template's): each key and value.
pub fn labels(errors: &mut Vec<FieldError>, labels: Option<&Value>, field: &str) {
    let Some(labels) = labels.and_then(Value::as_object) else { return };
    for (key, value) in labels {
        for message in qualified_name(key) {
            errors.push(invalid(field, &Value::String(key.clone()), &message));
        }
        let text = value.as_str().unwrap_or_default();
        for message in label_value(text) {
            errors.push(invalid(&format!("{field}.{key}"), value, &message));
        }
    }
}

/// Annotations: each key, and their total size (256 KiB).
pub fn annotations(errors: &mut Vec<FieldError>, annotations: Option<&Value>, field: &str) {
    let Some(annotations) = annotations.and_then(Value::as_object) else { return };
    let mut size = 0;
    for (key, value) in annotations {
        for message in qualified_name(&key.to_lowercase()) {
            errors.push(invalid(field, &Value::String(key.clone()), &message));
        }
        size += key.len() + value.as_str().map_or(0, str::len);
    }
    const MAX: usize = 256 * 1024;
    if size > MAX {
        errors.push(FieldError { field: field.into(), message: format!("Too long: must have at most {MAX} bytes") });
    }
}

/// A port number (1–65535).
pub fn port_number(errors: &mut Vec<FieldError>, port: Option<&Value>, field: &str, required: bool) {
    match port {
        None | Some(Value::Null) => {
            if required {
                errors.push(FieldError { field: field.into(), message: "Required value".into() });
            }
        }
        Some(Value::Number(n)) if n.as_i64() == Some(0) && required => {
            errors.push(FieldError { field: field.into(), message: "Required value".into() });
        }
        Some(Value::Number(n)) if n.as_i64() == Some(0) => {}
        Some(value) => {
            if !value.as_i64().is_some_and(|p| (1..=65535).contains(&p)) {
                errors.push(invalid(field, value, "must be between 1 and 65535, inclusive"));
            }
        }
    }
}

/// A port's protocol, when given.
pub fn protocol(errors: &mut Vec<FieldError>, protocol: Option<&Value>, field: &str) {
    let Some(value) = protocol.filter(|v| !v.is_null()) else { return };
    if !matches!(value.as_str(), Some("TCP" | "UDP" | "SCTP")) {
        let shown = value.as_str().map_or(value.to_string(), |s| format!("{s:?}"));
        errors.push(FieldError {
            field: field.into(),
            message: format!("Unsupported value: {shown}: supported values: \"SCTP\", \"TCP\", \"UDP\""),
        });
    }
}

/// `Duplicate value: <value>`.
pub fn duplicate(field: &str, value: &Value) -> FieldError {
    let shown = match value {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    };
    FieldError { field: field.into(), message: format!("Duplicate value: {shown}") }
}
