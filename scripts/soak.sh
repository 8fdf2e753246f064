#!/usr/bin/env bash
# Soak: N consecutive up / check / down cycles of one scenario (default 200,
# site-to-site, native). After each cycle it counts what is left: the
# testbed's containers and networks, host links, state directories, and the
# disk that images and volumes use. It prints a markdown table for
# docs/benchmarks.md: failures, leftovers, and each phase's time (min /
# median / max), the phases read from up's progress lines.
#
#   scripts/soak.sh [CYCLES] [SCENARIO]
#   IMGTOOL=target/release/imgtool scripts/soak.sh 20
#
# The link count is this machine's: run it where the Docker daemon runs.
set -euo pipefail
cd "$(dirname "$0")/.."
cycles=${1:-200}
scenario=${2:-site-to-site}
imgtool=${IMGTOOL:-target/release/imgtool}
[ -x "$imgtool" ] || cargo build --release --quiet
name=soak
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export IMGTOOL_STATE_DIR="$work/state"

now() { date +%s.%N; }
disk() { docker system df --format '{{.Type}}={{.Size}}' | tr '\n' ' '; }
count_links() { ip -o link | wc -l; }
leftovers() {
  local c n s
  c=$(docker ps -aq --filter "label=io.imgtool.testbed=$name" | wc -l)
  n=$(docker network ls -q --filter "label=io.imgtool.testbed=$name" | wc -l)
  s=$(find "$IMGTOOL_STATE_DIR" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
  echo "$c $n $(($(count_links) - base_links)) $s"
}

# A first up builds or pulls what is missing, outside the measurement.
"$imgtool" up "$scenario" --name "$name" -q >/dev/null
"$imgtool" down --name "$name" -q >/dev/null
base_links=$(count_links)
disk_before=$(disk)

failures=0
: >"$work/phases" # phase <tab> seconds
: >"$work/totals" # up check down seconds
: >"$work/left"   # containers networks links statedirs, per cycle
for i in $(seq 1 "$cycles"); do
  t0=$(now)
  if ! "$imgtool" up "$scenario" --name "$name" >"$work/up.out" 2>"$work/up.err"; then
    failures=$((failures + 1))
    echo "cycle $i: up failed: $(tail -n 1 "$work/up.err")" >&2
  fi
  t1=$(now)
  if ! "$imgtool" check --name "$name" -q >"$work/check.out" 2>&1; then
    failures=$((failures + 1))
    echo "cycle $i: check failed: $(grep FAIL "$work/check.out" | head -n 1)" >&2
  fi
  t2=$(now)
  "$imgtool" down --name "$name" -q >/dev/null 2>&1 || { failures=$((failures + 1)); echo "cycle $i: down failed" >&2; }
  t3=$(now)
  echo "$(echo "$t1 - $t0" | bc) $(echo "$t2 - $t1" | bc) $(echo "$t3 - $t2" | bc)" >>"$work/totals"
  # "[  1.23s] step" lines: a phase lasts until the next one starts.
  awk -v total="$(echo "$t1 - $t0" | bc)" '
    /^\[ *[0-9.]+s\] / { t = $0; sub(/^\[ */, "", t); sub(/s\].*/, "", t); s = $0; sub(/^\[[^]]*\] /, "", s)
      gsub(/[0-9]+/, "N", s); if (prev != "") printf "%s\t%.3f\n", prev, t - pt; prev = s; pt = t }
    END { if (prev != "") printf "%s\t%.3f\n", prev, total - pt }' "$work/up.err" >>"$work/phases"
  leftovers >>"$work/left"
  [ $((i % 20)) -eq 0 ] && echo "soak: $i/$cycles cycles, $failures failures" >&2
done
disk_after=$(disk)

stats() { sort -n | awk '{ v[NR] = $1 } END { if (NR) printf "%.2f | %.2f | %.2f", v[1], v[int((NR + 1) / 2)], v[NR] }'; }
echo "| what | min s | median s | max s |"
echo "|---|---|---|---|"
for col in 1 2 3; do
  label=$(echo "up check down" | cut -d' ' -f$col)
  echo "| $label | $(awk -v c=$col '{ print $c }' "$work/totals" | stats) |"
done
cut -f1 "$work/phases" | awk '!seen[$0]++' | while read -r phase; do
  echo "| up: $phase | $(awk -F'\t' -v p="$phase" '$1 == p { print $2 }' "$work/phases" | stats) |"
done
echo
echo "cycles: $cycles, scenario: $scenario, failures: $failures"
echo "leftovers after a cycle (max over cycles): containers $(cut -d' ' -f1 "$work/left" | sort -n | tail -1)," \
  "networks $(cut -d' ' -f2 "$work/left" | sort -n | tail -1), extra links $(cut -d' ' -f3 "$work/left" | sort -n | tail -1)," \
  "state directories $(cut -d' ' -f4 "$work/left" | sort -n | tail -1)"
echo "disk before: $disk_before"
echo "disk after:  $disk_after"
[ "$failures" -eq 0 ]
