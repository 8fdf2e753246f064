#!/bin/sh
# `imgtool lab reload` inside a course-mode gateway, once imgtool has copied
# the student's files in: loads the IKE configuration in the format of $1
# (swanctl or legacy) and prints what its loader said, from which imgtool
# picks the errors. swanctl.conf loads into the running charon. ipsec.conf
# is read by starter when it starts, so starter and its charon are started
# again (strongswan.sh's supervisor does it), never the container. The other
# format's file goes, so that the gateway runs the format the lab holds now.
set -eu
run=/run/imgtool
case "${1:-}" in
  swanctl)
    rm -f /etc/imgtool/ipsec.conf /etc/imgtool/ipsec.secrets
    if [ "$(cat "$run/ike-daemon" 2>/dev/null)" != starter ]; then
      swanctl --load-all --noprompt 2>&1 || true
      exit 0
    fi
    ;;
  legacy) rm -f /etc/swanctl/swanctl.conf ;;
  *) echo "usage: lab-load swanctl|legacy" >&2; exit 2 ;;
esac
before=$(cat "$run/ike.generation")
kill -TERM "$(cat "$run/ike.pid")"
i=0
until [ "$(cat "$run/ike.generation" 2>/dev/null)" != "$before" ] && [ -e "$run/ready" ]; do
  i=$((i + 1))
  [ $i -lt 600 ] || { echo "lab-load: the IKE daemon did not start again within 30 s" >&2; exit 1; }
  sleep 0.05
done
cat "$run/load.log"
