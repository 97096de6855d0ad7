#!/usr/bin/env bash
# Host preparation benchmark: kubeboot vs Ansible (ansible-core, pipelining on) vs a plain shell script
# (the floor), each on 3 fresh lab hosts in the same run; then kubeboot's rerun on 10 lab hosts.
# kubeboot runs `up --prepare-only`: the same work as the Ansible playbook (no cluster phases), plus the
# kubeboot binary installed on each host (the walkthrough's kubeadm install, which the playbook leaves out).
# Prints a table. Needs root. Takes ~15 minutes. Usage: bash bench/prepare.sh [--skip-10]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=${KUBEBOOT_BENCH_DIR:-/var/tmp/kubeboot-bench}
mkdir -p "$work"
cargo build --release -q
kb=$root/target/release/kubeboot
lab_dir=${KUBEBOOT_LAB_DIR:-/var/lib/kubeboot-lab}

if [ ! -x "$work/venv/bin/ansible-playbook" ]; then
  python3 -m venv "$work/venv"
  "$work/venv/bin/pip" install -q 'ansible-core>=2.17,<2.20'
fi
ansible_version=$("$work/venv/bin/ansible-playbook" --version 2>/dev/null | sed -n 1p)

now() { date +%s.%N; }
elapsed() { python3 -c "print(f'{$2 - $1:.2f}')"; }

fresh_lab() { # N
  "$kb" lab down >/dev/null 2>&1 || true
  "$kb" lab up "$1" --inventory "$work/lab.yaml" >/dev/null 2>&1
}

ansible_inventory() {
  python3 - "$work/lab.yaml" "$lab_dir" > "$work/hosts.ini" <<'PY'
import sys, re
text = open(sys.argv[1]).read()
print("[all]")
for name, addr in re.findall(r"name: (\S+), address: (\S+),", text):
    print(f"{name} ansible_host={addr}")
print("[all:vars]")
print("ansible_user=root")
print(f"ansible_ssh_private_key_file={sys.argv[2]}/id_ed25519")
print(f"ansible_ssh_common_args='-o UserKnownHostsFile={sys.argv[2]}/known_hosts -o StrictHostKeyChecking=accept-new'")
print("ansible_python_interpreter=/usr/bin/python3")
PY
}

run_ansible() {
  ANSIBLE_PIPELINING=1 ANSIBLE_FORKS=50 ANSIBLE_HOST_KEY_CHECKING=False ANSIBLE_STDOUT_CALLBACK=default \
    "$work/venv/bin/ansible-playbook" -i "$work/hosts.ini" "$root/bench/ansible/prepare.yml" > "$work/ansible.log" 2>&1
}

run_floor() {
  local pids=()
  for addr in $(grep -o 'address: [0-9.]*' "$work/lab.yaml" | cut -d' ' -f2); do
    ssh -i "$lab_dir/id_ed25519" -o UserKnownHostsFile="$lab_dir/known_hosts" -o StrictHostKeyChecking=accept-new \
      -o LogLevel=ERROR "root@$addr" sh -s < "$root/bench/floor.sh" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
}

echo "kubeboot: $($kb --version)   ansible: $ansible_version" >&2

fresh_lab 3; t0=$(now); "$kb" up --prepare-only -i "$work/lab.yaml" > "$work/kb1.log"; t1=$(now)
"$kb" up --prepare-only -i "$work/lab.yaml" > "$work/kb2.log"; t2=$(now)
kb_first=$(elapsed "$t0" "$t1"); kb_rerun=$(elapsed "$t1" "$t2")
echo "kubeboot: first $kb_first s, rerun $kb_rerun s" >&2

fresh_lab 3; ansible_inventory; t0=$(now); run_ansible; t1=$(now); run_ansible; t2=$(now)
an_first=$(elapsed "$t0" "$t1"); an_rerun=$(elapsed "$t1" "$t2")
echo "ansible: first $an_first s, rerun $an_rerun s" >&2

fresh_lab 3; t0=$(now); run_floor; t1=$(now)
floor=$(elapsed "$t0" "$t1")
echo "floor: $floor s" >&2

kb10="skipped"
if [ "${1:-}" != "--skip-10" ]; then
  fresh_lab 10; "$kb" up --prepare-only -i "$work/lab.yaml" --forks 10 > "$work/kb10-1.log"
  t0=$(now); "$kb" up --prepare-only -i "$work/lab.yaml" > "$work/kb10-2.log"; t1=$(now)
  kb10=$(elapsed "$t0" "$t1")
fi
"$kb" lab down >/dev/null 2>&1 || true

printf '\n%-40s %10s %10s\n' "host preparation, 3 fresh lab hosts" "first run" "rerun"
printf '%-40s %9ss %9ss\n' "kubeboot up" "$kb_first" "$kb_rerun"
printf '%-40s %9ss %9ss\n' "ansible-playbook (pipelining)" "$an_first" "$an_rerun"
printf '%-40s %9ss %10s\n' "floor: one shell script per host" "$floor" "-"
python3 -c "print(f'rerun speed-up vs Ansible: {$an_rerun/$kb_rerun:.1f}x; first run vs floor: {$kb_first/$floor:.2f}x')"
echo "kubeboot rerun on 10 lab hosts: $kb10 s"
