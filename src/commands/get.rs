//! `kubeboot get nodes`: kubectl's table, or the NodeList as JSON (what `up` reads).

use crate::apiclient::admin;
use crate::cli::{GetOutput, GetResource, KubeconfigArg};
use crate::resources::node_table;
use crate::EXIT_OK;

pub async fn run(resource: GetResource, output: GetOutput, kubeconfig: KubeconfigArg) -> anyhow::Result<u8> {
    let client = admin::client(kubeconfig.kubeconfig.as_deref())?;
    match resource {
        GetResource::Nodes => {
            let nodes = admin::list_nodes(&client).await?;
            match output {
                GetOutput::Table => print!("{}", node_table::render(&nodes, time::OffsetDateTime::now_utc())),
                GetOutput::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({"kind": "NodeList", "items": nodes}))?
                ),
            }
        }
    }
    Ok(EXIT_OK)
}
