//! The query parameters of a request on an object path (list and watch selectors, resourceVersion,
//! dryRun, fieldValidation, DELETE's options).

use super::list_query::ListQuery;

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectQuery {
    #[serde(flatten)]
    pub list: ListQuery,
    pub watch: Option<String>,
    pub resource_version: Option<String>,
    /// A list's page size.
    pub limit: Option<usize>,
    /// The token of a list's next page.
    #[serde(rename = "continue")]
    pub continue_token: Option<String>,
    pub timeout_seconds: Option<u64>,
    pub dry_run: Option<String>,
    /// Strict: unknown fields are refused (kubectl 1.27+ asks for it).
    pub field_validation: Option<String>,
    /// Who writes (managedFields' manager); required for an apply.
    pub field_manager: Option<String>,
    /// An apply takes fields other managers own.
    pub force: Option<String>,
    /// DELETE's grace period when no DeleteOptions body carries one.
    pub grace_period_seconds: Option<i64>,
    /// DELETE's propagationPolicy when no DeleteOptions body carries one.
    pub propagation_policy: Option<String>,
}

impl ObjectQuery {
    /// `watch` read as Go's strconv.ParseBool reads it (the Python client sends `watch=True`).
    pub fn is_watch(&self) -> bool {
        crate::resources::go_bool::query_flag(self.watch.as_deref())
    }
}
