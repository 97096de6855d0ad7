//! A bad playbook or template fails before any host is touched, naming file:line, with exit code 2.

mod common;

use std::net::TcpListener;
use std::path::Path;

struct Case {
    listener: TcpListener,
    dir: tempfile::TempDir,
}

/// An inventory whose only host is a listener that must never see a connection.
fn case() -> Case {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = listener.local_addr().unwrap().port();
    std::fs::write(
        dir.path().join("inv.yaml"),
        format!("cluster: {{ name: t }}\nssh: {{ port: {port} }}\nhosts:\n  - {{ name: m1, address: 127.0.0.1, role: master }}\n"),
    )
    .unwrap();
    Case { listener, dir }
}

impl Case {
    fn write(&self, rel: &str, text: &str) -> String {
        let path = self.dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        rel.to_string()
    }

    fn run(&self, args: &[&str]) -> (i32, String) {
        let inv = self.dir.path().join("inv.yaml");
        let mut all = args.to_vec();
        all.extend(["-i", inv.to_str().unwrap()]);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubeboot"))
            .args(&all)
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        assert!(self.listener.accept().is_err(), "a bad playbook led to a connection");
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn unknown_module() {
    let c = case();
    let pb = c.write("pb.yaml", "- hosts: all\n  tasks:\n    - name: fine\n      command: \"true\"\n    - name: typo\n      pakage: { name: vim }\n");
    let (code, err) = c.run(&["run", &pb]);
    assert_eq!(code, 2);
    assert!(err.starts_with("error: pb.yaml:5: unknown module `pakage` (modules: package, repo,"), "{err}");
}

#[test]
fn unknown_module_argument() {
    let c = case();
    let pb = c.write("pb.yaml", "- hosts: all\n  tasks:\n    - name: dir\n      file: { path: /x, mood: \"0755\" }\n");
    let (code, err) = c.run(&["run", &pb]);
    assert_eq!(code, 2);
    assert!(err.starts_with("error: pb.yaml:3: task `dir`: file: unknown field `mood`"), "{err}");
}

#[test]
fn undefined_variable_in_a_task() {
    let c = case();
    let pb =
        c.write("pb.yaml", "- hosts: all\n  tasks:\n    - name: greet\n      command: \"echo {{ vars.greeting }}\"\n");
    let (code, err) = c.run(&["run", &pb]);
    assert_eq!(code, 2);
    assert!(err.starts_with("error: pb.yaml:3: task `greet`:") && err.contains("greeting"), "{err}");
}

#[test]
fn undefined_variable_in_a_template() {
    let c = case();
    c.write("tpl/daemon.json", "{ \"x\": \"{{ vars.nope }}\" }\n");
    let (code, err) = c.run(&["up", "--templates", "tpl"]);
    assert_eq!(code, 2);
    assert!(
        err.starts_with("error: playbooks/prepare.yaml:")
            && err.contains("template daemon.json")
            && err.contains("nope"),
        "{err}"
    );
}

#[test]
fn bad_template_syntax_names_the_template_line() {
    let c = case();
    c.write("tpl/daemon.json", "{\n  \"a\": 1,\n  \"b\": \"{{ broken \"\n}\n");
    let (code, err) = c.run(&["up", "--templates", "tpl"]);
    assert_eq!(code, 2);
    assert!(err.starts_with("error: template daemon.json:") && err.contains("3:"), "{err}");
}

#[test]
fn bad_yaml_names_line_and_column() {
    let c = case();
    let pb = c.write("pb.yaml", "- hosts: all\n  tasks:\n    - name: a\n      command: [unclosed\n");
    let (code, err) = c.run(&["run", &pb]);
    assert_eq!(code, 2);
    assert!(err.starts_with("error: pb.yaml:"), "{err}");
}

#[test]
fn the_embedded_playbook_passes_its_own_check_for_both_docker_sources() {
    use kubeboot::inventory::Inventory;
    use kubeboot::playbook::{check, loader};
    use kubeboot::render::Renderer;
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("inventory.example.yaml");
    let renderer = Renderer::new(None).unwrap();
    let playbook = loader::named("prepare.yaml", None).unwrap();
    let inventory = Inventory::load(&example).unwrap();
    check(&playbook, &inventory, &inventory.hosts, &renderer).unwrap();
    let distro = std::fs::read_to_string(&example).unwrap().replace("source: docker-ce", "source: distro");
    let inventory = Inventory::parse(&distro, &example).unwrap();
    check(&playbook, &inventory, &inventory.hosts, &renderer).unwrap();
}
