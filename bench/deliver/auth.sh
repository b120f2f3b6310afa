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
#   dane-rpt, sts-rpt  the same as dane and sts, with TLS reporting on ([tlsrpt] enabled,
#         from = tlsrpt@relay.bench.example): each session is counted durably, in the
#         transaction that commits the message's outcome. Checked on the running relay
#         after the measurement: the day's counts for bench-dest.example (GET /api/v1/tlsrpt)
#         have no failure and at least one and at most COUNT successes (one per session,
#         sessions on a cached connection included or not), and
#         secmx_tls_sessions_total{policy=tlsa|sts,result=success} says the same number.
# bench/deliver/authworld.py runs the DNS (and the policy host) for the case: started
# before the relay, stopped after it; its pid is in $world_pid for deliver.sh's cleanup.
# bench/tls.sh --outbound dane|sts uses the same world, relay lines and checks
# (world_start, world_stop, auth_relay_lines, auth_sent) for its STARTTLS-in cases.
# shellcheck shell=bash disable=SC2034,SC2153,SC2154 # globals: bench/deliver.sh's

# What the tls= field's last part (DESIGN §10: dane, mta-sts, pkix or none) must say on
# every delivery of the case.
AUTH_DANE_RX=dane
AUTH_STS_RX=mta-sts

world_start() {  # kind dir -> world_pid, world_dns, world_ca
  local kind=$1 w=$2/world i sts=()
  rm -rf "$w"; mkdir -p "$w"
  [ "$kind" = sts ] && sts=("$STS_ADDR")
  # The TLSA record is for the certificate tls-sink serves (csink_pair: ECDSA under --key
  # ecdsa|both), not always the RSA one.
  local served; served=$(csink_pair); served=${served%% *}
  "$PYTHON" "$here/deliver/authworld.py" "$kind" "$w" bench-dest.example "$AUTH_MX" \
    "$CSINK_ADDR" "$CSINK_PORT" "$served" "${sts[@]}" >"$w/out" 2>&1 &
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

# The relay's side of a started world: [dns] lines (its resolver; dnssec on for dane),
# [delivery] lines (the sink's port for MX targets, AUTH_DELIVERY; for sts the bench CA and
# the policy host's CA in DIR/ca-bundle.pem), extra tables ([mta_sts] for sts) and the
# tls= suffix every delivery must show (AUTH_RX).
auth_relay_lines() {  # dane|sts dir -> auth_dns, auth_delivery, auth_tables, AUTH_RX
  auth_dns="servers = [\"$world_dns\"]" auth_tables=''
  auth_delivery="port = $CSINK_PORT
${AUTH_DELIVERY:-}"
  if [ "$1" = dane ]; then
    auth_dns="$auth_dns
dnssec = true"
    AUTH_RX=$AUTH_DANE_RX
  else
    cat "$WORK/tls/ca.pem" "$world_ca" >"$2/ca-bundle.pem"
    auth_delivery="$auth_delivery
ca_file = \"$2/ca-bundle.pem\""
    auth_tables="[mta_sts]
enabled = true"
    AUTH_RX=$AUTH_STS_RX
  fi
}

# status=sent lines for DOMAIN-REGEX in a relay log, and how many of them were found by
# discovery (method=mx) and authenticated as KIND requires: tls=TLSv.../dane with
# dnssec=secure, or tls=TLSv.../mta-sts. Any recipient local part.
auth_sent() {  # relay-log dane|sts [domain-regex] -> "sent authenticated"
  awk -v kind="$2" -v d="${3:-bench-dest\\.example}" '
    / delivery: / && $0 ~ ("to=<[^>]*@" d ">") && /status=sent/ {
      s++
      if (!/ method=mx, /) next
      if (kind == "dane" && /tls=TLSv[^,]*\/dane,/ && /dnssec=secure,/) a++
      else if (kind == "sts" && /tls=TLSv[^,]*\/mta-sts,/) a++
    }
    END {print s + 0, a + 0}' "$1"
}

auth_case() {  # dane|sts [rpt]
  local kind=$1 name=$1${2:+-$2} dir cs tables
  dir=$R/$name
  ceiling_run "$R" "$name"; cs=$ceil_s
  csink_build
  mkdir -p "$dir"
  world_start "$kind" "$dir"
  auth_relay_lines "$kind" "$dir"
  tables=$auth_tables
  if [ "${2:-}" = rpt ]; then
    tables="$tables
[tlsrpt]
enabled = true
from = \"tlsrpt@relay.bench.example\""
    rpt_policy=tlsa; [ "$kind" = sts ] && rpt_policy=sts
    rpt_name=$name; rpt_day0=$(date -u +%F)
    CASE_CHECK=rpt_check
  fi
  write_config "$dir" false "" "" "$auth_dns" "$auth_delivery" "$tables"
  e2e_case "$name" "$rep" "$dir" send csink 0 "$cs"
  AUTH_RX=''; CASE_CHECK=''
  world_stop "$dir"
  # Discovery, not a route, must have found the sink; for dane from secure answers.
  local sent by_mx
  read -r sent by_mx < <(auth_sent "$dir/relay.log" "$kind")
  [ "$by_mx" = "$COUNT" ] || { note "$name: $by_mx of $COUNT deliveries ($sent sent) say method=mx and $kind"; failed=1; KEEP=1; }
  anotes+=("$name (rep $rep): the resolver answered $world_queries DNS queries for $COUNT messages (the relay's cache answers the rest)")
  if [ "$kind" = sts ]; then
    anotes+=("$name (rep $rep): the relay fetched the MTA-STS policy $world_requests time(s) for $COUNT messages")
    [ "$world_requests" = 1 ] || { note "$name: the policy was fetched $world_requests times, expected once"; failed=1; }
  fi
  [ "$KEEP" = 1 ] || rm -rf "$dir/queue"
}

# dane-rpt, sts-rpt (CASE_CHECK of e2e_case, the relay still running, every outcome
# committed): what TLS reporting counted for the bench domain, by the admin API (the days
# the case spanned, UTC) and by /metrics.
rpt_check() {  # dir
  local dir=$1 day ok=0 bad=0 s f m auth
  auth="Authorization: Bearer $(cat "$dir/admin.token")"
  for day in $(printf '%s\n' "$rpt_day0" "$(date -u +%F)" | sort -u); do
    read -r s f < <(curl -s --max-time 30 -H "$auth" "http://127.0.0.1:$ADMIN_PORT/api/v1/tlsrpt?day=$day" |
      jq -r '[.domains[]? | select(.domain == "bench-dest.example")] |
             "\(map(.success) | add // 0) \(map(.failure) | add // 0)"' 2>/dev/null || echo "? ?")
    s=${s//[!0-9]/}; f=${f//[!0-9]/}
    ok=$(( ok + ${s:-0} )); bad=$(( bad + ${f:-0} ))
  done
  m=$(curl -s --max-time 30 -H "$auth" "http://127.0.0.1:$ADMIN_PORT/metrics" |
    awk -v p="policy=\"$rpt_policy\"" '/^secmx_tls_sessions_total\{/ && index($0, p) && /result="success"/ {printf "%d", $2}')
  anotes+=("$rpt_name (rep $rep): TLS reporting counted $ok successful and $bad failed sessions for bench-dest.example ($COUNT messages); secmx_tls_sessions_total{policy=\"$rpt_policy\",result=\"success\"} = ${m:-missing}")
  if [ "$bad" != 0 ] || [ "$ok" -lt 1 ] || [ "$ok" -gt "$COUNT" ] || [ "${m:-}" != "$ok" ]; then
    note "$rpt_name: CHECK FAILED: counted $ok successes and $bad failures for $COUNT messages, metric ${m:-missing}"
    failed=1; KEEP=1
  fi
}

case_dane() { auth_case dane; }
case_sts() { auth_case sts; }
case_dane_rpt() { auth_case dane rpt; }
case_sts_rpt() { auth_case sts rpt; }
