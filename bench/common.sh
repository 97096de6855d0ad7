# Helpers the lab benchmarks share (sourced): timing, statistics, and a command on a lab host.
# Expects $kb (the kubeboot binary; bench_binary sets it).
now() { date +%s.%N; }
elapsed() { python3 -c "print(f'{$2 - $1:.3f}')"; }
stats() { python3 -c "import statistics,sys; v=sorted(map(float,sys.argv[1:])); print(f'median {statistics.median(v):.3f} s  min {v[0]:.3f}  max {v[-1]:.3f}  (n={len(v)})')" "$@"; }
median() { python3 -c "import statistics,sys; print(f'{statistics.median(map(float,sys.argv[1:])):.3f}')" "$@"; }
on() { "$kb" lab ssh "$@"; }
# A fresh lab cluster of $2 hosts for benchmark $1 (`lab up` + `up`); sets $inv, exports KUBECONFIG.
# Expects $work too.
lab_cluster() {
  inv=$work/$1-lab.yaml
  export KUBECONFIG=$work/$1-admin.conf
  "$kb" lab down >/dev/null 2>&1 || true
  "$kb" lab up "$2" --inventory "$inv" >/dev/null 2>&1
  "$kb" up -i "$inv" > "$work/$1-up.log"
  "$kb" kubeconfig -i "$inv" > "$KUBECONFIG"
}
# Sets $kb: the release build of this tree, or $KB when given (another build, for a before/after).
bench_binary() {
  if [ -z "${KB:-}" ]; then cargo build --release -q; kb=$PWD/target/release/kubeboot; else kb=$KB; fi
}
