//! The store write of a create or an update: the object and what its kind allocates for it (a Service's
//! ClusterIP and NodePorts) in one transaction, so neither is ever stored without the other.

use serde_json::Value;

use super::service_allocation::is_allocation_key;
use super::strategy::for_kind;
use super::{Registry, RegistryError};
use crate::control_plane::store::{StoreError, Txn};
use crate::resources::kinds::ResourceKind;

/// How often a write whose allocated value another write took meanwhile chooses again.
const ALLOCATION_ATTEMPTS: usize = 3;

impl Registry {
    /// Write `object` at `key`: a create when `old` is None, else an update of `old` (stored at the
    /// revision given). With `allocates`, what the kind allocates is claimed (and what `old` held and
    /// the object no longer does is freed) in the same transaction. The object as written, and its
    /// revision.
    pub(super) fn write_object(
        &self,
        kind: &'static ResourceKind,
        name: &str,
        key: &str,
        object: Value,
        old: Option<(&Value, u64)>,
        allocates: bool,
    ) -> Result<(Value, u64), RegistryError> {
        let own = |object: &Value| {
            let bytes = serde_json::to_vec(object).expect("json");
            match old {
                None => Txn::create(key, bytes),
                Some((_, expected)) => Txn::update(key, bytes, Some(expected)),
            }
        };
        let failed = |e| RegistryError::from_store(kind, name, e);
        if !allocates {
            let events = self.store().txn(own(&object)).map_err(failed)?;
            return Ok((object, events[0].revision));
        }
        let (strategy, ctx) = (for_kind(kind), self.context());
        let mut attempt = 1;
        loop {
            let mut written = object.clone();
            let allocation = strategy
                .allocate(&ctx, key, &mut written, old.map(|(o, _)| o))
                .map_err(|causes| RegistryError::Invalid { kind, name: name.into(), causes })?;
            match self.store().txn(own(&written).and(allocation)) {
                Ok(events) => return Ok((written, events[0].revision)),
                // Taken between the choice and the commit: choose again (a requested value is then
                // refused as taken, with Kubernetes' message).
                Err(StoreError::AlreadyExists(k)) if is_allocation_key(&k) && attempt < ALLOCATION_ATTEMPTS => {
                    attempt += 1
                }
                Err(e) => return Err(failed(e)),
            }
        }
    }
}
