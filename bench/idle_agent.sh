#!/usr/bin/env bash
# What an idle agent asks of the API server: a lab cluster (`lab up 2` + `up`: a master, whose agent has
# no pods, and one worker) with 30 pods on the worker, each mounting a configMap of its own and reading a
# secret of its own into its environment. Once all run, the API server's /metrics (apiserver_request_total
# by verb and resource) is read twice, 60 s apart; the difference is every request both agents made in
# that minute (the scrapes themselves, non-resource GETs, are left out). Watches opened in the minute show
# as WATCH. Independently of /metrics (which older builds lack), iptables on the master counts the new
# connections to :6443 from each agent's address in the same minute: the agent opens a connection per
# request, so these are its requests. KB=PATH runs another kubeboot build (an older one, for a before/after).
# Needs root and kubectl on PATH. Usage: bash bench/idle_agent.sh   (about 4 minutes after the build)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${KUBEBOOT_BENCH_DIR:-/var/tmp/kubeboot-bench}
mkdir -p "$work"
. bench/common.sh
bench_binary
lab_cluster idle 2

{
  for i in $(seq 30); do
    cat <<YAML
---
apiVersion: v1
kind: ConfigMap
metadata: {name: conf-$i}
data: {greeting: "hello $i"}
---
apiVersion: v1
kind: Secret
metadata: {name: pass-$i}
stringData: {password: "secret-$i"}
---
apiVersion: v1
kind: Pod
metadata: {name: idle-$i}
spec:
  nodeSelector: {kubernetes.io/hostname: lab-node1}
  terminationGracePeriodSeconds: 0
  containers:
  - name: app
    image: kubetm/app:v1
    imagePullPolicy: IfNotPresent
    env:
    - name: PASSWORD
      valueFrom: {secretKeyRef: {name: pass-$i, key: password}}
    volumeMounts: [{name: conf, mountPath: /etc/conf}]
  volumes:
  - name: conf
    configMap: {name: conf-$i}
YAML
  done
} > "$work/idle-pods.yaml"
on lab-node1 "docker pull -q kubetm/app:v1 >/dev/null"
kubectl apply -f "$work/idle-pods.yaml" >/dev/null
kubectl wait --for=condition=Ready pod --all --timeout=300s >/dev/null
sleep 15   # let the start-up's status writes and events settle

counts() { kubectl get --raw /metrics | python3 -c "
import sys, json
counts = {}
for line in sys.stdin:
    if not line.startswith('apiserver_request_total{'):
        continue
    labels, value = line.rsplit(' ', 1)
    fields = dict(kv.split('=', 1) for kv in labels[len('apiserver_request_total{'):-1].split(','))
    fields = {k: v.strip('\"') for k, v in fields.items()}
    if not fields['resource']:
        continue
    key = fields['verb'] + ' ' + fields['resource'] + ('/' + fields['subresource'] if fields['subresource'] else '')
    counts[key] = counts.get(key, 0) + float(value)
print(json.dumps(counts))"; }
addresses=$(kubectl get nodes -o jsonpath='{range .items[*]}{.metadata.name}={.status.addresses[?(@.type=="InternalIP")].address} {end}')
for pair in $addresses; do on lab-master "iptables -I INPUT -p tcp --dport 6443 --syn -s ${pair#*=} -m comment --comment kb-idle-${pair%%=*}"; done
connections() { on lab-master "iptables -nvxL INPUT" | awk '/kb-idle-/ {for (i = 1; i <= NF; i++) if ($i ~ /^kb-idle-/) name = substr($i, 9); print name "=" $1}' | tr '\n' ' '; }
before=$(counts) c0=$(connections)
sleep 60
after=$(counts) c1=$(connections)
python3 - "$before" "$after" "$c0" "$c1" <<'PY'
import json, sys
before, after = json.loads(sys.argv[1]), json.loads(sys.argv[2])
c0 = dict(p.split("=") for p in sys.argv[3].split())
c1 = dict(p.split("=") for p in sys.argv[4].split())
delta = {k: after[k] - before.get(k, 0) for k in after if after[k] - before.get(k, 0) > 0}
print("idle agents (the master's, with no pods, and lab-node1's, with 30 pods using 30 configMaps and 30 "
      "secrets): API requests in 60 s")
for key in sorted(delta, key=lambda k: -delta[k]):
    print(f"  {key:40s} {delta[key]:6.0f}")
print(f"  {'all':40s} {sum(delta.values()):6.0f}")
print("new connections to :6443 in the same 60 s (one per request: the agent does not pool):")
for node in sorted(c1):
    print(f"  from {node:34s} {int(c1[node]) - int(c0.get(node, 0)):6d}")
PY
"$kb" lab down >/dev/null 2>&1 || true
