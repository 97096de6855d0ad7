#!/usr/bin/env bash
# Resource metrics on a lab cluster (`lab up 2` + `up`: a master and one worker) with 30 pods on the worker:
#  - `kubectl top pods -A` (the API server asking both agents for /stats/summary) against `kubectl get
#    pods -A` (the same pods from the store), 20 runs each;
#  - what sampling costs the worker: the agent's and dockerd's CPU seconds over 60 s (every 10 s the agent
#    reads each container's stats from Docker), against `docker stats --no-stream` on the same host (the
#    Docker CLI reading every container once: the peer, timed 5 times).
# KB=PATH runs another kubeboot build. Needs root and kubectl on PATH.
# Usage: bash bench/resource_metrics.sh   (about 4 minutes after the build)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${KUBEBOOT_BENCH_DIR:-/var/tmp/kubeboot-bench}
mkdir -p "$work"
. bench/common.sh
bench_binary
lab_cluster metrics 2

{
  for i in $(seq 30); do
    cat <<YAML
---
apiVersion: v1
kind: Pod
metadata: {name: idle-$i, labels: {app: idle}}
spec:
  nodeSelector: {kubernetes.io/hostname: lab-node1}
  terminationGracePeriodSeconds: 0
  containers:
  - {name: app, image: kubetm/app:v1, imagePullPolicy: IfNotPresent}
YAML
  done
} > "$work/metrics-pods.yaml"
on lab-node1 "docker pull -q kubetm/app:v1 >/dev/null"
kubectl apply -f "$work/metrics-pods.yaml" >/dev/null
kubectl wait --for=condition=Ready pod --all --timeout=300s >/dev/null
# Every pod's first rate needs two samples. A build without metrics.k8s.io (KB=an older one, for the
# agent's CPU without sampling) is measured for the CPU figures only.
metrics=no
for _ in $(seq 60); do
  if [ "$(kubectl top pods --no-headers 2>/dev/null | wc -l)" -ge 30 ]; then metrics=yes; break; fi
  sleep 2
done

time_runs() {
  local times=()
  for _ in $(seq "$1"); do
    local t0; t0=$(now); "${@:2}" >/dev/null; times+=("$(elapsed "$t0" "$(now)")")
  done
  stats "${times[@]}"
}
echo "30 pods on lab-node1 (plus the system's):"
if [ "$metrics" = yes ]; then
  echo "  kubectl top pods -A          $(time_runs 20 kubectl top pods -A)"
else
  echo "  kubectl top pods -A          (no metrics API in this build)"
fi
echo "  kubectl get pods -A          $(time_runs 20 kubectl get pods -A)"

cpu_seconds() { on lab-node1 "awk '{print \$14 + \$15}' /proc/\$(systemctl show -p MainPID --value $1)/stat"; }
hz=$(on lab-node1 "getconf CLK_TCK")
a0=$(cpu_seconds kubeboot-agent) d0=$(cpu_seconds docker)
sleep 60
a1=$(cpu_seconds kubeboot-agent) d1=$(cpu_seconds docker)
containers=$(on lab-node1 "docker ps -q --filter label=io.kubernetes.docker.type=container | wc -l")
python3 - "$a0" "$a1" "$d0" "$d1" "$hz" "$containers" <<'PY'
import sys
a0, a1, d0, d1, hz, n = (float(v) for v in sys.argv[1:])
print(f"over 60 s with {int(n)} pod containers on lab-node1 (6 samples):")
print(f"  kubeboot agent CPU     {(a1 - a0) / hz:6.2f} s  ({(a1 - a0) / hz / 60 * 100:.1f} % of a core)")
print(f"  dockerd CPU            {(d1 - d0) / hz:6.2f} s  ({(d1 - d0) / hz / 60 * 100:.1f} % of a core)")
PY
times=()
for _ in 1 2 3 4 5; do
  t=$(on lab-node1 't0=$(date +%s%N); docker stats --no-stream >/dev/null; echo $(( ($(date +%s%N) - t0) / 1000000 ))')
  times+=("$(python3 -c "print($t / 1000)")")
done
echo "  docker stats --no-stream  $(stats "${times[@]}")  (the peer: every container once)"
"$kb" lab down >/dev/null 2>&1 || true
