#!/usr/bin/env bash
# Air-gapped install benchmark (release build), on 3 fresh lab hosts: a Debian master, a Debian node and an
# EL-flavor node. The peer is kubeboot's own online `up` on the same fresh layout (packages from the
# mirror, images from the lab's registry). Then, on fresh hosts again: `bundle create` (time and size),
# `lab offline`, `up` from the bundle to 3 Ready nodes, three reruns (as online), and the packets the lab dropped (0 means
# nothing tried to leave). Prints a table. Needs root. About 3 minutes.
# Usage: bash bench/airgap.sh
set -euo pipefail
cd "$(dirname "$0")/.."
work=${KUBEBOOT_BENCH_DIR:-/var/tmp/kubeboot-bench}
mkdir -p "$work"
. bench/common.sh
bench_binary
export XDG_CACHE_HOME=$work/airgap-cache
rm -rf "$XDG_CACHE_HOME" "$work/site.bundle"
inv=$work/airgap-lab.yaml

fresh_hosts() {
  "$kb" lab down >/dev/null 2>&1 || true
  "$kb" lab up 2 --inventory "$inv" >/dev/null 2>&1
  "$kb" lab up 3 --flavor el --inventory "$inv" >/dev/null 2>&1
}
ready_count() { grep -c ' Ready ' "$1" || true; }

fresh_hosts
t0=$(now); "$kb" up -i "$inv" > "$work/airgap-online.log" 2>&1; t1=$(now)
online=$(elapsed "$t0" "$t1")
reruns() { # INVENTORY: three reruns (nothing to do), their median
  local times=()
  for _ in 1 2 3; do
    t0=$(now); "$kb" up -i "$1" > "$work/airgap-rerun.log" 2>&1; t1=$(now)
    times+=("$(elapsed "$t0" "$t1")")
  done
  echo "$(median "${times[@]}") (${times[*]})"
}
online_rerun=$(reruns "$inv")
echo "online up: $online s ($(ready_count "$work/airgap-online.log") Ready), rerun $online_rerun s" >&2

fresh_hosts
t0=$(now); "$kb" bundle create -i "$inv" -o "$work/site.bundle" > "$work/airgap-bundle.log" 2>&1; t1=$(now)
bundle_time=$(elapsed "$t0" "$t1")
bundle_mb=$(python3 -c "import os; print(f'{os.path.getsize(\"$work/site.bundle\")/1e6:.1f}')")
binary_mb=$(python3 -c "import os; print(f'{os.path.getsize(\"$kb\")/1e6:.1f}')")
echo "bundle create: $bundle_time s, $bundle_mb MB" >&2

sed "s|^hosts:|airgap:\n  bundle: $work/site.bundle\nhosts:|" "$inv" > "$work/airgap-inv.yaml"
"$kb" lab offline >/dev/null 2>&1
drops() { "$kb" lab drops | awk -F': ' '{printf "%s%s", sep, $2; sep=" / "}'; }
before=$(drops)
t0=$(now); "$kb" up -i "$work/airgap-inv.yaml" > "$work/airgap-up.log" 2>&1; t1=$(now)
airgap=$(elapsed "$t0" "$t1")
rerun=$(reruns "$work/airgap-inv.yaml")
after=$(drops)
"$kb" lab online >/dev/null 2>&1
"$kb" lab down >/dev/null 2>&1 || true

cat <<TABLE
kubeboot $("$kb" --version | cut -d' ' -f2) (release, binary $binary_mb MB), 3 fresh lab hosts (2 Debian 12, 1 EL flavor)
online up (mirror + lab registry) to Ready      $online s   ($(ready_count "$work/airgap-online.log") Ready)
online rerun (nothing to do), median of 3       $online_rerun s
bundle create (2 releases, 5 images, binary)    $bundle_time s   $bundle_mb MB
up from the bundle, lab offline, to Ready       $airgap s   ($(ready_count "$work/airgap-up.log") Ready)
rerun from the bundle, median of 3              $rerun s
packets dropped leaving the lab / to this machine: $before before the offline up, $after after its rerun
TABLE
