#!/bin/sh
# One HTTP/1.0 exchange on stdin/stdout: GET /ping?id=ID -> "pong ID HOSTNAME".
cr=$(printf '\r')
read -r method target _ || exit 0
while read -r line; do [ "${line%"$cr"}" = "" ] && break; done
id=${target#*id=}
[ "$id" = "$target" ] && id=""
id=${id%%&*}
case "$id" in *[!A-Za-z0-9_-]*) id=invalid ;; esac
if [ "$method" != GET ] || [ "${target%%\?*}" != /ping ]; then
  printf 'HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'
  exit 0
fi
body="pong $id $(hostname)"
printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s\n' \
  "$((${#body} + 1))" "$body"
