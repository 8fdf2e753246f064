#!/usr/bin/env bash
# Before and after, interleaved: `up` then `down` of site-to-site with an
# earlier commit's code and images, then with this checkout's, one after
# the other, so that a machine that drifts during the batch (it does:
# docs/benchmarks.md, issue 11) weighs on both alike. Each side runs its own
# images: the earlier ones are retagged under 127.0.0.1:5000/vpnbefore
# (local tags only, nothing is pushed) and its `up` is given that registry.
#
#   git worktree add /tmp/before REV && (cd /tmp/before && cargo build --release)
#   scripts/bench-interleaved.sh /tmp/before [PAIRS] [ARM64_PAIRS]
set -euo pipefail
cd "$(dirname "$0")/.."
before_dir=$(cd "${1:?usage: scripts/bench-interleaved.sh BEFORE_CHECKOUT [PAIRS] [ARM64_PAIRS]}" && pwd)
pairs=${2:-10}
arm_pairs=${3:-3}
cargo build --release --quiet
after_dir=$PWD
before_bin=$before_dir/target/release/imgtool
after_bin=$after_dir/target/release/imgtool
[ -x "$before_bin" ] || { echo "no $before_bin: build the earlier checkout first (cargo build --release)" >&2; exit 1; }
export IMGTOOL_CACHE_DIR=${IMGTOOL_CACHE_DIR:-$(mktemp -d)}
states=$(mktemp -d)
trap 'rm -rf "$states"' EXIT

# Each side builds its images for both platforms (arm64 under QEMU); the
# earlier side's are retagged before this side's build takes the names.
(cd "$before_dir" && IMGTOOL_STATE_DIR=$states/before "$before_bin" up site-to-site --platform linux/arm64 --build -q >/dev/null &&
  IMGTOOL_STATE_DIR=$states/before "$before_bin" down -q >/dev/null)
for image in router client gateway; do
  docker tag "docker.io/vpnlab/$image:latest" "127.0.0.1:5000/vpnbefore/$image:latest"
done
IMGTOOL_STATE_DIR=$states/after "$after_bin" up site-to-site --platform linux/arm64 --build -q >/dev/null
IMGTOOL_STATE_DIR=$states/after "$after_bin" down -q >/dev/null

now() { date +%s.%N; }
one() { # side platform: prints "side platform up_s down_s"
  local dir=$after_dir bin=$after_bin extra=()
  if [ "$1" = before ]; then dir=$before_dir bin=$before_bin extra=(--registry 127.0.0.1:5000/vpnbefore); fi
  local t0 t1 t2
  t0=$(now)
  (cd "$dir" && IMGTOOL_STATE_DIR=$states/$1 "$bin" up site-to-site --platform "$2" "${extra[@]}" -q >/dev/null)
  t1=$(now)
  (cd "$dir" && IMGTOOL_STATE_DIR=$states/$1 "$bin" down -q >/dev/null)
  t2=$(now)
  awk -v s="$1" -v p="$2" "BEGIN {printf \"%s %s %.3f %.3f\n\", s, p, $t1 - $t0, $t2 - $t1}"
}
results=$(mktemp)
for _ in $(seq "$pairs"); do one before linux/amd64; one after linux/amd64; done >>"$results"
for _ in $(seq "$arm_pairs"); do one before linux/arm64; one after linux/arm64; done >>"$results"

stats() { # min median max of the numbers on stdin
  sort -g | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f / %.2f / %.2f\n", a[1], m, a[NR]}'
}
echo "| side | platform | runs | up→verified s (min / median / max) | down s (min / median / max) |"
echo "|---|---|---|---|---|"
for platform in linux/amd64 linux/arm64; do
  for side in before after; do
    rows=$(awk -v s=$side -v p=$platform '$1 == s && $2 == p' "$results")
    [ -n "$rows" ] || continue
    echo "| $side | $platform | $(echo "$rows" | wc -l) | $(echo "$rows" | awk '{print $3}' | stats) | $(echo "$rows" | awk '{print $4}' | stats) |"
  done
done
rm -f "$results"
