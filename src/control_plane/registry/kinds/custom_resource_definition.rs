//! CustomResourceDefinitions: made with the cleanup finalizer (its objects go before it does) and a
//! status that names the stored version; what the definition must hold is checked with every object's
//! validation (resources/custom_resource_definition.rs), its conditions are the establishing
//! controller's (controllers/custom_resource_definition.rs).

use serde_json::{json, Value};

use crate::control_plane::registry::strategy::Strategy;
use crate::control_plane::registry::Context;
use crate::resources::custom_resource_definition::{storage_version, CLEANUP_FINALIZER};
use crate::resources::meta;

pub struct DefinitionStrategy;

impl Strategy for DefinitionStrategy {
    fn prepare_for_create(&self, _ctx: &Context, object: &mut Value) {
        meta::add_finalizer(object, CLEANUP_FINALIZER);
        let stored: Vec<&str> = storage_version(object).into_iter().collect();
        object["status"] = json!({
            "conditions": [],
            "acceptedNames": {"plural": "", "kind": ""},
            "storedVersions": stored,
        });
    }

    fn tracks_generation(&self) -> bool {
        true
    }
}
