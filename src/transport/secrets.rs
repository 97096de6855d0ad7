//! Secrets come from environment variables or from a prompt, never from files kubeboot reads, and are
//! held only in memory. Prompted values are kept per variable name for the rest of the process so
//! `--ask-become-pass` asks once for all hosts.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Mutex, OnceLock};

fn prompted() -> &'static Mutex<HashMap<String, String>> {
    static PROMPTED: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    PROMPTED.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The secret held in `env_name`, or given at a prompt for it earlier.
pub fn lookup(env_name: &str) -> Option<String> {
    if let Some(v) = prompted().lock().expect("secrets lock").get(env_name) {
        return Some(v.clone());
    }
    std::env::var(env_name).ok().filter(|v| !v.is_empty())
}

/// Ask on the terminal (no echo) unless the secret is already known. Returns None without a terminal.
pub fn lookup_or_prompt(env_name: &str, question: &str) -> Option<String> {
    if let Some(v) = lookup(env_name) {
        return Some(v);
    }
    // One prompt at a time even when many hosts connect in parallel.
    let mut map = prompted().lock().expect("secrets lock");
    if let Some(v) = map.get(env_name) {
        return Some(v.clone());
    }
    if !std::io::stdin().is_terminal() {
        return None;
    }
    let answer = rpassword::prompt_password(question).ok()?;
    map.insert(env_name.to_string(), answer.clone());
    Some(answer)
}

/// Store a secret given at a prompt up front (`--ask-pass`, `--ask-become-pass`).
pub fn remember(env_name: &str, value: String) {
    prompted().lock().expect("secrets lock").insert(env_name.to_string(), value);
}
