#!/bin/sh
# Healthy once start-up finished and every child SA named in
# /etc/imgtool/children (one name per line) is INSTALLED.
test -e /run/imgtool/ready || exit 1
[ -f /etc/imgtool/children ] || exit 0
sas=$(swanctl --list-sas --raw 2>/dev/null) || exit 1
while read -r child; do
  [ -n "$child" ] || continue
  printf '%s\n' "$sas" | grep -q "name=$child [^}]*state=INSTALLED" || exit 1
done </etc/imgtool/children
exit 0
