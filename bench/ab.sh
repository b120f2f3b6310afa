#!/usr/bin/env bash
# ab.sh - two relay binaries in one run, interleaved (A B A B ...), over the accept path:
# bench/accept.sh (plaintext in) and bench/tls.sh's relay-accept case (STARTTLS in), so
# that a change's effect on the relay's CPU per message is measured against the same
# machine load as its baseline.
#
# Per round and benchmark, A then B (the order alternates every round: A B, B A, ...),
# each a full run of the benchmark script with the binary as its relay. The summary gives
# per binary the relay's CPU ms per message (utime+stime of all its threads / messages)
# and msg/s of every run, their median, the spread (max-min) and the ratio B/A of the
# medians. A difference counts only where it is larger than the spread of either side.
# accept.sh also reports the LMDB commits, shown as messages per commit: the relay's CPU
# per message falls as its batches grow, and they grow with the machine's load.
#
# With --counters, each binary is then counted once more per benchmark under `perf stat
# -p <relay>`: syscalls, write/read/epoll_wait/futex/fdatasync/sched_yield calls,
# context switches and (with a uprobe on libc's malloc, added for the run and removed
# after if it was not there) allocations. Counted over the relay's whole life, at --count
# and at a fifth of it; per message is the difference over the difference in messages,
# which leaves out start-up and shutdown. Counted runs are perturbed (the
# uprobe costs) and their times are not used.
#
# Options (environment form in capitals):
#   --a PATH          A         baseline relay binary (required)
#   --b PATH          B         changed relay binary (required)
#   --rounds N        ROUNDS    rounds (3): each binary runs N times per benchmark
#   --bench LIST      BENCHES   "accept tls"
#   --count N         COUNT     messages per run (8000)
#   --sessions N      SESSIONS  concurrent sessions (20)
#   --mode M          MODE      reuse | conn (reuse)
#   --counters        COUNTERS=1  also the perf stat counts per message
#   --out FILE        OUT       markdown report (bench/results/ab-<UTC time>.md)
# Run it in a private network namespace (the scripts it calls use fixed loopback ports):
#   unshare -n bash -c 'ip link set lo up && bench/ab.sh --a /tmp/base/secmx-relay --b build/relay/secmx-relay'
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

A=${A:-} B=${B:-}
ROUNDS=${ROUNDS:-3}
BENCHES=${BENCHES:-"accept tls"}
COUNT=${COUNT:-8000}
SESSIONS=${SESSIONS:-20}
MODE=${MODE:-reuse}
COUNTERS=${COUNTERS:-0}
OUT=${OUT:-}
parse_options "--a:A --b:B --rounds:ROUNDS --bench:BENCHES --count:COUNT --sessions:SESSIONS
  --mode:MODE --counters:COUNTERS=1 --out:OUT" "$@"
[ -x "$A" ] && [ -x "$B" ] || die "--a and --b must be relay binaries"
A=$(realpath "$A") B=$(realpath "$B")
case $MODE in reuse|conn) ;; *) die "--mode: reuse or conn" ;; esac
for b in $BENCHES; do case $b in accept|tls) ;; *) die "--bench: accept and/or tls" ;; esac; done
[ "$COUNTERS" = 0 ] || command -v perf >/dev/null || die "--counters needs perf"

stamp=$(date -u +%Y%m%dT%H%M%SZ)
[ -n "$OUT" ] || OUT=$root/bench/results/ab-$stamp.md
mkdir -p "$(dirname "$OUT")"
WORK=$(mktemp -d "${BENCH_DIR:-/var/tmp}/secmx-ab.XXXXXX")
probe_added=
cleanup() {
  [ -z "$probe_added" ] || perf probe -q -d probe_libc:malloc 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# One run of benchmark $1 with relay $2 and $4 messages; the script's TSV goes to $3.tsv.
run_bench() {  # bench relay out-base count
  case $1 in
    accept) "$here/accept.sh" --relay "$2" --modes "$MODE" --sessions "$SESSIONS" --count "$4" \
              --out "$3.md" >"$3.log" 2>&1 ;;
    tls) RELAY=$2 "$here/tls.sh" --cases relay-accept --modes "$MODE" --sessions "$SESSIONS" \
           --count "$4" --out "$3.md" >"$3.log" 2>&1 ;;
  esac || { note "$1 with $2 failed: $(tail -3 "$3.log")"; return 1; }
}
# "cpu_ms_per_msg msg_s load1 msgs_per_commit" of a run's TSV; the last "-" when the
# script does not report commits (tls.sh).
run_figures() {  # bench tsv
  case $1 in
    accept) awk -F'\t' 'NR == 2 {printf "%.4f %s %s %s\n", $13, $10, $21, ($16 > 0 ? sprintf("%.1f", $2 / $16) : "-")}' "$2" ;;
    tls) awk -F'\t' '$1 == "relay-accept" {printf "%s %s %s -\n", $8, $3, $13}' "$2" ;;
  esac
}

{
  echo "# secmx-relay A/B, $stamp"
  echo
  echo "- Host: $(nproc) CPUs ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)), kernel $(uname -r)"
  echo "- A: $A"
  echo "- B: $B"
  echo "- $ROUNDS rounds, $COUNT messages of 4 KiB per run, $SESSIONS sessions, mode $MODE; benchmarks: $BENCHES"
  echo "- Load before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
} | tee "$OUT"

printf 'bench\tround\tbinary\tcpu_ms_per_msg\tmsg_s\tload1\tmsgs_per_commit\n' >"${OUT%.md}.tsv"
for r in $(seq 1 "$ROUNDS"); do
  order="A B"; [ $((r % 2)) = 0 ] && order="B A"
  for bench in $BENCHES; do
    for which in $order; do
      bin=$A; [ "$which" = B ] && bin=$B
      base=$WORK/$bench-$which-$r
      run_bench "$bench" "$bin" "$base" "$COUNT" || exit 1
      read -r cpu rate load per_commit < <(run_figures "$bench" "$base.tsv")
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$bench" "$r" "$which" "$cpu" "$rate" "$load" "$per_commit" >>"${OUT%.md}.tsv"
      note "round $r $bench $which: $cpu CPU ms/msg, $rate msg/s, load $load, $per_commit msgs/commit"
    done
  done
done

{
  echo "| benchmark | binary | CPU ms/msg per run (in run order) | median | spread | msg/s per run | median msg/s | load1 per run | msgs/commit per run |"
  echo "|---|---|---|---:|---:|---|---:|---|---|"
  for bench in $BENCHES; do
    for which in A B; do
      awk -F'\t' -v b="$bench" -v w="$which" '$1 == b && $3 == w {
          c[++n] = $4; m[n] = $5; l[n] = $6; k[n] = $7 }
        function median(a, n,   s, i, j, t) {
          for (i = 1; i <= n; i++) s[i] = a[i]
          for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (s[j] < s[i]) { t = s[i]; s[i] = s[j]; s[j] = t }
          return n % 2 ? s[(n + 1) / 2] : (s[n / 2] + s[n / 2 + 1]) / 2 }
        END {
          lo = hi = c[1]; cs = ms = ls = ks = ""
          for (i = 1; i <= n; i++) { if (c[i] < lo) lo = c[i]; if (c[i] > hi) hi = c[i]
            cs = cs (i > 1 ? ", " : "") sprintf("%.3f", c[i]); ms = ms (i > 1 ? ", " : "") sprintf("%.0f", m[i])
            ls = ls (i > 1 ? ", " : "") l[i]; ks = ks (i > 1 ? ", " : "") k[i] }
          printf "| %s | %s | %s | %.3f | %.3f | %s | %.0f | %s | %s |\n", b, w, cs, median(c, n), hi - lo, ms, median(m, n), ls, ks
        }' "${OUT%.md}.tsv"
    done
  done
  echo
  for bench in $BENCHES; do
    awk -F'\t' -v b="$bench" '$1 == b { if ($3 == "A") a[++na] = $4; else x[++nb] = $4 }
      function median(v, n,   s, i, j, t) {
        for (i = 1; i <= n; i++) s[i] = v[i]
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (s[j] < s[i]) { t = s[i]; s[i] = s[j]; s[j] = t }
        return n % 2 ? s[(n + 1) / 2] : (s[n / 2] + s[n / 2 + 1]) / 2 }
      END { ma = median(a, na); mb = median(x, nb)
        printf "%s: CPU ms/msg B/A = %.3f (median %.3f -> %.3f)\n\n", b, mb / ma, ma, mb }' "${OUT%.md}.tsv"
  done
} | tee -a "$OUT"

if [ "$COUNTERS" = 1 ]; then
  if ! perf probe -l 2>/dev/null | grep -q 'probe_libc:malloc'; then
    libc=$(ldd "$A" | awk '/libc\.so/ {print $3; exit}')
    if perf probe -q -x "$libc" --add malloc 2>/dev/null; then probe_added=1; fi
  fi
  events=raw_syscalls:sys_enter,syscalls:sys_enter_write,syscalls:sys_enter_read,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_futex,syscalls:sys_enter_fdatasync,syscalls:sys_enter_sched_yield,context-switches
  perf probe -l 2>/dev/null | grep -q 'probe_libc:malloc' && events=$events,probe_libc:malloc
  # The wrapper the benchmark scripts start as their relay: the daemon run (--config FILE)
  # under perf stat, every other call (--check, --queue-dump, --version) passed through.
  # perf stat starts the relay (start-up counted alike in every run, so the difference
  # cancels it); the script's SIGTERM is passed to the relay, and perf stat writes its
  # counts once the relay has exited.
  cat >"$WORK/counted-relay" <<EOF
#!/usr/bin/env bash
if [ "\$#" = 2 ] && [ "\$1" = --config ]; then
  perf stat -x, -e $events -o "\$COUNTED_OUT" -- "\$COUNTED_RELAY" "\$@" >/dev/null 2>&1 &
  pp=\$!
  rp=
  for _ in \$(seq 1 100); do
    rp=\$(ps -o pid= --ppid \$pp | tr -d ' ')
    [ -n "\$rp" ] && break
    sleep 0.02
  done
  trap '[ -z "\$rp" ] || kill -TERM \$rp' TERM
  rc=0
  wait \$pp || rc=\$?
  while kill -0 \$pp 2>/dev/null; do rc=0; wait \$pp || rc=\$?; done
  exit \$rc
fi
exec "\$COUNTED_RELAY" "\$@"
EOF
  chmod +x "$WORK/counted-relay"
  small=$((COUNT / 5))
  for bench in $BENCHES; do
    for which in A B; do
      bin=$A; [ "$which" = B ] && bin=$B
      for n in "$COUNT" "$small"; do
        COUNTED_RELAY=$bin COUNTED_OUT=$WORK/count-$bench-$which-$n.csv \
          run_bench "$bench" "$WORK/counted-relay" "$WORK/count-$bench-$which-$n" "$n" || exit 1
      done
    done
  done
  {
    echo "Per message, from perf stat over the relay's life at $COUNT and $small messages (the difference over the difference):"
    echo
    echo "| benchmark | binary | syscalls | write | read | epoll_wait | futex | fdatasync | sched_yield | context switches | mallocs |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for bench in $BENCHES; do
      for which in A B; do
        awk -F, -v b="$bench" -v w="$which" -v n1="$COUNT" -v n2="$small" '
          FNR == 1 { f++ }
          /^[0-9]/ { v[f, $3] = $1 }
          END {
            split("raw_syscalls:sys_enter syscalls:sys_enter_write syscalls:sys_enter_read syscalls:sys_enter_epoll_wait syscalls:sys_enter_futex syscalls:sys_enter_fdatasync syscalls:sys_enter_sched_yield context-switches probe_libc:malloc", e, " ")
            line = "| " b " | " w
            for (i = 1; i <= 9; i++) {
              if ((1, e[i]) in v) line = line sprintf(" | %.2f", (v[1, e[i]] - v[2, e[i]]) / (n1 - n2))
              else line = line " | -"
            }
            print line " |"
          }' "$WORK/count-$bench-$which-$COUNT.csv" "$WORK/count-$bench-$which-$small.csv"
      done
    done
    echo
  } | tee -a "$OUT"
fi
echo "Load at the end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT"
echo "report: $OUT" >&2
