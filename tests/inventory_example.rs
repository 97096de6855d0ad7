//! The walkthrough's inventory parses into the walkthrough's cluster. It is only parsed: its addresses are
//! not ours to connect to.

use std::path::Path;

use kubeboot::inventory::{DockerSource, Inventory, Role};

#[test]
fn example_inventory_is_the_walkthrough_cluster() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("inventory.example.yaml");
    let inv = Inventory::load(&path).expect("the example inventory is valid");
    assert_eq!(inv.cluster.name, "demo");
    assert_eq!(inv.cluster.pod_network_cidr.to_string(), "20.96.0.0/12");
    assert_eq!(
        inv.cluster.control_plane_endpoint.as_ref().map(|e| e.to_string()).as_deref(),
        Some("192.168.0.30:6443")
    );
    assert_eq!(inv.docker.source, DockerSource::DockerCe);
    assert_eq!(inv.docker.version.as_deref(), Some("18.06.2.ce"));
    let hosts: Vec<(&str, &str, Role)> =
        inv.hosts.iter().map(|h| (h.name.as_str(), h.address.as_str(), h.role)).collect();
    assert_eq!(
        hosts,
        vec![
            ("k8s-master", "192.168.0.30", Role::Master),
            ("k8s-node1", "192.168.0.31", Role::Node),
            ("k8s-node2", "192.168.0.32", Role::Node),
        ]
    );
    assert!(inv.hosts.iter().all(|h| h.ssh.user == "root" && h.ssh.port == 22 && !h.ssh.become_root));
}

#[test]
fn host_ssh_settings_override_the_defaults() {
    let src = "cluster: { name: demo }\n\
               ssh: { user: admin, port: 2200, become: true, become_password_env: SUDO_PW }\n\
               hosts:\n\
               \x20 - { name: m1, address: 10.0.0.1, role: master }\n\
               \x20 - { name: n1, address: 10.0.0.2, role: node, ssh: { user: ops, port: 22, become: false } }\n";
    let inv = Inventory::parse(src, Path::new("/srv/inv.yaml")).unwrap();
    let (m1, n1) = (&inv.hosts[0].ssh, &inv.hosts[1].ssh);
    assert_eq!((m1.user.as_str(), m1.port, m1.become_root), ("admin", 2200, true));
    assert_eq!(m1.become_password_env, "SUDO_PW");
    assert_eq!((n1.user.as_str(), n1.port, n1.become_root), ("ops", 22, false));
    assert_eq!(n1.become_password_env, "SUDO_PW", "keys a host does not set come from the defaults");
}
