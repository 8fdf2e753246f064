#!/usr/bin/env bash
# What a student downloads: the compressed bytes of each image of the set and
# of the whole set (each blob once, as a registry serves them), per platform.
# Builds the set (imgtool build --no-validate) for each platform, exports it
# with `docker save` (the containerd store keeps the compressed blobs the
# build made) and sums the blobs of each platform's manifests.
#
# Usage: scripts/bench-image-size.sh [PLATFORM...]   (default: linux/amd64 linux/arm64)
# Prints a Markdown table for docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
platforms=("$@")
[ "${#platforms[@]}" -gt 0 ] || platforms=(linux/amd64 linux/arm64)
cargo build -q
imgtool=target/debug/imgtool
rev=$(git rev-parse --short=7 HEAD)
images=$(sed -n 's/^name = "\(.*\)"$/\1/p' imgtool.toml)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for platform in "${platforms[@]}"; do
  arch=${platform#*/}
  "$imgtool" build --no-validate -q --platform "$platform" >/dev/null
  refs=()
  for i in $images; do refs+=("imgtool.local/$i:$rev-$arch"); done
  rm -rf "$work/layout" && mkdir "$work/layout"
  docker save "${refs[@]}" | tar -x -C "$work/layout"
  python3 - "$work/layout" "$arch" <<'PY'
import json, sys
root, arch = sys.argv[1], sys.argv[2]
def load(digest):
    with open(f"{root}/blobs/{digest.replace(':', '/')}") as f:
        return json.load(f)
blobs = {}   # digest -> size
per = {}     # image -> bytes
def walk(desc, image):
    doc = load(desc["digest"])
    if "manifests" in doc:
        for m in doc["manifests"]:
            if m.get("platform", {}).get("architecture", arch) == arch:
                walk(m, image)
        return
    for b in [doc["config"]] + doc["layers"]:
        blobs[b["digest"]] = b["size"]
        per[image] = per.get(image, 0) + b["size"]
for m in json.load(open(f"{root}/index.json"))["manifests"]:
    name = m["annotations"]["io.containerd.image.name"].split("/")[-1].split(":")[0]
    walk(m, name)
print(f"| linux/{arch} | " + " | ".join(f"{name} {size / 1e6:.2f}" for name, size in per.items())
      + f" | **{sum(blobs.values()) / 1e6:.2f}** ({len(blobs)} blobs) |")
PY
done
