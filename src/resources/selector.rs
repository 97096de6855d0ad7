//! Label and field selectors as the API takes them in `?labelSelector=` and `?fieldSelector=`:
//! `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`, comma-joined (all must hold).
//! Field selectors take `=`, `==` and `!=` on a dotted path (metadata.name, spec.nodeName, status.phase, …).

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    Exists(String),
    NotExists(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    requirements: Vec<Requirement>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "unable to parse requirement {0:?}: expected key, !key, key=value, key!=value, key in (a,b) or key notin (a,b)"
)]
pub struct SelectorError(pub String);

/// Split on commas outside parentheses.
fn terms(text: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out.into_iter().map(str::trim).filter(|t| !t.is_empty()).collect()
}

fn set(values: &str) -> Option<Vec<String>> {
    let inner = values.trim().strip_prefix('(')?.strip_suffix(')')?;
    Some(inner.split(',').map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect())
}

impl Selector {
    pub fn parse(text: &str) -> Result<Self, SelectorError> {
        let mut requirements = Vec::new();
        for term in terms(text) {
            let bad = || SelectorError(term.to_string());
            let req = if let Some((k, v)) = term.split_once("!=") {
                Requirement::NotEquals(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
                Requirement::Equals(k.trim().into(), v.trim().into())
            } else if let Some(k) = term.strip_prefix('!') {
                Requirement::NotExists(k.trim().into())
            } else if let Some((k, v)) = term.split_once(" notin ") {
                Requirement::NotIn(k.trim().into(), set(v).ok_or_else(bad)?)
            } else if let Some((k, v)) = term.split_once(" in ") {
                Requirement::In(k.trim().into(), set(v).ok_or_else(bad)?)
            } else if term.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c)) {
                Requirement::Exists(term.into())
            } else {
                return Err(bad());
            };
            requirements.push(req);
        }
        Ok(Selector { requirements })
    }

    /// Does an object with these labels (key -> value) match?
    pub fn matches_labels(&self, labels: Option<&serde_json::Map<String, Value>>) -> bool {
        self.matches(|key| labels.and_then(|l| l.get(key)).and_then(Value::as_str).map(String::from))
    }

    /// Does `object` match as a field selector (keys are dotted paths into the object)?
    pub fn matches_fields(&self, object: &Value) -> bool {
        self.matches(|path| {
            let pointer = format!("/{}", path.replace('.', "/"));
            match object.pointer(&pointer) {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Null) | None => Some(String::new()),
                Some(other) => Some(other.to_string()),
            }
        })
    }

    fn matches(&self, value_of: impl Fn(&str) -> Option<String>) -> bool {
        self.requirements.iter().all(|r| match r {
            Requirement::Equals(k, v) => value_of(k).as_deref() == Some(v.as_str()),
            Requirement::NotEquals(k, v) => value_of(k).as_deref() != Some(v.as_str()),
            Requirement::Exists(k) => value_of(k).is_some(),
            Requirement::NotExists(k) => value_of(k).is_none(),
            Requirement::In(k, vs) => value_of(k).is_some_and(|x| vs.contains(&x)),
            Requirement::NotIn(k, vs) => value_of(k).is_none_or(|x| !vs.contains(&x)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_selectors() {
        let labels = json!({"app": "web", "tier": "front"});
        let labels = labels.as_object();
        for (sel, want) in [
            ("app=web", true),
            ("app==web,tier=front", true),
            ("app!=web", false),
            ("app", true),
            ("!app", false),
            ("!missing", true),
            ("app in (web, db)", true),
            ("tier notin (front)", false),
            ("missing notin (x)", true),
            ("", true),
        ] {
            assert_eq!(Selector::parse(sel).unwrap().matches_labels(labels), want, "{sel}");
        }
        assert!(Selector::parse("a in b").is_err());
        assert!(Selector::parse("a b").is_err());
    }

    #[test]
    fn field_selectors() {
        let pod = json!({"metadata": {"name": "p", "namespace": "default"}, "spec": {"nodeName": "n1"}});
        assert!(Selector::parse("metadata.name=p,spec.nodeName=n1").unwrap().matches_fields(&pod));
        assert!(!Selector::parse("status.phase=Running").unwrap().matches_fields(&pod));
        assert!(Selector::parse("status.phase!=Running").unwrap().matches_fields(&pod));
    }
}
