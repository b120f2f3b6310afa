#!/usr/bin/env bash
# tls.sh - STARTTLS in, TLS out: secmx-relay beside Postfix 3.7 configured as the same
# relay, and beside a ceiling, in one run (issue 21, points 1 and 2).
#
# Cases, each in --modes conn (one message per connection, a full STARTTLS handshake each)
# and reuse (all of a session's messages over one connection):
#   ceiling         smtp-load --starttls -> tls-sink (terminates TLS, stores nothing)
#   relay-accept    smtp-load --starttls -> secmx-relay, [delivery] pause = true
#   relay-e2e       smtp-load --starttls -> secmx-relay -> tls-sink (route tls = "encrypt")
#   postfix-accept  smtp-load --starttls -> Postfix (defer_transports = smtp)
#   postfix-e2e     smtp-load --starttls -> Postfix -> tls-sink (relayhost, TLS encrypt,
#                   connection cache and TLS connection reuse)
#   internal        smtp-source -> an internal Postfix (relayhost = the relay, TLS encrypt,
#                   connection cache) -> secmx-relay -> tls-sink; smtp-source -d in reuse
# relay-e2e runs once per kind of --outbound, in the same repetition, one after the other
# (the order turns by one each repetition):
#   encrypt  the route above (tls = "encrypt", no authentication; log tls=TLSv.../none)
#   dane     no route: discovery in a DNSSEC-signed zone (bench/deliver/auth.sh's world:
#            nsd behind a validating unbound, MX mx.bench-dest.example, its A = tls-sink,
#            TLSA 3 1 1 for the certificate tls-sink serves), [dns] dnssec = true. Every
#            delivery must log method=mx, tls=TLSv.../dane and dnssec=secure.
#   sts      no route, unsigned zone, an MTA-STS enforce policy for the MX served over
#            HTTPS on STS_ADDR:443 (127.0.0.37); the bench CA in delivery.ca_file. Every
#            delivery must log method=mx and tls=TLSv.../mta-sts, and the policy must be
#            fetched exactly once.
#   The rows are relay-e2e, relay-e2e-dane and relay-e2e-sts; the report adds a table of
#   their medians over the repetitions and the ratios to encrypt. Postfix is the peer of
#   the encrypt route only (its own DANE is not measured).
# Per case: msg/s (accept: messages / smtp-load wall time; e2e: messages / time from the
# first connect until the sink has the last one), latency end of DATA -> 250 (p50/p90/p99),
# CPU ms per message of the server under test (relay: all threads; Postfix: the master and
# all its processes) and of tls-sink, the relay's peak RssAnon, and lost = 0 checked (the
# sink's count, the relay's status=sent lines with tls=TLSv..., --queue-dump; Postfix:
# its queue files and status=sent lines), and the CPU ms per message of the client
# (smtp-load or smtp-source: the other side of every handshake, on the same cores). A lost
# message, a failed reply, a deferral or an unauthenticated delivery in a dane or sts
# case exits 1.
#
# Options (environment form in capitals):
#   --count N        COUNT     messages per case (5000)
#   --size BYTES     SIZE      message body (4096)
#   --sessions N     SESSIONS  concurrent sessions (20)
#   --modes LIST     MODES     "conn reuse"
#   --cases LIST     CASES     "ceiling relay-accept relay-e2e postfix-accept postfix-e2e internal"
#   --outbound LIST  OUTBOUND  the relay's outbound side in relay-e2e: any of "encrypt dane
#                              sts" (encrypt); dane and sts need nsd, ldnsutils, unbound
#   --repeat N       REPEAT    run every mode and case N times, interleaved (1)
#   --profile perf   PROFILE   perf record -g on the relay in relay-e2e (marked; slower)
#   --out FILE       OUT       markdown report (bench/results/tls-<UTC time>.md, plus .tsv)
#   --keep           KEEP=1    keep the temp dir
#   --load-flags F   LOAD_FLAGS more smtp-load flags, e.g. --resume (TLS session resumption)
#   --key TYPE       KEY_TYPE  rsa|ecdsa|both (rsa): the certificate(s) every TLS server in
#                    the run serves - the relay, both Postfix instances and tls-sink alike.
#                    rsa: RSA 2048 only; ecdsa: ECDSA P-256 only; both: RSA and ECDSA, the
#                    client picks (OpenSSL clients take ECDSA) - tls-sink takes one pair, so
#                    it serves ECDSA. The report says what each server was seen to serve.
# Needs root (Postfix), Postfix 3.7 (master, smtpd, smtp, tlsproxy; smtp-source), a C
# compiler and libssl-dev, the relay built (RELAY, build/relay/secmx-relay). Fixed
# addresses on loopback: run it in a private network namespace:
#   unshare -n bash -c 'ip link set lo up && bench/tls.sh'
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
# shellcheck source=/dev/null
. "$here/deliver/sinks.sh"
# shellcheck source=/dev/null
. "$here/deliver/tlsload.sh"
# shellcheck source=/dev/null
. "$here/deliver/auth.sh"

COUNT=${COUNT:-5000}
SIZE=${SIZE:-4096}
SESSIONS=${SESSIONS:-20}
MODES=${MODES:-"conn reuse"}
CASES=${CASES:-"ceiling relay-accept relay-e2e postfix-accept postfix-e2e internal"}
PROFILE=${PROFILE:-}
OUT=${OUT:-}
KEEP=${KEEP:-0}
LOAD_FLAGS=${LOAD_FLAGS:-}
KEY_TYPE=${KEY_TYPE:-rsa}
OUTBOUND=${OUTBOUND:-encrypt}
REPEAT=${REPEAT:-1}
RELAY=${RELAY:-$root/build/relay/secmx-relay}
BENCH_DIR=${BENCH_DIR:-/var/tmp}
STALL=${STALL:-60}
RELAY_PORT=2665 ADMIN_PORT=2667
CSINK_ADDR=127.0.0.34 CSINK_PORT=2671
PFR_ADDR=127.0.0.41 PFR_PORT=2672   # Postfix as the relay under comparison
PFI_ADDR=127.0.0.42 PFI_PORT=2673   # the internal Postfix in front of the relay
AUTH_MX=mx.bench-dest.example
STS_ADDR=${STS_ADDR:-127.0.0.37}
AUTH_DELIVERY=${AUTH_DELIVERY:-}
PYTHON=${PYTHON:-/usr/bin/python3}
POSTFIX_DAEMON_DIR=${POSTFIX_DAEMON_DIR:-$(postconf -dh daemon_directory 2>/dev/null || echo /usr/lib/postfix/sbin)}
parse_options "--count:COUNT --size:SIZE --sessions:SESSIONS --modes:MODES --cases:CASES --profile:PROFILE --out:OUT --keep:KEEP=1 --load-flags:LOAD_FLAGS --key:KEY_TYPE --outbound:OUTBOUND --repeat:REPEAT" "$@"
case $KEY_TYPE in rsa|ecdsa|both) ;; *) die "--key: rsa, ecdsa or both, not '$KEY_TYPE'" ;; esac
[[ $REPEAT =~ ^[1-9][0-9]*$ ]] || die "--repeat: a positive number, not '$REPEAT'"
for k in $OUTBOUND; do
  case $k in
    encrypt) ;;
    dane|sts)
      for t in nsd nsd-checkconf ldns-keygen ldns-signzone unbound unbound-checkconf; do
        command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] || die "--outbound $k needs $t (apt-get install nsd ldnsutils unbound)"
      done
      [ -x "$PYTHON" ] || die "--outbound $k needs $PYTHON"
      [ "$k" = dane ] || ! port_busy 443 || die "--outbound sts serves its policy on $STS_ADDR:443, which is in use" ;;
    *) die "--outbound: encrypt, dane or sts, not '$k'" ;;
  esac
done

[ "$(id -u)" = 0 ] || die "needs root (Postfix drops privileges)"
[ -x "$RELAY" ] || die "no relay binary at $RELAY"
[ -x "$POSTFIX_DAEMON_DIR/master" ] && [ -x "$SMTP_SOURCE" ] || die "needs Postfix (master, smtp-source)"
for p in $RELAY_PORT $ADMIN_PORT $CSINK_PORT $PFR_PORT $PFI_PORT; do port_busy "$p" && die "port $p is in use"; done
stamp=$(date -u +%Y%m%dT%H%M%SZ)
[ -n "$OUT" ] || OUT=$here/results/tls-$stamp.md
TSV=${OUT%.md}.tsv
WORK=$(mktemp -d "$BENCH_DIR/secmx-tls.XXXXXX")
chmod 755 "$WORK"
clk_tck=$(getconf CLK_TCK)
sink_pids=() pf_dirs=() relay_pid='' sampler_pid='' prof_pid='' failed=0 sink_pid='' world_pid=''
rep=1 rep_tag=''
cleanup() {
  local p d
  [ -z "$world_pid" ] || kill "$world_pid" 2>/dev/null || true
  [ -z "$prof_pid" ] || kill -INT "$prof_pid" 2>/dev/null || true
  [ -z "$relay_pid" ] || kill -TERM "$relay_pid" 2>/dev/null || true
  [ -z "$sampler_pid" ] || kill "$sampler_pid" 2>/dev/null || true
  for p in "${sink_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for d in "${pf_dirs[@]}"; do pfrelay_stop "$d"; done
  wait 2>/dev/null || true
  [ "$KEEP" = 1 ] && note "kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'note "failed at line $LINENO"' ERR
trap 'exit 130' INT TERM
stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
stop_csink() { stop_sink "$1"; }
load_build
make_cert
[ "$KEY_TYPE" = rsa ] || make_ec_cert
csink_build

ms_per() { awk -v t="$1" -v n="$2" -v hz="$clk_tck" 'BEGIN {printf "%.3f", n ? 1000 * t / hz / n : 0}'; }
rate_of() { awk -v n="$1" -v s="$2" 'BEGIN {printf "%.1f", (s > 0) ? n / s : 0}'; }
load1() { cut -d' ' -f1 /proc/loadavg; }
jqv() { jq -r "$2" <"$1"; }

# One row per case: case mode msg_s wall_s eod_p50 eod_p90 eod_p99 server_cpu_ms sink_cpu_ms rss_kb sent lost load1 note client_cpu_ms rep
printf 'case\tmode\tmsg_s\twall_s\teod_p50_ms\teod_p90_ms\teod_p99_ms\tserver_cpu_ms_per_msg\tsink_cpu_ms_per_msg\trss_anon_kb\tsent\tlost\tload1\tnote\tclient_cpu_ms_per_msg\trep\n' >"$TSV"
# The client's CPU (user + system, from time -f) and the repetition come after the note.
row() { printf '%s\t' "$@" "$(client_ms "$d")" "$rep" | sed 's/\t$/\n/' >>"$TSV"; }
client_ms() { awk -v n="$COUNT" '{printf "%.3f", n ? 1000 * ($1 + $2) / n : 0; exit}' "$1/client.time" 2>/dev/null || echo -; }
check() {  # case-name condition-text ok(0|1)
  [ "$3" = 1 ] || { note "$1: CHECK FAILED: $2"; failed=1; KEEP=1; }
}

# What a server is seen to serve: one STARTTLS handshake by openssl s_client (which, like
# smtp-load, takes ECDSA when offered both), before the case's CPU counters are read.
# Once per kind of server; a signature other than the one --key asks for fails the run.
declare -A served=()
probe_served() {  # name addr port
  [ -z "${served[$1]:-}" ] || return 0
  local sig want=ECDSA
  sig=$(timeout 10 openssl s_client -starttls smtp -connect "$2:$3" -brief </dev/null 2>&1 |
    awk -F': ' '/^Signature type/ {print $2; exit}') || true
  served[$1]=${sig:-none}
  [ "$KEY_TYPE" = rsa ] && want=RSA
  check "$1 certificate" "serves ${sig:-nothing} with --key $KEY_TYPE" "$(case $sig in "$want"*) echo 1 ;; esac)"
}

load_cmd() {  # port mode -> smtp-load command line
  echo "$WORK/smtp-load --starttls ${LOAD_FLAGS:+$LOAD_FLAGS }--sessions $SESSIONS --count $COUNT --mode $2 --size $SIZE 127.0.0.1:$1"
}
# Runs smtp-load into DIR/load.json; its JSON's "failed" must be 0.
run_load() {  # dir port mode [host]
  local cmd; cmd=$(load_cmd "$2" "$3"); [ -z "${4:-}" ] || cmd=${cmd/127.0.0.1:/$4:}
  commands+=("$cmd")
  # shellcheck disable=SC2086  # the command line is split into words, as before
  /usr/bin/time -f '%U %S' -o "$1/client.time" $cmd >"$1/load.json" 2>"$1/load.err" || true
  [ "$(jqv "$1/load.json" .failed 2>/dev/null)" = 0 ] || { note "smtp-load failed ($1): $(cat "$1/load.json" "$1/load.err" | tail -3)"; failed=1; KEEP=1; }
  cp "$1/load.json" "${OUT%.md}.$(basename "$1")$rep_tag.load.json" 2>/dev/null || true
}
lat() { jq -r '"\(.eod_ms_p50)\t\(.eod_ms_p90)\t\(.eod_ms_p99)"' <"$1/load.json" 2>/dev/null || printf -- '-\t-\t-'; }

case_ceiling() {  # mode
  local d=$WORK/rep$rep/ceiling-$1 s0 s1 m
  mkdir -p "$d"
  start_csink "$d/sink.out"; local sp=$sink_pid
  probe_served tls-sink "$CSINK_ADDR" "$CSINK_PORT"
  s0=$(cpu_ticks "$sp")
  run_load "$d" "$CSINK_PORT" "$1" "$CSINK_ADDR"
  s1=$(cpu_ticks "$sp")
  read -r m _ < <(csink_mesg "$d/sink.out")
  stop_sink "$sp"
  check "ceiling $1" "sink has $m of $COUNT" "$([ "$m" = "$COUNT" ] && echo 1)"
  row ceiling "$1" "$(jqv "$d/load.json" .msg_s)" "$(jqv "$d/load.json" .wall_s)" "$(lat "$d")" - "$(ms_per $(( s1 - s0 )) "$COUNT")" - "$m" $(( COUNT - m )) "$(load1)" ""
}

profile_on() {  # dir
  [ "$PROFILE" = perf ] || return 0
  perf record -F 499 -g -o "$1/perf.data" -p "$relay_pid" >"$1/perf.out" 2>&1 &
  prof_pid=$!
  sleep 0.5
}
profile_off() {  # dir name
  [ -n "$prof_pid" ] || return 0
  kill -INT "$prof_pid" 2>/dev/null || true; wait "$prof_pid" 2>/dev/null || true; prof_pid=
  (
    set +e +o pipefail
    echo "# perf record -F 499 -g -p <relay> during $2"
    echo "## self time by shared object"
    perf report -i "$1/perf.data" --stdio --no-children --sort dso -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -20
    echo "## self time by symbol (>= 0.7%)"
    perf report -i "$1/perf.data" --stdio --no-children --sort dso,sym --percent-limit 0.7 -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -70
    echo "## libcrypto by symbol (>= 0.3% of all)"
    perf report -i "$1/perf.data" --stdio --no-children --dsos libcrypto.so.3 --sort sym --percent-limit 0.3 -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -40
    echo "## self time by thread"
    perf report -i "$1/perf.data" --stdio --no-children --sort pid -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -15
  ) >"${OUT%.md}.$2$rep_tag.perf.txt"
}

case_relay() {  # mode accept|e2e [encrypt|dane|sts]
  local kind=${3:-encrypt} name=relay-$2 c0 c1 s0=0 s1=0 t0 t1 m=0 sp='' pause=true q sent stls defer rss auth=''
  [ "$kind" = encrypt ] || { name=relay-$2-$kind; auth=$kind; }
  local d=$WORK/rep$rep/$name-$1
  [ "$2" = e2e ] && pause=false
  if [ -n "$auth" ]; then
    mkdir -p "$d"
    world_start "$auth" "$d"
    auth_relay_lines "$auth" "$d"
  fi
  write_tls_relay_config "$d" "$pause" "" "$auth"
  if [ "$2" = e2e ]; then start_csink "$d/sink.out"; sp=$sink_pid; s0=$(cpu_ticks "$sp"); fi
  start_tls_relay "$d"
  probe_served relay 127.0.0.1 "$RELAY_PORT"
  [ "$2" = e2e ] && profile_on "$d"
  c0=$(cpu_ticks "$relay_pid"); t0=$(now)
  run_load "$d" "$RELAY_PORT" "$1"
  if [ "$2" = e2e ]; then
    t1=$(wait_csink "$d/sink.out" "$COUNT" "$STALL") || note "$name $1: the sink stalled"
    s1=$(cpu_ticks "$sp")
  else
    t1=$(now)
  fi
  c1=$(cpu_ticks "$relay_pid")
  [ "$2" = e2e ] && profile_off "$d" "$name-$1"
  sleep 0.3
  stop_tls_relay "$d"
  rss=$(cat "$d/rssanon.max")
  [ -z "$sp" ] || { read -r m _ < <(csink_mesg "$d/sink.out"); stop_sink "$sp"; }
  q=$(relay_queued "$d")
  read -r sent stls defer < <(relay_sent "$d")
  local wall rate lost rnote=${PROFILE:+profiled}
  if [ -n "$auth" ]; then
    # Found by discovery and authenticated as the kind requires, every one, none deferred.
    local asent aok
    world_stop "$d"
    read -r asent aok < <(auth_sent "$d/relay.log" "$auth")
    check "$name $1" "$aok of $COUNT deliveries say method=mx and $auth ($asent sent, $defer deferred), e.g.: $(grep 'status=' "$d/relay.log" | grep -v "tls=TLSv[^,]*/$AUTH_RX," | head -1)" \
      "$([ "$aok" = "$COUNT" ] && [ "$defer" = 0 ] && echo 1)"
    rnote="${rnote:+$rnote; }DNS queries $world_queries"
    if [ "$auth" = sts ]; then
      rnote="$rnote; policy fetches $world_requests"
      check "$name $1" "the MTA-STS policy was fetched $world_requests times, expected once" "$([ "$world_requests" = 1 ] && echo 1)"
    fi
    AUTH_RX=''
  fi
  if [ "$2" = e2e ]; then
    check "$name $1" "sink $m, status=sent $sent (TLS $stls), queue $q of $COUNT" \
      "$([ "$m" = "$COUNT" ] && [ "$sent" = "$COUNT" ] && [ "$stls" = "$COUNT" ] && [ "$q" = 0 ] && echo 1)"
    wall=$(fsub "$t0" "$t1"); rate=$(rate_of "$COUNT" "$wall"); lost=$(( COUNT - m ))
  else
    check "relay-accept $1" "queue holds $q of $COUNT" "$([ "$q" = "$COUNT" ] && echo 1)"
    wall=$(jqv "$d/load.json" .wall_s); rate=$(jqv "$d/load.json" .msg_s); sent=$q; lost=$(( COUNT - q ))
  fi
  row "$name" "$1" "$rate" "$wall" "$(lat "$d")" "$(ms_per $(( c1 - c0 )) "$COUNT")" \
    "$([ "$2" = e2e ] && ms_per $(( s1 - s0 )) "$COUNT" || echo -)" "$rss" "$sent" "$lost" "$(load1)" "$rnote"
  [ "$KEEP" = 1 ] || rm -rf "$d/queue"
}

wait_pf_queue() {  # dir want: the instance's queue holds WANT (bounded)
  local i
  for i in $(seq 1 600); do [ "$(pfrelay_queued "$1")" = "$2" ] && return 0; sleep 0.1; done
  return 1
}
case_postfix() {  # mode accept|e2e
  local d=$WORK/rep$rep/pf-$2-$1 c0 c1 s0=0 s1=0 t0 t1 m=0 sp='' hold=yes q sent
  [ "$2" = e2e ] && hold=no
  mkdir -p "$d"
  if [ "$2" = e2e ]; then start_csink "$d/sink.out"; sp=$sink_pid; s0=$(cpu_ticks "$sp"); fi
  pfrelay_start "$d/pf" "$PFR_ADDR" "$PFR_PORT" "[$CSINK_ADDR]:$CSINK_PORT" "$hold"
  probe_served postfix "$PFR_ADDR" "$PFR_PORT"
  sleep 0.5
  c0=$(pfrelay_ticks "$d/pf"); t0=$(now)
  run_load "$d" "$PFR_PORT" "$1" "$PFR_ADDR"
  if [ "$2" = e2e ]; then
    t1=$(wait_csink "$d/sink.out" "$COUNT" "$STALL") || note "postfix-e2e $1: the sink stalled"
    s1=$(cpu_ticks "$sp")
  else
    t1=$(now)
    wait_pf_queue "$d/pf" "$COUNT" || true
  fi
  c1=$(pfrelay_ticks "$d/pf")
  sleep 0.5
  q=$(pfrelay_queued "$d/pf"); sent=$(pfrelay_sent "$d/pf")
  pfrelay_stop "$d/pf"
  [ -z "$sp" ] || { read -r m _ < <(csink_mesg "$d/sink.out"); stop_sink "$sp"; }
  local wall rate lost
  if [ "$2" = e2e ]; then
    check "postfix-e2e $1" "sink $m, status=sent $sent, queue $q of $COUNT" \
      "$([ "$m" = "$COUNT" ] && [ "$sent" = "$COUNT" ] && [ "$q" = 0 ] && echo 1)"
    wall=$(fsub "$t0" "$t1"); rate=$(rate_of "$COUNT" "$wall"); lost=$(( COUNT - m ))
  else
    check "postfix-accept $1" "queue holds $q of $COUNT" "$([ "$q" = "$COUNT" ] && echo 1)"
    wall=$(jqv "$d/load.json" .wall_s); rate=$(jqv "$d/load.json" .msg_s); sent=$q; lost=$(( COUNT - q ))
  fi
  row "postfix-$2" "$1" "$rate" "$wall" "$(lat "$d")" "$(ms_per $(( c1 - c0 )) "$COUNT")" \
    "$([ "$2" = e2e ] && ms_per $(( s1 - s0 )) "$COUNT" || echo -)" - "$sent" "$lost" "$(load1)" ""
  [ "$KEEP" = 1 ] || rm -rf "$d/pf/queue"
}

# An internal Postfix relays through secmx-relay: the relay's CPU and the internal
# Postfix's CPU per message are both reported (server = relay; sink column = Postfix).
case_internal() {  # mode
  local d=$WORK/rep$rep/internal-$1 c0 c1 p0 p1 t0 t1 m sp q sent stls defer pfsent rss flag=
  [ "$1" = reuse ] && flag=-d
  write_tls_relay_config "$d" false
  start_csink "$d/sink.out"; sp=$sink_pid
  start_tls_relay "$d"
  pfrelay_start "$d/pf" "$PFI_ADDR" "$PFI_PORT" "[127.0.0.1]:$RELAY_PORT" no
  sleep 0.5
  c0=$(cpu_ticks "$relay_pid"); p0=$(pfrelay_ticks "$d/pf"); t0=$(now)
  local cmd="$SMTP_SOURCE ${flag:+$flag }-s $SESSIONS -m $COUNT -l $SIZE -M bench.example -f sender@bench.example -t rcpt@bench-dest.example $PFI_ADDR:$PFI_PORT"
  commands+=("$cmd")
  # shellcheck disable=SC2086  # the command line is split into words, as before
  /usr/bin/time -f '%U %S' -o "$d/client.time" $cmd >"$d/source.out" 2>&1 || { note "smtp-source failed: $(tail -3 "$d/source.out")"; failed=1; }
  t1=$(wait_csink "$d/sink.out" "$COUNT" "$STALL") || note "internal $1: the sink stalled"
  c1=$(cpu_ticks "$relay_pid"); p1=$(pfrelay_ticks "$d/pf")
  sleep 0.5
  q=$(pfrelay_queued "$d/pf"); pfsent=$(pfrelay_sent "$d/pf")
  pfrelay_stop "$d/pf"
  stop_tls_relay "$d"
  rss=$(cat "$d/rssanon.max")
  read -r m _ < <(csink_mesg "$d/sink.out"); stop_sink "$sp"
  local rq; rq=$(relay_queued "$d")
  read -r sent stls defer < <(relay_sent "$d")
  local tlsin; tlsin=$(grep -c 'TLS connection established to' "$d/pf/postfix.log" || true)
  check "internal $1" "sink $m, relay status=sent $sent (TLS $stls), Postfix sent $pfsent, queues $q + $rq" \
    "$([ "$m" = "$COUNT" ] && [ "$sent" = "$COUNT" ] && [ "$stls" = "$COUNT" ] && [ "$pfsent" = "$COUNT" ] && [ "$q" = 0 ] && [ "$rq" = 0 ] && echo 1)"
  local wall; wall=$(fsub "$t0" "$t1")
  row internal "$1" "$(rate_of "$COUNT" "$wall")" "$wall" - - - "$(ms_per $(( c1 - c0 )) "$COUNT")" \
    "$(ms_per $(( p1 - p0 )) "$COUNT")" "$rss" "$sent" $(( COUNT - m )) "$(load1)" "Postfix->relay TLS connections: $tlsin"
  [ "$KEEP" = 1 ] || rm -rf "$d/queue" "$d/pf/queue"
}

fsub() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", b-a}'; }
commands=()
load_start=$(cat /proc/loadavg)
# The outbound kinds in the order of repetition N: turned by N-1, so that no kind always
# runs first (or last) in a repetition.
outbound_order() {  # n
  local kinds; read -r -a kinds <<<"$OUTBOUND"
  local i n=${#kinds[@]}
  for (( i = 0; i < n; i++ )); do printf '%s ' "${kinds[(i + $1 - 1) % n]}"; done
}
for rep in $(seq 1 "$REPEAT"); do
  [ "$REPEAT" = 1 ] || rep_tag=.rep$rep
  for mode in $MODES; do
    for c in $CASES; do
      case $c in
        ceiling) note "$c ($mode, rep $rep)"; case_ceiling "$mode" ;;
        relay-accept) note "$c ($mode, rep $rep)"; case_relay "$mode" accept ;;
        relay-e2e)
          for k in $(outbound_order "$rep"); do note "$c $k ($mode, rep $rep)"; case_relay "$mode" e2e "$k"; done ;;
        postfix-accept) note "$c ($mode, rep $rep)"; case_postfix "$mode" accept ;;
        postfix-e2e) note "$c ($mode, rep $rep)"; case_postfix "$mode" e2e ;;
        internal) note "$c ($mode, rep $rep)"; case_internal "$mode" ;;
        *) die "unknown case $c" ;;
      esac
    done
  done
done

# ---------------------------------------------------------------- report
{
  echo "# bench/tls.sh $stamp"
  echo
  echo "Machine: $(nproc) CPUs, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo); kernel $(uname -r); load at start: $load_start; at end: $(cat /proc/loadavg)"
  echo "Relay: $RELAY ($(relay_flags)); Postfix $(postconf -dh mail_version); OpenSSL $(openssl version | cut -d' ' -f2); queue dirs under $BENCH_DIR ($(stat -f -c %T "$BENCH_DIR"))"
  echo "$COUNT messages of $SIZE bytes per case, $SESSIONS sessions; $REPEAT repetition(s); relay outbound: $OUTBOUND."
  echo "Server certificates (--key $KEY_TYPE): $(case $KEY_TYPE in rsa) echo "RSA 2048" ;; ecdsa) echo "ECDSA P-256" ;; both) echo "RSA 2048 and ECDSA P-256 (tls-sink: ECDSA P-256)" ;; esac) on every server; seen served (openssl s_client):$(for k in relay postfix tls-sink; do [ -z "${served[$k]:-}" ] || printf ' %s %s;' "$k" "${served[$k]}"; done | sed 's/;$//')."
  echo
  echo "| rep | case | mode | msg/s | × Postfix | × ceiling | EOD→250 p50/p90/p99 ms | CPU ms/msg (server) | CPU ms/msg (tls-sink or internal Postfix) | CPU ms/msg (client) | peak RssAnon KiB | delivered/queued | lost | load1 |"
  echo "|---:|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"
  awk -F'\t' 'NR == 1 {next} {r[$1 "/" $2 "/" $16] = $3; line[NR] = $0}
    END {
      for (i = 2; i in line; i++) {
        split(line[i], f, "\t"); c = f[1]; m = f[2]; k = f[16]
        base = (c ~ /e2e|internal/) ? "postfix-e2e" : "postfix-accept"
        pf = r[base "/" m "/" k]; ce = r["ceiling/" m "/" k]
        xp = (c ~ /^postfix|^ceiling/ || pf == "") ? "" : sprintf("%.2f", f[3] / pf)
        xc = (ce == "" || c == "ceiling") ? "" : sprintf("%.2f", f[3] / ce)
        lat = (f[5] == "-") ? "-" : f[5] " / " f[6] " / " f[7]
        printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", k, c, m, f[3], xp, xc, lat, f[8], f[9], f[15], f[10], f[11], f[12], f[13]
      }
    }' "$TSV"
  if [ "$OUTBOUND" != encrypt ]; then
    echo
    echo "Relay end to end by outbound side (median over the repetitions; × encrypt: ratio of the medians, and the median of each repetition's ratio):"
    echo
    echo "| mode | outbound | reps | msg/s median (min-max) | × encrypt (medians) | × encrypt (median of ratios) | relay CPU ms/msg median | × encrypt CPU | load1 |"
    echo "|---|---|---:|---|---:|---:|---:|---:|---|"
    awk -F'\t' -v kinds="$OUTBOUND" -v modes="$MODES" '
      function median(a, n,   i, j, t) {  # sorts a[1..n] in place
        for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
      }
      NR > 1 && $1 ~ /^relay-e2e/ {
        k = ($1 == "relay-e2e") ? "encrypt" : substr($1, 11)
        rate[$2, k, $16] = $3 + 0; cpu[$2, k, $16] = $8 + 0; ld[$2, k, $16] = $13; reps[$16] = 1
      }
      END {
        nm = split(modes, ms, " "); nk = split(kinds, ks, " ")
        for (a = 1; a <= nm; a++) {
          m = ms[a]
          for (b = 1; b <= nk; b++) {  # all medians first: encrypt may come later
            k = ks[b]; n = 0; nr = 0; lo = ""; hi = ""; l = ""
            split("", v); split("", c); split("", rr)
            for (r = 1; r in reps; r++) if ((m, k, r) in rate) {
              n++; v[n] = rate[m, k, r]; c[n] = cpu[m, k, r]; l = l (l == "" ? "" : ", ") ld[m, k, r]
              if ((m, "encrypt", r) in rate && rate[m, "encrypt", r] > 0) rr[++nr] = rate[m, k, r] / rate[m, "encrypt", r]
            }
            cnt[k] = n; load[k] = l
            if (n == 0) continue
            for (i = 1; i <= n; i++) { if (lo == "" || v[i] + 0 < lo + 0) lo = v[i]; if (hi == "" || v[i] + 0 > hi + 0) hi = v[i] }
            range[k] = lo "-" hi; med[k] = median(v, n); cmed[k] = median(c, n)
            rmed[k] = nr ? median(rr, nr) : ""
          }
          for (b = 1; b <= nk; b++) {
            k = ks[b]
            if (cnt[k] == 0) continue
            base = (k != "encrypt" && cnt["encrypt"] > 0)
            xr = base ? sprintf("%.0f %%", 100 * med[k] / med["encrypt"]) : ""
            xm = (base && rmed[k] != "") ? sprintf("%.0f %%", 100 * rmed[k]) : ""
            xc = (base && cmed["encrypt"] > 0) ? sprintf("%.0f %%", 100 * cmed[k] / cmed["encrypt"]) : ""
            printf "| %s | %s | %d | %.1f (%s) | %s | %s | %.3f | %s | %s |\n", m, k, cnt[k], med[k], range[k], xr, xm, cmed[k], xc, load[k]
          }
        }
      }' "$TSV"
  fi
  echo
  echo "Notes per row:"; awk -F'\t' 'NR > 1 && $14 != "" {print "- " $1 " " $2 ": " $14}' "$TSV"
  echo
  echo "Commands:"; printf -- '- `%s`\n' "${commands[@]}" | sort -u
  [ "$failed" = 0 ] && echo && echo "All checks passed: nothing lost." || { echo; echo "**CHECKS FAILED** (see stderr)"; }
} >"$OUT"
cat "$OUT"
exit "$failed"
