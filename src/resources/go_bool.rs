//! A boolean in a query string, read as Kubernetes reads it (Go's strconv.ParseBool): kubectl sends `true`,
//! the official Python client `True`, others `1` or `t`.

pub fn query_flag(value: Option<&str>) -> bool {
    matches!(value, Some("1" | "t" | "T" | "true" | "True" | "TRUE"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_spellings_of_true() {
        for yes in ["1", "t", "T", "true", "True", "TRUE"] {
            assert!(query_flag(Some(yes)), "{yes}");
        }
        for no in ["0", "false", "False", "yes", "", "tRUE"] {
            assert!(!query_flag(Some(no)), "{no}");
        }
        assert!(!query_flag(None));
    }
}
