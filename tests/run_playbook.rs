//! The playbook runner against a real sshd on loopback (this machine as the host): loops, `when`, handlers,
//! guards, check mode, and a rerun that changes nothing.

mod common;

use common::{kubeboot, make_key, Sshd};
use serde_json::Value;

const PLAYBOOK: &str = r#"- name: local
  hosts: all
  tasks:
    - name: dirs
      file: { path: "{{ vars.base }}/{{ item }}", state: directory, mode: "0750" }
      loop: [a, b]
    - name: only on EL
      copy: { content: "x", dest: "{{ vars.base }}/el.txt" }
      when: facts.family == "el"
    - name: conf
      copy: { content: "name={{ inventory_hostname }}\n", dest: "{{ vars.base }}/a/conf", mode: "0600" }
      notify: count
    - name: line
      lineinfile: { path: "{{ vars.base }}/a/conf", line: "x=1", create: true }
    - name: guarded
      command: { cmd: "touch {{ vars.base }}/ran", creates: "{{ vars.base }}/ran" }
  handlers:
    - name: count
      command: "echo handled >> {{ vars.base }}/handler.log"
"#;

fn run(inv: &str, pb: &str, extra: &[&str]) -> Value {
    let mut args = vec!["run", pb, "-i", inv, "--output", "json"];
    args.extend_from_slice(extra);
    let out = kubeboot(&args, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn loops_conditions_handlers_guards_and_a_clean_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let key = make_key(dir.path(), "id", "");
    let sshd = Sshd::start(&[("root", &key.with_extension("pub"))]);
    let base = dir.path().join("managed");
    std::fs::create_dir(&base).unwrap();
    let inv = dir.path().join("inv.yaml");
    std::fs::write(
        &inv,
        format!(
            "cluster: {{ name: t }}\nssh: {{ port: {}, private_key: {}, known_hosts_file: {} }}\nvars: {{ base: {} }}\nhosts:\n  - {{ name: local-1, address: 127.0.0.1, role: master }}\n",
            sshd.port,
            key.display(),
            dir.path().join("kh").display(),
            base.display()
        ),
    )
    .unwrap();
    let pb = dir.path().join("pb.yaml");
    std::fs::write(&pb, PLAYBOOK).unwrap();
    let (inv, pb) = (inv.to_str().unwrap(), pb.to_str().unwrap());

    let first = run(inv, pb, &[]);
    let h = &first["hosts"]["local-1"];
    // dirs (2 items, one task), conf, line, guarded, handler = 5 changed; "only on EL" skipped.
    assert_eq!((h["changed"].as_u64(), h["skipped"].as_u64()), (Some(5), Some(1)), "{h}");
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &str| std::fs::metadata(base.join(p)).unwrap().permissions().mode() & 0o777;
    assert_eq!((mode("a"), mode("b"), mode("a/conf")), (0o750, 0o750, 0o600));
    assert_eq!(std::fs::read_to_string(base.join("a/conf")).unwrap(), "name=local-1\nx=1\n");
    assert!(!base.join("el.txt").exists());
    assert_eq!(std::fs::read_to_string(base.join("handler.log")).unwrap(), "handled\n");

    // conf and line fight over the file: the copy task rewrites it, the line task appends again. A real
    // playbook would not do that; here it shows that each rerun converges to the same state.
    let second = run(inv, pb, &[]);
    let changes: Vec<&str> =
        second["hosts"]["local-1"]["changes"].as_array().unwrap().iter().map(|c| c["task"].as_str().unwrap()).collect();
    assert_eq!(changes, ["conf", "line", "count"]);

    // Without the fight, a rerun changes nothing and runs no handler.
    let calm = PLAYBOOK.replace(
        "    - name: line\n      lineinfile: { path: \"{{ vars.base }}/a/conf\", line: \"x=1\", create: true }\n",
        "",
    );
    std::fs::write(pb, &calm).unwrap();
    run(inv, pb, &[]);
    let log_before = std::fs::read_to_string(base.join("handler.log")).unwrap();
    let rerun = run(inv, pb, &[]);
    assert_eq!(rerun["hosts"]["local-1"]["changed"], 0, "{rerun}");
    assert_eq!(std::fs::read_to_string(base.join("handler.log")).unwrap(), log_before);

    // --check shows a drift and changes nothing.
    std::fs::write(base.join("a/conf"), "drifted\n").unwrap();
    let check = run(inv, pb, &["--check"]);
    let planned: Vec<&str> = check["hosts"]["local-1"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["summary"].as_str().unwrap())
        .collect();
    assert_eq!(planned.len(), 2, "{planned:?}");
    assert_eq!(planned[0], format!("update {}/a/conf", base.display()));
    assert!(planned[1].starts_with("run: echo handled >> "), "{planned:?}");
    assert_eq!(std::fs::read_to_string(base.join("a/conf")).unwrap(), "drifted\n");
    assert_eq!(std::fs::read_to_string(base.join("handler.log")).unwrap(), log_before);
}
