//! The query of a list or get request: selectors, and how a Table row carries its object.

use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use super::status::status;
use crate::resources::selector::{Selector, SelectorError};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    pub label_selector: Option<String>,
    pub field_selector: Option<String>,
    /// Table rows: None, Metadata (default) or Object.
    pub include_object: Option<String>,
}

/// A bad selector is a 400 BadRequest, as Kubernetes answers.
pub fn bad_selector(e: SelectorError) -> Response {
    status(StatusCode::BAD_REQUEST, "BadRequest", e.to_string())
}

/// Parsed selectors.
pub struct Filter {
    labels: Selector,
    fields: Selector,
}

impl ListQuery {
    /// The one object a list or watch asks for, when its only field selector is `metadata.name=NAME`
    /// (kubelet's way of watching a single secret or configMap, which the node authorizer allows).
    pub fn single_name(&self) -> Option<String> {
        let selector = self.field_selector.as_deref()?.trim();
        let name = selector.strip_prefix("metadata.name==").or_else(|| selector.strip_prefix("metadata.name="))?;
        (!name.is_empty() && !name.contains([',', '=', '!'])).then(|| name.to_string())
    }

    pub fn filter(&self) -> Result<Filter, SelectorError> {
        let parse = |text: &Option<String>| Selector::parse(text.as_deref().unwrap_or(""));
        Ok(Filter { labels: parse(&self.label_selector)?, fields: parse(&self.field_selector)? })
    }
}

impl Filter {
    pub fn keeps(&self, object: &Value) -> bool {
        self.labels.matches_labels(object.pointer("/metadata/labels").and_then(Value::as_object))
            && self.fields.matches_fields(object)
    }
}
