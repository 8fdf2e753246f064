#!/bin/sh
# Gateway: network, firewall and NAT (/etc/imgtool/firewall.nft, made by
# imgtool from the scenario), then charon. A gateway never runs open: without
# a ruleset it refuses to start.
set -eu
. /usr/local/lib/imgtool/node.sh
. /usr/local/lib/imgtool/strongswan.sh
net_up
[ -f "$IMGTOOL_CONF/firewall.nft" ] || die "no $IMGTOOL_CONF/firewall.nft: a gateway needs its ruleset"
nft -f "$IMGTOOL_CONF/firewall.nft" || die "loading the firewall failed"
charon_config
run_charon
initiate_children
mark_ready
wait "$charon"
