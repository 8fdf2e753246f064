#!/usr/bin/env bash
# Benchmark of many testbeds on one machine (issue #11: a teacher's grading
# server): for each N, N `imgtool up` processes at once (each to all checks
# green), then `imgtool check` on all N at once, then `imgtool down` of all N
# at once. Prints a Markdown table for docs/benchmarks.md: seconds to all
# green, failures, memory per testbed (its nodes' cgroups as its `up`
# reports them), the load average and the memory the machine still had.
#
#   scripts/bench-many.sh [N...]          # default: 1 5 10 20
#   SCENARIO=host-to-host scripts/bench-many.sh 5
set -euo pipefail
cd "$(dirname "$0")/.."
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(1 5 10 20)
scenario=${SCENARIO:-site-to-site}
cargo build --release --quiet
bin=$PWD/target/release/imgtool
work=$(mktemp -d)
export IMGTOOL_STATE_DIR="$work/state"
trap 'rm -rf "$work"' EXIT
now() { date +%s.%N; }
secs() { awk "BEGIN {printf \"%.1f\", $2 - $1}"; }

# Runs `imgtool "$@" --name many-I` for I in 1..N at once; prints how many failed.
all_at_once() {
  local n=$1 what=$2
  shift 2
  local pids=() failed=0
  for i in $(seq "$n"); do
    "$bin" "$@" --name "many-$i" >"$work/$what-$i.out" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
  echo "$failed"
}

# Mean MiB of a testbed's nodes when its up finished, as each up reports
# it (their cgroups, read on the daemon's side: docker stats says 0 B here).
memory_mib() {
  cat "$work"/up-*.out | sed -n 's/^memory *\([0-9.]*\) MiB now.*/\1/p' |
    awk '{s += $1; n++} END {if (n) printf "%.1f", s / n; else print "-"}'
}

"$bin" up "$scenario" --name many-1 -q >/dev/null 2>&1 || true # images present, not timed
"$bin" down --name many-1 -q >/dev/null
echo "| testbeds at once | up→all green s | failed ups | check of all s | failed checks | memory per testbed MiB | load (1 min) | machine memory available MiB | down of all s |"
echo "|---|---|---|---|---|---|---|---|---|"
for n in "${counts[@]}"; do
  t0=$(now)
  failed_up=$(all_at_once "$n" up up "$scenario")
  t1=$(now)
  failed_check=$(all_at_once "$n" check check)
  t2=$(now)
  mem=$(memory_mib)
  load=$(cut -d' ' -f1 /proc/loadavg)
  avail=$(awk '/MemAvailable/ {printf "%d", $2 / 1024}' /proc/meminfo)
  t3=$(now)
  failed_down=$(all_at_once "$n" down down)
  t4=$(now)
  echo "| $n | $(secs "$t0" "$t1") | $failed_up | $(secs "$t1" "$t2") | $failed_check | $mem | $load | $avail | $(secs "$t3" "$t4")$([ "$failed_down" = 0 ] || echo " ($failed_down failed)") |"
  for f in "$work"/up-*.out "$work"/check-*.out; do
    grep -hE '^(FAIL|imgtool: error)' "$f" | head -3 | sed "s|^|  $(basename "$f"): |" >&2 || true
  done
  rm -f "$work"/*.out
done
