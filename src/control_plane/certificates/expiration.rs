//! `kubeboot certs check-expiration`: kubeadm's table of a master's certificates (CERTIFICATE, EXPIRES,
//! RESIDUAL TIME, CERTIFICATE AUTHORITY, EXTERNALLY MANAGED) and of its authorities, or the same as
//! kubeadm's JSON (output.kubeadm.k8s.io/v1alpha3 CertificateExpirationInfo, residual times in
//! nanoseconds as Go's Duration).

use serde_json::{json, Value};
use time::OffsetDateTime;

use super::{describe, read as read_file, Authority, CertificateError, MasterCertificate};
use crate::host::layout::Layout;
use crate::resources::meta::rfc3339_unix;

/// One row: a certificate or an authority.
#[derive(Debug, Clone)]
pub struct Expiry {
    pub name: String,
    pub not_after: i64,
    /// The authority that signs it (None: a row of an authority itself).
    pub authority: Option<Authority>,
    /// The signing key is not on this master.
    pub externally_managed: bool,
}

impl Expiry {
    pub fn residual_seconds(&self, now: i64) -> i64 {
        self.not_after - now
    }
}

/// The expiries of the master's certificates, then of its authorities.
pub fn read(
    layout: &Layout,
    certificates: &[MasterCertificate],
) -> Result<(Vec<Expiry>, Vec<Expiry>), CertificateError> {
    let managed = |a: Authority| a.files(layout).1.exists();
    let mut rows = Vec::new();
    for c in certificates {
        let d = describe(&c.holder.certificate()?, c.holder.path())?;
        rows.push(Expiry {
            name: c.name.into(),
            not_after: d.not_after,
            authority: Some(c.authority),
            externally_managed: !managed(c.authority),
        });
    }
    let mut authorities = Vec::new();
    for authority in [Authority::Cluster, Authority::Etcd] {
        let (crt, _) = authority.files(layout);
        if !crt.exists() {
            continue;
        }
        let d = describe(&read_file(&crt)?, &crt)?;
        authorities.push(Expiry {
            name: authority.name().into(),
            not_after: d.not_after,
            authority: None,
            externally_managed: !managed(authority),
        });
    }
    Ok((rows, authorities))
}

/// Go's duration.ShortHumanDuration, which kubeadm prints residual times with.
pub fn short_human(seconds: i64) -> String {
    match seconds {
        s if s < -1 => "<invalid>".into(),
        s if s < 0 => "0s".into(),
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 24 * 3600 => format!("{}h", s / 3600),
        s if s < 365 * 24 * 3600 => format!("{}d", s / (24 * 3600)),
        s => format!("{}y", s / (365 * 24 * 3600)),
    }
}

/// kubeadm's EXPIRES column: `Jan 02, 2006 15:04 UTC`.
fn expires(unix: i64) -> String {
    let Ok(t) = OffsetDateTime::from_unix_timestamp(unix) else { return String::new() };
    let month = format!("{:?}", t.month());
    format!("{} {:02}, {} {:02}:{:02} UTC", &month[..3], t.day(), t.year(), t.hour(), t.minute())
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

/// The two tables kubeadm prints.
pub fn table(rows: &[Expiry], authorities: &[Expiry], now: i64) -> String {
    let mut certs = vec![vec![
        "CERTIFICATE".to_string(),
        "EXPIRES".into(),
        "RESIDUAL TIME".into(),
        "CERTIFICATE AUTHORITY".into(),
        "EXTERNALLY MANAGED".into(),
    ]];
    for r in rows {
        certs.push(vec![
            r.name.clone(),
            expires(r.not_after),
            short_human(r.residual_seconds(now)),
            r.authority.map(Authority::name).unwrap_or_default().into(),
            yes_no(r.externally_managed),
        ]);
    }
    let mut cas = vec![vec![
        "CERTIFICATE AUTHORITY".to_string(),
        "EXPIRES".into(),
        "RESIDUAL TIME".into(),
        "EXTERNALLY MANAGED".into(),
    ]];
    for a in authorities {
        cas.push(vec![
            a.name.clone(),
            expires(a.not_after),
            short_human(a.residual_seconds(now)),
            yes_no(a.externally_managed),
        ]);
    }
    format!("{}\n{}", crate::table::render(&certs), crate::table::render(&cas))
}

/// kubeadm's `-o json`.
pub fn json(rows: &[Expiry], authorities: &[Expiry], now: i64) -> Value {
    let nanos = |e: &Expiry| e.residual_seconds(now).saturating_mul(1_000_000_000);
    json!({
        "kind": "CertificateExpirationInfo",
        "apiVersion": "output.kubeadm.k8s.io/v1alpha3",
        "certificates": rows.iter().map(|r| json!({
            "name": r.name,
            "expirationDate": rfc3339_unix(r.not_after),
            "residualTime": nanos(r),
            "caName": r.authority.map(Authority::name).unwrap_or_default(),
            "externallyManaged": r.externally_managed,
        })).collect::<Vec<_>>(),
        "certificateAuthorities": authorities.iter().map(|a| json!({
            "name": a.name,
            "expirationDate": rfc3339_unix(a.not_after),
            "residualTime": nanos(a),
            "externallyManaged": a.externally_managed,
        })).collect::<Vec<_>>(),
    })
}

/// Within this many seconds of expiry a certificate is reported by `up` (kubeadm's 30 days).
pub const SOON_SECONDS: i64 = 30 * 24 * 3600;

/// What `up` says about the certificates and authorities of a CertificateExpirationInfo (`json`) that
/// expire within 30 days, soonest first.
pub fn expiring_soon(info: &Value) -> Vec<String> {
    let mut soon: Vec<(i64, String)> = Vec::new();
    for (list, authority) in [("certificates", false), ("certificateAuthorities", true)] {
        for c in info[list].as_array().into_iter().flatten() {
            let seconds = c["residualTime"].as_i64().unwrap_or(0) / 1_000_000_000;
            if seconds >= SOON_SECONDS {
                continue;
            }
            let name = c["name"].as_str().unwrap_or_default();
            let what = if authority { "certificate authority" } else { "certificate" };
            let left = if seconds < 0 { "expired".to_string() } else { format!("expires in {}", short_human(seconds)) };
            let action = match name {
                "apiserver" | "admin.conf" | "agent.conf" => {
                    "it renews itself at two thirds of its lifetime".to_string()
                }
                _ if authority => "a new authority means new certificates everywhere".to_string(),
                _ => format!("renew it with `kubeboot certs renew {name}` on the master"),
            };
            soon.push((
                seconds,
                format!("{what} {name} {left} ({}; {action})", c["expirationDate"].as_str().unwrap_or_default()),
            ));
        }
    }
    soon.sort();
    soon.into_iter().map(|(_, s)| s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn residual_times_as_kubeadm_prints_them() {
        let cases = [(-5, "<invalid>"), (-1, "0s"), (59, "59s"), (61, "1m"), (7200, "2h"), (86400 * 364, "364d")];
        for (seconds, shown) in cases {
            assert_eq!(short_human(seconds), shown, "{seconds}");
        }
        assert_eq!(short_human(86400 * 3650), "10y");
        assert_eq!(expires(0), "Jan 01, 1970 00:00 UTC");
    }

    #[test]
    fn up_reports_what_expires_within_30_days() {
        let expiry = |name: &str, days: i64, authority: Option<Authority>| Expiry {
            name: name.into(),
            not_after: days * 86400,
            authority,
            externally_managed: false,
        };
        let rows = [expiry("apiserver", 12, Some(Authority::Cluster)), expiry("etcd-peer", 400, Some(Authority::Etcd))];
        let cas = [expiry("etcd-ca", 3, None)];
        let soon = expiring_soon(&json(&rows, &cas, 0));
        assert_eq!(soon.len(), 2, "{soon:?}");
        assert!(soon[0].starts_with("certificate authority etcd-ca expires in 3d"), "{soon:?}");
        assert!(soon[1].starts_with("certificate apiserver expires in 12d") && soon[1].contains("renews itself"));
        let expired = expiring_soon(&json(&[expiry("apiserver-etcd-client", 0, Some(Authority::Etcd))], &[], 10));
        assert!(expired[0].contains("expired") && expired[0].contains("certs renew apiserver-etcd-client"));
    }
}
