//! The API server keeps its serving certificate current by itself: once two thirds of its lifetime have
//! passed it is issued again by the cluster CA (same names, new key; `certs renew apiserver`'s work), and a
//! certificate renewed by anyone (`kubeboot certs renew`) is served from the next handshake on. Open
//! connections keep the certificate they were made with.

use std::sync::Arc;
use std::time::Duration;

use super::certificates::{self, renew, MasterCertificate};
use crate::host::layout::Layout;
use crate::https::reloading_certificate::ReloadingCertificate;

/// Whether a certificate valid from `not_before` to `not_after` is due for renewal at `now`.
pub fn due(not_before: i64, not_after: i64, now: i64) -> bool {
    now >= not_before + (not_after - not_before) * 2 / 3
}

/// How often to look: often enough for short test lifetimes, every 10 s at most.
pub fn check_every(validity_seconds: u64) -> Duration {
    Duration::from_secs((validity_seconds / 20).clamp(1, 10))
}

fn serving(layout: &Layout) -> Option<MasterCertificate> {
    certificates::of(layout).into_iter().find(|c| c.name == "apiserver")
}

/// One look: renew when due, then serve what the files hold. Returns what was done, for the log.
fn look(layout: &Layout, validity_seconds: u64, served: &ReloadingCertificate) -> Result<Option<String>, String> {
    let mut done = None;
    if let Some(certificate) = serving(layout) {
        let pem = certificate.holder.certificate().map_err(|e| e.to_string())?;
        let current = certificates::describe(&pem, certificate.holder.path()).map_err(|e| e.to_string())?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        if due(current.not_before, current.not_after, now) {
            renew::renew(layout, &certificate, validity_seconds).map_err(|e| e.to_string())?;
            done = Some("serving certificate renewed".to_string());
        }
    }
    if served.reload_if_changed().map_err(|e| e.to_string())? {
        done.get_or_insert_with(|| "serving certificate changed on disk".to_string()).push_str(", now served");
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
            Ok(Ok(Some(what))) => eprintln!("kubeboot server: {what}"),
            Ok(Ok(None)) => {}
            Ok(Err(e)) => eprintln!("kubeboot server: keeping the serving certificate current: {e}"),
            Err(e) => eprintln!("kubeboot server: keeping the serving certificate current: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_is_due_at_two_thirds_of_the_lifetime() {
        assert!(!due(0, 300, 199));
        assert!(due(0, 300, 200));
        assert_eq!(check_every(365 * 86400), Duration::from_secs(10));
        assert_eq!(check_every(60), Duration::from_secs(3));
    }
}
