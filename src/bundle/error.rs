//! What can go wrong making or reading a bundle; each names the file, host or image concerned.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a kubeboot bundle: {why}")]
    NotABundle { path: PathBuf, why: String },
    #[error("{path}: {file} does not match the bundle's manifest ({why}): the bundle is damaged; make it again")]
    Damaged { path: PathBuf, file: String, why: String },
    #[error("{path} is incomplete: {missing} of its files are missing (first: {first}); it was cut short")]
    Truncated { path: PathBuf, missing: usize, first: String },
    #[error("{host}: collecting packages failed: {message}")]
    Collect { host: String, message: String },
    #[error("image {reference}: {message}")]
    Image { reference: String, message: String },
    #[error("{tool} is needed on this machine to {purpose}: install it (apt-get install {package})")]
    MissingTool { tool: String, package: String, purpose: String },
    #[error("{tool} failed: {message}")]
    Tool { tool: String, message: String },
}

/// A tool of this machine's that could not be started: missing (named with its package) or otherwise.
pub fn tool_start<'a>(
    tool: &'a str,
    package: &'a str,
    purpose: &'a str,
) -> impl FnOnce(std::io::Error) -> BundleError + 'a {
    move |e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            BundleError::MissingTool { tool: tool.into(), package: package.into(), purpose: purpose.into() }
        } else {
            BundleError::Tool { tool: tool.into(), message: e.to_string() }
        }
    }
}

pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> BundleError {
    let path = path.into();
    move |source| BundleError::Io { path, source }
}
