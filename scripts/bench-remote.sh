#!/usr/bin/env bash
# Benchmark of the testbed with imgtool in a container that has only the
# Docker socket (a daemon that is not on imgtool's machine; see
# tests/remote.rs): the release binary, the docker CLI and its plugins are
# copied into a throwaway container, which bench-testbed.sh then drives.
#
#   scripts/bench-remote.sh [RUNS] [PLATFORM...]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
client=imgtool-bench-client
docker rm -f "$client" >/dev/null 2>&1 || true
trap 'docker rm -f "$client" >/dev/null 2>&1 || true' EXIT
docker create --name "$client" -v /var/run/docker.sock:/var/run/docker.sock \
  --entrypoint sleep docker.io/vpnlab/client:latest infinity >/dev/null
docker cp target/release/imgtool "$client:/usr/local/bin/imgtool"
docker cp "$(command -v docker)" "$client:/usr/local/bin/docker"
docker start "$client" >/dev/null
docker exec "$client" mkdir -p /usr/libexec/docker
docker cp /usr/libexec/docker/cli-plugins "$client:/usr/libexec/docker/"
IMGTOOL_CMD="docker exec -w / $client imgtool" bash scripts/bench-testbed.sh "$@"
