//! `kubeboot upload-certs` on a master: the shared files sealed under a certificate key and left in the
//! cluster for 2 h (kubeadm's `init phase upload-certs --upload-certs`). The key is printed, never sent.

use crate::apiclient::admin;
use crate::bootstrap::certificate_bundle::{check_key, generate_key, read_shared, seal};
use crate::cli::UploadCertsArgs;
use crate::host::layout::{Layout, DEFAULT_DATA_DIR};
use crate::{UsageError, EXIT_OK};

pub async fn run(args: UploadCertsArgs) -> anyhow::Result<u8> {
    let key = match args.certificate_key {
        Some(key) => {
            check_key(&key).map_err(|e| UsageError(format!("--certificate-key: {e}")))?;
            key
        }
        None => generate_key()?,
    };
    let layout = Layout::new(&args.config_dir, std::path::Path::new(DEFAULT_DATA_DIR));
    let sealed = seal(&read_shared(&layout)?, &key)?;
    let client = admin::client(args.kubeconfig.kubeconfig.as_deref())?;
    let expires = admin::upload_certificates(&client, &sealed).await?;
    println!(
        "[upload-certs] The cluster's CA, etcd CA and settings are in the cluster, sealed with this key, until {}:",
        crate::resources::meta::rfc3339_unix(expires as i64)
    );
    println!("{key}");
    println!(
        "Join a further master with `kubeboot token create --print-join-command --certificate-key {key}`'s command."
    );
    Ok(EXIT_OK)
}
