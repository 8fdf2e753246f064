#!/usr/bin/env bash
# Checks that the running imgtool VM (start.sh) can host the testbed with
# kernel IPsec: an ESP SA in a container's namespace (IPv4 and IPv6), ESP
# traffic between two containers, macvlan on a veth parent (and without a
# parent), /dev/net/tun in a container, a bridge network with iptables NAT.
#
# Builds a small image with iproute2 on this host's daemon
# (imgtool-vm-check:latest, FROM debian:bookworm-slim through the mirror) and
# copies it into the VM with load-images.sh. Everything it creates in the
# VM is removed again. Prints "N passed, N failed" last; exits 1 on a failure.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

IMAGE=imgtool-vm-check:latest
vm() { docker -H "$VM_DOCKER_HOST" "$@"; }
host() { env -u DOCKER_HOST -u DOCKER_CONTEXT docker "$@"; }

vm_docker_ready || vm_die "the VM's dockerd does not answer on $VM_DOCKER_HOST (scripts/vm/start.sh)"

if ! host image inspect "$IMAGE" >/dev/null 2>&1; then
  vm_say "building $IMAGE on this host"
  host build -q -t "$IMAGE" - >/dev/null <<'EOF'
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends iproute2 iputils-ping iptables && rm -rf /var/lib/apt/lists/*
EOF
fi
vm image inspect "$IMAGE" >/dev/null 2>&1 || "$VM_DIR/load-images.sh" "$IMAGE"

passed=0
failed=0
check() { # name command...
  local name=$1 out
  shift
  if out=$("$@" 2>&1); then
    printf 'ok    %s\n' "$name"
    passed=$((passed + 1))
  else
    printf 'FAIL  %s\n' "$name"
    tail -15 <<<"$out" | sed 's/^/      /'
    failed=$((failed + 1))
  fi
}

KEY_ENC=0x00112233445566778899aabbccddeeff
KEY_AUTH=0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
sa_add() { # src dst
  vm run --rm --cap-add NET_ADMIN --network none "$IMAGE" \
    ip xfrm state add src "$1" dst "$2" proto esp spi 0x1000 mode tunnel \
    enc 'cbc(aes)' "$KEY_ENC" auth-trunc 'hmac(sha256)' "$KEY_AUTH" 128
}
check "ESP SA, IPv4 (cbc(aes) + hmac(sha256), tunnel mode)" sa_add 192.0.2.1 192.0.2.2
check "ESP SA, IPv6" sa_add 2001:db8::1 2001:db8::2
check "ESP SA, aes-gcm and chacha20poly1305" \
  vm run --rm --cap-add NET_ADMIN --network none "$IMAGE" sh -ec "
    ip xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1001 mode tunnel \
      aead 'rfc4106(gcm(aes))' 0x00112233445566778899aabbccddeeff00112233 128
    ip xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1002 mode tunnel \
      aead 'rfc7539esp(chacha20,poly1305)' 0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff00112233 128"

# ESP traffic: two containers on an internal bridge network, transport-mode
# SAs and policies both ways, a ping, and the SA's packet counters.
net=imgtool-vm-check-br
cleanup() {
  vm rm -f imgtool-vm-check-a imgtool-vm-check-b imgtool-vm-check-m1 imgtool-vm-check-m2 >/dev/null 2>&1 || true
  vm network rm "$net" imgtool-vm-check-mv imgtool-vm-check-mv0 >/dev/null 2>&1 || true
  vm run --rm --privileged --network host "$IMAGE" ip link del imgvm-p0 >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup
esp_traffic() {
  vm network create --internal --subnet 198.51.100.0/28 "$net" >/dev/null
  vm run -d --name imgtool-vm-check-a --cap-add NET_ADMIN --network "$net" --ip 198.51.100.2 "$IMAGE" sleep 300 >/dev/null
  vm run -d --name imgtool-vm-check-b --cap-add NET_ADMIN --network "$net" --ip 198.51.100.3 "$IMAGE" sleep 300 >/dev/null
  local c a=198.51.100.2 b=198.51.100.3
  for c in a b; do
    vm exec "imgtool-vm-check-$c" sh -ec "
      ip xfrm state add src $a dst $b proto esp spi 0x2001 mode transport enc 'cbc(aes)' $KEY_ENC auth-trunc 'hmac(sha256)' $KEY_AUTH 128
      ip xfrm state add src $b dst $a proto esp spi 0x2002 mode transport enc 'cbc(aes)' $KEY_ENC auth-trunc 'hmac(sha256)' $KEY_AUTH 128"
  done
  vm exec imgtool-vm-check-a sh -ec "
    ip xfrm policy add src $a dst $b dir out tmpl src $a dst $b proto esp mode transport
    ip xfrm policy add src $b dst $a dir in tmpl src $b dst $a proto esp mode transport"
  vm exec imgtool-vm-check-b sh -ec "
    ip xfrm policy add src $b dst $a dir out tmpl src $b dst $a proto esp mode transport
    ip xfrm policy add src $a dst $b dir in tmpl src $a dst $b proto esp mode transport"
  vm exec imgtool-vm-check-a ping -c 3 -W 2 "$b"
  # 3 requests out through SA 0x2001, 3 replies in through 0x2002.
  vm exec imgtool-vm-check-b ip -s xfrm state get src "$a" dst "$b" proto esp spi 0x2001 |
    grep -A1 'lifetime current' | grep -qE '[0-9]+\(bytes\), 3\(packets\)'
}
check "ESP traffic between two containers (transport mode, ping, counters)" esp_traffic

macvlan() {
  vm run --rm --privileged --network host "$IMAGE" sh -ec "
    ip link add imgvm-p0 type veth peer name imgvm-p1
    ip link set imgvm-p0 up; ip link set imgvm-p1 up"
  vm network create -d macvlan -o parent=imgvm-p0 --subnet 203.0.113.0/28 imgtool-vm-check-mv >/dev/null
  vm run -d --name imgtool-vm-check-m1 --network imgtool-vm-check-mv --ip 203.0.113.2 "$IMAGE" sleep 300 >/dev/null
  vm run --rm --name imgtool-vm-check-m2 --network imgtool-vm-check-mv --ip 203.0.113.3 "$IMAGE" ping -c 2 -W 2 203.0.113.2
}
check "macvlan network on a veth parent (two containers ping)" macvlan
check "macvlan network without a parent (dummy interfaces)" sh -ec "
  docker -H $VM_DOCKER_HOST network create -d macvlan --subnet 203.0.113.16/28 imgtool-vm-check-mv0 >/dev/null
  docker -H $VM_DOCKER_HOST run --rm --network imgtool-vm-check-mv0 $IMAGE ip -br addr"
check "/dev/net/tun in a container" \
  vm run --rm --cap-add NET_ADMIN --device /dev/net/tun "$IMAGE" sh -ec \
  "ip tuntap add mode tun dev tun0; ip link set tun0 up; ip -br link show tun0"
check "bridge network, NAT rules by dockerd (iptables-nft)" \
  vm run --rm --privileged --network host "$IMAGE" sh -ec \
  "iptables -t nat -S POSTROUTING | grep -q MASQUERADE; iptables -S DOCKER-USER >/dev/null"
check "IPv6 in containers (ip6tables, forwarding)" \
  vm run --rm --privileged --network host "$IMAGE" sh -ec \
  "ip6tables -S >/dev/null; test \"\$(cat /proc/sys/net/ipv6/conf/all/forwarding)\" = 1"
check "no way out of the VM (no default route, no name server)" \
  vm run --rm --network host "$IMAGE" sh -ec \
  "! ip route get 192.0.2.77 >/dev/null 2>&1; ! grep -q '^nameserver' /etc/resolv.conf"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
