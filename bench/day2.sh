#!/usr/bin/env bash
# Day-2 operations on 1 master + 2 nodes, end to end (release build): upgrade, rollback, restore.
# `lab up 3` + `up`, a Deployment of 4 behind a
# NodePort (a PodDisruptionBudget keeping 3) polled every 100 ms through the master; then `kubeboot upgrade`
# with a "newer build" (this binary with the next minor version written into its version stamp, as
# tests/upgrade_e2e.rs makes it), `kubeboot upgrade --rollback`, and the peer in the same run: `up` with the
# newer build, the way before `upgrade` existed (every host's binary swapped and restarted at once, no
# drain). Then `kubeboot backup`, the master wiped (`reset -i --limit lab-master`) and `kubeboot restore`
# timed until every node heartbeats again (no peer runs here: k3s's and kubeadm's restores need their own
# clusters, which cannot be installed without the internet). Prints each one's time and the poll's
# answered/failed requests. KB=PATH runs another build.
# Needs root and kubectl on PATH. Usage: bash bench/day2.sh   (about 5 minutes after the build)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${KUBEBOOT_BENCH_DIR:-/var/tmp/kubeboot-bench}
mkdir -p "$work"
. bench/common.sh
bench_binary
lab_cluster upgrade 3

current=$("$kb" --version | cut -d' ' -f2)
next=$(python3 -c "import sys; a,b,c=sys.argv[1].split('.'); print(f'{a}.{int(b)+1}.{c}')" "$current")
newer=$work/kubeboot-$next
python3 - "$kb" "$newer" "$current" "$next" <<'PY'
import os, sys
src, dst, old, new = sys.argv[1:]
marker = b"kubeboot-version-stamp:"
data = open(src, "rb").read()
old_stamp, new_stamp = marker + old.encode(), marker + new.encode()
assert len(old_stamp) == len(new_stamp) and data.count(old_stamp) == 1
open(dst, "wb").write(data.replace(old_stamp, new_stamp))
os.chmod(dst, 0o755)
PY
"$newer" --version >&2

kubectl create deployment web --image=kubetm/p8000 --replicas=4 >/dev/null
kubectl expose deployment web --port=8000 --type=NodePort >/dev/null
kubectl create poddisruptionbudget web --selector=app=web --min-available=3 >/dev/null
kubectl rollout status deploy/web --timeout=180s >/dev/null
port=$(kubectl get service web -o jsonpath='{.spec.ports[0].nodePort}')
url=http://10.88.0.10:$port/

# Polls $url every 100 ms until $work/stop exists; writes "answered failed" to $work/poll.
poll() {
  local ok=0 failed=0
  while [ ! -e "$work/stop" ]; do
    if curl -sf --connect-timeout 0.9 -m 2 -o /dev/null "$url"; then ok=$((ok + 1)); else failed=$((failed + 1)); fi
    sleep 0.1
  done
  echo "$ok $failed" > "$work/poll"
}
# Runs the command with the poll around it; prints "SECONDS ANSWERED FAILED".
timed_with_poll() {
  rm -f "$work/stop" "$work/poll"
  poll & local poller=$!
  local t0 t1
  t0=$(now); "$@" > "$work/upgrade-step.log" 2>&1; t1=$(now)
  sleep 2
  touch "$work/stop"; wait "$poller"
  echo "$(elapsed "$t0" "$t1") $(cat "$work/poll")"
}

read -r up_s up_ok up_failed < <(timed_with_poll "$newer" upgrade -i "$inv")
read -r back_s back_ok back_failed < <(timed_with_poll "$kb" upgrade -i "$inv" --rollback)
read -r peer_s peer_ok peer_failed < <(timed_with_poll "$newer" up -i "$inv")
versions=$(kubectl get nodes -o jsonpath='{range .items[*]}{.status.nodeInfo.kubeletVersion}{" "}{end}')

"$newer" backup -i "$inv" -o "$work/day2.backup" > /dev/null
"$newer" reset -i "$inv" --limit lab-master > /dev/null
since=$(date -u +%Y-%m-%dT%H:%M:%SZ)
t0=$(now)
"$newer" restore -i "$inv" "$work/day2.backup" > "$work/day2-restore.log" 2>&1
t1=$(now)
"$newer" kubeconfig -i "$inv" > "$KUBECONFIG"
heartbeats() { # how many nodes are Ready with a heartbeat since $since
  kubectl get nodes -o json | python3 -c "import json,sys; since=sys.argv[1]; print(sum(1 for n in json.load(sys.stdin)['items'] for c in n['status']['conditions'] if c['type']=='Ready' and c['status']=='True' and c['lastHeartbeatTime']>=since))" "$since"
}
until [ "$(heartbeats 2>/dev/null || echo 0)" = 3 ]; do sleep 0.2; done
t2=$(now)

printf '%-58s %10s %9s %7s\n' "1 master + 2 nodes, 4 pods behind a NodePort" "seconds" "answered" "failed"
printf '%-58s %10s %9s %7s\n' "kubeboot upgrade ($current -> $next)" "$up_s" "$up_ok" "$up_failed"
printf '%-58s %10s %9s %7s\n' "kubeboot upgrade --rollback" "$back_s" "$back_ok" "$back_failed"
printf '%-58s %10s %9s %7s\n' "peer: kubeboot up with the newer binary (no drain)" "$peer_s" "$peer_ok" "$peer_failed"
printf '%-58s %10s\n' "kubeboot restore -i onto the wiped master (the command)" "$(elapsed "$t0" "$t1")"
printf '%-58s %10s\n' "  until all 3 nodes heartbeat again" "$(elapsed "$t0" "$t2")"
echo "nodes after the peer: $versions" >&2
"$kb" lab down >/dev/null
