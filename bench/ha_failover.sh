#!/usr/bin/env bash
# Three masters on etcd (release build): a fresh lab of 3 masters + 2 nodes from `up`, then TRIALS power
# cuts of the master holding the controllers' Lease while the official Python client writes and watches
# (bench/ha_failover.py). Prints each trial and the medians. Needs root and .ci/setup's Python client.
# No peer runs here (kube-apiserver cannot be installed offline); kube-controller-manager's default Lease
# is 15 s, the reference for "controllers acted". Usage: bash bench/ha_failover.sh [TRIALS]  (default 3;
# about 4 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
trials=${1:-3}
work=${KUBEBOOT_BENCH_DIR:-/var/tmp/kubeboot-bench}
mkdir -p "$work"
. bench/common.sh
bench_binary
inv=$work/ha-lab.yaml
"$kb" lab down >/dev/null 2>&1 || true
"$kb" lab up 5 --masters 3 --inventory "$inv" >/dev/null 2>&1
t0=$(now); "$kb" up -i "$inv" > "$work/ha-up.log"; t1=$(now)
echo "up: 3 masters + 2 nodes from fresh hosts in $(elapsed "$t0" "$t1") s" >&2
"$kb" kubeconfig -i "$inv" > "$work/ha-admin.conf"
target/pyclient/bin/python bench/ha_failover.py "$kb" "$work/ha-admin.conf" "$trials"
"$kb" lab down >/dev/null 2>&1
