#!/usr/bin/env bash
# Streaming benchmark on a lab cluster (release build), each figure beside its floor measured in the same run:
# - exec round trip: `kubectl exec POD -- true` with kubectl 1.33 (WebSocket) and Debian's 1.20 (SPDY),
#   against `docker exec CONTAINER true` run on the node itself, and `kubectl get pod` (one plain API
#   request: what any kubectl command costs before streaming starts);
# - port-forward throughput: a 100 MB file from the pod's HTTP server through `kubectl port-forward`
#   (1.33: SPDY tunnelled in WebSocket; 1.20: SPDY), against curl on the node straight to the pod's IP.
# Needs root; kubectl.1.33 beside the kubectl on PATH and target/kubectl-1.20 (bash .ci/setup).
# Usage: bash bench/streaming.sh [ROUNDS]   (default 20; about 3 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-20}
work=${KUBEBOOT_BENCH_DIR:-/var/tmp/kubeboot-bench}
mkdir -p "$work"
cargo build --release -q
kb=$PWD/target/release/kubeboot
. bench/common.sh
k133=$(dirname "$(readlink -f "$(command -v kubectl)")")/kubectl.1.33
k120=$PWD/target/kubectl-1.20/usr/bin/kubectl
lab_cluster streaming 2
"$k133" apply -f tests/manifests/workloads/talker.yaml >/dev/null
"$k133" wait --for=condition=Ready pod/talker --timeout=180s >/dev/null
node=$("$k133" get pod talker -o jsonpath='{.spec.nodeName}')
ip=$("$k133" get pod talker -o jsonpath='{.status.podIP}')
cid=$(on "$node" "docker ps -q -f name=k8s_c1_talker_")

timed() { local t0 t1; t0=$(now); "$@" >/dev/null 2>&1; t1=$(now); elapsed "$t0" "$t1"; }
series() { local out=(); for _ in $(seq "$rounds"); do out+=("$(timed "$@")"); done; median "${out[@]}"; }

exec133=$(series "$k133" exec talker -c c1 -- true)
exec120=$(series "$k120" exec talker -c c1 -- true)
get133=$(series "$k133" get pod talker)
# docker exec timed on the node itself (no SSH in the figure).
docker_exec=$(on "$node" "for i in \$(seq $rounds); do s=\$(date +%s%N); docker exec $cid true; e=\$(date +%s%N); echo \$(( (e-s)/1000 )); done" \
  | python3 -c "import statistics,sys; print(f'{statistics.median(int(l) for l in sys.stdin)/1e6:.3f}')")

# 100 MB served by the pod's own httpd (container c2, port 8000).
"$k133" exec talker -c c2 -- sh -c 'head -c 104857600 /dev/zero > /www/z'
direct=$(on "$node" "curl -s -o /dev/null -w '%{speed_download}' http://$ip:8000/z")
forward_speed() {
  local port=$1; shift
  "$@" port-forward pod/talker "$port:8000" > "$work/pf.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do grep -q "Forwarding from 127.0.0.1" "$work/pf.log" && break; sleep 0.1; done
  curl -s -o /dev/null -w '%{speed_download}' "http://127.0.0.1:$port/z"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}
pf133=$(forward_speed 18133 "$k133")
pf120=$(forward_speed 18120 "$k120")
mb() { python3 -c "print(f'{$1/1048576:.1f}')"; }

echo
echo "exec round trip (median of $rounds, seconds)"
printf '  %-44s %s\n' "kubectl 1.33 exec -- true (WebSocket)" "$exec133" \
  "kubectl 1.20 exec -- true (SPDY/3.1)" "$exec120" \
  "kubectl 1.33 get pod (one API request)" "$get133" \
  "docker exec true, on the node (floor)" "$docker_exec"
echo "port-forward, 100 MB (MB/s)"
printf '  %-44s %s\n' "kubectl 1.33 port-forward (SPDY in WebSocket)" "$(mb "$pf133")" \
  "kubectl 1.20 port-forward (SPDY/3.1)" "$(mb "$pf120")" \
  "curl on the node to the pod IP (floor)" "$(mb "$direct")"
"$kb" lab down >/dev/null 2>&1 || true
