#!/usr/bin/env bash
# queue-scale.sh - the relay with a queue of a million deferred messages (a partner down),
# beside the same relay on an empty queue, in one run:
#   - restart on the full queue: launch to listening, and to the first message accepted;
#   - peak RssAnon with the full queue (through everything below);
#   - new mail to a healthy domain (smtp-sink): the same smtp-source command on the empty
#     and on the full queue - accept rate and time until all are delivered;
#   - the scheduler thread's CPU per wake (/proc/PID/task/TID/schedstat: ns on CPU and
#     timeslices; the thread is named "scheduler"), idle and while new mail flows, empty
#     vs full;
#   - `secmxctl queue list` pages (1000 messages) at the start, 1/4, 1/2, 3/4 and the end
#     of the queue (cursor paging: --after ID);
#   - p99 accept latency (bench/queue_probe.py: one message at a time, MAIL FROM to the 250
#     after DATA) before and during a flush of FLUSH_N messages of one domain.
# The deferred messages are written straight into the queue by bench/queue_fill.cpp
# (secmx-queue-fill, the relay's own store code): FILL - FLUSH_N to deferred.bench and
# FLUSH_N to flush.bench, both routed to DEAD_ADDR:DEAD_PORT where nothing listens, due in
# 4 h - what a refused first attempt through SMTP leaves behind, without the hour it takes.
# Prints a Markdown report (also written to OUT). Run inside `unshare -n` (loopback only).
#
#   bench/queue-scale.sh [--fill N] [--flush-n N] [--new N] [--sessions N] [--probe N]
#                        [--build DIR] [--relay PATH] [--out FILE] [--keep 1]
#   bench/queue-scale.sh --flush-only [--relay PATH] [--compare PATH] [--rounds N]
#                        [--fill N] [--flush-n N] [--probe N] [--build DIR] [--out FILE]
#
#   --fill N       deferred messages in the full queue (FILL, 1000000)
#   --flush-n N    of which to flush.bench, flushed during the probe (FLUSH_N, 100000)
#   --new N        new messages per rate measurement (NEW, 20000)
#   --sessions N   smtp-source sessions (SESSIONS, 20)
#   --probe N      probe messages before the flush, and at least as many during (PROBE, 300)
#   --build DIR    the build tree (BUILD, build): secmxctl, secmx-queue-fill, the relay
#   --relay PATH   the relay binary (RELAY_BIN, BUILD/relay/secmx-relay)
#   --flush-only   only the accept latency before and during the flush (FLUSH_ONLY=1): the
#                  queue is filled once and each relay runs on a fresh copy of it
#   --compare PATH with --flush-only: a second relay binary (e.g. a baseline build), run
#                  alternately with --relay on copies of the same queue (COMPARE)
#   --rounds N     with --flush-only: runs per relay binary (ROUNDS, 1)
#   --out FILE     the report (OUT, bench/results/queue-scale-<time>.md)
#   --keep 1       keep the work directory (KEEP)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=bench/lib.sh
source bench/lib.sh

FILL=${FILL:-1000000} FLUSH_N=${FLUSH_N:-100000} NEW=${NEW:-20000} SESSIONS=${SESSIONS:-20}
PROBE=${PROBE:-300} BUILD=${BUILD:-build} KEEP=${KEEP:-0} RELAY_BIN=${RELAY_BIN:-}
FLUSH_ONLY=${FLUSH_ONLY:-0} COMPARE=${COMPARE:-} ROUNDS=${ROUNDS:-1}
OUT=${OUT:-bench/results/queue-scale-$(date -u +%Y%m%dT%H%M%SZ).md}
parse_options "--fill:FILL --flush-n:FLUSH_N --new:NEW --sessions:SESSIONS --probe:PROBE
  --build:BUILD --relay:RELAY_BIN --flush-only:FLUSH_ONLY=1 --compare:COMPARE
  --rounds:ROUNDS --out:OUT --keep:KEEP" "$@"
[ "$FLUSH_N" -lt "$FILL" ] || die "--flush-n must be less than --fill"
RELAY_PORT=${RELAY_PORT:-2525} ADMIN_PORT=${ADMIN_PORT:-8025} SINK_PORT=${SINK_PORT:-2526}
DEAD_ADDR=${DEAD_ADDR:-127.0.0.1} DEAD_PORT=${DEAD_PORT:-2599}
RELAY=${RELAY_BIN:-$root/$BUILD/relay/secmx-relay}
CTL=$root/$BUILD/admin/secmxctl
FILLER=$root/$BUILD/bench/secmx-queue-fill
[ -z "$COMPARE" ] || [ "$FLUSH_ONLY" = 1 ] || die "--compare needs --flush-only"
for b in "$RELAY" $COMPARE "$CTL" "$FILLER" "$SMTP_SOURCE" "$SMTP_SINK"; do [ -x "$b" ] || die "missing $b (build first)"; done
for p in "$RELAY_PORT" "$ADMIN_PORT" "$SINK_PORT" "$DEAD_PORT"; do ! port_busy "$p" || die "port $p is busy (run inside unshare -n)"; done

W=$(mktemp -d /tmp/queue-scale.XXXXXX)
relay_pid= sampler_pid= sink_pid=
cleanup() {
  for p in $sampler_pid $relay_pid $sink_pid; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ "$KEEP" = 1 ] && note "work directory kept: $W" || rm -rf "$W"
}
trap cleanup EXIT
mkdir -p "$(dirname "$OUT")"

"$SMTP_SINK" -u "$SINK_USER" -c "127.0.0.1:$SINK_PORT" 1000 >"$W/sink.out" 2>&1 &
sink_pid=$!
wait_listen "$SINK_PORT" "$sink_pid" || die "smtp-sink did not listen"

config() {  # dir
  write_relay_config "$1" false "[127.0.0.1]:$SINK_PORT" "" info "[[route]]
domain = \"deferred.bench\"
host = \"[$DEAD_ADDR]:$DEAD_PORT\"

[[route]]
domain = \"flush.bench\"
host = \"[$DEAD_ADDR]:$DEAD_PORT\""
  "$RELAY" --config "$1/relay.toml" --check >/dev/null 2>"$1/check.err" || die "config: $(cat "$1/check.err")"
}

start_relay() {  # dir -> relay_pid, t_launch, t_listen, t_accept
  rm -f "$1/rssanon.max"
  t_launch=$(now)
  "$RELAY" --config "$1/relay.toml" >>"$1/relay.stderr" 2>&1 &
  relay_pid=$!
  wait_listen "$RELAY_PORT" "$relay_pid" 1200 || die "relay did not listen: $(tail -5 "$1/relay.stderr")"
  t_listen=$(now)
  python3 bench/queue_probe.py --port "$RELAY_PORT" --count 1 >/dev/null || die "first message refused"
  t_accept=$(now)
  sampler "$relay_pid" "$1/rssanon.max" &
  sampler_pid=$!
}

stop_relay() {
  kill "$sampler_pid" 2>/dev/null || true; wait "$sampler_pid" 2>/dev/null || true; sampler_pid=
  kill -TERM "$relay_pid"; wait "$relay_pid" || note "relay exited with status $?"; relay_pid=
}

api() {  # dir method path [curl args]
  local d=$1 m=$2 p=$3; shift 3
  curl -s --max-time 600 -X "$m" -H "Authorization: Bearer $(cat "$d/admin.token")" "$@" \
    "http://127.0.0.1:$ADMIN_PORT$p"
}
queued() { api "$1" GET /api/v1/stats | jq -r '.queue.messages'; }
wait_queue() {  # dir want timeout-s: until the queue holds `want` (deliveries written back)
  local i n
  for i in $(seq 1 $(( $3 * 10 ))); do
    n=$(queued "$1"); [ "$n" = "$2" ] && return 0; sleep 0.1
  done
  note "queue holds ${n:-?}, expected $2"; return 1
}

sched_tid() { grep -l '^scheduler$' /proc/"$relay_pid"/task/*/comm | head -1 | cut -d/ -f5; }
schedstat() { cut -d' ' -f1,3 "/proc/$relay_pid/task/$(sched_tid)/schedstat"; }  # ns slices
per_wake() {  # "ns0 s0" "ns1 s1" -> "us-per-wake wakes"
  awk -v a="$1" -v b="$2" 'BEGIN {split(a, x, " "); split(b, y, " "); w = y[2] - x[2]; ns = y[1] - x[1];
    printf "%.1f %d\n", (w > 0 ? ns / w / 1000 : 0), w}'
}

# One phase on the relay in dir: idle scheduler wakes (5 s), new mail rate and its
# delivery, the scheduler's wakes meanwhile. Sets idle_*, rate, e2e, busy_*.
measure() {  # dir label base-queue
  local d=$1 a b t0 t1 t2
  a=$(schedstat); sleep 5; b=$(schedstat)
  read -r idle_us idle_w < <(per_wake "$a" "$b")
  src_cmd="$SMTP_SOURCE -c -l 1024 -m $NEW -s $SESSIONS -f sender@agency.gov.example -t rcpt@bench-dest.example 127.0.0.1:$RELAY_PORT"
  a=$(schedstat); t0=$(now)
  $src_cmd >"$d/source-$2.out" 2>&1 || die "smtp-source failed: $(tail -3 "$d/source-$2.out")"
  t1=$(now)
  wait_queue "$d" "$3" 600 || true
  t2=$(now); b=$(schedstat)
  read -r busy_us busy_w < <(per_wake "$a" "$b")
  rate=$(awk -v n="$NEW" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", n / (b - a)}')
  e2e=$(awk -v n="$NEW" -v a="$t0" -v b="$t2" 'BEGIN {printf "%.0f", n / (b - a)}')
}

p99() { sort -n "$1" | awk '{v[NR] = $1} END {i = int(NR * 0.99); if (i < 1) i = 1; printf "%.2f", v[i] * 1000}'; }
p50() { sort -n "$1" | awk '{v[NR] = $1} END {i = int(NR * 0.50); if (i < 1) i = 1; printf "%.2f", v[i] * 1000}'; }

# The accept latency on the relay in dir (full queue, running) before and during a flush of
# flush.bench. Sets p50_before p99_before p50_during p99_during n_during flush_s flushed,
# attempted_s (every flushed message attempted), scan_s (reading the candidates) and
# p99_writes (the probes after that).
# Also sets threads_cpu: the relay's busiest threads during the flush (comm:tid=CPU seconds).
thread_ticks() { for t in /proc/"$relay_pid"/task/*; do echo "$(cat "$t/comm"):${t##*/} $(cut -d')' -f2 "$t/stat" | awk '{print $12 + $13}')"; done 2>/dev/null; }
# Recipients deferred since the start (the flushed messages' attempts, all to a dead host).
deferred_total() { api "$1" GET /metrics | awk '/^secmx_recipients_deferred_total/ {s += $2} END {print s + 0}'; }
flush_probe() {  # dir
  local d=$1 t0 flush_pid d0 i
  python3 bench/queue_probe.py --port "$RELAY_PORT" --count "$PROBE" >"$d/probe-before.txt"
  rm -f "$d/flush.done" "$d/attempted.done"
  thread_ticks >"$d/ticks-before.txt"
  d0=$(deferred_total "$d")
  t0=$(now)
  # "During" lasts until every flushed message has had its attempt (here: deferred, the
  # destination being down) - not only until the flush's answer: what the flush sets off
  # is part of its cost.
  ( api "$d" POST /api/v1/queue/flush -H 'Content-Type: application/json' -d '{"domain":"flush.bench"}' >"$d/flush.json"
    now >"$d/flush.done"
    for i in $(seq 1 1200); do
      [ $(( $(deferred_total "$d") - d0 )) -ge "$FLUSH_N" ] && break
      sleep 0.1
    done
    now >"$d/attempted.done" ) &
  flush_pid=$!
  python3 bench/queue_probe.py --port "$RELAY_PORT" --count "$PROBE" --until "$d/attempted.done" >"$d/probe-during.txt"
  wait "$flush_pid"
  flush_s=$(awk -v a="$t0" -v b="$(cat "$d/flush.done")" 'BEGIN {printf "%.1f", b - a}')
  attempted_s=$(awk -v a="$t0" -v b="$(cat "$d/attempted.done")" 'BEGIN {printf "%.1f", b - a}')
  thread_ticks >"$d/ticks-after.txt"
  threads_cpu=$(awk -v hz="$(getconf CLK_TCK)" 'NR == FNR {a[$1] = $2; next} {d = ($2 - a[$1]) / hz; if (d > 0) printf "%s %.2f\n", $1, d}' \
    "$d/ticks-before.txt" "$d/ticks-after.txt" | sort -k2 -rn | head -4 | awk '{printf "%s%s=%s", (NR > 1 ? " " : ""), $1, $2}')
  flushed=$(jq -r '.messages // .error' "$d/flush.json")
  p99_before=$(p99 "$d/probe-before.txt") p99_during=$(p99 "$d/probe-during.txt")
  p50_before=$(p50 "$d/probe-before.txt") p50_during=$(p50 "$d/probe-during.txt")
  n_during=$(wc -l <"$d/probe-during.txt")
  # The flush's two phases: the candidates read on an admin thread (until the relay logs
  # event=flush), then the writes. The p99 of the probes that ended in the second.
  local t_scan
  t_scan=$(date -d "$(grep -m1 ' event=flush ' "$d/relay.log" | cut -d' ' -f1)" +%s.%N 2>/dev/null || echo 0)
  scan_s=$(awk -v a="$t0" -v b="$t_scan" 'BEGIN {printf "%.1f", (b > 0 ? b - a : -1)}')
  awk -v t="$t_scan" '$2 >= t' "$d/probe-during.txt" >"$d/probe-writes.txt"
  p99_writes=$(p99 "$d/probe-writes.txt")
}

load0=$(cut -d' ' -f1-3 /proc/loadavg)

# --flush-only: one filled queue, copied afresh for each run, so that every relay binary
# (--relay, --compare; alternately, --rounds times) flushes the same queue.
if [ "$FLUSH_ONLY" = 1 ]; then
  T=$W/template; config "$T"
  t0=$(now)
  "$FILLER" --queue "$T/queue" --count $(( FILL - FLUSH_N )) --domain deferred.bench >/dev/null
  "$FILLER" --queue "$T/queue" --count "$FLUSH_N" --domain flush.bench >/dev/null
  fill_s=$(awk -v a="$t0" -v b="$(now)" 'BEGIN {printf "%.0f", b - a}')
  sync
  relays=("$RELAY"); [ -z "$COMPARE" ] || relays+=("$COMPARE")
  rows=()
  for round in $(seq 1 "$ROUNDS"); do
    for r in "${relays[@]}"; do
      D=$W/run; rm -rf "$D"; cp -a "$T" "$D"; config "$D"
      sync  # the copy's writeback would otherwise slow the fsyncs measured before the flush
      RELAY=$r start_relay "$D"
      wait_queue "$D" "$FILL" 120 || true
      flush_probe "$D"
      stop_relay
      rows+=("| $r | $round | $p50_before | $p99_before | $p50_during | $p99_during | $n_during | $(awk -v a="$p99_during" -v b="$p99_before" 'BEGIN {printf "%.2f", a / b}') | $scan_s | $p99_writes | $( [[ $flushed =~ ^[0-9]+$ ]] && echo "$flushed" || echo "no answer" ) in $flush_s s | $attempted_s | $threads_cpu |")
    done
  done
  load1=$(cut -d' ' -f1-3 /proc/loadavg)
  {
    echo "Machine: $(nproc) vCPU, $(awk '/MemTotal/ {printf "%.0f GB", $2 / 1048576}' /proc/meminfo), $(uname -r); load average before/after: $load0 / $load1"
    echo
    echo "Command: bench/queue-scale.sh --flush-only --fill $FILL --flush-n $FLUSH_N --probe $PROBE --rounds $ROUNDS${COMPARE:+ --compare $COMPARE}"
    echo "Fill: $(( FILL - FLUSH_N )) deferred.bench, $FLUSH_N flush.bench, written once in $fill_s s; each run on a fresh copy."
    echo
    echo "| relay | round | p50 before (ms) | p99 before (ms) | p50 during (ms) | p99 during (ms) | probes during | p99 during/before | candidates read (s) | p99 during the writes (ms) | flush answered | all attempted (s) | busiest threads during (CPU s) |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
  } | tee "$OUT"
  exit 0
fi

# 1. The empty queue.
E=$W/empty; config "$E"
start_relay "$E"
e_listen=$(awk -v a="$t_launch" -v b="$t_listen" 'BEGIN {printf "%.2f", b - a}')
e_accept=$(awk -v a="$t_launch" -v b="$t_accept" 'BEGIN {printf "%.2f", b - a}')
wait_queue "$E" 0 60 || true
measure "$E" empty 0
e_rate=$rate e_e2e=$e2e e_idle_us=$idle_us e_idle_w=$idle_w e_busy_us=$busy_us e_busy_w=$busy_w
stop_relay
e_rss=$(cat "$E/rssanon.max")

# 2. The full queue, written by the filler, then the relay restarted on it.
F=$W/full; config "$F"
t0=$(now)
read -r _ id_first _ < <("$FILLER" --queue "$F/queue" --count $(( FILL - FLUSH_N )) --domain deferred.bench)
read -r _ _ id_last < <("$FILLER" --queue "$F/queue" --count "$FLUSH_N" --domain flush.bench)
# Where the walk over the last 100,000 starts: ids are consecutive within one fill second.
walk_after=$(python3 -c "f = int('$id_first', 16); l = int('$id_last', 16); print('%016X' % max(f - 1, l - (l - f) * min(100000, $FILL) // $FILL))")
fill_s=$(awk -v a="$t0" -v b="$(now)" 'BEGIN {printf "%.0f", b - a}')
sync
start_relay "$F"
f_listen=$(awk -v a="$t_launch" -v b="$t_listen" 'BEGIN {printf "%.2f", b - a}')
f_accept=$(awk -v a="$t_launch" -v b="$t_accept" 'BEGIN {printf "%.2f", b - a}')
wait_queue "$F" "$FILL" 120 || true
f_queue=$(queued "$F")
measure "$F" full "$FILL"
f_rate=$rate f_e2e=$e2e f_idle_us=$idle_us f_idle_w=$idle_w f_busy_us=$busy_us f_busy_w=$busy_w

# 3. queue list pages over the full queue, at fractions of the filled ids (cursor paging).
pages=()
for frac in 0 1 2 3; do
  after=$(python3 -c "f = int('$id_first', 16); l = int('$id_last', 16); print('%016X' % (f - 1 + (l - f) * $frac // 4))")
  t0=$(now)
  n=$("$CTL" --url "http://127.0.0.1:$ADMIN_PORT" --token-file "$F/admin.token" --json queue list --limit 1000 --after "$after" | jq '.messages | length')
  pages+=("$(awk -v a="$t0" -v b="$(now)" 'BEGIN {printf "%.3f", b - a}')s/$n")
done
# The last 100,000 filled messages (or fewer), walked page by page by secmxctl itself.
walk_n=$(( FILL < 100000 ? FILL : 100000 ))
t0=$(now)
n=$("$CTL" --url "http://127.0.0.1:$ADMIN_PORT" --token-file "$F/admin.token" --json queue list --limit "$walk_n" --after "$walk_after" | jq '.messages | length')
walk=$(awk -v a="$t0" -v b="$(now)" 'BEGIN {printf "%.2f", b - a}')

# 4. p99 accept latency before and during the flush of flush.bench.
flush_probe "$F"
stop_relay
f_rss=$(cat "$F/rssanon.max")
load1=$(cut -d' ' -f1-3 /proc/loadavg)

mb() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
yes_no() { awk "BEGIN {exit !($1)}" && echo met || echo "NOT met"; }
{
  echo "Machine: $(nproc) vCPU, $(awk '/MemTotal/ {printf "%.0f GB", $2 / 1048576}' /proc/meminfo), $(uname -r); load average before/after: $load0 / $load1"
  echo
  echo "Command: bench/queue-scale.sh --fill $FILL --flush-n $FLUSH_N --new $NEW --sessions $SESSIONS --probe $PROBE"
  echo "New mail: $src_cmd"
  echo "Fill: $FILL deferred messages ($(( FILL - FLUSH_N )) deferred.bench, $FLUSH_N flush.bench, 1 KiB) written by secmx-queue-fill in $fill_s s; the relay counted $f_queue queued; data.mdb $(du -m "$F/queue/data.mdb" | cut -f1) MB."
  echo
  echo "| | empty queue | $FILL deferred | target |"
  echo "|---|---|---|---|"
  echo "| launch to listening | $e_listen s | $f_listen s | |"
  echo "| launch to first message accepted | $e_accept s | $f_accept s | <= 10 s: $(yes_no "$f_accept <= 10") |"
  echo "| peak RssAnon | $(mb "$e_rss") MB | $(mb "$f_rss") MB | <= 256 MB: $(yes_no "$f_rss <= 262144") |"
  echo "| new mail accepted (msg/s) | $e_rate | $f_rate ($(awk -v a="$f_rate" -v b="$e_rate" 'BEGIN {printf "%.0f%%", 100 * a / b}')) | >= 90%: $(yes_no "$f_rate >= 0.9 * $e_rate") |"
  echo "| new mail delivered, end to end (msg/s) | $e_e2e | $f_e2e ($(awk -v a="$f_e2e" -v b="$e_e2e" 'BEGIN {printf "%.0f%%", 100 * a / b}')) | |"
  echo "| scheduler CPU per wake, idle (us; wakes in 5 s) | $e_idle_us ($e_idle_w) | $f_idle_us ($f_idle_w) | |"
  echo "| scheduler CPU per wake, new mail flowing (us; wakes) | $e_busy_us ($e_busy_w) | $f_busy_us ($f_busy_w) | independent of the queue: $(yes_no "$f_busy_us <= 1.5 * $e_busy_us + 5") |"
  echo
  echo "queue list, 1000 messages a page (secmxctl --json queue list --limit 1000 --after ID, one process each), at the start, 1/4, 1/2 and 3/4 of the filled ids: ${pages[*]} (seconds/messages; <= 1 s each: $(yes_no "$(printf '%s\n' "${pages[@]}" | cut -d s -f1 | sort -n | tail -1) <= 1")); the end of the queue walked page by page by one secmxctl: $n messages in $walk s ($(awk -v n="$n" -v s="$walk" 'BEGIN {printf "%.3f", (n > 0 ? s * 1000 / n : 0)}') s per page of 1000)."
  echo
  echo "Flush of flush.bench ($FLUSH_N messages): answered $flushed made due after $flush_s s. Accept latency, one message at a time (bench/queue_probe.py): before p50 $p50_before ms, p99 $p99_before ms ($PROBE messages); during p50 $p50_during ms, p99 $p99_during ms ($n_during messages) - within 2x: $(yes_no "$p99_during <= 2 * $p99_before")."
} | tee "$OUT"
