//! `kubeboot delete nodes NAME… [--revoke-credentials]` (what `reset -i` runs on the master).

use crate::apiclient::admin;
use crate::cli::{GetResource, KubeconfigArg};
use crate::{EXIT_FAILED, EXIT_OK};

pub async fn run(
    resource: GetResource,
    names: &[String],
    ignore_not_found: bool,
    revoke_credentials: bool,
    kubeconfig: KubeconfigArg,
) -> anyhow::Result<u8> {
    let client = admin::client(kubeconfig.kubeconfig.as_deref())?;
    let mut code = EXIT_OK;
    match resource {
        GetResource::Nodes => {
            for name in names {
                // Revoked first: the node's agent, still running, must not register its Node again.
                if revoke_credentials {
                    admin::revoke_node_credentials(&client, name).await?;
                    println!("node \"{name}\" credentials revoked");
                }
                if admin::delete_node(&client, name).await? {
                    println!("node \"{name}\" deleted");
                } else if !ignore_not_found {
                    eprintln!("Error from server (NotFound): nodes \"{name}\" not found");
                    code = EXIT_FAILED;
                }
            }
        }
    }
    Ok(code)
}
