#!/bin/sh
# Gateway: network, firewall and NAT (/etc/imgtool/firewall.nft, made by
# imgtool from the scenario), then charon. A gateway never runs open: without
# a ruleset it refuses to start, except in course mode, where the student
# writes the ruleset.
set -eu
. /usr/local/lib/imgtool/node.sh
. /usr/local/lib/imgtool/strongswan.sh
net_up
# qemu-user (an emulated platform) cannot speak nftables' netlink family:
# imgtool then loads the rulesets from a native helper in this network
# namespace (the holder) and marks it done with an alias on lo.
# IMGTOOL_FIREWALL=outside: imgtool knows it is so, and nft is not tried.
firewall_from_outside() { [ "${IMGTOOL_FIREWALL:-}" = outside ]; }
nft_works_here() {
  ! firewall_from_outside || return 1
  nft list tables >/dev/null 2>"$IMGTOOL_RUN/nft.err" && return 0
  ! grep -q 'Protocol not supported' "$IMGTOOL_RUN/nft.err"
}
wait_for_outside_firewall() {
  log "nft cannot run here (emulated platform?): waiting for the firewall to be loaded from outside"
  i=0
  until read -r alias 2>/dev/null </sys/class/net/lo/ifalias && [ "$alias" = imgtool-firewall ]; do
    i=$((i + 1)); [ $i -lt 1200 ] || die "no firewall loaded within 120 s"
    sleep 0.1
  done
  log "firewall loaded from outside"
}
if [ -f "$IMGTOOL_CONF/nat.nft" ]; then
  # Course mode (imgtool up --lab/--bare): the student's ruleset, if any,
  # then imgtool's NAT. A student's error goes to lab.log, which imgtool
  # reports; it never stops the gateway. Until the student's configuration
  # is loaded, IKE from the peers is dropped (gate.nft), so a peer that
  # initiates early retransmits instead of being told "no proposal chosen",
  # which charon never retries (strongswan.sh lifts the gate; on an
  # emulated platform, imgtool does, from the holder).
  : >"$IMGTOOL_RUN/lab.log"
  if nft_works_here; then
    if [ -f "$IMGTOOL_CONF/firewall.nft" ]; then
      nft -f "$IMGTOOL_CONF/firewall.nft" 2>>"$IMGTOOL_RUN/lab.log" || true
    fi
    nft -f "$IMGTOOL_CONF/nat.nft" || die "loading imgtool's NAT failed"
    nft -f "$IMGTOOL_CONF/gate.nft" || die "loading imgtool's IKE gate failed"
  else
    wait_for_outside_firewall
  fi
else
  [ -f "$IMGTOOL_CONF/firewall.nft" ] || die "no $IMGTOOL_CONF/firewall.nft: a gateway needs its ruleset"
  if firewall_from_outside; then
    wait_for_outside_firewall
  elif ! nft -f "$IMGTOOL_CONF/firewall.nft" 2>"$IMGTOOL_RUN/nft.err"; then
    grep -q 'Protocol not supported' "$IMGTOOL_RUN/nft.err" || { cat "$IMGTOOL_RUN/nft.err" >&2; die "loading the firewall failed"; }
    wait_for_outside_firewall
  fi
fi
charon_config
run_and_supervise_charon
