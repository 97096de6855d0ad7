#!/usr/bin/env bash
# Services benchmark on a lab cluster (`lab up 3` + `up`, release build).
#  1. Rule sync at scale: 1000 Services over the same 3 pods (3000 endpoints, about 14,000 iptables lines
#     per node). The proxy's own timings from its log (reading Services and EndpointSlices, rendering,
#     iptables) for a full sync (agent restarted); then one pod of a one-endpoint Service deleted, and one
#     pod behind all 1000 Services deleted, each timed until no rule on lab-node2 sends traffic to it.
#  2. Latency: 300 requests from lab-master to one pod on a worker, through a one-endpoint Service's
#     ClusterIP and straight to the pod IP, interleaved, in the same run (curl's time_total).
#  3. A client sending requests through a rolling update of a 3-replica Deployment behind a Service while
#     the 1000 Services are in the rules: requests answered and failed.
# Needs root and kubectl on PATH. Usage: bash bench/services.sh   (about 5 minutes after the build)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${KUBEBOOT_BENCH_DIR:-/var/tmp/kubeboot-bench}
mkdir -p "$work"
cargo build --release -q
kb=$PWD/target/release/kubeboot
. bench/common.sh
lab_cluster services 3

python3 - "$work/filler.json" <<'PY'
import json, sys
pod = {"containers": [{"name": "c", "image": "kubetm/p8000", "ports": [{"containerPort": 8000}]}],
       "terminationGracePeriodSeconds": 1}
items = [{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "filler"},
          "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "filler"}},
                   "template": {"metadata": {"labels": {"app": "filler"}}, "spec": pod}}},
         {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "target", "labels": {"app": "target"}},
          "spec": dict(pod, nodeSelector={"kubernetes.io/hostname": "lab-node1"})},
         {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "target"},
          "spec": {"selector": {"app": "target"}, "ports": [{"port": 80, "targetPort": 8000}]}}]
items += [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"filler-{i}"},
           "spec": {"selector": {"app": "filler"}, "ports": [{"port": 80, "targetPort": 8000}]}}
          for i in range(1000)]
json.dump({"apiVersion": "v1", "kind": "List", "items": items}, open(sys.argv[1], "w"))
PY
kubectl apply -f "$work/filler.json" >/dev/null
kubectl apply -f tests/manifests/services/rollout.yaml >/dev/null
kubectl rollout status deploy/filler --timeout=180s >/dev/null
kubectl rollout status deploy/web --timeout=180s >/dev/null
kubectl wait --for=condition=Ready pod/target --timeout=120s >/dev/null
# Every node's rules hold all 1000 Services with 3 endpoints each.
until [ "$(on lab-node2 'iptables-save -t nat | grep -c "j DNAT"')" -ge 3000 ]; do sleep 1; done
sleep 5

# 1a. A full sync: the agent on lab-node2 restarted writes all 1000 Services at once.
mark=$(on lab-node2 'date "+%Y-%m-%d %H:%M:%S"')
on lab-node2 "systemctl restart kubeboot-agent"
until on lab-node2 "journalctl -u kubeboot-agent --since '$mark' --no-pager | grep -q 'proxy: .* lines written'"; do sleep 0.5; done
full=$(on lab-node2 "journalctl -u kubeboot-agent --since '$mark' --no-pager | grep 'proxy: .* lines written' | head -1")

# 2. ClusterIP against pod IP, same pod, interleaved.
target_ip=$(kubectl get pod target -o jsonpath='{.status.podIP}')
cluster_ip=$(kubectl get svc target -o jsonpath='{.spec.clusterIP}')
times=$(on lab-master "for i in \$(seq 300); do
  curl -s -o /dev/null -w 'svc %{time_total}\n' http://$cluster_ip:80/
  curl -s -o /dev/null -w 'pod %{time_total}\n' http://$target_ip:8000/
done")

# 1b. One endpoint of one Service: the target pod deleted, until no rule on lab-node2 sends traffic to it.
gone_from_rules() {
  until [ "$(on lab-node2 "iptables-save -t nat | grep -c 'DNAT --to-destination $1:'")" = 0 ]; do sleep 0.05; done
}
sleep 3
mark=$(on lab-node2 'date "+%Y-%m-%d %H:%M:%S"')
t0=$(now)
kubectl delete pod target --wait=false >/dev/null
gone_from_rules "$target_ip"
one=$(elapsed "$t0" "$(now)")
sleep 2
one_syncs=$(on lab-node2 "journalctl -u kubeboot-agent --since '$mark' --no-pager | grep 'proxy: .* lines written' || true")

# 1c. One endpoint out of all 1000 Services (2000 Endpoints and EndpointSlices rewritten by the controller):
# a filler pod relabelled out of the selector (deleted, its replacement could reuse its address).
victim=$(kubectl get pods -l app=filler -o jsonpath='{.items[0].metadata.name}')
victim_ip=$(kubectl get pod "$victim" -o jsonpath='{.status.podIP}')
mark=$(on lab-node2 'date "+%Y-%m-%d %H:%M:%S"')
t0=$(now)
kubectl label pod "$victim" app=out --overwrite >/dev/null
gone_from_rules "$victim_ip"
all=$(elapsed "$t0" "$(now)")
sleep 3
all_syncs=$(on lab-node2 "journalctl -u kubeboot-agent --since '$mark' --no-pager | grep 'proxy: .* lines written' | wc -l")

# 3. A rolling update under load, the 1000 Services still in the rules.
web_ip=$(kubectl get svc web -o jsonpath='{.spec.clusterIP}')
on lab-master "rm -f /tmp/stop-client; ok=0; bad=0; while [ ! -f /tmp/stop-client ] || [ \$((ok+bad)) -lt 200 ]; do
  if [ \"\$(curl -s -m 3 -o /dev/null -w '%{http_code}' http://$web_ip/)\" = 200 ]; then ok=\$((ok+1)); else bad=\$((bad+1)); fi
  sleep 0.02; done; echo \$ok \$bad" > "$work/rollout-client.txt" &
client=$!
sleep 2
t0=$(now)
kubectl set image deploy/web app=kubetm/app:v2 >/dev/null
kubectl rollout status deploy/web --timeout=300s >/dev/null
rolled=$(elapsed "$t0" "$(now)")
sleep 2
on lab-master "touch /tmp/stop-client"
wait "$client"

python3 - "$one" "$all" "$all_syncs" "$rolled" "$(cat "$work/rollout-client.txt")" <<PY
import re, statistics, sys
one, all_, all_syncs, rolled, client = sys.argv[1:]
pattern = r"(\d+) lines written \((\d+) rules in all\) in (\d+) ms \(reading (\d+) ms, rendering (\d+) ms, iptables (\d+) ms\)"
def show(what, line):
    m = re.search(pattern, line)
    if m:
        written, rules, total, read, render, ipt = m.groups()
        print(f"  {what}: {total} ms = reading Services and slices {read} + rendering {render} + iptables {ipt} "
              f"({written} lines written, {rules} rules in all)")
print("1000 Services x 3 endpoints (release build, 3 lab hosts; proxy timings from lab-node2's log)")
show("full sync (agent restarted)", """$full""")
print(f"  one endpoint of one Service deleted -> gone from lab-node2's rules: {float(one):.3f} s")
for line in """$one_syncs""".splitlines():
    show("  its sync", line)
print(f"  one endpoint of all 1000 Services deleted -> gone from lab-node2's rules: {float(all_):.3f} s "
      f"({all_syncs} syncs meanwhile, as the controller rewrote 1000 Endpoints and 1000 EndpointSlices)")
times = """$times"""
svc = [float(l.split()[1]) * 1000 for l in times.splitlines() if l.startswith("svc ")]
pod = [float(l.split()[1]) * 1000 for l in times.splitlines() if l.startswith("pod ")]
def p(v, q): return sorted(v)[int(q * (len(v) - 1))]
print(f"request latency from lab-master to a pod on lab-node1 (n={len(svc)} each, 1000 Services in the rules):")
print(f"  ClusterIP: median {statistics.median(svc):.3f} ms  p99 {p(svc, .99):.3f} ms")
print(f"  pod IP:    median {statistics.median(pod):.3f} ms  p99 {p(pod, .99):.3f} ms")
ok, bad = client.split()
print(f"rolling update of 3 replicas behind a Service: {float(rolled):.3f} s; client on lab-master: {ok} answered, {bad} failed")
PY
"$kb" lab down >/dev/null 2>&1 || true
