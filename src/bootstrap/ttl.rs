//! Token lifetimes as kubeadm takes them: Go durations (`24h`, `15m`, `1h30m`, `24h0m0s`, `90s`), `0` for
//! never. Hand-written rather than humantime because that crate reads a different syntax (`1day 2h`) and
//! would accept lifetimes a kubeadm user would not type; the Go subset is a dozen lines.

/// Seconds, or None for "never expires".
pub fn parse_ttl(text: &str) -> Result<Option<u64>, String> {
    let bad = || format!("{text:?} is not a duration (e.g. 24h, 15m, 1h30m, 90s; 0 never expires)");
    let text = text.trim();
    if text == "0" {
        return Ok(None);
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad()),
        };
        let n: u64 = digits.parse().map_err(|_| bad())?;
        total = n.checked_mul(unit).and_then(|v| total.checked_add(v)).ok_or_else(bad)?;
        digits.clear();
    }
    if !digits.is_empty() || text.is_empty() {
        return Err(bad());
    }
    Ok((total > 0).then_some(total))
}

/// The lifetime left, for `token list` (kubeadm prints e.g. 23h).
pub fn format_remaining(seconds: u64) -> String {
    match seconds {
        s if s >= 3600 => format!("{}h", s / 3600),
        s if s >= 60 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_ttl("24h"), Ok(Some(86400)));
        assert_eq!(parse_ttl("24h0m0s"), Ok(Some(86400)));
        assert_eq!(parse_ttl("1h30m"), Ok(Some(5400)));
        assert_eq!(parse_ttl("90s"), Ok(Some(90)));
        assert_eq!(parse_ttl("0"), Ok(None));
        assert_eq!(parse_ttl("0s"), Ok(None));
        for bad in ["", "10", "h", "1d", "-5m", "5 m", "99999999999999999999h"] {
            assert!(parse_ttl(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn remaining() {
        assert_eq!(format_remaining(86399), "23h");
        assert_eq!(format_remaining(600), "10m");
        assert_eq!(format_remaining(5), "5s");
    }
}
