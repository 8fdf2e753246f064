#!/bin/sh
# A strongSwan host: network, then charon with the configuration imgtool
# mounted at /etc/swanctl.
set -eu
. /usr/local/lib/imgtool/node.sh
. /usr/local/lib/imgtool/strongswan.sh
net_up
charon_config
run_and_supervise_charon
