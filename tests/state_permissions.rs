//! The control plane's state folder holds token secrets and every Secret: a real `kubeboot server` makes it
//! 0700 and its store 0600 at every start — also on a master an older kubeboot left 0755 / 0644.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn start_and_wait(cfg: &Path, data: &Path, port: &str) -> std::process::Child {
    let mut server = common::start_server(cfg, data, port);
    common::wait_listening(&mut server, data, port);
    server
}

#[test]
fn state_folder_and_store_are_private_after_every_start() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, data, port) = common::init_master(dir.path(), "m1");
    let store = data.join("state.redb");

    let mut server = start_and_wait(&cfg, &data, &port);
    assert_eq!((mode(&data), mode(&store)), (0o700, 0o600));
    server.kill().unwrap();
    server.wait().unwrap();

    // What an older kubeboot left: readable by every local user. The next start fixes it.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut server = start_and_wait(&cfg, &data, &port);
    assert_eq!((mode(&data), mode(&store)), (0o700, 0o600));
    server.kill().unwrap();
    server.wait().unwrap();
}
