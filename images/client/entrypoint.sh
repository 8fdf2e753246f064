#!/bin/sh
# Client: the node's links and routes; `--serve [PORT]` also runs the
# request/reply service. Any other arguments are run as the main process.
set -eu
. /usr/local/lib/imgtool/node.sh
net_up
if [ "${1:-}" = --serve ]; then
  port=${2:-8080}
  # One socat per connection; listens on IPv6 and IPv4-mapped IPv4 alike.
  socat "TCP6-LISTEN:$port,ipv6only=0,reuseaddr,fork" EXEC:/usr/local/bin/pong &
  server=$!
  trap 'kill $server; exit 0' TERM INT
  # Ready only once the port is bound.
  until ss -Hltn "sport = :$port" | grep -q .; do sleep 0.02; done
  mark_ready
  wait "$server"
elif [ $# -gt 0 ]; then
  mark_ready
  exec "$@"
else
  mark_ready
  idle
fi
