#!/usr/bin/env bash
# Cluster benchmark on lab hosts (release build): `up` from prepared hosts to 3 Ready nodes; join-to-Ready
# for a prepared host (from starting `kubeboot join` on it until the master reports the Node Ready, the
# node reset and its Node deleted between rounds); `up` reruns on the built cluster (nothing to do).
# No peer runs here: kubeadm/kubelet cannot be installed without the internet. Prints a table. Needs root.
# Usage: bash bench/cluster.sh [ROUNDS]   (default 5; about 3 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
work=${KUBEBOOT_BENCH_DIR:-/var/tmp/kubeboot-bench}
mkdir -p "$work"
cargo build --release -q
kb=$PWD/target/release/kubeboot
. bench/common.sh
inv=$work/cluster-lab.yaml


"$kb" lab down >/dev/null 2>&1 || true
"$kb" lab up 3 --inventory "$inv" >/dev/null 2>&1
"$kb" up --prepare-only -i "$inv" >/dev/null
t0=$(now); "$kb" up -i "$inv" > "$work/cluster-up.log"; t1=$(now)
up_first=$(elapsed "$t0" "$t1")
"$kb" kubeconfig -i "$inv" > "$work/admin.conf"
echo "up from prepared hosts to 3 Ready nodes: $up_first s" >&2

is_ready() { # NAME
  "$kb" get nodes --kubeconfig "$work/admin.conf" | awk -v n="$1" '$1 == n && $2 == "Ready" {found=1} END {exit !found}'
}
joins=()
for i in $(seq "$rounds"); do
  on lab-node1 "kubeboot reset" >/dev/null
  "$kb" delete nodes lab-node1 --kubeconfig "$work/admin.conf" >/dev/null
  join=$(on lab-master "kubeboot token create --ttl 10m --print-join-command")
  # The token goes on stdin, as `up` passes it; the clock starts as join starts on the node.
  cmd=$(echo "$join" | sed 's/--token [^ ]*/--token -/')
  token=$(echo "$join" | sed 's/.*--token \([^ ]*\).*/\1/')
  t0=$(now)
  echo "$token" | on lab-node1 "/usr/local/bin/$cmd" >/dev/null
  until is_ready lab-node1; do sleep 0.02; done
  t1=$(now)
  joins+=("$(elapsed "$t0" "$t1")")
  on lab-master "kubeboot token delete ${token%%.*}" >/dev/null
done
echo "join to Ready: ${joins[*]}" >&2

reruns=()
for i in $(seq "$rounds"); do
  t0=$(now); "$kb" up -i "$inv" > "$work/cluster-rerun.log"; t1=$(now)
  reruns+=("$(elapsed "$t0" "$t1")")
done
grep -q "CHANGED" "$work/cluster-rerun.log"
echo "up rerun: ${reruns[*]}" >&2
"$kb" lab down >/dev/null 2>&1 || true

echo
echo "$($kb --version), 3 lab hosts, release build"
echo "up, prepared hosts -> 3 Ready nodes:  $up_first s"
echo "join -> Ready (target < 3 s):         $(stats "${joins[@]}")"
echo "up rerun, nothing to do (target < 1.5 s): $(stats "${reruns[@]}")"
