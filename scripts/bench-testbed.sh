#!/usr/bin/env bash
# Benchmark of the testbed (issue #2): for each scenario and platform, with
# the images already present, N runs of `imgtool up` (wall seconds from the
# command to all checks green), the testbed's peak memory (summed over the
# nine nodes' cgroups, as imgtool reports it) and `imgtool down` seconds.
# Prints a Markdown table for docs/benchmarks.md, then one of where the
# time of `up` goes: each phase as `up -v` reports it (min / median / max).
#
#   scripts/bench-testbed.sh [RUNS] [PLATFORM...]
#   SCENARIOS="site-to-site" scripts/bench-testbed.sh 50 linux/amd64
#   DOCKER_HOST=tcp://127.0.0.1:23750 UP_ARGS="--esp kernel --timeout 400" scripts/bench-testbed.sh 1   # the ESP VM
#   IMGTOOL_CMD="docker exec bench-client imgtool" scripts/bench-testbed.sh 10   # see bench-remote.sh
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
shift || true
platforms=("$@")
[ ${#platforms[@]} -gt 0 ] || platforms=("$(docker version -f '{{.Server.Os}}/{{.Server.Arch}}')")
read -r -a scenarios <<<"${SCENARIOS:-site-to-site site-to-site-ipv6 host-to-host}"
read -r -a up_args <<<"${UP_ARGS:-}"
cargo build --release --quiet
read -r -a bin <<<"${IMGTOOL_CMD:-target/release/imgtool}"
[ -n "${IMGTOOL_CMD:-}" ] || export IMGTOOL_STATE_DIR=${IMGTOOL_STATE_DIR:-$(mktemp -d)}
name=bench
phases=$(mktemp)
trap 'rm -f "$phases"' EXIT

now() { date +%s.%N; }
stats() { # min median max of the numbers on stdin
  sort -g | awk '{a[NR]=$1} END {if (NR==0) {print "- - -"; exit} m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f %.2f %.2f\n", a[1], m, a[NR]}'
}

echo "| scenario | platform | runs | failed | up→verified s (min / median / max) | peak memory MiB (max) | down s (median / max) |"
echo "|---|---|---|---|---|---|---|"
for platform in "${platforms[@]}"; do
  for scenario in "${scenarios[@]}"; do
    # Make sure images are present (not timed).
    "${bin[@]}" up "$scenario" --name $name --platform "$platform" -q "${up_args[@]}" >/dev/null 2>&1 || true
    "${bin[@]}" down --name $name -q >/dev/null 2>&1
    ups=() downs=() mems=() failed=0
    for _ in $(seq "$runs"); do
      t0=$(now)
      if out=$("${bin[@]}" up "$scenario" --name $name --platform "$platform" -q -v "${up_args[@]}" 2>&1); then
        t1=$(now)
        echo "$out" | awk -v w="$scenario $platform" \
          '$1 == "phase" && $2 ~ /^[0-9.]+$/ {s = $0; sub(/^phase +[0-9.]+  /, "", s); print w "|" s "|" $2}' >>"$phases"
        ups+=("$(awk "BEGIN {print $t1 - $t0}")")
        mems+=("$(echo "$out" | sed -n 's/^memory .*peak \([0-9.]*\) MiB.*/\1/p')")
      else
        failed=$((failed + 1))
        echo "$out" | grep -E 'FAIL|error' | head -5 >&2
      fi
      t0=$(now)
      "${bin[@]}" down --name $name -q >/dev/null
      downs+=("$(awk "BEGIN {print $(now) - $t0}")")
    done
    read -r umin umed umax < <(printf '%s\n' "${ups[@]}" | grep . | stats)
    read -r _ dmed dmax < <(printf '%s\n' "${downs[@]}" | stats)
    mmax=$(printf '%s\n' "${mems[@]}" | { grep . || true; } | sort -g | tail -1)
    echo "| $scenario | $platform | $runs | $failed | $umin / $umed / $umax | ${mmax:--} | $dmed / $dmax |"
  done
done

echo
echo "| scenario platform | phase of up | s (min / median / max) |"
echo "|---|---|---|"
# In the order the phases first came.
cut -d'|' -f1,2 "$phases" | awk '!seen[$0]++' | while IFS='|' read -r where phase; do
  read -r pmin pmed pmax < <(awk -F'|' -v w="$where" -v p="$phase" '$1 == w && $2 == p {print $3}' "$phases" | stats)
  echo "| $where | $phase | $pmin / $pmed / $pmax |"
done
