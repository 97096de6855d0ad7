#!/usr/bin/env bash
# Controllers benchmark on a lab cluster (`lab up 3` + `up`, release build): a Deployment of 30 replicas
# (kubetm/app, 2 workers) scaled from 0 to 30, then rolled to a new image; each timed until every replica
# is available (`kubectl rollout status`), beside its floor in the same run: 15 `docker run -d` of the same
# image at once on each worker (no sandbox, no API), timed until all run. The controller manager's own
# counters (/metrics: reconciles and time computing plans) and the server's CPU time over the two phases
# give the cost per reconcile.
# Needs root and kubectl on PATH. Usage: bash bench/controllers.sh   (about 4 minutes after the build)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${KUBEBOOT_BENCH_DIR:-/var/tmp/kubeboot-bench}
mkdir -p "$work"
cargo build --release -q
kb=$PWD/target/release/kubeboot
. bench/common.sh
lab_cluster controllers 3

cat > "$work/bench-deploy.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: bench
spec:
  replicas: 0
  selector:
    matchLabels:
      app: bench
  template:
    metadata:
      labels:
        app: bench
    spec:
      containers:
      - name: app
        image: kubetm/app:v1
        imagePullPolicy: IfNotPresent
      terminationGracePeriodSeconds: 0
YAML
# Warm-up: the images on both workers, so no phase (nor the floor) pays for a pull.
for node in lab-node1 lab-node2; do on "$node" "docker pull -q kubetm/app:v1 >/dev/null; docker pull -q kubetm/app:v2 >/dev/null"; done
kubectl apply -f "$work/bench-deploy.yaml" >/dev/null
kubectl rollout status deploy/bench --timeout=60s >/dev/null

metric() { kubectl get --raw /metrics | python3 -c "
import sys
total = 0.0
for line in sys.stdin:
    if line.startswith('kubeboot_controller_$1{'):
        total += float(line.split()[-1])
print(total)"; }
server_cpu() { on lab-master 'pid=$(systemctl show -p MainPID --value kubeboot-server); awk "{print (\$14+\$15)/100}" /proc/$pid/stat'; }

r0=$(metric reconciles_total); s0=$(metric reconcile_seconds_total); c0=$(server_cpu)
t0=$(now)
kubectl scale deploy/bench --replicas=30 >/dev/null
kubectl rollout status deploy/bench --timeout=300s >/dev/null
scale_up=$(elapsed "$t0" "$(now)")
t0=$(now)
kubectl set image deploy/bench app=kubetm/app:v2 >/dev/null
kubectl rollout status deploy/bench --timeout=300s >/dev/null
rolled=$(elapsed "$t0" "$(now)")
r1=$(metric reconciles_total); s1=$(metric reconcile_seconds_total); c1=$(server_cpu)

kubectl delete deploy bench --wait=true >/dev/null
# Floor: 15 containers of the same image started at once on each worker, timed on the node itself.
floor() {
  on "$1" 'start=$(date +%s%N); for i in $(seq 15); do docker run -d --name floor$i kubetm/app:v1 >/dev/null & done; wait
    until [ "$(docker ps -q -f name=floor -f status=running | wc -l)" = 15 ]; do sleep 0.05; done
    end=$(date +%s%N); docker rm -f $(docker ps -aq -f name=floor) >/dev/null; echo $(( (end-start)/1000000 ))'
}
f1=$(floor lab-node1) f2=$(floor lab-node2)
floor_s=$(python3 -c "print(f'{max($f1, $f2)/1000:.3f}')")

python3 - "$scale_up" "$rolled" "$floor_s" "$r0" "$r1" "$s0" "$s1" "$c0" "$c1" <<'PY'
import sys
scale_up, rolled, floor, r0, r1, s0, s1, c0, c1 = map(float, sys.argv[1:])
n = r1 - r0
print("Deployment of 30 replicas (kubetm/app) on 2 workers, release build")
print(f"  scale 0 -> 30, until all available: {scale_up:.3f} s")
print(f"  roll v1 -> v2 (RollingUpdate 25%/25%), until complete: {rolled:.3f} s")
print(f"  floor: 15 docker run -d at once on each worker, until running: {floor:.3f} s")
print(f"controller manager over both phases: {n:.0f} reconciles, {(s1 - s0) * 1000:.1f} ms computing plans "
      f"({(s1 - s0) / n * 1e6:.0f} us per reconcile)")
print(f"  kubeboot-server CPU (everything: API, store, scheduler, controllers): {c1 - c0:.2f} s "
      f"({(c1 - c0) / n * 1000:.2f} ms per reconcile)")
PY
"$kb" lab down >/dev/null 2>&1 || true
