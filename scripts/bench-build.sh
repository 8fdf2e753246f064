#!/usr/bin/env bash
# Benchmark of `imgtool build` (issue #3), printed as Markdown for
# docs/benchmarks.md: a full build of the four images for linux/amd64 and
# linux/arm64 with a warm base image and an EMPTY build cache (this script
# prunes the builder's cache), a no-op rebuild, validation per platform, and
# pushes of a changed and of an unchanged image set to a local registry.
#
#   scripts/bench-build.sh REGISTRY_HOST:PORT
# REGISTRY is a running distribution registry, e.g. 127.0.0.1:5000.
set -euo pipefail
cd "$(dirname "$0")/.."
registry=${1:?usage: scripts/bench-build.sh REGISTRY_HOST:PORT}
cargo build --release --quiet
bin=$PWD/target/release/imgtool
export IMGTOOL_STATE_DIR=${IMGTOOL_STATE_DIR:-$(mktemp -d)}
ns=bench-$$
now() { date +%s.%N; }
secs() { awk "BEGIN {printf \"%.1f\", $2 - $1}"; }
row() { printf '| %s | %s | %s |\n' "$1" "$2" "$3"; }

echo "| step | seconds | notes |"
echo "|---|---|---|"
docker buildx prune --all --force >/dev/null
t0=$(now); $bin build --no-validate -q >/dev/null; t1=$(now)
row "full build, 4 images x 2 platforms, empty cache" "$(secs "$t0" "$t1")" "target <= 240 s"
t0=$(now); $bin build --no-validate -q >/dev/null; t1=$(now)
row "no-op rebuild" "$(secs "$t0" "$t1")" "target <= 5 s"
for p in linux/amd64 linux/arm64; do
  t0=$(now); $bin build --platform "$p" -q >/dev/null; t1=$(now)
  row "build (no-op) + validation of $p, 3 scenarios" "$(secs "$t0" "$t1")" "arm64 emulated on amd64"
done
t0=$(now); out=$($bin build --push --registry "$registry/$ns" --scenario site-to-site -q | tail -1); t1=$(now)
row "first push (validated, site-to-site)" "$(secs "$t0" "$t1")" "$out"
t0=$(now); out=$($bin build --push --registry "$registry/$ns" --scenario site-to-site -q | tail -1); t1=$(now)
row "unchanged push" "$(secs "$t0" "$t1")" "$out; target: no blob"
# A changed set: one image's content changes (the client's service banner).
trap 'git checkout -q -- images/client/pong.sh' EXIT
echo "# bench $(date +%s)" >>images/client/pong.sh
t0=$(now); out=$($bin build --push --registry "$registry/$ns" --scenario site-to-site -q | tail -1); t1=$(now)
row "changed push (client changed)" "$(secs "$t0" "$t1")" "$out"
