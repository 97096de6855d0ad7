//! One object's change as an informer reports it, the same for the controllers' informer (the store's
//! watch, in process) and the agent's watch caches (the API's watch, over HTTPS).

use std::sync::Arc;

use serde_json::Value;

/// `old` None = added, `new` None = deleted.
#[derive(Debug, Clone)]
pub struct Change {
    pub key: String,
    pub old: Option<Arc<Value>>,
    pub new: Option<Arc<Value>>,
}
