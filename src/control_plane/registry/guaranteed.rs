//! kube-apiserver's GuaranteedUpdate: a write the client made without a precondition (no resourceVersion
//! in the body, none in DeleteOptions) is made again on the object as it is now when another write came
//! between this one's read and its commit, instead of answering 409. A write with a precondition is made
//! once: its conflict is the client's to resolve.

use super::RegistryError;

/// How often a write without a precondition is tried before its conflict is answered: only a hot object
/// written this often in the time of one attempt gets that far.
const ATTEMPTS: usize = 32;

/// Run `attempt` until it is not beaten by another write (at most ATTEMPTS times), or once when the
/// client gave a precondition.
pub(super) fn guaranteed<T>(
    precondition: bool,
    mut attempt: impl FnMut() -> Result<T, RegistryError>,
) -> Result<T, RegistryError> {
    let mut tries = 1;
    loop {
        match attempt() {
            Err(e) if !precondition && e.is_conflict() && tries < ATTEMPTS => tries += 1,
            result => return result,
        }
    }
}

/// Whether a patch body states a resourceVersion (a precondition): a JSON patch by an operation on
/// /metadata/resourceVersion, any other patch by carrying metadata.resourceVersion.
pub fn patch_has_precondition(body: &[u8], content_type: &str) -> bool {
    let media = content_type.split(';').next().unwrap_or("").trim();
    let parsed: Option<serde_json::Value> = if media == "application/apply-patch+yaml" {
        crate::yaml::from_str(&String::from_utf8_lossy(body)).ok()
    } else {
        serde_json::from_slice(body).ok()
    };
    match parsed {
        Some(serde_json::Value::Array(ops)) => {
            ops.iter().any(|op| op.get("path").and_then(|p| p.as_str()) == Some("/metadata/resourceVersion"))
        }
        Some(object) => object.pointer("/metadata/resourceVersion").is_some_and(|v| !v.is_null()),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preconditions_are_read_from_every_patch_type() {
        assert!(!patch_has_precondition(br#"{"data":{"a":"1"}}"#, "application/merge-patch+json"));
        assert!(patch_has_precondition(br#"{"metadata":{"resourceVersion":"7"}}"#, "application/merge-patch+json"));
        let test_op = br#"[{"op":"test","path":"/metadata/resourceVersion","value":"7"}]"#;
        assert!(patch_has_precondition(test_op, "application/json-patch+json"));
        assert!(!patch_has_precondition(
            br#"[{"op":"add","path":"/data/a","value":"1"}]"#,
            "application/json-patch+json"
        ));
        assert!(patch_has_precondition(b"metadata:\n  resourceVersion: \"7\"\n", "application/apply-patch+yaml"));
    }

    #[test]
    fn only_writes_without_a_precondition_are_tried_again() {
        let pods = crate::resources::kinds::served("", "pods");
        let conflict = || RegistryError::Conflict { kind: pods, name: "p".into() };
        let mut calls = 0;
        let r: Result<(), _> = guaranteed(false, || {
            calls += 1;
            if calls < 3 {
                Err(conflict())
            } else {
                Ok(())
            }
        });
        assert!(r.is_ok());
        assert_eq!(calls, 3);
        let mut calls = 0;
        let r: Result<(), _> = guaranteed(true, || {
            calls += 1;
            Err(conflict())
        });
        assert!(r.unwrap_err().is_conflict());
        assert_eq!(calls, 1);
    }
}
