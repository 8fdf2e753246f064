#!/usr/bin/env bash
# Docker's own floor for a testbed's bring-up (issue #11): nine containers of
# the client image that only sleep, with no network, created and started as
# `up` does it (nine `docker start`s side by side) and with one `docker start`
# of all nine. No IKE, no checks, no files: what no change to imgtool can win.
# Prints a Markdown table for docs/benchmarks.md.
#
#   scripts/bench-floor.sh [RUNS] [IMAGE]
set -euo pipefail
runs=${1:-5}
image=${2:-docker.io/vpnlab/client:latest}
count=9
docker image inspect "$image" >/dev/null 2>&1 ||
  { echo "bench-floor: no $image here: run \`imgtool up site-to-site --build\` first" >&2; exit 1; }
names=()
for i in $(seq "$count"); do names+=("imgtool-floor-$i"); done
cleanup() { docker rm -f "${names[@]}" >/dev/null 2>&1 || true; }
trap cleanup EXIT

now() { date +%s.%N; }
stats() { # min median max of the numbers on stdin
  sort -g | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f / %.2f / %.2f\n", a[1], m, a[NR]}'
}
create_all() { # side by side, as up creates its nodes
  for n in "${names[@]}"; do
    docker create --name "$n" --network none --entrypoint sleep "$image" 1000 >/dev/null &
  done
  wait
}

creates=() parallel=() single=()
for _ in $(seq "$runs"); do
  cleanup
  t0=$(now); create_all; creates+=("$(awk "BEGIN {print $(now) - $t0}")")
  t0=$(now)
  for n in "${names[@]}"; do docker start "$n" >/dev/null & done
  wait
  parallel+=("$(awk "BEGIN {print $(now) - $t0}")")
  cleanup
  create_all
  t0=$(now); docker start "${names[@]}" >/dev/null; single+=("$(awk "BEGIN {print $(now) - $t0}")")
done

echo "| $count containers, no network, \`sleep\` | s (min / median / max), $runs runs |"
echo "|---|---|"
echo "| create, side by side | $(printf '%s\n' "${creates[@]}" | stats) |"
echo "| start, one \`docker start\` each, side by side | $(printf '%s\n' "${parallel[@]}" | stats) |"
echo "| start, one \`docker start\` of all | $(printf '%s\n' "${single[@]}" | stats) |"
