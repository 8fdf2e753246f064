#!/bin/sh
# Router: the node's links and routes, then idle. Forwarding is the
# net.ipv4.ip_forward / net.ipv6.conf.all.forwarding sysctls imgtool sets.
set -eu
. /usr/local/lib/imgtool/node.sh
net_up
mark_ready
idle
