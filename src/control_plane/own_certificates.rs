//! The API server keeps this master's own certificates current by itself: its serving certificate and
//! admin.conf's (what `kubeboot kubeconfig -i` hands out), each issued again by the cluster CA once two
//! thirds of its lifetime have passed (same names, new key: `certs renew`'s work). A serving certificate
//! renewed by anyone (`kubeboot certs renew`) is served from the next handshake on; open connections keep
//! the certificate they were made with. The etcd certificates (etcd CA) are left to `certs renew`: etcd
//! reads them at start.

use std::sync::Arc;

use super::certificates::{self, renew, MasterCertificate};
use crate::bootstrap::certificate_lifetime::{check_every, due};
use crate::host::layout::Layout;
use crate::https::reloading_certificate::ReloadingCertificate;

/// The certificates the server renews: its serving certificate and admin.conf.
const OWN: [&str; 2] = ["apiserver", "admin.conf"];

fn own(layout: &Layout) -> Vec<MasterCertificate> {
    certificates::of(layout).into_iter().filter(|c| OWN.contains(&c.name)).collect()
}

/// One look: renew what is due, then serve what the files hold. Returns what was done, for the log.
fn look(layout: &Layout, validity_seconds: u64, served: &ReloadingCertificate) -> Result<Vec<String>, String> {
    let mut done = Vec::new();
    for certificate in own(layout) {
        let pem = certificate.holder.certificate().map_err(|e| e.to_string())?;
        let current = certificates::describe(&pem, certificate.holder.path()).map_err(|e| e.to_string())?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        if due(current.not_before, current.not_after, now) {
            renew::renew(layout, &certificate, validity_seconds).map_err(|e| e.to_string())?;
            done.push(format!("{} renewed", renew::purpose(certificate.name)));
        }
    }
    if served.reload_if_changed().map_err(|e| e.to_string())? {
        done.push("serving certificate now served".to_string());
    }
    Ok(done)
}

pub async fn keep_current(layout: Layout, validity_seconds: u64, served: Arc<ReloadingCertificate>) {
    let mut tick = tokio::time::interval(check_every(validity_seconds));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let (layout, served) = (layout.clone(), served.clone());
        match tokio::task::spawn_blocking(move || look(&layout, validity_seconds, &served)).await {
            Ok(Ok(done)) => done.iter().for_each(|what| eprintln!("kubeboot server: {what}")),
            Ok(Err(e)) => eprintln!("kubeboot server: keeping its certificates current: {e}"),
            Err(e) => eprintln!("kubeboot server: keeping its certificates current: {e}"),
        }
    }
}
