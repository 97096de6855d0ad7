#!/usr/bin/env bash
# One slow image pull must not hold the node's other pods: on a lab cluster (`lab up 2` + `up`), the time
# for a pod whose image is present (kubetm/app:v1, IfNotPresent) to become Ready, alone (5 rounds), then
# started together with a pod whose image comes from a registry that stalls (a TCP listener on the lab
# bridge that never answers: Docker's pull hangs until its own timeout), both on lab-node1 (5 rounds).
# KB=PATH runs another kubeboot build (an older one, for a before/after).
# Needs root and kubectl on PATH. Usage: bash bench/slow_pull.sh   (about 4 minutes after the build)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${KUBEBOOT_BENCH_DIR:-/var/tmp/kubeboot-bench}
mkdir -p "$work"
. bench/common.sh
bench_binary
lab_cluster slowpull 2

# The stalling registry: accepts connections on the lab bridge and never says a word.
python3 -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.88.0.1", 5001)); s.listen(64)
held = []
while True:
    c, _ = s.accept(); held.append(c)
' &
stall=$!
trap 'kill $stall 2>/dev/null || true' EXIT

pod() { # name image
  cat <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $1}
spec:
  nodeSelector: {kubernetes.io/hostname: lab-node1}
  terminationGracePeriodSeconds: 0
  containers: [{name: app, image: "$2", imagePullPolicy: IfNotPresent}]
YAML
}
on lab-node1 "docker pull -q kubetm/app:v1 >/dev/null"
ready_time() { # name: seconds from now until Ready
  local t0; t0=$(now)
  kubectl wait --for=condition=Ready "pod/$1" --timeout=120s >/dev/null
  elapsed "$t0" "$(now)"
}
alone=() together=()
for i in 1 2 3 4 5; do
  pod quick kubetm/app:v1 | kubectl apply -f - >/dev/null
  alone+=("$(ready_time quick)")
  kubectl delete pod quick --wait=true >/dev/null
done
for i in 1 2 3 4 5; do
  pod stalled "10.88.0.1:5001/stalled:v$i" | kubectl apply -f - >/dev/null
  pod quick kubetm/app:v1 | kubectl apply -f - >/dev/null
  together+=("$(ready_time quick)")
  kubectl delete pod quick stalled --wait=true --timeout=120s >/dev/null
done
echo "a pod with its image present, until Ready, on lab-node1 ($("$kb" --version 2>/dev/null || echo kubeboot))"
echo "  alone:                          $(stats "${alone[@]}")"
echo "  beside a pod whose pull stalls: $(stats "${together[@]}")"
"$kb" lab down >/dev/null 2>&1 || true
