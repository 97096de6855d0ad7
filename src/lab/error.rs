#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("the lab needs root (it creates network namespaces and boots containers): run it with sudo")]
    NotRoot,
    #[error("the lab needs `{tool}`: apt-get install {package}")]
    MissingTool { tool: String, package: String },
    #[error("`{command}` failed (exit {status}): {stderr}")]
    Command { command: String, status: i32, stderr: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("lab host {host} did not accept SSH on {address} within {seconds} s (its boot log: {log})")]
    BootTimeout { host: String, address: String, seconds: u64, log: String },
    #[error("no lab host named {0:?} (see `kubeboot lab status`)")]
    UnknownHost(String),
    #[error("the lab state file {path} is damaged ({message}): run `kubeboot lab down` to start over")]
    State { path: String, message: String },
}

pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> LabError {
    let context = context.into();
    move |source| LabError::Io { context, source }
}
