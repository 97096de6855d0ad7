# Helpers the lab benchmarks share (sourced): timing, statistics, and a command on a lab host.
# Expects $kb (the kubeboot binary).
now() { date +%s.%N; }
elapsed() { python3 -c "print(f'{$2 - $1:.3f}')"; }
stats() { python3 -c "import statistics,sys; v=sorted(map(float,sys.argv[1:])); print(f'median {statistics.median(v):.3f} s  min {v[0]:.3f}  max {v[-1]:.3f}  (n={len(v)})')" "$@"; }
median() { python3 -c "import statistics,sys; print(f'{statistics.median(map(float,sys.argv[1:])):.3f}')" "$@"; }
on() { "$kb" lab ssh "$@"; }
