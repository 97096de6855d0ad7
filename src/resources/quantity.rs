//! Kubernetes resource quantities ("100m", "0.5", "128Mi", "1G", "110") as plain integers: CPU in
//! millicores, everything else in whole units (bytes for memory). Enough of the format for requests,
//! limits, capacity and allocatable.

/// Millicores of a CPU quantity ("250m" -> 250, "2" -> 2000, "0.5" -> 500).
pub fn cpu_millis(text: &str) -> Option<u64> {
    let text = text.trim();
    if let Some(m) = text.strip_suffix('m') {
        return m.parse().ok();
    }
    let value: f64 = text.parse().ok()?;
    (value >= 0.0).then(|| (value * 1000.0).round() as u64)
}

/// A quantity in whole units: binary (Ki, Mi, Gi, Ti, Pi, Ei) and decimal (k, M, G, T, P, E) suffixes,
/// milli ("m") rounded up, and exponents ("1e3").
pub fn units(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+')).unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let value: f64 = number.parse().ok()?;
    let factor: f64 = match suffix {
        "" => 1.0,
        "m" => 0.001,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        s if s.starts_with(['e', 'E']) => 10f64.powi(s[1..].parse().ok()?),
        _ => return None,
    };
    let result = value * factor;
    (result >= 0.0).then(|| result.ceil() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        for (text, millis) in [("100m", Some(100)), ("2", Some(2000)), ("0.5", Some(500)), ("x", None)] {
            assert_eq!(cpu_millis(text), millis, "{text}");
        }
        for (text, value) in [
            ("128Mi", Some(134_217_728)),
            ("1G", Some(1_000_000_000)),
            ("110", Some(110)),
            ("16318504Ki", Some(16_710_148_096)),
            ("1e3", Some(1000)),
            ("500m", Some(1)),
            ("12Zi", None),
        ] {
            assert_eq!(units(text), value, "{text}");
        }
    }
}
