//! Namespaces: Active from the start, and a deleted namespace's objects go with it (at once: there is no
//! namespace finalizer here).

use serde_json::{json, Value};

use crate::control_plane::registry::delete::take_out;
use crate::control_plane::registry::strategy::Strategy;
use crate::control_plane::registry::Context;
use crate::control_plane::store::Stored;
use crate::resources::meta;

pub struct NamespaceStrategy;

impl Strategy for NamespaceStrategy {
    fn prepare_for_create(&self, _ctx: &Context, object: &mut Value) {
        if object.pointer("/status/phase").is_none() {
            object["status"] = json!({"phase": "Active"});
        }
    }

    fn after_delete(&self, ctx: &Context, old: &Stored) {
        let object: Value = serde_json::from_slice(&old.value).unwrap_or(Value::Null);
        let namespace = meta::name(&object).unwrap_or_default();
        for kind in crate::resources::kinds::KINDS.iter().filter(|k| k.namespaced) {
            let Ok((items, _)) = ctx.store.list(&kind.prefix(Some(namespace))) else { continue };
            for item in items {
                let object: Value = serde_json::from_slice(&item.value).unwrap_or(Value::Null);
                // Gone already (deleted meanwhile) is what was wanted.
                let _ = take_out(ctx, kind, &item.key, (&object, item.revision), None);
            }
        }
    }
}
