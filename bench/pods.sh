#!/usr/bin/env bash
# Pod benchmark on a lab cluster (release build): `kubectl apply` of the walkthrough's pod-1 until kubectl
# sees it Ready (images present, median of ROUNDS), against the floor measured in the same run on the
# same node: `docker pull` (pod-1's untagged images mean imagePullPolicy Always) and `docker run` of the same
# two containers, the second joined to the first's network namespace, timed on the node itself. Then 30
# pods over the 2 workers until all are Ready. Prints a table. Needs root and kubectl on PATH.
# Usage: bash bench/pods.sh [ROUNDS]   (default 10; about 4 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-10}
work=${KUBEBOOT_BENCH_DIR:-/var/tmp/kubeboot-bench}
mkdir -p "$work"
cargo build --release -q
kb=$PWD/target/release/kubeboot
. bench/common.sh
lab_cluster pods 3

# Warm-up: images pulled and the pause image loaded on both workers.
for node in lab-node1 lab-node2; do
  sed "s/^spec:/spec:\n  nodeName: $node/" examples/pod-1.yaml | sed "s/name: pod-1/name: warm-$node/" | kubectl apply -f - >/dev/null
done
kubectl wait --for=condition=Ready pod/warm-lab-node1 pod/warm-lab-node2 --timeout=180s >/dev/null
kubectl delete pod warm-lab-node1 warm-lab-node2 >/dev/null

starts=()
node=""
for i in $(seq "$rounds"); do
  t0=$(now)
  kubectl apply -f examples/pod-1.yaml >/dev/null
  kubectl wait --for=condition=Ready pod/pod-1 --timeout=60s >/dev/null
  t1=$(now)
  starts+=("$(elapsed "$t0" "$t1")")
  node=$(kubectl get pod pod-1 -o jsonpath='{.spec.nodeName}')
  kubectl delete pod pod-1 >/dev/null
done
echo "pod-1 apply -> Ready: ${starts[*]}" >&2

floors=()
for i in $(seq "$rounds"); do
  f=$(on "$node" 'docker rm -f floor-a floor-b >/dev/null 2>&1; t0=$(date +%s.%N);
    docker pull -q kubetm/p8000 >/dev/null && docker pull -q kubetm/p8080 >/dev/null &&
    docker run -d --name floor-a kubetm/p8000 >/dev/null && docker run -d --name floor-b --network container:floor-a kubetm/p8080 >/dev/null;
    t1=$(date +%s.%N); docker rm -f floor-a floor-b >/dev/null; echo "$t0 $t1"')
  floors+=("$(elapsed ${f% *} ${f#* })")
done
echo "floor (docker pull + run on $node): ${floors[*]}" >&2

manifest=$work/pods-30.yaml
: > "$manifest"
for i in $(seq 1 30); do
  printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: bench-%02d\n  labels: {bench: "30"}\nspec:\n  containers:\n  - name: web\n    image: kubetm/p8000\n---\n' "$i" >> "$manifest"
done
t0=$(now)
kubectl apply -f "$manifest" >/dev/null
kubectl wait --for=condition=Ready pod -l bench=30 --timeout=300s >/dev/null
t1=$(now)
thirty=$(elapsed "$t0" "$t1")
spread=$(kubectl get pods -l bench=30 -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' | sort | uniq -c | tr '\n' ' ')
kubectl delete -f "$manifest" >/dev/null
runtime=$(kubectl get node lab-node1 -o jsonpath='{.status.nodeInfo.containerRuntimeVersion}')
"$kb" lab down >/dev/null 2>&1 || true

ratio=$(python3 -c "print(f'{$(median "${starts[@]}") / $(median "${floors[@]}"):.2f}')")
echo
echo "$($kb --version), 3 lab hosts ($runtime), release build"
echo "pod-1 kubectl apply -> Ready (target <= 1.5x floor): $(stats "${starts[@]}")"
echo "floor, docker pull + run of the same containers:    $(stats "${floors[@]}")"
echo "ratio (medians):                                     ${ratio}x"
echo "30 pods over 2 workers -> all Ready (target < 20 s): $thirty s   (per node: $spread)"
