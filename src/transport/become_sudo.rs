//! `become`: run a command as root through sudo for a non-root login, the way Ansible does.
//!
//! We use `sudo -S` (password on stdin) rather than a pty so stdout and stderr stay apart; the custom prompt
//! and a marker printed once sudo has let us through tell the two cases (password asked / not needed) apart
//! without an extra round trip.

pub const PROMPT: &str = "[kubeboot-sudo-prompt]";
pub const STARTED: &str = "[kubeboot-become-started]";

/// Wrap `command` so it runs as root. The command itself is passed as one quoted argument.
pub fn wrap(command: &str) -> String {
    format!(
        "sudo -S -p '{PROMPT}' -- /bin/sh -c 'echo \"{STARTED}\" >&2; eval \"$1\"' kubeboot {}",
        shell_quote(command)
    )
}

/// POSIX single-quote quoting.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:,@%+".contains(&b)) {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// What the stderr seen so far says about sudo's state.
#[derive(Debug, PartialEq, Eq)]
pub enum SudoState {
    Waiting,
    /// sudo printed its prompt this many times.
    Prompted(usize),
    /// The command runs; the payload is the stderr that came after the marker.
    Started(Vec<u8>),
}

pub fn scan(stderr: &[u8]) -> SudoState {
    if let Some(at) = find(stderr, STARTED.as_bytes()) {
        let mut rest = &stderr[at + STARTED.len()..];
        if rest.first() == Some(&b'\n') {
            rest = &rest[1..];
        }
        return SudoState::Started(rest.to_vec());
    }
    let prompts = count(stderr, PROMPT.as_bytes());
    if prompts > 0 {
        SudoState::Prompted(prompts)
    } else {
        SudoState::Waiting
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_when_needed() {
        assert_eq!(shell_quote("/etc/hosts"), "/etc/hosts");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn scans_sudo_output() {
        assert_eq!(scan(b""), SudoState::Waiting);
        assert_eq!(scan(PROMPT.as_bytes()), SudoState::Prompted(1));
        let twice = format!("{PROMPT}Sorry, try again.\n{PROMPT}");
        assert_eq!(scan(twice.as_bytes()), SudoState::Prompted(2));
        let started = format!("{PROMPT}{STARTED}\nwarning\n");
        assert_eq!(scan(started.as_bytes()), SudoState::Started(b"warning\n".to_vec()));
    }
}
