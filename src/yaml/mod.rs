//! The one place YAML is parsed with serde. serde_yaml is deprecated upstream; keeping every call here means
//! an API-identical fork (serde_yaml_ng, serde_norway) can replace it with a Cargo rename.

pub mod locate;

use serde::de::DeserializeOwned;

pub use serde_yaml::{Mapping, Value};

/// A YAML error with the position serde_yaml reported (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct YamlError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Deserialize `src`, keeping serde_yaml's position and stripping its " at line N column M" suffix so callers
/// can put the position in front, compiler style.
pub fn from_str<T: DeserializeOwned>(src: &str) -> Result<T, YamlError> {
    serde_yaml::from_str(src).map_err(|err| {
        let (line, column) = err.location().map(|l| (l.line(), l.column())).unwrap_or((1, 1));
        let text = err.to_string();
        let message = match text.rfind(" at line ") {
            Some(at) => text[..at].to_string(),
            None => text,
        };
        YamlError { line, column, message }
    })
}

pub fn to_string<T: serde::Serialize>(value: &T) -> String {
    serde_yaml::to_string(value).expect("serializing plain data to YAML cannot fail")
}

/// Deserialize an already parsed value (a task's arguments). Values carry no position: callers add the
/// task's own location to the message.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, String> {
    serde_yaml::from_value(value).map_err(|e| e.to_string())
}
