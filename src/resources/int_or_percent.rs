//! Kubernetes' IntOrString as a count: a number, or a percent of a total (maxSurge, maxUnavailable,
//! minAvailable).

use serde_json::Value;

/// An intstr (3 or "25%") against `total`, percent rounded up or down.
pub fn scaled_value(value: Option<&Value>, default: &str, total: i64, round_up: bool) -> i64 {
    let text = match value {
        Some(Value::Number(n)) => return n.as_i64().unwrap_or(0).max(0),
        Some(Value::String(s)) => s.as_str(),
        _ => default,
    };
    match text.strip_suffix('%').map(str::parse::<i64>) {
        Some(Ok(percent)) => {
            let scaled = percent * total;
            if round_up {
                (scaled + 99).div_euclid(100)
            } else {
                scaled.div_euclid(100)
            }
        }
        _ => text.parse().unwrap_or(0),
    }
}
