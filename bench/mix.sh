#!/usr/bin/env bash
# mix.sh - a realistic mix through secmx-relay (issue 21, point 5): STARTTLS in, TLS out,
# sizes from a fixed distribution (smtp-load --size-dist realistic: 0.5% 10 MiB, 5% 1 MiB,
# the rest log-normal around 20 KiB, median of all ~21 KiB; fixed seed), 10% SOS (header
# X-Secmx-Policy: SOS, matched by a [[policy.rule]]), recipients spread over three
# receivers, each a tls-sink behind a route with tls = "encrypt":
#   fast.bench   answers at once
#   slow.bench   waits --slow-ms (250) before its reply to the end of DATA
#   flaky.bench  answers 451 to --flaky-percent (20) of messages (retried after 2 s)
# First an unthrottled run measures the relay's capacity for this mix (messages accepted
# per second with delivery running); then open-loop runs at 50% and 90% of it (smtp-load
# --rate: messages start on a schedule). Per run: accept rate, p50/p99 of end of DATA ->
# 250 (smtp-load), and p50/p99 of acceptance -> delivery from the relay's status=sent lines
# (delay=, per receiver and for SOS), CPU ms per message, peak RssAnon. Checked: every
# message reaches a sink (the sinks' counts sum to N, the relay logged N status=sent, the
# queue is empty afterwards). Anything else exits 1.
#
# Options (environment form in capitals):
#   --count N             COUNT          messages per run (2000)
#   --sessions N          SESSIONS       concurrent sessions (20)
#   --loads LIST          LOADS          shares of capacity after the capacity run ("0.5 0.9")
#   --slow-ms MS          SLOW_MS        the slow receiver's delay (250)
#   --flaky-percent P     FLAKY_PERCENT  the 4xx-ing receiver's share of 451s (20)
#   --sos-percent P       SOS_PERCENT    (10)
#   --out FILE            OUT            markdown report (bench/results/mix-<UTC time>.md, plus .tsv)
#   --keep                KEEP=1         keep the temp dir
# Needs a C compiler and libssl-dev, jq, the relay built. Run it in a private network
# namespace: unshare -n bash -c 'ip link set lo up && bench/mix.sh'
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
# shellcheck source=/dev/null
. "$here/deliver/sinks.sh"
# shellcheck source=/dev/null
. "$here/deliver/tlsload.sh"

COUNT=${COUNT:-2000}
SESSIONS=${SESSIONS:-20}
LOADS=${LOADS:-"0.5 0.9"}
SLOW_MS=${SLOW_MS:-250}
FLAKY_PERCENT=${FLAKY_PERCENT:-20}
SOS_PERCENT=${SOS_PERCENT:-10}
OUT=${OUT:-}
KEEP=${KEEP:-0}
RELAY=${RELAY:-$root/build/relay/secmx-relay}
BENCH_DIR=${BENCH_DIR:-/var/tmp}
STALL=${STALL:-60}
RELAY_PORT=2685 ADMIN_PORT=2687
CSINK_ADDR=127.0.0.51 CSINK_PORT=2681   # fast (also the bench domain's route)
SLOW_ADDR=127.0.0.52 SLOW_PORT=2682
FLAKY_ADDR=127.0.0.53 FLAKY_PORT=2683
AUTH_MX=mx.bench-dest.example
parse_options "--count:COUNT --sessions:SESSIONS --loads:LOADS --slow-ms:SLOW_MS --flaky-percent:FLAKY_PERCENT --sos-percent:SOS_PERCENT --out:OUT --keep:KEEP=1" "$@"

[ -x "$RELAY" ] || die "no relay binary at $RELAY"
for p in $RELAY_PORT $ADMIN_PORT $CSINK_PORT $SLOW_PORT $FLAKY_PORT; do port_busy "$p" && die "port $p is in use"; done
stamp=$(date -u +%Y%m%dT%H%M%SZ)
[ -n "$OUT" ] || OUT=$here/results/mix-$stamp.md
TSV=${OUT%.md}.tsv
WORK=$(mktemp -d "$BENCH_DIR/secmx-mix.XXXXXX")
chmod 755 "$WORK"
clk_tck=$(getconf CLK_TCK)
sink_pids=() relay_pid='' sampler_pid='' failed=0 sink_pid=''
cleanup() {
  local p
  [ -z "$relay_pid" ] || kill -TERM "$relay_pid" 2>/dev/null || true
  [ -z "$sampler_pid" ] || kill "$sampler_pid" 2>/dev/null || true
  for p in "${sink_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ "$KEEP" = 1 ] && note "kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
load_build
make_cert
csink_build
fsub() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", b-a}'; }

start_receiver() {  # addr port outfile delay-ms tempfail-percent -> sink_pid
  "$WORK/tls-sink" "$1" "$2" "$WORK/tls/cert.pem" "$WORK/tls/key.pem" "$4" "$5" >"$3" 2>"$3.err" &
  sink_pid=$!
  sink_pids+=("$sink_pid")
  wait_listen "$2" "$sink_pid" || die "tls-sink on $1:$2 did not start: $(cat "$3.err")"
}

EXTRA="[[route]]
domain = \"fast.bench\"
host = \"[$CSINK_ADDR]:$CSINK_PORT\"
tls = \"encrypt\"

[[route]]
domain = \"slow.bench\"
host = \"[$SLOW_ADDR]:$SLOW_PORT\"
tls = \"encrypt\"

[[route]]
domain = \"flaky.bench\"
host = \"[$FLAKY_ADDR]:$FLAKY_PORT\"
tls = \"encrypt\"

[[policy.rule]]
header = \"X-Secmx-Policy\"
match = \"(?i)^sos\$\"
policy = \"SOS\""

printf 'run\trate_target\taccept_msg_s\te2e_s\teod_p50_ms\teod_p99_ms\tlag_p99_ms\tdeliv_p50_s\tdeliv_p99_s\tfast_p50_s\tfast_p99_s\tslow_p50_s\tslow_p99_s\tflaky_p50_s\tflaky_p99_s\tsos_p50_s\tsos_p99_s\tdeferrals\trelay_cpu_ms_per_msg\trss_anon_kb\tdelivered\tlost\tload1\n' >"$TSV"
commands=()

# p50 and p99 of delay= over status=sent lines whose recipient domain matches REGEX
# (and, with sos, whose policy is SOS).
delays() {  # relay.log domain-regex [sos]
  awk -v d="$2" -v sos="${3:-}" '/ delivery: / && /status=sent/ && $0 ~ ("to=<[^>]*@(" d ")>") {
      if (sos != "" && $0 !~ /policy=SOS/) next
      if (match($0, /delay=[0-9.]+/)) print substr($0, RSTART + 6, RLENGTH - 6) + 0 }' "$1" |
    sort -n | awk '{v[n++] = $1}
      END {
        if (n == 0) { print "- -"; exit }
        printf "%.2f %.2f\n", v[int((n - 1) * 0.5 + 0.5)], v[int((n - 1) * 0.99 + 0.5)]
      }'
}

run_mix() {  # name rate(0 = unthrottled) -> accept rate in $accept_rate
  local name=$1 rate=$2 d=$WORK/$1 c0 c1 t0 t1 fp sp kp total m1 m2 m3 _t
  write_tls_relay_config "$d" false "$EXTRA"
  sed -i 's/^retry = \["4h"\]/retry = ["2s"]/' "$d/relay.toml"
  "$RELAY" --config "$d/relay.toml" --check >/dev/null 2>"$d/check.err" || die "relay rejects the mix config: $(cat "$d/check.err")"
  start_receiver "$CSINK_ADDR" "$CSINK_PORT" "$d/fast.out" 0 0; fp=$sink_pid
  start_receiver "$SLOW_ADDR" "$SLOW_PORT" "$d/slow.out" "$SLOW_MS" 0; sp=$sink_pid
  start_receiver "$FLAKY_ADDR" "$FLAKY_PORT" "$d/flaky.out" 0 "$FLAKY_PERCENT"; kp=$sink_pid
  start_tls_relay "$d"
  local cmd="$WORK/smtp-load --starttls --mode reuse --sessions $SESSIONS --count $COUNT --size-dist realistic --sos-percent $SOS_PERCENT --rcpt-domains fast.bench,slow.bench,flaky.bench"
  [ "$rate" = 0 ] || cmd+=" --rate $rate"
  cmd+=" 127.0.0.1:$RELAY_PORT"
  commands+=("$cmd")
  c0=$(cpu_ticks "$relay_pid"); t0=$(now)
  $cmd >"$d/load.json" 2>"$d/load.err" || true
  [ "$(jq -r .failed <"$d/load.json" 2>/dev/null)" = 0 ] || { note "$name: smtp-load failed: $(cat "$d/load.json" "$d/load.err" | tail -3)"; failed=1; }
  # Until the three sinks together have every message (bounded by STALL s without progress).
  local last=-1 t_last; t_last=$(now)
  for (( ;; )); do
    read -r m1 _t < <(csink_mesg "$d/fast.out"); read -r m2 _t < <(csink_mesg "$d/slow.out"); read -r m3 _t < <(csink_mesg "$d/flaky.out")
    total=$(( m1 + m2 + m3 ))
    [ "$total" -ge "$COUNT" ] && break
    [ "$total" != "$last" ] && { last=$total; t_last=$(now); }
    awk -v a="$t_last" -v b="$(now)" -v s="$STALL" 'BEGIN {exit !(b - a > s)}' && { note "$name: sinks stalled at $total of $COUNT"; break; }
    sleep 0.05
  done
  t1=$(now); c1=$(cpu_ticks "$relay_pid")
  sleep 0.5
  stop_tls_relay "$d"
  local rss q sent stls defer tmpf
  rss=$(cat "$d/rssanon.max")
  stop_sink "$fp"; stop_sink "$sp"; stop_sink "$kp"
  read -r _t tmpf < <(csink_mesg "$d/flaky.out")
  q=$(relay_queued "$d")
  read -r sent stls defer < <(relay_sent "$d" '(fast|slow|flaky)\.bench')
  if [ "$total" != "$COUNT" ] || [ "$sent" != "$COUNT" ] || [ "$stls" != "$COUNT" ] || [ "$q" != 0 ]; then
    note "$name: CHECK FAILED: sinks $total, status=sent $sent (TLS $stls), queue $q of $COUNT"; failed=1; KEEP=1
  fi
  accept_rate=$(jq -r .msg_s <"$d/load.json")
  local all fast slow flaky sos
  all=$(delays "$d/relay.log" 'fast|slow|flaky\.bench'); fast=$(delays "$d/relay.log" 'fast\.bench')
  slow=$(delays "$d/relay.log" 'slow\.bench'); flaky=$(delays "$d/relay.log" 'flaky\.bench')
  sos=$(delays "$d/relay.log" '(fast|slow|flaky)\.bench' sos)
  printf '%s\n' "$name	$rate	$accept_rate	$(fsub "$t0" "$t1")	$(jq -r '"\(.eod_ms_p50)\t\(.eod_ms_p99)\t\(.lag_ms_p99)"' <"$d/load.json")	${all/ /	}	${fast/ /	}	${slow/ /	}	${flaky/ /	}	${sos/ /	}	$defer (sink 451s: $tmpf)	$(awk -v t=$(( c1 - c0 )) -v n="$COUNT" -v hz="$clk_tck" 'BEGIN {printf "%.2f", 1000 * t / hz / n}')	$rss	$total	$(( COUNT - total ))	$(cut -d' ' -f1 /proc/loadavg)" >>"$TSV"
  cp "$d/load.json" "${OUT%.md}.$name.load.json"
  [ "$KEEP" = 1 ] || rm -rf "$d/queue"
}

load_start=$(cat /proc/loadavg)
note "capacity (unthrottled)"
run_mix capacity 0
cap=$accept_rate
for l in $LOADS; do
  r=$(awk -v c="$cap" -v l="$l" 'BEGIN {printf "%.1f", c * l}')
  note "at $l of capacity: $r msg/s"
  run_mix "load-$l" "$r"
done

{
  echo "# bench/mix.sh $stamp"
  echo
  echo "Machine: $(nproc) CPUs, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo); kernel $(uname -r); load at start: $load_start; at end: $(cat /proc/loadavg)"
  echo "Relay: $RELAY ($(relay_flags)); $COUNT messages per run, $SESSIONS sessions (reuse), sizes 'realistic' (mean $(jq -r .mean_size <"${OUT%.md}.capacity.load.json") B), $SOS_PERCENT% SOS;"
  echo "receivers: fast, slow (+$SLOW_MS ms per message), flaky (451 to $FLAKY_PERCENT%, relay retry 2 s); round robin."
  echo
  echo "| run | target msg/s | accepted msg/s | all delivered after s | EOD→250 p50 / p99 ms | start lag p99 ms | accept→delivery p50 / p99 s | fast | slow | flaky | SOS | deferrals | relay CPU ms/msg | peak RssAnon KiB | lost | load1 |"
  echo "|---|---:|---:|---:|---|---:|---|---|---|---|---|---|---:|---:|---:|---:|"
  awk -F'\t' 'NR > 1 {printf "| %s | %s | %s | %s | %s / %s | %s | %s / %s | %s / %s | %s / %s | %s / %s | %s / %s | %s | %s | %s | %s | %s |\n",
      $1, ($2 == 0 ? "unthrottled" : $2), $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $22, $23}' "$TSV"
  echo
  echo "Commands:"; printf -- '- `%s`\n' "${commands[@]}"
  [ "$failed" = 0 ] && echo && echo "All checks passed: every message delivered, nothing lost." || { echo; echo "**CHECKS FAILED** (see stderr)"; }
} >"$OUT"
cat "$OUT"
exit "$failed"
