#!/usr/bin/env bash
# Cold-start benchmark (issue #9 §4): from no testbed images in the daemon
# to a verified testbed, (a) by pull from the local registry
# (127.0.0.1:5000, scripts/setup-debian.sh runs it) and (b) by bundle
# (`imgtool up --bundle`). Per platform: wall seconds of `imgtool up` to all
# checks green, and bytes: what the pull fetches (the unique compressed
# blobs of router, client and gateway, read from the registry's manifests)
# and what the bundle holds (the unique blobs of the whole set).
# The images are this checkout's (docker.io/vpnlab/*:latest, built first if
# missing), re-tagged under a namespace of their own and removed before each
# timed run. Prints a Markdown table for docs/benchmarks.md.
#
#   scripts/bench-cold-start.sh [PLATFORM...]      # default: the daemon's own
#   flock /tmp/imgtool-docker.lock scripts/bench-cold-start.sh linux/amd64
set -euo pipefail
cd "$(dirname "$0")/.."
platforms=("$@")
[ ${#platforms[@]} -gt 0 ] || platforms=("$(docker version -f '{{.Server.Os}}/{{.Server.Arch}}')")
registry=${REGISTRY:-127.0.0.1:5000}
ns="$registry/bench-cold-$$"
tag=b1
set_images=(router client strongswan gateway)
cargo build --release --quiet
bin=target/release/imgtool
export IMGTOOL_STATE_DIR=${IMGTOOL_STATE_DIR:-$(mktemp -d)}
work=$(mktemp -d)
name=t-bench-cold

cleanup() {
  "$bin" down --name $name -q >/dev/null 2>&1 || true
  for i in "${set_images[@]}"; do docker rmi "$ns/$i:$tag" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT
now() { date +%s.%N; }
forget() { for i in "${set_images[@]}"; do docker rmi "$ns/$i:$tag" >/dev/null 2>&1 || true; done; }

# Unique compressed bytes (manifest + config + layers) that pulling router,
# client and gateway for $1 fetches, from the registry's own manifests.
pull_bytes() {
  local os=${1%%/*} arch=${1#*/}
  local accept="application/vnd.oci.image.index.v1+json,application/vnd.oci.image.manifest.v1+json"
  for i in router client gateway; do
    local url="http://$registry/v2/${ns#"$registry"/}/$i/manifests" digest
    digest=$(curl -fsS -H "Accept: $accept" "$url/$tag" |
      jq -r --arg os "$os" --arg arch "$arch" '.manifests[] | select(.platform.os == $os and .platform.architecture == $arch) | .digest')
    curl -fsS -H "Accept: $accept" -o "$work/manifest" "$url/$digest"
    echo "$digest $(stat -c %s "$work/manifest")"
    jq -r '(.config, .layers[]) | "\(.digest) \(.size)"' "$work/manifest"
  done | sort -u | awk '{s += $2} END {print s}'
}

# The images of this checkout for the platforms measured (built if missing:
# `up --build` builds the whole set), re-tagged under $ns.
for p in "${platforms[@]}"; do
  for i in "${set_images[@]}"; do
    if id=$(docker create --pull=never --platform "$p" --network=none "docker.io/vpnlab/$i:latest" 2>/dev/null); then
      docker rm "$id" >/dev/null
    else
      "$bin" up --build --name $name --platform "$p" -q >/dev/null && "$bin" down --name $name -q >/dev/null
      break
    fi
  done
done
for i in "${set_images[@]}"; do docker tag "docker.io/vpnlab/$i:latest" "$ns/$i:$tag"; done
# (a)'s source: the set pushed to the registry (every platform the daemon has).
for i in "${set_images[@]}"; do docker push -q "$ns/$i:$tag" >/dev/null; done

echo "| platform | path | cold start s (to verified) | bytes | target | verdict |"
echo "|---|---|---|---|---|---|"
for platform in "${platforms[@]}"; do
  # (b)'s source, made while the images are here (not timed).
  "$bin" bundle save "$work/set.tar" --platform "$platform" --registry "$ns" --tag $tag -q >"$work/saved"
  bundle_bytes=$(sed -n "s|^  $platform *\([0-9]*\) bytes.*|\1|p" "$work/saved")
  fetched=$(pull_bytes "$platform")

  forget
  t0=$(now)
  "$bin" up --name $name --platform "$platform" --registry "$ns" --tag $tag -q >"$work/up-pull" 2>&1 ||
    { cat "$work/up-pull" >&2; exit 1; }
  pull_s=$(awk "BEGIN {printf \"%.1f\", $(now) - $t0}")
  "$bin" down --name $name -q >/dev/null

  forget
  t0=$(now)
  "$bin" up --name $name --platform "$platform" --bundle "$work/set.tar" -q >"$work/up-bundle" 2>&1 ||
    { cat "$work/up-bundle" >&2; exit 1; }
  bundle_s=$(awk "BEGIN {printf \"%.1f\", $(now) - $t0}")
  "$bin" down --name $name -q >/dev/null

  verdict() { awk "BEGIN {print ($1 <= $2) ? \"met\" : \"**missed**\"}"; }
  echo "| $platform | pull from $registry | $pull_s | $fetched fetched (router, client, gateway) | ≤ 20 s | $(verdict "$pull_s" 20) |"
  echo "| $platform | bundle ($(stat -c %s "$work/set.tar") bytes file) | $bundle_s | $bundle_bytes of unique blobs (whole set) | ≤ 15 s | $(verdict "$bundle_s" 15) |"
done
