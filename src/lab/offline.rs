//! The lab without its outside: `lab offline` takes away the forwarding that lets lab hosts reach the
//! package mirrors, and refuses every connection a lab host opens to this machine (the lab's registry and
//! EL repositories live here), as an air-gapped site's hosts are. `lab online` gives both back.
//! `lab drops` reads the counters of the rules that drop a lab host's packets: those leaving the lab
//! (always there) and those for this machine (while offline), for tests that nothing tried to get out.

use super::error::LabError;
use super::network::{ensure_nat, BRIDGE};
use super::sh::{run, succeeds};

const OFFLINE_COMMENT: &str = "kubeboot-lab-offline";

fn input_rule() -> Vec<&'static str> {
    vec![
        "INPUT",
        "-i",
        BRIDGE,
        "-m",
        "conntrack",
        "--ctstate",
        "NEW",
        "-m",
        "comment",
        "--comment",
        OFFLINE_COMMENT,
        "-j",
        "DROP",
    ]
}

fn with_action<'a>(action: &'a str, rule: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![action];
    args.extend_from_slice(rule);
    args
}

impl super::Lab {
    pub fn offline(&self) -> Result<(), LabError> {
        // The forwarding rules without any mirror: only lab-to-lab traffic passes, the rest is dropped.
        super::network::set_forwarding(&[])?;
        if !succeeds("iptables", &with_action("-C", &input_rule())) {
            run("iptables", &with_action("-I", &input_rule()))?;
        }
        Ok(())
    }

    pub fn online(&self) -> Result<(), LabError> {
        remove_input_rule()?;
        ensure_nat(&self.dir).map(|_| ())
    }
}

/// Also part of `lab down`.
pub fn remove_input_rule() -> Result<(), LabError> {
    while succeeds("iptables", &with_action("-C", &input_rule())) {
        run("iptables", &with_action("-D", &input_rule()))?;
    }
    Ok(())
}

/// Packets dropped: (leaving the lab, to this machine while offline).
pub fn drops() -> Result<(u64, u64), LabError> {
    let count = |chain: &str, wanted: &dyn Fn(&[&str]) -> bool| -> Result<u64, LabError> {
        let listing = run("iptables", &["-L", chain, "-v", "-x", "-n"])?;
        Ok(listing
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            // pkts bytes target prot opt in out source destination …
            .filter(|w| w.len() > 6 && w[2] == "DROP" && wanted(w))
            .filter_map(|w| w[0].parse::<u64>().ok())
            .sum())
    };
    let leaving = count("FORWARD", &|w| w[5] == BRIDGE && w.contains(&"kubeboot-lab"))?;
    let to_machine = count("INPUT", &|w| w[5] == BRIDGE && w.contains(&OFFLINE_COMMENT))?;
    Ok((leaving, to_machine))
}
