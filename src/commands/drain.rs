//! `kubeboot drain NODE` and `kubeboot uncordon NODE` on a master (what `upgrade` runs there over SSH).

use std::time::Duration;

use crate::apiclient::{admin, drain};
use crate::cli::KubeconfigArg;
use crate::{UsageError, EXIT_OK};

pub async fn drain(node: &str, timeout: &str, kubeconfig: KubeconfigArg) -> anyhow::Result<u8> {
    let limit = match crate::bootstrap::ttl::parse_ttl(timeout) {
        Ok(Some(seconds)) => Duration::from_secs(seconds),
        _ => return Err(UsageError(format!("--timeout: {timeout:?} is not a duration (e.g. 2m, 90s)")).into()),
    };
    let client = admin::client(kubeconfig.kubeconfig.as_deref())?;
    if drain::set_cordon(&client, node, Some("drain"), false).await? {
        println!("node/{node} cordoned");
    }
    let evicted = drain::drain(&client, node, limit).await?;
    println!("node/{node} drained ({evicted} pods evicted)");
    Ok(EXIT_OK)
}

pub async fn uncordon(node: &str, only_ours: bool, kubeconfig: KubeconfigArg) -> anyhow::Result<u8> {
    let client = admin::client(kubeconfig.kubeconfig.as_deref())?;
    let changed = drain::set_cordon(&client, node, None, only_ours).await?;
    println!("node/{node} {}", if changed { "uncordoned" } else { "already uncordoned" });
    Ok(EXIT_OK)
}
