# send.sh - the cases plain, plain-noaudit, tls and tlsc of bench/deliver.sh (sourced by it, not run):
# smtp-source -> relay -> a sink, on a fresh relay and queue, after its own ceiling run.
#   plain  smtp-sink -c on $DEST_ADDR ([[route]] for the bench domain, no TLS)
#   plain-noaudit  the same with [audit] enabled = false
#   tls    the private Postfix smtpd on $TLS_ADDR (STARTTLS), smtp-sink behind it
#   tlsc   tls-sink on $CSINK_ADDR
# tls and tlsc route with tls = "encrypt": every delivery must be TLS (e2e_case checks the
# relay log's tls=TLSv... on each).
# shellcheck shell=bash disable=SC2034,SC2154 # globals: bench/deliver.sh's

# name route-host route-tls sink [extra-tables]: ceiling, fresh relay, send and deliver,
# measure.
send_case() {
  local cs
  ceiling_run "$R" "$1"; cs=$ceil_s
  write_config "$R/$1" false "$2" "$3" "" "" "${5:-}"
  e2e_case "$1" "$rep" "$R/$1" send "$4" 0 "$cs"
  [ "$KEEP" = 1 ] || rm -rf "$R/$1/queue"
}

case_plain() { send_case plain "[$DEST_ADDR]:$DEST_PORT" "" plain; }
case_plain_noaudit() {
  send_case plain-noaudit "[$DEST_ADDR]:$DEST_PORT" "" plain $'[audit]\nenabled = false'
}
case_tls() { send_case tls "[$TLS_ADDR]:$TLS_PORT" encrypt tls; }
case_tlsc() { send_case tlsc "[$CSINK_ADDR]:$CSINK_PORT" encrypt csink; }
