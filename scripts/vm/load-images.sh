#!/usr/bin/env bash
# Copies images of this host's Docker daemon into the imgtool VM's daemon
# (started by start.sh), under the same names, as linux/amd64.
#
#   scripts/vm/load-images.sh IMAGE[:TAG]...
#
# Method (IMGTOOL_VM_LOAD):
#   registry (default)  the host pushes each image to its registry
#       ($IMGTOOL_VM_REGISTRY, 127.0.0.1:5000) under imgtool-vm/..., the VM
#       pulls it through QEMU's guestfwd (10.0.2.100:5000) for its platform
#       only, tags it with the original name and drops the temporary name
#       (the registry's manifest is deleted again). Layers the VM already has
#       are not sent again, and the image keeps its ID (the index digest).
#   save  docker save | docker -H VM load: needs no registry, but sends every
#       platform of a multi-platform image and every layer each time (the
#       docker CLI's save --platform needs API 1.48; engine 26 has 1.45).
# Environment: IMGTOOL_VM_PORT, IMGTOOL_VM_REGISTRY, IMGTOOL_VM_PLATFORM
# (linux/amd64), IMGTOOL_VM_LOAD.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[ $# -gt 0 ] || vm_die "usage: $0 IMAGE[:TAG]..."
PLATFORM=${IMGTOOL_VM_PLATFORM:-linux/amd64}
METHOD=${IMGTOOL_VM_LOAD:-registry}
vm() { docker -H "$VM_DOCKER_HOST" "$@"; }
host() { env -u DOCKER_HOST -u DOCKER_CONTEXT docker "$@"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
secs() { printf '%d.%01d' $(($1 / 1000)) $(($1 % 1000 / 100)); }

vm_docker_ready || vm_die "the VM's dockerd does not answer on $VM_DOCKER_HOST (scripts/vm/start.sh)"

# NAME[:TAG] with the tag made explicit; digests are not supported.
full_ref() {
  local ref=$1 last=${1##*/}
  case $ref in *@*) vm_die "$ref: give a name with a tag, not a digest" ;; esac
  case $last in *:*) echo "$ref" ;; *) echo "$ref:latest" ;; esac
}

# The temporary repository in the registry: imgtool-vm/ + the name, with a
# registry host's ':' made '-' (repository names allow [a-z0-9._-/]).
temp_repo() {
  local name=${1%:*}
  name=${name#docker.io/}
  echo "imgtool-vm/${name//:/-}" | tr '[:upper:]' '[:lower:]'
}

registry_delete() { # repo digest
  curl -fsS -X DELETE "http://$VM_REGISTRY_HOST/v2/$1/manifests/$2" >/dev/null 2>&1 || true
}

load_registry() { # ref
  local ref=$1 repo tag host_ref guest_ref digest
  repo=$(temp_repo "$ref")
  tag=${ref##*:}
  host_ref=$VM_REGISTRY_HOST/$repo:$tag
  guest_ref=$VM_REGISTRY_GUEST/$repo:$tag
  host tag "$ref" "$host_ref"
  if ! host push -q "$host_ref" >/dev/null; then
    host rmi "$host_ref" >/dev/null 2>&1 || true
    return 1
  fi
  host rmi "$host_ref" >/dev/null
  vm pull -q --platform "$PLATFORM" "$guest_ref" >/dev/null
  vm tag "$guest_ref" "$ref"
  vm rmi "$guest_ref" >/dev/null
  digest=$(curl -fsS -o /dev/null -w '%header{docker-content-digest}' \
    -H 'Accept: application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' \
    "http://$VM_REGISTRY_HOST/v2/$repo/manifests/$tag" 2>/dev/null || true)
  [ -z "$digest" ] || registry_delete "$repo" "$digest"
}

load_save() { # ref
  host save "$1" | vm load -q >/dev/null
}

registry_up() { curl -fsS "http://$VM_REGISTRY_HOST/v2/" >/dev/null 2>&1; }
if [ "$METHOD" = registry ] && ! registry_up; then
  vm_say "no registry on $VM_REGISTRY_HOST: falling back to docker save | docker load"
  METHOD=save
fi

t_all=$(now_ms)
for arg in "$@"; do
  ref=$(full_ref "$arg")
  host image inspect "$ref" >/dev/null 2>&1 || vm_die "$ref: no such image on this host"
  t=$(now_ms)
  case $METHOD in
    registry)
      if ! load_registry "$ref"; then
        vm_say "$ref: push to $VM_REGISTRY_HOST failed; trying docker save | docker load"
        load_save "$ref"
      fi
      ;;
    save) load_save "$ref" ;;
    *) vm_die "IMGTOOL_VM_LOAD must be registry or save, not '$METHOD'" ;;
  esac
  vm_say "$ref: loaded in $(secs $(($(now_ms) - t))) s ($(vm image inspect -f '{{.Id}}' "$ref" | cut -c1-19))"
done
vm_say "$# image(s) in $(secs $(($(now_ms) - t_all))) s"
