//! `kubeboot certs check-expiration`: kubeadm's table of a master's certificates (CERTIFICATE, EXPIRES,
//! RESIDUAL TIME, CERTIFICATE AUTHORITY, EXTERNALLY MANAGED) and of its authorities, or the same as
//! kubeadm's JSON (output.kubeadm.k8s.io/v1alpha3 CertificateExpirationInfo, residual times in
//! nanoseconds as Go's Duration).

use serde_json::{json, Value};
use time::OffsetDateTime;

use super::{describe, Authority, CertificateError, Holder, MasterCertificate};
use crate::host::layout::Layout;

/// One row: a certificate or an authority.
#[derive(Debug, Clone)]
pub struct Expiry {
    pub name: String,
    pub not_after: i64,
    /// The certificate's lifetime, from not-before to not-after (renewal runs at two thirds of it).
    pub lifetime: i64,
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
            lifetime: d.not_after - d.not_before,
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
        let holder = Holder::Pair { crt: crt.clone(), key: crt.clone() };
        let d = describe(&holder.certificate()?, &crt)?;
        authorities.push(Expiry {
            name: authority.name().into(),
            not_after: d.not_after,
            lifetime: d.not_after - d.not_before,
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

fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix).map(crate::resources::meta::rfc3339).unwrap_or_default()
}

/// kubeadm's `-o json`.
pub fn json(rows: &[Expiry], authorities: &[Expiry], now: i64) -> Value {
    let nanos = |e: &Expiry| e.residual_seconds(now).saturating_mul(1_000_000_000);
    json!({
        "kind": "CertificateExpirationInfo",
        "apiVersion": "output.kubeadm.k8s.io/v1alpha3",
        "certificates": rows.iter().map(|r| json!({
            "name": r.name,
            "expirationDate": rfc3339(r.not_after),
            "residualTime": nanos(r),
            "caName": r.authority.map(Authority::name).unwrap_or_default(),
            "externallyManaged": r.externally_managed,
        })).collect::<Vec<_>>(),
        "certificateAuthorities": authorities.iter().map(|a| json!({
            "name": a.name,
            "expirationDate": rfc3339(a.not_after),
            "residualTime": nanos(a),
            "externallyManaged": a.externally_managed,
        })).collect::<Vec<_>>(),
    })
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
}
