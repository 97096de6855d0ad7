//! Secrets: stringData is written into data (base64) and not kept, as kube-apiserver does.

use serde_json::Value;

use crate::control_plane::registry::strategy::Strategy;

pub struct SecretStrategy;

impl Strategy for SecretStrategy {
    fn canonicalize(&self, object: &mut Value) {
        crate::resources::secret::normalize(object);
    }
}
