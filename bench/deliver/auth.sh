# auth.sh - the cases dane and sts of bench/deliver.sh (sourced by it, not run):
# authenticated delivery, measured exactly as tlsc (tls-sink on $CSINK_ADDR:$CSINK_PORT,
# the same certificate, count, size and sessions), but the relay finds the sink by
# discovery instead of a [[route]]: bench-dest.example MX 10 $AUTH_MX, $AUTH_MX A
# $CSINK_ADDR, and delivery.port = $CSINK_PORT (the port of MX targets; an SRV record
# would make the sink a SecMX host instead, a different policy path).
#   dane  the zone is DNSSEC-signed (nsd + ldns-signzone behind a validating unbound, from
#         tests/e2e/dnssec_zone.py) with _$CSINK_PORT._tcp.$AUTH_MX TLSA 3 1 1 for the
#         sink's key; the relay has [dns] dnssec = true. Every status=sent line must say
#         the session was authenticated by DANE (tls=.../dane) from secure answers
#         (dnssec=secure).
#   sts   the zone is unsigned (dnssec off) and bench-dest.example has an MTA-STS enforce
#         policy for $AUTH_MX, served over HTTPS on $STS_ADDR:443 by tests/e2e/sts_server.py;
#         the relay trusts the bench CA (the sink's certificate) and the policy host's CA
#         through delivery.ca_file. Every status=sent line must say MTA-STS
#         (tls=.../mta-sts), and the policy must have been fetched exactly once.
# bench/deliver/authworld.py runs the DNS (and the policy host) for the case: started
# before the relay, stopped after it; its pid is in $world_pid for deliver.sh's cleanup.
# shellcheck shell=bash disable=SC2034,SC2153,SC2154 # globals: bench/deliver.sh's

# What the tls= field's last part (DESIGN §10: dane, mta-sts, pkix or none) must say on
# every delivery of the case.
AUTH_DANE_RX=dane
AUTH_STS_RX=mta-sts

world_start() {  # kind dir -> world_pid, world_dns, world_ca
  local kind=$1 w=$2/world i sts=()
  rm -rf "$w"; mkdir -p "$w"
  [ "$kind" = sts ] && sts=("$STS_ADDR")
  "$PYTHON" "$here/deliver/authworld.py" "$kind" "$w" bench-dest.example "$AUTH_MX" \
    "$CSINK_ADDR" "$CSINK_PORT" "$WORK/tls/cert.pem" "${sts[@]}" >"$w/out" 2>&1 &
  world_pid=$!
  for i in $(seq 1 600); do
    [ -f "$w/ready" ] && break
    kill -0 "$world_pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -f "$w/ready" ] || die "the $kind case's DNS did not start: $(tail -20 "$w/out")"
  world_dns=$(sed -n 's/.*dns=\([^ ]*\).*/\1/p' "$w/ready")
  world_ca=$(sed -n 's/.*ca=\([^ ]*\).*/\1/p' "$w/ready")
}
world_stop() {  # dir -> world_requests (policy fetches; "-" for dane), world_queries
  stop_pid "$world_pid"; world_pid=
  world_requests=$(sed -n 's/.*policy_requests=\([^ ]*\).*/\1/p' "$1/world/stats" 2>/dev/null)
  world_queries=$(sed -n 's/.*dns_queries=\([^ ]*\).*/\1/p' "$1/world/stats" 2>/dev/null)
  : "${world_requests:=?}" "${world_queries:=?}"
}

auth_case() {  # dane|sts
  local kind=$1 dir=$R/$1 cs dns delivery tables=
  ceiling_run "$R" "$kind"; cs=$ceil_s
  csink_build
  mkdir -p "$dir"
  world_start "$kind" "$dir"
  delivery="port = $CSINK_PORT"
  if [ "$kind" = dane ]; then
    dns="servers = [\"$world_dns\"]
dnssec = true"
    AUTH_RX=$AUTH_DANE_RX
  else
    dns="servers = [\"$world_dns\"]"
    cat "$WORK/tls/ca.pem" "$world_ca" >"$dir/ca-bundle.pem"
    delivery="$delivery
ca_file = \"$dir/ca-bundle.pem\""
    tables="[mta_sts]
enabled = true"
    AUTH_RX=$AUTH_STS_RX
  fi
  write_config "$dir" false "" "" "$dns" "$delivery" "$tables"
  e2e_case "$kind" "$rep" "$dir" send csink 0 "$cs"
  AUTH_RX=
  world_stop "$dir"
  # Discovery, not a route, must have found the sink; for dane from secure answers.
  local by_mx want='method=mx,'
  [ "$kind" = dane ] && want='method=mx,.* dnssec=secure,'
  by_mx=$(grep 'to=<rcpt@bench-dest\.example>' "$dir/relay.log" | grep 'status=sent' | grep -c -- "$want" || true)
  [ "$by_mx" = "$COUNT" ] || { note "$kind: $by_mx of $COUNT deliveries say $want"; failed=1; KEEP=1; }
  anotes+=("$kind (rep $rep): the resolver answered $world_queries DNS queries for $COUNT messages (the relay's cache answers the rest)")
  if [ "$kind" = sts ]; then
    anotes+=("sts (rep $rep): the relay fetched the MTA-STS policy $world_requests time(s) for $COUNT messages")
    [ "$world_requests" = 1 ] || { note "sts: the policy was fetched $world_requests times, expected once"; failed=1; }
  fi
  [ "$KEEP" = 1 ] || rm -rf "$dir/queue"
}

case_dane() { auth_case dane; }
case_sts() { auth_case sts; }
