//! The node's pod network rules as text for iptables-restore, rendered by a pure function: forward pod
//! traffic (Docker sets the FORWARD policy to DROP), and masquerade what leaves the pod network.

use ipnet::Ipv4Net;

/// (table, built-in chain, our chain): the jumps that must stand first in the built-in chains.
pub const JUMPS: [(&str, &str, &str); 2] =
    [("filter", "FORWARD", "KUBEBOOT-FORWARD"), ("nat", "POSTROUTING", "KUBEBOOT-POSTROUTING")];

pub fn render(own: Ipv4Net, all_pod_cidrs: &[Ipv4Net]) -> String {
    let mut text = String::from("*filter\n:KUBEBOOT-FORWARD - [0:0]\n");
    text.push_str(&format!("-A KUBEBOOT-FORWARD -s {own} -m comment --comment \"kubeboot: from pods\" -j ACCEPT\n"));
    text.push_str(&format!("-A KUBEBOOT-FORWARD -d {own} -m comment --comment \"kubeboot: to pods\" -j ACCEPT\n"));
    text.push_str("COMMIT\n*nat\n:KUBEBOOT-POSTROUTING - [0:0]\n");
    let mut cidrs: Vec<Ipv4Net> = all_pod_cidrs.to_vec();
    if !cidrs.contains(&own) {
        cidrs.push(own);
    }
    cidrs.sort();
    for cidr in cidrs {
        text.push_str(&format!("-A KUBEBOOT-POSTROUTING -s {own} -d {cidr} -j RETURN\n"));
    }
    text.push_str(&format!(
        "-A KUBEBOOT-POSTROUTING -s {own} -m comment --comment \"kubeboot: pods leaving the pod network\" -j MASQUERADE\n"
    ));
    text.push_str("COMMIT\n");
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn pod_to_pod_is_not_masqueraded() {
        let own = "10.244.1.0/24".parse().unwrap();
        let text = super::render(own, &["10.244.2.0/24".parse().unwrap()]);
        let nat = text.split("*nat").nth(1).unwrap();
        let returns: Vec<&str> = nat.lines().filter(|l| l.contains("RETURN")).collect();
        assert_eq!(returns.len(), 2);
        assert!(returns[1].contains("-d 10.244.2.0/24"));
        assert!(nat.lines().rev().nth(1).unwrap().contains("MASQUERADE"), "masquerade comes last");
        assert!(text.contains(":KUBEBOOT-FORWARD - [0:0]"), "iptables-restore --noflush flushes declared chains");
    }
}
