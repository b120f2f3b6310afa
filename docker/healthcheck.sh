#!/bin/bash
# healthcheck HOST PORT - exit 0 when an SMTP server at HOST:PORT greets with 220 within
# 4 seconds, 1 otherwise. The container's HEALTHCHECK; plain bash (/dev/tcp), so the
# runtime image needs no client tools. It says QUIT so the relay logs a clean session.
# To be replaced by a request to the admin API's /healthz once that exists.
set -u
host=${1:-127.0.0.1}
port=${2:-2525}
exec 3<>"/dev/tcp/${host}/${port}" || exit 1
IFS= read -r -t 4 greeting <&3 || exit 1
printf 'QUIT\r\n' >&3
IFS= read -r -t 2 _ <&3 || true
exec 3<&- 3>&-
case "$greeting" in
  220[\ -]*) exit 0 ;;
  *) echo "unexpected greeting: $greeting" >&2; exit 1 ;;
esac
