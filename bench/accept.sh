#!/usr/bin/env bash
# accept.sh - accept-throughput benchmark for secmx-relay, with the queue's fsync on.
#
# For every case (message size x sessions x mode x log level) it runs Postfix's
# smtp-source twice, back to back, with the same arguments:
#   1. against Postfix's smtp-sink (stores nothing)  -> the ceiling of this machine
#   2. against a freshly started secmx-relay with an empty queue on a real disk
# and reports messages/s of both, the ratio, the relay's CPU seconds (utime+stime of
# all its threads, from /proc/PID/stat), CPU s per 1,000 messages, peak RssAnon
# (sampled every 50 ms from /proc/PID/status) and VmHWM. After each relay run the relay
# is stopped with SIGTERM and `secmx-relay --queue-dump` must list exactly as many
# messages as smtp-source sent; otherwise the case is marked LOST and the script exits 1.
#
# Usage: bench/accept.sh [options]        (every option also has an environment form)
#   --sizes "4096 65536 1048576"  SIZES        payload bytes (smtp-source -l)
#   --sessions "20 100"           SESSIONS     parallel sessions (smtp-source -s)
#   --modes "conn reuse"          MODES        conn: one message per connection;
#                                              reuse: smtp-source -d (connection reuse)
#   --count N                     COUNT        messages per run for every size; default:
#                                              20000 for <=16 KiB, 2000 for <=256 KiB,
#                                              200 above (disk space / runtime)
#   --log-levels "info"           LOG_LEVELS   relay [log] level(s); log goes to a file
#   --repeat N                    REPEAT       run each case N times (default 1)
#   --audit "on off"              AUDITS       the audit trail on (the default config) and/or
#                                              off ([audit] enabled = false), as one more
#                                              dimension of the cases; "audit B/msg" is the
#                                              audit database's pages (mdb_stat -s audit)
#                                              per message
#   --relay PATH                  RELAY        default: build/relay/secmx-relay
#   --workdir DIR                 BENCH_DIR    parent of the temp dir (default /var/tmp);
#                                              must not be tmpfs (fsync must hit a disk);
#                                              ALLOW_TMPFS=1 allows it as a diagnostic (the
#                                              cost of the relay without durable commits)
#   --out FILE                    OUT          markdown report (default bench/results/...)
#   --profile perf|strace         PROFILE      also profile each relay run (perf record -g
#                                              / strace -c -f); the figures of profiled
#                                              runs are perturbed and marked as such
#   --keep                        KEEP=1       keep the temp dir (queues, logs, profiles)
#   --relay-env "K=V ..."         RELAY_ENV    environment for the relay runs (bench/bound.sh
#                                              uses it); shown in the report and each row
#   --presize MiB                 PRESIZE      experiment: before each relay run, let the relay
#                                              create its queue, stop it and append MiB of
#                                              written zeros to data.mdb, so that commits do
#                                              not grow the file (rows marked "presized")
# Ports: RELAY_PORT (2625), SINK_PORT (2626), ADMIN_PORT (2627), all on 127.0.0.1.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

SIZES=${SIZES:-4096}
SESSIONS=${SESSIONS:-"20 100"}
MODES=${MODES:-"conn reuse"}
COUNT=${COUNT:-}
LOG_LEVELS=${LOG_LEVELS:-info}
REPEAT=${REPEAT:-1}
AUDITS=${AUDITS:-on}
RELAY=${RELAY:-$root/build/relay/secmx-relay}
BENCH_DIR=${BENCH_DIR:-/var/tmp}
OUT=${OUT:-}
PROFILE=${PROFILE:-}
KEEP=${KEEP:-0}
PRESIZE=${PRESIZE:-0}
RELAY_ENV=${RELAY_ENV:-}
RELAY_PORT=${RELAY_PORT:-2625}
SINK_PORT=${SINK_PORT:-2626}
ADMIN_PORT=${ADMIN_PORT:-2627}

parse_options "--sizes:SIZES --sessions:SESSIONS --modes:MODES --count:COUNT
  --log-levels:LOG_LEVELS --repeat:REPEAT --audit:AUDITS --relay:RELAY --workdir:BENCH_DIR --out:OUT
  --profile:PROFILE --keep:KEEP=1 --presize:PRESIZE --relay-env:RELAY_ENV" "$@"

[ -x "$RELAY" ] || die "relay binary $RELAY not found; build it: cmake --build build --target secmx-relay"
[ -x "$SMTP_SOURCE" ] || die "$SMTP_SOURCE not found (apt-get install postfix, binaries only)"
[ -x "$SMTP_SINK" ] || die "$SMTP_SINK not found"
case $PROFILE in ""|perf|strace) ;; *) die "--profile must be perf or strace" ;; esac
[ -z "$PROFILE" ] || command -v "$PROFILE" >/dev/null || die "$PROFILE is not installed"
for m in $MODES; do case $m in conn|reuse) ;; *) die "unknown mode '$m' (conn or reuse)" ;; esac; done
for a in $AUDITS; do case $a in on|off) ;; *) die "unknown --audit '$a' (on or off)" ;; esac; done
command -v mdb_stat >/dev/null || die "mdb_stat not found (apt-get install lmdb-utils)"

for p in "$RELAY_PORT" "$SINK_PORT" "$ADMIN_PORT"; do
  ! port_busy "$p" || die "127.0.0.1:$p is already in use"
done

mkdir -p "$BENCH_DIR"
WORK=$(mktemp -d "$BENCH_DIR/secmx-accept.XXXXXX")
fstype=$(df -PT "$WORK" | awk 'NR==2 {print $2}')
case $fstype in
  tmpfs|ramfs) [ "${ALLOW_TMPFS:-0}" = 1 ] || { rm -rf "$WORK"; die "$BENCH_DIR is $fstype: the queue must be on a disk (use --workdir)"; } ;;
esac
fsdev=$(df -P "$WORK" | awk 'NR==2 {print $1}')
fsmount=$(df -P "$WORK" | awk 'NR==2 {print $6}')
fsopts=$(awk -v m="$fsmount" '$2==m {o=$4} END {print o}' /proc/mounts)

stamp=$(date -u +%Y%m%dT%H%M%SZ)
[ -n "$OUT" ] || OUT=$root/bench/results/accept-$stamp.md
mkdir -p "$(dirname "$OUT")"
tsv=${OUT%.md}.tsv

clk_tck=$(getconf CLK_TCK)
sink_pid= relay_pid= sampler_pid= prof_pid=

cleanup() {
  for p in $prof_pid $sampler_pid $relay_pid $sink_pid; do
    kill "$p" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  if [ "$KEEP" = 1 ]; then echo "temp dir kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM




count_for() {
  if [ -n "$COUNT" ]; then echo "$COUNT"
  elif [ "$1" -le 16384 ]; then echo 20000
  elif [ "$1" -le 262144 ]; then echo 2000
  else echo 200; fi
}

human_size() {
  if [ $(( $1 % 1048576 )) = 0 ]; then echo "$(( $1 / 1048576 )) MiB"
  elif [ $(( $1 % 1024 )) = 0 ]; then echo "$(( $1 / 1024 )) KiB"
  else echo "$1 B"; fi
}

source_args() {  # sessions count size mode port -> smtp-source argument list
  local d=
  [ "$4" = reuse ] && d="-d "
  echo "$SMTP_SOURCE $d-s $1 -m $2 -l $3 -M bench.example -f sender@bench.example -t rcpt@bench-dest.example 127.0.0.1:$5"
}

# Runs smtp-source; prints "seconds rc". Its output goes to $2.
run_source() {  # args-string logfile
  local t0 t1 rc=0
  t0=$(now)
  $1 >"$2" 2>&1 || rc=$?
  t1=$(now)
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b-a}') $rc"
}



machine_info() {
  local cpu
  cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
  echo "- Host: $(hostname), $(nproc) CPUs ($cpu), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM"
  echo "- Kernel: $(uname -sr); $(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "- Queue filesystem: $fstype on $fsdev mounted at $fsmount ($fsopts); temp dir $WORK"
  echo "- Postfix tools: $(dpkg-query -W -f '${Package} ${Version}' postfix 2>/dev/null || echo unknown)"
  echo "- Relay: $RELAY ($("$RELAY" --version 2>/dev/null || echo '?'), compiled with $(relay_flags))"
  echo "- Load before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
}

{
  echo "# secmx-relay accept throughput, $stamp"
  echo
  machine_info
  echo
  echo "Ceiling: the same smtp-source command against \`$SMTP_SINK -u $SINK_USER 127.0.0.1:$SINK_PORT 1024\`, run just before the relay run of each row."
  echo "Relay: fresh queue per run, config as written by bench/accept.sh (no TLS, fsync on: group commit, each 250 sent once its commit is synced; delivery paused, so only the accept path is measured)."
  case $fstype in tmpfs|ramfs) echo "**Diagnostic: queue on $fstype, fsync costs nothing; NOT a result for the targets.**" ;; esac
  [ "$PRESIZE" = 0 ] || echo "**Experiment: data.mdb pre-extended by $PRESIZE MiB of written zeros before each relay run.**"
  [ -z "$PROFILE" ] || echo "**Profiled with $PROFILE: relay figures are perturbed by the profiler.**"
  [ -z "$RELAY_ENV" ] || echo "**Relay run with the environment \`$RELAY_ENV\`.**"
  echo
  echo "| size | msgs | sessions | mode | log | audit | sink msg/s | relay msg/s | ratio | relay CPU s | CPU s/1000 msgs | peak RssAnon MB | VmHWM MB | commits | audit B/msg | lost |"
  echo "|---:|---:|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
} | tee "$OUT"
printf 'size\tcount\tsessions\tmode\tlog\tsink_s\tsink_rate\tsink_cpu_s\trelay_s\trelay_rate\tratio_pct\trelay_cpu_s\tcpu_per_1000\tpeak_rssanon_kb\tvmhwm_kb\tcommits\tqueued\tlost\taudit\taudit_bytes_per_msg\tload1\n' >"$tsv"

failed=0
commands=()
case_no=0
for size in $SIZES; do
  count=$(count_for "$size")
  for level in $LOG_LEVELS; do
    for sess in $SESSIONS; do
      for mode in $MODES; do
        for rep in $(seq 1 "$REPEAT"); do
          for audit in $AUDITS; do
            case_no=$((case_no + 1))
            dir=$WORK/case$case_no
            mkdir -p "$dir"

            # --- ceiling: smtp-sink -------------------------------------------------
            "$SMTP_SINK" -u "$SINK_USER" "127.0.0.1:$SINK_PORT" 1024 >"$dir/sink.out" 2>&1 &
            sink_pid=$!
            wait_listen "$SINK_PORT" "$sink_pid" || die "smtp-sink did not start: $(cat "$dir/sink.out")"
            sink_c0=$(cpu_ticks "$sink_pid")
            cmd=$(source_args "$sess" "$count" "$size" "$mode" "$SINK_PORT")
            read -r sink_s sink_rc < <(run_source "$cmd" "$dir/source-sink.out")
            sink_c1=$(cpu_ticks "$sink_pid")
            kill "$sink_pid"; wait "$sink_pid" 2>/dev/null || true; sink_pid=
            [ "$sink_rc" = 0 ] || { echo "smtp-source against smtp-sink failed (rc $sink_rc):" >&2; tail -5 "$dir/source-sink.out" >&2; failed=1; }
            commands+=("$cmd")

            # --- relay ------------------------------------------------------------
            # Delivery paused: only the accept path is measured; the messages stay queued for
            # --queue-dump to count.
            audit_lines=
            [ "$audit" = on ] || audit_lines=$'[audit]\nenabled = false'
            write_relay_config "$dir" true "[127.0.0.1]:9" "" "$level" "$audit_lines"
            "$RELAY" --config "$dir/relay.toml" --check >/dev/null 2>"$dir/check.err" ||
              die "relay rejects the bench config: $(cat "$dir/check.err")"
            if [ "$PRESIZE" -gt 0 ]; then
              "$RELAY" --config "$dir/relay.toml" >"$dir/relay-presize.stderr" 2>&1 &
              relay_pid=$!
              wait_listen "$RELAY_PORT" "$relay_pid" || die "relay did not start (presize step)"
              kill -TERM "$relay_pid"; wait "$relay_pid" || die "relay failed to stop (presize step)"
              relay_pid=
              dd if=/dev/zero of="$dir/queue/data.mdb" bs=1M count="$PRESIZE" oflag=append conv=notrunc,fsync status=none
            fi
            # shellcheck disable=SC2086 # RELAY_ENV is a list of K=V words
            env $RELAY_ENV "$RELAY" --config "$dir/relay.toml" >"$dir/relay.stderr" 2>&1 &
            relay_pid=$!
            wait_listen "$RELAY_PORT" "$relay_pid" ||
              die "relay did not start listening: $(tail -5 "$dir/relay.stderr" "$dir/relay.log" 2>/dev/null)"
            sampler "$relay_pid" "$dir/rssanon.max" &
            sampler_pid=$!
            case $PROFILE in
              perf) perf record -g -o "$dir/perf.data" -p "$relay_pid" >"$dir/perf.out" 2>&1 & prof_pid=$! ; sleep 0.5 ;;
              strace) strace -c -f -o "$dir/strace.txt" -p "$relay_pid" >"$dir/strace.out" 2>&1 & prof_pid=$! ; sleep 0.5 ;;
            esac
            relay_c0=$(cpu_ticks "$relay_pid")
            cmd=$(source_args "$sess" "$count" "$size" "$mode" "$RELAY_PORT")
            read -r relay_s relay_rc < <(run_source "$cmd" "$dir/source-relay.out")
            relay_c1=$(cpu_ticks "$relay_pid")
            hwm_kb=$(status_kb "$relay_pid" VmHWM)
            if [ -n "$prof_pid" ]; then
              kill -INT "$prof_pid" 2>/dev/null || true; wait "$prof_pid" 2>/dev/null || true; prof_pid=
            fi
            kill "$sampler_pid" 2>/dev/null || true; wait "$sampler_pid" 2>/dev/null || true; sampler_pid=
            rss_kb=$(cat "$dir/rssanon.max")
            kill -TERM "$relay_pid"
            relay_exit=0; wait "$relay_pid" || relay_exit=$?; relay_pid=
            [ "$relay_exit" = 0 ] || { echo "relay exited with status $relay_exit" >&2; failed=1; }
            [ "$relay_rc" = 0 ] || { echo "smtp-source against the relay failed (rc $relay_rc):" >&2; tail -5 "$dir/source-relay.out" >&2; failed=1; }

            # --- verify: every acknowledged message is in the queue ----------------
            queued=$("$RELAY" --config "$dir/relay.toml" --queue-dump 2>"$dir/dump.err" | wc -l)
            lost=$((count - queued))
            commits=$(sed -n 's/.*stopped: \([0-9]*\) messages in \([0-9]*\) commits.*/\2/p' "$dir/relay.log" "$dir/relay.stderr" 2>/dev/null | tail -1 || true)
            [ -n "$commits" ] || commits="?"
            # The audit database's pages (branch + leaf + overflow, 4 KiB each) per message.
            audit_pages=$(mdb_stat -s audit "$dir/queue" 2>/dev/null |
              awk '/Branch pages|Leaf pages|Overflow pages/ {n += $3} END {print n + 0}')
            audit_bpm=$(( queued > 0 ? audit_pages * 4096 / queued : 0 ))
            if [ "$lost" != 0 ]; then
              echo "LOST MAIL: smtp-source sent $count, the queue holds $queued ($dir)" >&2
              failed=1; KEEP=1
            fi

            # --- report -------------------------------------------------------------
            row=$(awk -v size="$size" -v count="$count" -v sess="$sess" -v mode="$mode" -v lvl="$level" \
                -v ss="$sink_s" -v rs="$relay_s" -v sc=$((sink_c1 - sink_c0)) -v rc=$((relay_c1 - relay_c0)) \
                -v hz="$clk_tck" -v rss="$rss_kb" -v hwm="$hwm_kb" -v commits="$commits" -v queued="$queued" \
                -v lost="$lost" -v audit="$audit" -v abpm="$audit_bpm" -v hs="$(human_size "$size")" -v prof="$PROFILE" -v presize="$PRESIZE" -v renv="$RELAY_ENV" 'BEGIN {
                  sr = count / ss; rr = count / rs; cpu = rc / hz
                  m = (mode == "reuse") ? "reuse (-d)" : "1 msg/conn"
                  if (presize > 0) m = m " [presized]"
                  if (prof != "") m = m " [" prof "]"
                  if (renv != "") m = m " [" renv "]"
                  printf "| %s | %d | %d | %s | %s | %s | %.0f | %.0f | %.0f%% | %.2f | %.3f | %.1f | %.1f | %s | %d | %s |\n",
                    hs, count, sess, m, lvl, audit, sr, rr, 100 * rr / sr, cpu, 1000 * cpu / count, rss / 1024, hwm / 1024,
                    commits, abpm, (lost == 0 ? "0" : "**" lost " LOST**")
                  printf "TSV\t%d\t%d\t%d\t%s\t%s\t%.3f\t%.1f\t%.2f\t%.3f\t%.1f\t%.1f\t%.2f\t%.4f\t%d\t%d\t%s\t%d\t%d\t%s\t%d\n",
                    size, count, sess, mode (presize > 0 ? "+presized" : ""), lvl, ss, sr, sc / hz, rs, rr, 100 * rr / sr, cpu, 1000 * cpu / count,
                    rss, hwm, commits, queued, lost, audit, abpm
                }')
            echo "$row" | grep -v '^TSV' | tee -a "$OUT"
            echo "$row" | sed -n 's/^TSV\t//p' | sed "s/\$/\t$(cut -d' ' -f1 /proc/loadavg)/" >>"$tsv"

            errs=$(grep -ciE '^[^ ]+ (error|critical) ' "$dir/relay.log" 2>/dev/null || true)
            [ "${errs:-0}" = 0 ] || echo "  note: relay log of case $case_no has $errs error lines, e.g.: $(grep -iE '^[^ ]+ (error|critical) ' "$dir/relay.log" | head -1)" >&2
            if [ "$PROFILE" = perf ]; then
              perf report -i "$dir/perf.data" --stdio --no-children --percent-limit 0.5 2>/dev/null | head -150 >"$dir/perf-report.txt" || true
              cp "$dir/perf-report.txt" "${OUT%.md}.case$case_no.perf.txt"
            elif [ "$PROFILE" = strace ]; then
              cp "$dir/strace.txt" "${OUT%.md}.case$case_no.strace.txt"
            fi
            [ "$KEEP" = 1 ] || rm -rf "$dir/queue"
          done
        done
      done
    done
  done
done

{
  echo
  echo "Commands (smtp-source; the sink run uses port $SINK_PORT, the relay run port $RELAY_PORT):"
  echo
  echo '```'
  printf '%s\n' "${commands[@]}" | awk '!seen[$0]++'
  echo "$SMTP_SINK -u $SINK_USER 127.0.0.1:$SINK_PORT 1024"
  echo "$RELAY --config <tmp>/relay.toml   # per run, fresh queue"
  echo '```'
  echo
  echo "Columns: msg/s = messages / smtp-source wall time; ratio = relay msg/s / sink msg/s;"
  echo "relay CPU s = utime+stime of all relay threads during the smtp-source run;"
  echo "peak RssAnon = max of /proc/PID/status RssAnon sampled every 50 ms; VmHWM = peak RSS"
  echo "including file-backed pages (the LMDB map); commits = LMDB write transactions reported"
  echo "by the relay at shutdown; lost = messages sent minus messages in --queue-dump."
  echo
  echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews both columns)."
} | tee -a "$OUT"
echo "report: $OUT (tsv: $tsv)" >&2
exit $failed
