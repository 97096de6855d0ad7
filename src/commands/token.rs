//! `kubeboot token create|list|delete`, kubeadm's, through the API server with the admin kubeconfig.

use crate::apiclient::admin;
use crate::apiclient::ApiClient;
use crate::bootstrap::certificate_bundle::check_key;
use crate::bootstrap::pki::ca_pin_of_pem;
use crate::bootstrap::ttl::{format_remaining, parse_ttl};
use crate::cli::TokenCommand;
use crate::control_plane::tokens::now_unix;
use crate::{UsageError, EXIT_OK};

pub async fn run(command: TokenCommand) -> anyhow::Result<u8> {
    match command {
        TokenCommand::Create { ttl, print_join_command, certificate_key, kubeconfig } => {
            let ttl = parse_ttl(&ttl).map_err(|e| UsageError(format!("--ttl: {e}")))?;
            if let Some(key) = &certificate_key {
                check_key(key).map_err(|e| UsageError(format!("--certificate-key: {e}")))?;
            }
            let config = admin::load(kubeconfig.kubeconfig.as_deref())?;
            let token = admin::create_token(&ApiClient::from_kubeconfig(&config)?, ttl).await?;
            if print_join_command {
                // The endpoint and CA pin come from the same kubeconfig the request was verified with.
                let (server, ca) = config.first_cluster()?;
                let endpoint = server.trim_start_matches("https://");
                let control_plane =
                    certificate_key.map(|k| format!(" --control-plane --certificate-key {k}")).unwrap_or_default();
                println!(
                    "kubeboot join {endpoint} --token {} --discovery-token-ca-cert-hash {}{control_plane}",
                    token.expose(),
                    ca_pin_of_pem(&ca)?
                );
            } else {
                println!("{}", token.expose());
            }
        }
        TokenCommand::List { kubeconfig } => {
            let client = admin::client(kubeconfig.kubeconfig.as_deref())?;
            let now = now_unix();
            let mut rows = vec![vec!["TOKEN ID".to_string(), "TTL".into(), "USAGES".into()]];
            for (id, expires) in admin::list_tokens(&client).await? {
                let ttl =
                    expires.map(|e| format_remaining(e.saturating_sub(now))).unwrap_or_else(|| "<forever>".into());
                rows.push(vec![id, ttl, "authentication,signing".into()]);
            }
            print!("{}", crate::table::render(&rows));
        }
        TokenCommand::Delete { ids, kubeconfig } => {
            let client = admin::client(kubeconfig.kubeconfig.as_deref())?;
            for id in ids {
                // kubeadm accepts the id or the whole token; only the id is ever sent.
                let id = id.split('.').next().unwrap_or_default().to_string();
                admin::delete_token(&client, &id).await?;
                println!("bootstrap token {id:?} deleted");
            }
        }
    }
    Ok(EXIT_OK)
}
