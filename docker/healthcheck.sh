#!/bin/bash
# healthcheck [HOST [PORT]] - exit 0 when the relay's admin API answers GET /healthz with
# 200 within 4 seconds, 1 otherwise. The container's HEALTHCHECK. /healthz is up when the
# queue store answers and the SMTP listeners are up (docs/admin.md); it needs no token and
# opens no SMTP session, so the check leaves no trace in the mail log. Plain bash
# (/dev/tcp), so the runtime image needs no client tools.
# HOST and PORT default to $SECMX_ADMIN_HOST and $SECMX_ADMIN_PORT, then 127.0.0.1 8025
# (the image's admin.listen).
set -u
host=${1:-${SECMX_ADMIN_HOST:-127.0.0.1}}
port=${2:-${SECMX_ADMIN_PORT:-8025}}
exec 3<>"/dev/tcp/${host}/${port}" || exit 1
printf 'GET /healthz HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$host" >&3
IFS= read -r -t 4 status <&3 || { echo "no answer from ${host}:${port}" >&2; exit 1; }
exec 3<&- 3>&-
case "$status" in
  "HTTP/1."[01]" 200 "*) exit 0 ;;
  *) echo "unhealthy: ${status%$'\r'}" >&2; exit 1 ;;
esac
