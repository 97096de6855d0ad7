//! Where a write meets the admission webhooks (control_plane/admission): the mutating ones after the
//! kind's defaults, the object validated again when they changed it, then the validating ones — on
//! creates, updates and patches of either part, and (validating only) on deletes.

use serde_json::Value;

use super::admit::admit;
use super::strategy::Strategy;
use super::{Part, Registry, RegistryError};
use crate::control_plane::admission::{self, AdmissionError, Attributes, Operation, User};
use crate::resources::kinds::ResourceKind;

impl From<AdmissionError> for RegistryError {
    fn from(e: AdmissionError) -> Self {
        match e {
            AdmissionError::Denied { code, message } => RegistryError::Admission { code, message },
            AdmissionError::NoDryRun(_) => RegistryError::Admission { code: 400, message: e.to_string() },
            AdmissionError::Failed { .. } => RegistryError::Internal(format!("Internal error occurred: {e}")),
        }
    }
}

/// One write's particulars.
pub(super) struct Write<'a> {
    pub kind: &'static ResourceKind,
    pub namespace: Option<&'a str>,
    pub name: &'a str,
    pub part: Part,
    pub operation: Operation,
    pub dry_run: bool,
    pub user: Option<&'a User>,
}

impl Registry {
    /// Pass `object` (`old`: the stored one) through the webhooks: mutated in place, validated again by
    /// the kind when a webhook changed it, then checked by the validating webhooks.
    pub(super) fn through_webhooks(
        &self,
        write: &Write,
        strategy: &dyn Strategy,
        object: &mut Value,
        old: Option<&Value>,
    ) -> Result<(), RegistryError> {
        let attributes = attributes(write);
        if admission::mutate(self.store(), &attributes, object, old)? {
            let creating = write.operation == Operation::Create;
            *object = admit(self.store(), write.kind, strategy, write.namespace, object.take(), creating)?;
        }
        admission::validate(self.store(), &attributes, Some(object), old)?;
        Ok(())
    }

    /// A delete of `old` past the validating webhooks.
    pub(super) fn delete_through_webhooks(&self, write: &Write, old: &Value) -> Result<(), RegistryError> {
        admission::validate(self.store(), &attributes(write), None, Some(old))?;
        Ok(())
    }
}

/// The write as the webhooks see it; a write that names no user is the server's own.
fn attributes<'a>(write: &'a Write) -> Attributes<'a> {
    Attributes {
        kind: write.kind,
        subresource: if write.part == Part::Status { "status" } else { "" },
        namespace: write.namespace,
        name: write.name,
        operation: write.operation,
        dry_run: write.dry_run,
        user: write.user.unwrap_or(User::server()),
    }
}
