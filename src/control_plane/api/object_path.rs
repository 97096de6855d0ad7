//! Which object an API URL names: `/api/v1/{resource}[/{name}[/{sub}]]`,
//! `/api/v1/namespaces/{ns}/{resource}[/{name}[/{sub}]]` and the same under `/apis/{group}/{version}`.

use crate::resources::kinds::{self, ResourceKind};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectPath {
    pub kind: &'static ResourceKind,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

/// What a path under /api or /apis is: discovery of a group/version, an object path, or nothing we serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiPath {
    GroupVersion { group: String, version: String },
    Group(String),
    Object(ObjectPath),
    Unknown,
}

pub fn parse(path: &str) -> ApiPath {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group] => return ApiPath::Group(group.to_string()),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return ApiPath::Unknown,
    };
    let find = |plural: &str| kinds::find(group, version, plural);
    let object =
        |kind: Option<&'static ResourceKind>, namespace: Option<&str>, name: Option<&&str>, sub: Option<&&str>| {
            kind.map(|kind| {
                ApiPath::Object(ObjectPath {
                    kind,
                    namespace: namespace.map(String::from),
                    name: name.map(|s| s.to_string()),
                    subresource: sub.map(|s| s.to_string()),
                })
            })
        };
    let parsed = match rest {
        [] => Some(ApiPath::GroupVersion { group: group.into(), version: version.into() }),
        ["namespaces", ns, plural, tail @ ..] if find(plural).is_some_and(|k| k.namespaced) && tail.len() <= 2 => {
            object(find(plural), Some(ns), tail.first(), tail.get(1))
        }
        [plural, tail @ ..] if tail.len() <= 2 => object(find(plural), None, tail.first(), tail.get(1)),
        _ => None,
    };
    parsed.unwrap_or(ApiPath::Unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(path: &str) -> (String, Option<String>, Option<String>, Option<String>) {
        match parse(path) {
            ApiPath::Object(p) => (p.kind.plural.to_string(), p.namespace, p.name, p.subresource),
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn paths() {
        let s = |v: &str| Some(v.to_string());
        assert_eq!(object("/api/v1/nodes"), ("nodes".into(), None, None, None));
        assert_eq!(object("/api/v1/nodes/n1/status"), ("nodes".into(), None, s("n1"), s("status")));
        assert_eq!(object("/api/v1/namespaces/default"), ("namespaces".into(), None, s("default"), None));
        assert_eq!(object("/api/v1/namespaces/default/pods"), ("pods".into(), s("default"), None, None));
        assert_eq!(object("/api/v1/pods"), ("pods".into(), None, None, None));
        assert_eq!(
            object("/apis/apps/v1/namespaces/x/deployments/web/status"),
            ("deployments".into(), s("x"), s("web"), s("status"))
        );
        assert_eq!(object("/apis/batch/v1beta1/namespaces/d/cronjobs/c").0, "cronjobs");
        assert_eq!(parse("/api/v1"), ApiPath::GroupVersion { group: "".into(), version: "v1".into() });
        assert_eq!(parse("/apis/apps"), ApiPath::Group("apps".into()));
        assert_eq!(parse("/api/v1/widgets"), ApiPath::Unknown);
        assert_eq!(parse("/apis/apps/v2/deployments"), ApiPath::Unknown);
    }
}
