#!/usr/bin/env bash
# deliver.sh - end-to-end benchmark for secmx-relay: accept + deliver, with the queue's
# fsync on, to a fast local sink (Postfix's smtp-sink), in plaintext and with STARTTLS.
#
# Cases (--cases; each relay case gets a fresh relay process and, unless said otherwise,
# a fresh queue; each is preceded by the one-hop ceiling measured just before it):
#   ceiling  smtp-source -> smtp-sink (stores nothing): the ceiling of this machine, and
#            smtp-source -> each TLS sink below, in plaintext (smtp-source cannot do TLS),
#            one message per connection and with -d: what the TLS sinks can take without
#            the handshakes.
#   plain    smtp-source -> relay -> smtp-sink on 127.0.0.31. The figure is COUNT / (time
#            from smtp-source's start until the sink has received the COUNT-th message).
#   tls      the same, but the destination is a private Postfix smtpd on 127.0.0.32
#            offering STARTTLS (self-signed certificate, session tickets on) whose
#            before-queue proxy filter (smtpd_proxy_filter) is an smtp-sink on 127.0.0.33:
#            a sink that terminates TLS cheaply. The route has tls = "encrypt", so every
#            delivery must use TLS; the relay log must say tls=TLSv... for each one.
#   tlsc     the same as tls, but the destination is tls-sink, a small C program written
#            by this script (one thread per connection, OpenSSL server defaults: session
#            cache and tickets on) on 127.0.0.34: the cheapest STARTTLS sink at hand, for
#            when the Postfix sink, not the relay, is what limits the tls case.
#   paused   delivery paused: accept only, COUNT messages stay queued; peak RssAnon with
#            COUNT queued (and the accept rate, for comparison with bench/accept.sh).
#   drain    the queue of "paused" (COUNT messages) opened by a relay with delivery on:
#            deliver-only rate, COUNT / (time from the relay's start until the sink has
#            the COUNT-th message). Implies "paused".
#   scale    fills a queue with SCALE_FILL (200,000) messages to deferred.bench, routed to
#            127.0.0.36:25 where nothing listens: each is tried once, refused and deferred
#            for 4 h (retry = ["4h"]). Then a new relay process on that queue gets COUNT
#            new messages for the working sink, measured exactly as "plain": the rate with
#            the big deferred queue is compared with "plain" of the same run.
#
# Measured per relay case: messages/s, the relay's CPU seconds (utime+stime of all its
# threads, /proc/PID/stat, from when it listens until the sink has the last message; for
# drain since the process started) and per thread (smtpd loop, commit writer, delivery
# workers, scheduler, admin; threads are told apart by creation order), peak RssAnon
# (sampled every 50 ms from /proc/PID/status) and VmHWM, outbound connections (sink
# sessions), TLS handshakes (full / resumed, from the Postfix sink's log or tls-sink's
# counters), the LMDB commit count, machine CPU busy and the time the commit writer spends
# in fdatasync/pwrite (--fsync-trace). Verified: the sink received exactly COUNT messages, the relay log has one
# status=sent line per message (with tls=TLSv... for tls and tlsc), and after SIGTERM
# `secmx-relay --queue-dump` lists nothing for the benchmark domain (scale: exactly the
# SCALE_FILL deferred ones). Anything else marks the case LOST and the script exits 1.
#
# Usage: bench/deliver.sh [options]        (every option also has an environment form)
#   --cases "ceiling plain tls tlsc paused drain scale"   CASES   (default: all of them)
#   --count N                     COUNT        messages per case (default 20000)
#   --size BYTES                  SIZE         payload per message, smtp-source -l (4096)
#   --sessions N                  SESSIONS     smtp-source -s (default 20); one message per
#                                              connection (no -d), as the targets assume
#   --scale-fill N                SCALE_FILL   deferred messages for "scale" (200000)
#   --repeat N                    REPEAT       run the case list N times (scale only once)
#   --relay PATH                  RELAY        default: build/relay/secmx-relay
#   --workdir DIR                 BENCH_DIR    parent of the temp dir (default /var/tmp);
#                                              must not be tmpfs (fsync must hit a disk)
#   --out FILE                    OUT          markdown report (default bench/results/...)
#   --profile perf                PROFILE      perf record on the relay during each
#                                              e2e measurement except paused (figures
#                                              of profiled runs are perturbed; marked);
#                                              PERF_FREQ (999 Hz), PERF_CALLGRAPH (dwarf,16384:
#                                              the build has no frame pointers)
#   --fsync-trace on|off          FSYNC_TRACE  count the relay's fdatasync calls and the time
#                                              spent in fdatasync + pwrite64 (perf trace -s on
#                                              the commit writer thread, syscall tracepoints;
#                                              a small perturbation); default on when perf
#                                              exists
#   --keep                        KEEP=1       keep the temp dir (queues, logs, profiles)
# Ports (127.0.0.1 unless said): RELAY_PORT (2645), SINK_PORT (2646, ceiling sink),
# ADMIN_PORT (2647), DEST_PORT (2648, plain sink on 127.0.0.31), TLS_PORT (2649, Postfix on
# 127.0.0.32), PROXY_PORT (2650, smtp-sink behind Postfix on 127.0.0.33), CSINK_PORT (2651,
# tls-sink on 127.0.0.34), DEAD_ADDR:DEAD_PORT (127.0.0.36:25, must not listen). Temp dir: $BENCH_DIR/secmx-deliver.XXXXXX (0755, so
# that Postfix's unprivileged users can reach their files).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

CASES=${CASES:-"ceiling plain tls tlsc paused drain scale"}
COUNT=${COUNT:-20000}
SIZE=${SIZE:-4096}
SESSIONS=${SESSIONS:-20}
SCALE_FILL=${SCALE_FILL:-200000}
REPEAT=${REPEAT:-1}
RELAY=${RELAY:-$root/build/relay/secmx-relay}
BENCH_DIR=${BENCH_DIR:-/var/tmp}
OUT=${OUT:-}
PROFILE=${PROFILE:-}
PERF_FREQ=${PERF_FREQ:-999}
PERF_CALLGRAPH=${PERF_CALLGRAPH:-dwarf,16384}
FSYNC_TRACE=${FSYNC_TRACE:-auto}
KEEP=${KEEP:-0}
RELAY_PORT=${RELAY_PORT:-2645}
SINK_PORT=${SINK_PORT:-2646}
ADMIN_PORT=${ADMIN_PORT:-2647}
DEST_PORT=${DEST_PORT:-2648}
TLS_PORT=${TLS_PORT:-2649}
PROXY_PORT=${PROXY_PORT:-2650}
CSINK_PORT=${CSINK_PORT:-2651}
DEST_ADDR=${DEST_ADDR:-127.0.0.31}
TLS_ADDR=${TLS_ADDR:-127.0.0.32}
CSINK_ADDR=${CSINK_ADDR:-127.0.0.34}
PROXY_ADDR=${PROXY_ADDR:-127.0.0.33}
DEAD_ADDR=${DEAD_ADDR:-127.0.0.36}
DEAD_PORT=${DEAD_PORT:-25}
STALL=${STALL:-120}                      # seconds without sink progress -> case failed
PYTHON=${PYTHON:-/usr/bin/python3}
POSTFIX_DAEMON_DIR=${POSTFIX_DAEMON_DIR:-$(postconf -dh daemon_directory 2>/dev/null || echo /usr/lib/postfix/sbin)}

while [ $# -gt 0 ]; do
  case $1 in
    --cases) CASES=$2; shift 2 ;;
    --count) COUNT=$2; shift 2 ;;
    --size) SIZE=$2; shift 2 ;;
    --sessions) SESSIONS=$2; shift 2 ;;
    --scale-fill) SCALE_FILL=$2; shift 2 ;;
    --repeat) REPEAT=$2; shift 2 ;;
    --relay) RELAY=$2; shift 2 ;;
    --workdir) BENCH_DIR=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --profile) PROFILE=$2; shift 2 ;;
    --fsync-trace) FSYNC_TRACE=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "deliver.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done

die() { echo "deliver.sh: $*" >&2; exit 2; }
note() { echo "deliver.sh: $*" >&2; }
has_case() { case " $CASES " in *" $1 "*) return 0 ;; esac; return 1; }

for c in $CASES; do
  case $c in ceiling|plain|tls|tlsc|paused|drain|scale) ;; *) die "unknown case '$c'" ;; esac
done
has_case drain && ! has_case paused && CASES="$CASES paused"
[ -x "$RELAY" ] || die "relay binary $RELAY not found; build it: cmake --build build --target secmx-relay"
[ -x "$SMTP_SOURCE" ] || die "$SMTP_SOURCE not found (apt-get install postfix, binaries only)"
[ -x "$SMTP_SINK" ] || die "$SMTP_SINK not found"
[ -x "$PYTHON" ] || die "$PYTHON not found"
command -v jq >/dev/null || die "jq not found (apt-get install jq)"
command -v curl >/dev/null || die "curl not found"
case $PROFILE in ""|perf) ;; *) die "--profile must be perf" ;; esac
case $FSYNC_TRACE in
  auto) if command -v perf >/dev/null; then FSYNC_TRACE=on; else FSYNC_TRACE=off; fi ;;
  on) command -v perf >/dev/null || die "--fsync-trace on needs perf (apt-get install linux-perf)" ;;
  off) ;;
  *) die "--fsync-trace must be on or off" ;;
esac
[ -z "$PROFILE" ] || command -v perf >/dev/null || die "perf is not installed (apt-get install linux-perf)"
need_postfix=0
{ has_case tls || has_case ceiling; } && need_postfix=1
if [ "$need_postfix" = 1 ]; then
  [ -x "$POSTFIX_DAEMON_DIR/master" ] || die "Postfix master not found in $POSTFIX_DAEMON_DIR"
  id postfix >/dev/null 2>&1 && getent group postdrop >/dev/null || die "the postfix user/postdrop group are missing"
fi
if has_case tls || has_case tlsc || has_case ceiling; then
  command -v openssl >/dev/null || die "openssl not found"
fi
if has_case tlsc || has_case ceiling; then
  command -v "${CC:-cc}" >/dev/null || die "a C compiler (${CC:-cc}) is needed for tls-sink"
fi

addr_busy() {  # ip port: something listens on ip:port or on the wildcard
  ss -Hltn "sport = :$2" | awk '{print $4}' | grep -qE "^($1|0\.0\.0\.0|\*|\[::\]):$2\$"
}
for p in "$RELAY_PORT" "$SINK_PORT" "$ADMIN_PORT" "$DEST_PORT" "$TLS_PORT" "$PROXY_PORT" "$CSINK_PORT"; do
  ! port_busy "$p" || die "port $p is already in use"
done
! addr_busy "$DEAD_ADDR" "$DEAD_PORT" || die "$DEAD_ADDR:$DEAD_PORT listens; the scale case needs a dead address (DEAD_ADDR/DEAD_PORT)"

mkdir -p "$BENCH_DIR"
WORK=$(mktemp -d "$BENCH_DIR/secmx-deliver.XXXXXX")
chmod 755 "$WORK"
fstype=$(df -PT "$WORK" | awk 'NR==2 {print $2}')
case $fstype in
  tmpfs|ramfs) rm -rf "$WORK"; die "$BENCH_DIR is $fstype: the queue must be on a disk (use --workdir)" ;;
esac
fsdev=$(df -P "$WORK" | awk 'NR==2 {print $1}')
fsmount=$(df -P "$WORK" | awk 'NR==2 {print $6}')
fsopts=$(awk -v m="$fsmount" '$2==m {o=$4} END {print o}' /proc/mounts)

stamp=$(date -u +%Y%m%dT%H%M%SZ)
[ -n "$OUT" ] || OUT=$root/bench/results/deliver-$stamp.md
mkdir -p "$(dirname "$OUT")"
tsv=${OUT%.md}.tsv
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

clk_tck=$(getconf CLK_TCK)
relay_pid='' sampler_pid='' prof_pid='' ftrace_pid='' source_pid='' monitor_pid='' pf_master='' ceil_sink_pid=''
sink_pids=()

stop_pid() {  # pid [signal]: signal it, wait for it (it is our child)
  [ -n "$1" ] || return 0
  kill "-${2:-TERM}" "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

postfix_stop() {
  [ -n "$pf_master" ] || return 0
  local pid i
  pid=$(awk '{print $1; exit}' "$WORK/postfix/queue/pid/master.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  fi
  pf_master=
}

cleanup() {
  local p
  for p in $ftrace_pid $prof_pid $monitor_pid $source_pid $sampler_pid $relay_pid $ceil_sink_pid "${sink_pids[@]}"; do
    kill "$p" 2>/dev/null || true
  done
  postfix_stop
  wait 2>/dev/null || true
  if [ "$KEEP" = 1 ]; then echo "temp dir kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fsub() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", b-a}'; }

# Per-thread CPU ticks of the relay, in creation order (sorted by tid), as "tid:ticks ...".
thread_ticks() {
  local pid=$1 t s out=
  for t in $(ls "/proc/$pid/task" | sort -n); do
    s=$(<"/proc/$pid/task/$t/stat") || continue
    s=${s##*) }; set -- $s
    out+="$t:$(( ${12} + ${13} )) "
  done
  echo "$out"
}
# Difference of two thread_ticks snapshots, summed by role. The relay creates its threads
# in this order (relay/main.cpp): main loop (SMTP server, tid = pid), commit writer,
# WORKERS delivery workers, scheduler, then the admin HTTP server's threads.
# Prints "smtpd writer workers scheduler admin" in seconds.
thread_roles() {  # before after workers
  awk -v before="$1" -v after="$2" -v w="$3" -v hz="$clk_tck" 'BEGIN {
    n = split(before, b, " "); for (i = 1; i <= n; i++) { split(b[i], kv, ":"); t0[kv[1]] = kv[2] }
    n = split(after, a, " ")
    for (i = 1; i <= n; i++) {
      split(a[i], kv, ":"); d = kv[2] - ((kv[1] in t0) ? t0[kv[1]] : 0)
      if (i == 1) r = "smtpd"; else if (i == 2) r = "writer"; else if (i <= 2 + w) r = "workers";
      else if (i == 3 + w) r = "scheduler"; else r = "admin"
      sum[r] += d
    }
    printf "%.2f %.2f %.2f %.2f %.2f\n", sum["smtpd"]/hz, sum["writer"]/hz, sum["workers"]/hz, sum["scheduler"]/hz, sum["admin"]/hz
  }'
}

# Busy and total jiffies of the whole machine (all CPUs), from /proc/stat: "busy total".
machine_ticks() {
  awk '$1 == "cpu" {t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t; exit}' /proc/stat
}
# CPU ticks of the private Postfix instance: its master (with the children it has reaped:
# cutime + cstime) plus every live child of the master.
postfix_ticks() {
  local m; m=$(awk '{print $1; exit}' "$PF/queue/pid/master.pid" 2>/dev/null || true)
  [ -n "$m" ] && [ -r "/proc/$m/stat" ] || { echo 0; return; }
  cat /proc/[0-9]*/stat 2>/dev/null | awk -v m="$m" '{
      pid = $1; s = $0; sub(/^.*\) /, "", s); split(s, f, " ")
      # after the command name: f[2] = ppid, f[12..15] = utime stime cutime cstime
      if (pid == m) t += f[12] + f[13] + f[14] + f[15]
      else if (f[2] == m) t += f[12] + f[13]
    } END {print t + 0}'
}
# From the relay's /metrics: "commits commit_seconds batch_sum" (group commits since start,
# their summed write+fsync time, messages in them).
commit_metrics() {  # dir
  curl -s --max-time 10 -H "Authorization: Bearer $(cat "$1/admin.token")" "http://127.0.0.1:$ADMIN_PORT/metrics" |
    awk '$1 == "secmx_commit_latency_seconds_count" {c = $2} $1 == "secmx_commit_latency_seconds_sum" {s = $2}
         $1 == "secmx_commit_batch_size_sum" {b = $2} END {printf "%d %.3f %d\n", c, s, b}' || echo "0 0 0"
}



# Follows an `smtp-sink -c` output file (counters separated by CR) and writes
# "status t_first t_target mesg sess" to OUT when the message counter reaches TARGET
# (status done), or when it has not moved for STALL seconds (status stall).
cat >"$WORK/sinkmon.py" <<'EOF'
import re, sys, time
path, target, stall, out = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
rx = re.compile(rb"sess=(\d+) quit=\d+ mesg=(\d+)")
sess = mesg = 0
t_first = 0.0
last_change = time.time()
tail = b""
with open(path, "rb") as f:
    while True:
        data = f.read()
        if data:
            m = rx.findall(tail + data)
            tail = (tail + data)[-64:]
            if m:
                s, n = int(m[-1][0]), int(m[-1][1])
                if n != mesg or s != sess:
                    last_change = time.time()
                if n > 0 and mesg == 0:
                    t_first = time.time()
                sess, mesg = s, n
                if mesg >= target:
                    status = "done"
                    break
        elif time.time() - last_change > stall:
            status = "stall"
            break
        time.sleep(0.005)
with open(out + ".tmp", "w") as o:
    o.write(f"{status} {t_first:.3f} {time.time():.3f} {mesg} {sess}\n")
import os
os.rename(out + ".tmp", out)
EOF

# Last counters of an smtp-sink -c (or tls-sink) output: "sess mesg tls resumed".
sink_counts() {
  tr '\r' '\n' <"$1" | awk '/mesg=/ {
      a = b = c = d = 0
      for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      a = v["sess"]; b = v["mesg"]; c = v["tls"]; d = v["resumed"]
    } END {print a + 0, b + 0, c + 0, d + 0}'
}

start_sink() {  # addr port outfile -> appends pid to sink_pids, echoes pid via $sink_pid
  "$SMTP_SINK" -c -u "$SINK_USER" "$1:$2" 1024 >"$3" 2>&1 &
  sink_pid=$!
  sink_pids+=("$sink_pid")
  wait_listen "$2" "$sink_pid" || die "smtp-sink on $1:$2 did not start: $(cat "$3")"
}
stop_sink() { stop_pid "$1"; local keep=() p; for p in "${sink_pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done; sink_pids=("${keep[@]}"); }

source_cmd() {  # count port rcpt-domain [extra flags]
  echo "$SMTP_SOURCE ${4:+$4 }-s $SESSIONS -m $1 -l $SIZE -M bench.example -f sender@bench.example -t rcpt@$3 127.0.0.1:$2"
}

# Ceiling: smtp-source straight into a fresh smtp-sink. Sets ceil_s (seconds).
ceiling_run() {  # dir tag
  local t0 t1 rc=0 cmd
  "$SMTP_SINK" -u "$SINK_USER" "127.0.0.1:$SINK_PORT" 1024 >"$1/ceiling-$2.sink.out" 2>&1 &
  ceil_sink_pid=$!
  wait_listen "$SINK_PORT" "$ceil_sink_pid" || die "smtp-sink did not start: $(cat "$1/ceiling-$2.sink.out")"
  cmd=$(source_cmd "$COUNT" "$SINK_PORT" bench-dest.example)
  t0=$(now); $cmd >"$1/ceiling-$2.source.out" 2>&1 || rc=$?; t1=$(now)
  stop_pid "$ceil_sink_pid"; ceil_sink_pid=
  [ "$rc" = 0 ] || { note "smtp-source against smtp-sink failed (rc $rc): $(tail -3 "$1/ceiling-$2.source.out")"; failed=1; }
  ceil_s=$(fsub "$t0" "$t1")
}

# ---------------------------------------------------------------- TLS sinks
# One self-signed certificate (RSA 2048) for both TLS sinks.
make_cert() {
  [ -f "$WORK/tls/cert.pem" ] && return 0
  mkdir -p "$WORK/tls"
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=tls-sink.bench.example" \
    -keyout "$WORK/tls/key.pem" -out "$WORK/tls/cert.pem" >/dev/null 2>&1 || die "openssl req failed"
  chmod 644 "$WORK/tls/cert.pem"; chmod 600 "$WORK/tls/key.pem"
}

# tls-sink: compiled from the source below into the temp dir.
csink_build() {
  [ -x "$WORK/tls-sink" ] && return 0
  make_cert
  cat >"$WORK/tls-sink.c" <<'CEOF'
/* tls-sink.c - a minimal SMTP sink with STARTTLS, for bench/deliver.sh.
 * Stores nothing. One thread per connection, blocking I/O, OpenSSL defaults for the
 * server side (session cache and RFC 5077 tickets on). Prints smtp-sink -c style counters
 * ("sess=N quit=N mesg=N tls=N resumed=N", CR-separated) on stdout whenever one changes.
 * Usage: tls-sink ADDR PORT CERT KEY */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static SSL_CTX *ctx;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long n_sess, n_quit, n_mesg, n_tls, n_resumed;

static void bump(long *counter, long by) {
  pthread_mutex_lock(&mu);
  *counter += by;
  printf("sess=%ld quit=%ld mesg=%ld tls=%ld resumed=%ld\r", n_sess, n_quit, n_mesg, n_tls, n_resumed);
  fflush(stdout);
  pthread_mutex_unlock(&mu);
}

struct conn {
  int fd;
  SSL *ssl;
  size_t len, off, outlen;
  char in[65536];
  char out[8192];
};

static int flush_out(struct conn *c) {
  size_t done = 0;
  while (done < c->outlen) {
    int w = c->ssl ? SSL_write(c->ssl, c->out + done, (int)(c->outlen - done))
                   : (int)send(c->fd, c->out + done, c->outlen - done, MSG_NOSIGNAL);
    if (w <= 0) return -1;
    done += (size_t)w;
  }
  c->outlen = 0;
  return 0;
}

static int reply(struct conn *c, const char *s) {
  size_t n = strlen(s);
  if (c->outlen + n > sizeof c->out && flush_out(c) < 0) return -1;
  memcpy(c->out + c->outlen, s, n);
  c->outlen += n;
  return 0;
}

/* Next line (with its LF) from the input; replies are flushed before blocking. */
static char *get_line(struct conn *c, size_t *n) {
  for (;;) {
    char *start = c->in + c->off;
    char *nl = memchr(start, '\n', c->len - c->off);
    if (nl) {
      *n = (size_t)(nl - start) + 1;
      c->off += *n;
      return start;
    }
    if (c->off > 0) {
      memmove(c->in, c->in + c->off, c->len - c->off);
      c->len -= c->off;
      c->off = 0;
    }
    if (c->len == sizeof c->in) return NULL; /* line too long */
    if (c->outlen && flush_out(c) < 0) return NULL;
    int r = c->ssl ? SSL_read(c->ssl, c->in + c->len, (int)(sizeof c->in - c->len))
                   : (int)recv(c->fd, c->in + c->len, sizeof c->in - c->len, 0);
    if (r <= 0) return NULL;
    c->len += (size_t)r;
  }
}

static void *serve(void *arg) {
  struct conn *c = arg;
  size_t n;
  char *l;
  int quit = 0;
  reply(c, "220 tls-sink.bench.example ESMTP tls-sink\r\n");
  while (!quit && (l = get_line(c, &n)) != NULL) {
    if (n >= 4 && (strncasecmp(l, "EHLO", 4) == 0 || strncasecmp(l, "HELO", 4) == 0)) {
      reply(c, "250-tls-sink.bench.example\r\n250-PIPELINING\r\n250-SIZE 104857600\r\n"
               "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n");
      reply(c, c->ssl ? "250 DSN\r\n" : "250-DSN\r\n250 STARTTLS\r\n");
    } else if (n >= 8 && strncasecmp(l, "STARTTLS", 8) == 0 && !c->ssl) {
      reply(c, "220 2.0.0 Ready to start TLS\r\n");
      if (flush_out(c) < 0) break;
      c->off = c->len = 0; /* anything pipelined after STARTTLS is dropped */
      c->ssl = SSL_new(ctx);
      SSL_set_fd(c->ssl, c->fd);
      if (SSL_accept(c->ssl) != 1) break;
      bump(&n_tls, 1);
      if (SSL_session_reused(c->ssl)) bump(&n_resumed, 1);
    } else if (n >= 4 && (strncasecmp(l, "MAIL", 4) == 0 || strncasecmp(l, "RCPT", 4) == 0 ||
                          strncasecmp(l, "RSET", 4) == 0 || strncasecmp(l, "NOOP", 4) == 0)) {
      reply(c, "250 2.0.0 Ok\r\n");
    } else if (n >= 4 && strncasecmp(l, "DATA", 4) == 0) {
      reply(c, "354 End data with <CR><LF>.<CR><LF>\r\n");
      while ((l = get_line(c, &n)) != NULL) {
        if ((n == 3 && memcmp(l, ".\r\n", 3) == 0) || (n == 2 && memcmp(l, ".\n", 2) == 0)) break;
      }
      if (l == NULL) break;
      bump(&n_mesg, 1);
      reply(c, "250 2.0.0 Ok: queued\r\n");
    } else if (n >= 4 && strncasecmp(l, "QUIT", 4) == 0) {
      reply(c, "221 2.0.0 Bye\r\n");
      flush_out(c);
      quit = 1;
    } else {
      reply(c, "502 5.5.2 Error: command not recognized\r\n");
    }
  }
  if (c->ssl) {
    if (quit) SSL_shutdown(c->ssl);
    SSL_free(c->ssl);
  }
  close(c->fd);
  free(c);
  if (quit) bump(&n_quit, 1);
  bump(&n_sess, 1);
  ERR_clear_error();
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s ADDR PORT CERT KEY\n", argv[0]);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, argv[3]) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, argv[4], SSL_FILETYPE_PEM) != 1) {
    ERR_print_errors_fp(stderr);
    return 1;
  }
  SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"tls-sink", 8);
  int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[2]))};
  if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 ||
      listen(s, 1024) < 0) {
    perror("tls-sink: bind/listen");
    return 1;
  }
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  for (;;) {
    int fd = accept(s, NULL, NULL);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE) continue;
      perror("tls-sink: accept");
      return 1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct conn *c = calloc(1, sizeof *c);
    if (!c) { close(fd); continue; }
    c->fd = fd;
    pthread_t t;
    if (pthread_create(&t, &attr, serve, c) != 0) { close(fd); free(c); }
  }
}
CEOF
  "${CC:-cc}" -O2 -Wall -o "$WORK/tls-sink" "$WORK/tls-sink.c" -lssl -lcrypto -lpthread 2>"$WORK/tls-sink.build" ||
    die "cannot build tls-sink: $(cat "$WORK/tls-sink.build")"
}
start_csink() {  # outfile -> sink_pid
  csink_build
  "$WORK/tls-sink" "$CSINK_ADDR" "$CSINK_PORT" "$WORK/tls/cert.pem" "$WORK/tls/key.pem" >"$1" 2>"$1.err" &
  sink_pid=$!
  sink_pids+=("$sink_pid")
  wait_listen "$CSINK_PORT" "$sink_pid" || die "tls-sink did not start: $(cat "$1.err")"
}

# ---------------------------------------------------------------- Postfix TLS sink
PF=$WORK/postfix
postfix_start() {
  [ -z "$pf_master" ] || return 0
  local d
  mkdir -p "$PF/conf" "$PF/queue" "$PF/data"
  chown postfix "$PF/data"
  make_cert
  cp "$WORK/tls/cert.pem" "$WORK/tls/key.pem" "$PF/conf/"
  chmod 600 "$PF/conf/key.pem"
  cat >"$PF/conf/main.cf" <<EOF
# A sink that terminates STARTTLS cheaply: smtpd hands every transaction to its
# before-queue proxy filter, an smtp-sink, and stores nothing. Written by bench/deliver.sh.
compatibility_level = 3.6
queue_directory = $PF/queue
data_directory = $PF/data
syslog_name = postfix-benchsink
maillog_file = $PF/postfix.log
maillog_file_prefixes = $PF
myhostname = tls-sink.bench.example
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
relay_domains = bench-dest.example
relayhost =
default_transport = error:no outbound delivery in benchmarks
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_peername_lookup = no
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions =
smtpd_proxy_filter = $PROXY_ADDR:$PROXY_PORT
smtpd_tls_cert_file = $PF/conf/cert.pem
smtpd_tls_key_file = $PF/conf/key.pem
smtpd_tls_security_level = may
# 2: the handshake steps are logged, so full handshakes ("write certificate") can be told
# from resumed ones. Only handshakes are logged at this level, not records.
smtpd_tls_loglevel = 2
smtpd_tls_session_cache_timeout = 3600s
tls_random_source = dev:/dev/urandom
biff = no
EOF
  # As tests/e2e/mta.py: a private master.cf; smtpd on TLS_ADDR:TLS_PORT.
  cat >"$PF/conf/master.cf" <<EOF
$TLS_ADDR:$TLS_PORT inet n - n - - smtpd
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
proxymap  unix  -       -       n       -       -       proxymap
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
error     unix  -       -       n       -       -       error
showq     unix  n       -       n       -       -       showq
EOF
  for d in active bounce corrupt defer deferred flush hold incoming private saved trace; do
    mkdir -p -m 700 "$PF/queue/$d"; chown postfix:root "$PF/queue/$d"
  done
  mkdir -p "$PF/queue/maildrop" "$PF/queue/public" "$PF/queue/pid"
  chown postfix:postdrop "$PF/queue/maildrop" "$PF/queue/public"
  chmod 730 "$PF/queue/maildrop"; chmod 710 "$PF/queue/public"; chmod 755 "$PF/queue/pid"
  "$POSTFIX_DAEMON_DIR/master" -c "$PF/conf" -w || die "Postfix master failed to start: $(tail -5 "$PF/postfix.log" 2>/dev/null)"
  pf_master=1
  local i
  for i in $(seq 1 200); do port_busy "$TLS_PORT" && return 0; sleep 0.05; done
  die "Postfix did not listen on $TLS_ADDR:$TLS_PORT: $(tail -5 "$PF/postfix.log")"
}
pf_log_size() { stat -c %s "$PF/postfix.log" 2>/dev/null || echo 0; }
# Handshake counts in the Postfix log after byte offset: "tls_connections full_handshakes".
pf_handshakes() {
  tail -c +"$(( $1 + 1 ))" "$PF/postfix.log" | awk '
    /TLS connection established from/ {c++}
    /SSL_accept:SSLv3\/TLS write certificate/ {f++}
    END {print c + 0, f + 0}'
}

# ---------------------------------------------------------------- the relay
write_config() {  # dir pause(true|false) route-host route-tls(""|encrypt)
  local dir=$1
  # A second route, where nothing listens, for the scale case's deferred messages.
  write_relay_config "$dir" "$2" "$3" "$4" info "[[route]]
domain = \"deferred.bench\"
host = \"[$DEAD_ADDR]:$DEAD_PORT\""
  "$RELAY" --config "$dir/relay.toml" --check >/dev/null 2>"$dir/check.err" ||
    die "relay rejects the bench config: $(cat "$dir/check.err")"
}

start_relay() {  # dir -> relay_pid, relay_t_launch, relay_t_listen
  relay_t_launch=$(now)
  "$RELAY" --config "$1/relay.toml" >>"$1/relay.stderr" 2>&1 &
  relay_pid=$!
  wait_listen "$RELAY_PORT" "$relay_pid" 2400 ||
    die "relay did not start listening: $(tail -5 "$1/relay.stderr" "$1/relay.log" 2>/dev/null)"
  relay_t_listen=$(now)
  sampler "$relay_pid" "$1/rssanon.max" &
  sampler_pid=$!
}

stop_relay() {  # dir -> relay_exit
  kill "$sampler_pid" 2>/dev/null || true; wait "$sampler_pid" 2>/dev/null || true; sampler_pid=
  kill -TERM "$relay_pid"
  relay_exit=0; wait "$relay_pid" || relay_exit=$?; relay_pid=
  [ "$relay_exit" = 0 ] || { note "relay exited with status $relay_exit ($1)"; failed=1; }
}

stats() {  # dir jq-expression
  curl -s --max-time 10 -H "Authorization: Bearer $(cat "$1/admin.token")" \
    "http://127.0.0.1:$ADMIN_PORT/api/v1/stats" | jq -r "$2" 2>/dev/null || echo ""
}

# Waits (bounded) until the relay's queue holds WANT messages: the outcome of the last
# delivery is committed shortly after the sink has the message.
wait_queue() {  # dir want timeout-s
  local i n=
  for i in $(seq 1 $(( $3 * 10 ))); do
    n=$(stats "$1" '.queue.messages')
    [ "$n" = "$2" ] && return 0
    sleep 0.1
  done
  note "queue of $1 holds ${n:-?} messages, expected $2 (after $3 s)"
  return 1
}

profile_start() {  # dir
  [ "$PROFILE" = perf ] || return 0
  perf record -F "$PERF_FREQ" --call-graph "$PERF_CALLGRAPH" -o "$1/perf.data" -p "$relay_pid" >"$1/perf.out" 2>&1 &
  prof_pid=$!
  sleep 0.5
}
profile_stop() {  # dir casename
  [ -n "$prof_pid" ] || return 0
  kill -INT "$prof_pid" 2>/dev/null || true; wait "$prof_pid" 2>/dev/null || true; prof_pid=
  local r=(perf report -i "$1/perf.data" --stdio)
  # A subshell without -e/pipefail: head closes the pipes early, grep may find nothing.
  (
    set +e +o pipefail
    echo "# perf record -F $PERF_FREQ --call-graph $PERF_CALLGRAPH -p <relay> during case $2"
    echo "# threads in creation order: main loop (smtpd), commit writer, delivery workers, scheduler, admin"
    echo
    echo "## self time by symbol (>= 0.5%)"
    "${r[@]}" --no-children --sort sym --percent-limit 0.5 -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -80
    echo
    echo "## self time by thread"
    "${r[@]}" --no-children --sort pid -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -20
    echo
    echo "## self time by thread and symbol (>= 0.5%)"
    "${r[@]}" --no-children --sort pid,sym --percent-limit 0.5 -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -120
    echo
    echo "## self time by shared object"
    "${r[@]}" --no-children --sort dso -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -20
    echo
    echo "## inclusive time by symbol (children included, >= 2%)"
    "${r[@]}" --children --sort sym --percent-limit 2 -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -120
    true
  ) >"$1/perf-report.txt"
  cp "$1/perf-report.txt" "${OUT%.md}.$2.perf.txt"
}

# The relay's synchronous disk writes, via syscall tracepoints (all threads; only the commit
# writer does them): fdatasync/fsync (LMDB: one per commit, for the data pages) and pwrite64
# (LMDB writes the meta page with pwrite on an O_DSYNC descriptor, i.e. a second sync per
# commit; single data pages are pwrite too). fs = "fdatasync_calls sync_io_seconds".
fsync_start() {  # dir
  [ "$FSYNC_TRACE" = on ] || return 0
  # Only the commit writer (the second thread) syncs: tracing just that thread keeps the
  # cost off the others' syscalls.
  local writer; writer=$(ls "/proc/$relay_pid/task" | sort -n | sed -n 2p)
  perf trace -s -e fdatasync,fsync,pwrite64 -o "$1/fsync-trace.txt" -t "$writer" >/dev/null 2>&1 &
  ftrace_pid=$!
  sleep 0.3
}
fsync_stop() {  # dir -> fs="calls total_s" (not in a subshell: perf trace is our child)
  fs="- -"
  [ -n "$ftrace_pid" ] || return 0
  kill -INT "$ftrace_pid" 2>/dev/null || true; wait "$ftrace_pid" 2>/dev/null || true; ftrace_pid=
  fs=$(awk '$1 == "fdatasync" || $1 == "fsync" {c += $2} $1 ~ /^(fdatasync|fsync|pwrite64)$/ {t += $4}
            END {printf "%d %.3f\n", c, t / 1000}' "$1/fsync-trace.txt" 2>/dev/null || echo "- -")
}

# Counts in the relay log of one case: "sent sent_tls deferred errors" for bench-dest.
log_counts() {
  awk '
    / info delivery: / && /to=<rcpt@bench-dest\.example>/ {
      if (/status=sent/) { s++; if (/tls=TLSv/) t++ } else if (/status=deferred/) d++
    }
    /^[^ ]+ (error|critical) / {e++}
    END {print s + 0, t + 0, d + 0, e + 0}' "$1/relay.log"
}
commits_of() {
  sed -n 's/.*stopped: \([0-9]*\) messages in \([0-9]*\) commits.*/\2/p' "$1/relay.log" "$1/relay.stderr" 2>/dev/null | tail -1 || true
}

# ---------------------------------------------------------------- report rows
rows=()          # markdown rows of the main table
trows=()         # markdown rows of the per-thread table
wrows=()         # markdown rows of the where-the-time-goes table
crows=()         # ceiling-case rows
extra=()         # free text (scale fill etc.)
commands=()
failed=0
printf 'case\trep\tcount\tsessions\tceiling_rate\tsource_s\tfirst_s\te2e_s\te2e_rate\tratio_pct\trelay_cpu_s\tcpu_per_1000\tcpu_smtpd\tcpu_writer\tcpu_workers\tcpu_scheduler\tcpu_admin\tpeak_rssanon_kb\tvmhwm_kb\tsink_mesg\tout_sessions\tlog_sent\tlog_sent_tls\ttls_conns\tfull_handshakes\tqueued_after\tlost\tcommits\tmachine_busy_pct\tsink_cpu_s\tcommits_interval\tcommit_s\tcommit_msgs\tfdatasync_calls\tfdatasync_s\tload1\n' >"$tsv"

# record CASE REP CEIL SRC_S FIRST_S E2E_S CPU_TICKS ROLES RSS HWM MESG SESS SENT SENT_TLS TLSC FULL QUEUED LOST COMMITS
record() {
  local name=$1 rep=$2 ceil=$3 src=$4 first=$5 e2e=$6 ticks=$7 roles=$8 rss=$9 hwm=${10}
  local mesg=${11} sess=${12} sent=${13} senttls=${14} tlsc=${15} full=${16} queued=${17} lost=${18} commits=${19}
  local where=${20:-"0 0 0 0 0 - -"}
  local load1; load1=$(cut -d' ' -f1 /proc/loadavg)
  local out
  out=$(awk -v name="$name" -v rep="$rep" -v n="$COUNT" -v sess_n="$SESSIONS" -v ceil="$ceil" -v src="$src" \
      -v first="$first" -v e2e="$e2e" -v ticks="$ticks" -v hz="$clk_tck" -v roles="$roles" -v rss="$rss" \
      -v hwm="$hwm" -v mesg="$mesg" -v sess="$sess" -v sent="$sent" -v senttls="$senttls" -v tlsc="$tlsc" \
      -v full="$full" -v queued="$queued" -v lost="$lost" -v commits="$commits" -v load1="$load1" \
      -v prof="$PROFILE" -v where="$where" 'BEGIN {
    split(roles, r, " "); split(where, w, " ")
    cr = (ceil > 0) ? n / ceil : 0; er = n / e2e; cpu = ticks / hz
    label = name; if (prof != "") label = label " [" prof "]"
    conns = (tlsc != "-") ? tlsc : sess
    hs = (tlsc != "-") ? sprintf("%d full / %d resumed", full, tlsc - full) : "-"
    srcs = (src == "-") ? "-" : sprintf("%.1f", src)
    printf "MD\t| %s | %d | %.0f | %.0f | %.0f%% | %s | %.1f | %.2f | %.3f | %.1f | %.1f | %s | %s | %d | %s | %s |\n",
      label, n, cr, er, (cr > 0 ? 100 * er / cr : 0), srcs, e2e, cpu, 1000 * cpu / n, rss / 1024, hwm / 1024,
      conns, hs, sent, commits, (lost == 0 ? "0" : "**" lost " LOST**")
    printf "TH\t| %s | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.3f |\n",
      label, er, cpu, r[1], r[2], r[3], r[4], r[5], 1000 * r[4] / n
    fcalls = w[6]; ftime = w[7]
    fshare = (fcalls == "-" || e2e <= 0) ? "-" : sprintf("%.0f%%", 100 * ftime / e2e)
    printf "WH\t| %s | %.1f | %s%% | %.2f | %.2f | %d | %.1f | %s | %s | %s |\n",
      label, e2e, w[1], cpu, w[2], w[3], (w[3] > 0 ? w[5] / w[3] : 0), fcalls, ftime, fshare
    printf "TSV\t%s\t%d\t%d\t%d\t%.1f\t%s\t%.3f\t%.3f\t%.1f\t%.1f\t%.2f\t%.4f\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%d\t%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
      name, rep, n, sess_n, cr, src, first, e2e, er, (cr > 0 ? 100 * er / cr : 0), cpu, 1000 * cpu / n,
      r[1], r[2], r[3], r[4], r[5], rss, hwm, mesg, sess, sent, senttls, tlsc, full, queued, lost, commits,
      w[1], w[2], w[3], w[4], w[5], w[6], w[7], load1
  }')
  rows+=("$(echo "$out" | sed -n 's/^MD\t//p')")
  trows+=("$(echo "$out" | sed -n 's/^TH\t//p')")
  wrows+=("$(echo "$out" | sed -n 's/^WH\t//p')")
  echo "$out" | sed -n 's/^TSV\t//p' >>"$tsv"
  note "$(echo "$out" | sed -n 's/^MD\t//p')"
}

# One end-to-end measurement on a relay that is already configured in DIR.
#   mode: "send"  - smtp-source sends COUNT messages; clock starts at its start
#         "drain" - the queue already holds them; clock starts at the relay's launch
#   sink: plain | tls ;  base: messages expected in the queue afterwards (scale: the fill)
e2e_case() {  # name rep dir mode sink base ceil_s
  local name=$1 rep=$2 dir=$3 mode=$4 sink=$5 base=$6 ceil_s=$7
  local sinkout=$dir/sink.out mon=$dir/sinkmon.res pf_off=0 dest_pid t0 c0 th0 src_rc=0 src_s=0
  rm -f "$mon"
  if [ "$sink" = tls ]; then
    postfix_start
    pf_off=$(pf_log_size)
    start_sink "$PROXY_ADDR" "$PROXY_PORT" "$sinkout"
  elif [ "$sink" = csink ]; then
    start_csink "$sinkout"
  else
    start_sink "$DEST_ADDR" "$DEST_PORT" "$sinkout"
  fi
  dest_pid=$sink_pid
  "$PYTHON" "$WORK/sinkmon.py" "$sinkout" "$COUNT" "$STALL" "$mon" &
  monitor_pid=$!

  local cmd; cmd=$(source_cmd "$COUNT" "$RELAY_PORT" bench-dest.example)
  local mt0 sk0 cm0="0 0 0"
  sink_ticks() { local t; t=$(cpu_ticks "$dest_pid"); [ "$sink" = tls ] && t=$(( t + $(postfix_ticks) )); echo "$t"; }
  if [ "$mode" = drain ]; then
    mt0=$(machine_ticks); sk0=$(sink_ticks)
    start_relay "$dir"
    t0=$relay_t_launch; c0=0; th0=""
    fsync_start "$dir"
    profile_start "$dir"
  else
    start_relay "$dir"
    fsync_start "$dir"
    profile_start "$dir"
    cm0=$(commit_metrics "$dir")
    c0=$(cpu_ticks "$relay_pid"); th0=$(thread_ticks "$relay_pid")
    mt0=$(machine_ticks); sk0=$(sink_ticks)
    t0=$(now)
    commands+=("$cmd")
    ( src_rc_=0; src_t0_=$(now); $cmd >"$dir/source.out" 2>&1 || src_rc_=$?
      echo "$(fsub "$src_t0_" "$(now)") $src_rc_" >"$dir/source.res" ) &
    source_pid=$!
  fi
  wait "$monitor_pid" 2>/dev/null || true; monitor_pid=
  local c1 th1 status t_first t_done mesg sess mt1 sk1 cm1
  c1=$(cpu_ticks "$relay_pid"); th1=$(thread_ticks "$relay_pid")
  mt1=$(machine_ticks); sk1=$(sink_ticks); cm1=$(commit_metrics "$dir")
  local fs; fsync_stop "$dir"
  read -r status t_first t_done mesg sess <"$mon" || status=missing
  profile_stop "$dir" "$name-$rep"
  if [ -n "$source_pid" ]; then
    wait "$source_pid" 2>/dev/null || true; source_pid=
    read -r src_s src_rc <"$dir/source.res"
    [ "$src_rc" = 0 ] || { note "smtp-source against the relay failed (rc $src_rc): $(tail -3 "$dir/source.out")"; failed=1; }
  fi
  [ "$status" = done ] || { note "$name: the sink has $mesg of $COUNT messages after $STALL s without progress"; failed=1; KEEP=1; }
  wait_queue "$dir" "$base" 60 || { failed=1; KEEP=1; }
  sleep 0.2
  local hwm rss
  hwm=$(status_kb "$relay_pid" VmHWM)
  stop_relay "$dir"
  rss=$(cat "$dir/rssanon.max")
  stop_sink "$dest_pid"
  local tlsc=- full=- ctls cres
  read -r sess mesg ctls cres < <(sink_counts "$sinkout")
  [ "$sink" = tls ] && read -r tlsc full < <(pf_handshakes "$pf_off")
  [ "$sink" = csink ] && { tlsc=$ctls; full=$(( ctls - cres )); }

  # --- verify -------------------------------------------------------------------
  local dump queued_total queued_bench sent senttls deferred errs lost commits
  dump=$dir/dump.jsonl
  "$RELAY" --config "$dir/relay.toml" --queue-dump >"$dump" 2>"$dir/dump.err" || { note "queue dump failed: $(cat "$dir/dump.err")"; failed=1; }
  queued_total=$(wc -l <"$dump")
  queued_bench=$(grep -c 'bench-dest\.example' "$dump" || true)
  read -r sent senttls deferred errs < <(log_counts "$dir")
  commits=$(commits_of "$dir"); [ -n "$commits" ] || commits="?"
  lost=$(( COUNT - mesg - queued_bench ))
  [ "$lost" -lt 0 ] && lost=0
  if [ "$mesg" != "$COUNT" ] || [ "$queued_bench" != 0 ] || [ "$queued_total" != "$base" ] || [ "$sent" != "$COUNT" ]; then
    note "$name: CHECK FAILED: sink has $mesg of $COUNT, queue holds $queued_total (expected $base; $queued_bench for bench-dest), relay log has $sent status=sent lines, $deferred deferred ($dir)"
    failed=1; KEEP=1
    [ "$lost" = 0 ] && lost="$(( COUNT - sent ))?"
  fi
  if [ "$sink" != plain ] && [ "$senttls" != "$sent" ]; then
    note "$name: only $senttls of $sent deliveries were over TLS"; failed=1
  fi
  [ "$errs" = 0 ] || note "$name: relay log has $errs error lines, e.g.: $(grep -E '^[^ ]+ (error|critical) ' "$dir/relay.log" | head -1)"

  local e2e_s roles ticks
  e2e_s=$(fsub "$t0" "$t_done")
  if [ "$mode" = drain ]; then
    ticks=$c1
    roles=$(thread_roles "" "$th1" 2)
  else
    ticks=$(( c1 - c0 ))
    roles=$(thread_roles "$th0" "$th1" 2)
  fi
  local first_s; first_s=$(fsub "$t0" "$t_first")
  [ "$mode" = drain ] && src_s=-
  record "$name" "$rep" "$ceil_s" "$src_s" "$first_s" "$e2e_s" "$ticks" "$roles" "$rss" "$hwm" \
    "$mesg" "$sess" "$sent" "$senttls" "$tlsc" "$full" "$queued_total" "$lost" "$commits" \
    "$(where_figures "$mt0" "$mt1" "$(( sk1 - sk0 ))" "$cm0" "$cm1") $fs"
}

# "busy% sink_cpu_s commits commit_s batch_sum" for one interval.
where_figures() {  # "busy0 total0" "busy1 total1" sink_ticks "c s b" "c s b"
  awk -v m0="$1" -v m1="$2" -v sk="$3" -v c0="$4" -v c1="$5" -v hz="$clk_tck" 'BEGIN {
    split(m0, a, " "); split(m1, b, " "); split(c0, x, " "); split(c1, y, " ")
    tot = b[2] - a[2]; busy = (tot > 0) ? 100 * (b[1] - a[1]) / tot : 0
    printf "%.0f %.2f %d %.3f %d\n", busy, sk / hz, y[1] - x[1], y[2] - x[2], y[3] - x[3]
  }'
}

# A TLS sink's ceiling without TLS: smtp-source -> TARGET, one message per connection
# and with connection reuse (-d); a row each in the ceiling table and the tsv. START
# starts the counting sink (output file as argument, sets sink_pid); TICKS prints the CPU
# ticks charged to it (the sink's pid as argument).
plaintext_ceiling() {  # file-prefix tsv-name note-name label target start-fn ticks-fn
  local prefix=$1 tsvname=$2 who=$3 label=$4 target=$5 start=$6 ticks=$7
  local pfmode pfs_pid d_flag cmd pk0 pk1 t0 t1 rc pss pmesg x y ps_ mode_label
  for pfmode in conn reuse; do
    "$start" "$R/$prefix-$pfmode.out"
    pfs_pid=$sink_pid
    d_flag=; [ "$pfmode" = reuse ] && d_flag="-d "
    cmd="$SMTP_SOURCE $d_flag-s $SESSIONS -m $COUNT -l $SIZE -M bench.example -f sender@bench.example -t rcpt@bench-dest.example $target"
    pk0=$("$ticks" "$pfs_pid")
    t0=$(now); rc=0; $cmd >"$R/$prefix-$pfmode.source.out" 2>&1 || rc=$?; t1=$(now)
    sleep 0.3
    pk1=$("$ticks" "$pfs_pid")
    stop_sink "$pfs_pid"
    read -r pss pmesg x y < <(sink_counts "$R/$prefix-$pfmode.out")
    [ "$rc" = 0 ] && [ "$pmesg" = "$COUNT" ] || { note "smtp-source -> $who: rc $rc, $pmesg of $COUNT arrived"; failed=1; }
    commands+=("$cmd")
    ps_=$(fsub "$t0" "$t1")
    mode_label=$( [ "$pfmode" = reuse ] && echo "reuse (-d)" || echo "1 msg/conn")
    crows+=("| $label, $mode_label | $COUNT | $(awk -v n="$COUNT" -v s="$ps_" -v t=$(( pk1 - pk0 )) -v hz="$clk_tck" 'BEGIN {printf "%.0f | %.3f | %.3f", n / s, s, 1000 * t / hz / n}') | $(cut -d' ' -f1 /proc/loadavg) |")
    printf '%s-%s\t%d\t%d\t%d\t%.1f\t%s\n' "$tsvname" "$pfmode" "$rep" "$COUNT" "$SESSIONS" "$(awk -v n="$COUNT" -v s="$ps_" 'BEGIN {print n / s}')" "$ps_" >>"$tsv"
  done
}
postfix_sink_start() { start_sink "$PROXY_ADDR" "$PROXY_PORT" "$1"; }
postfix_sink_ticks() { echo $(( $(postfix_ticks) + $(cpu_ticks "$1") )); }

# ---------------------------------------------------------------- machine info
machine_info() {
  local cpu
  cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
  echo "- Host: $(hostname), $(nproc) CPUs ($cpu), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM"
  echo "- Kernel: $(uname -sr); $(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "- Queue filesystem: $fstype on $fsdev mounted at $fsmount ($fsopts); temp dir $WORK"
  echo "- Postfix tools: $(dpkg-query -W -f '${Package} ${Version}' postfix 2>/dev/null || echo unknown); OpenSSL $(openssl version 2>/dev/null | awk '{print $2}')"
  echo "- Relay: $RELAY ($("$RELAY" --version 2>/dev/null || echo '?'), compiled with $(relay_flags))"
  echo "- Load average at the start: $load_start"
}

# ---------------------------------------------------------------- the cases
note "temp dir $WORK; report $OUT"
for rep in $(seq 1 "$REPEAT"); do
  R=$WORK/rep$rep
  mkdir -p "$R"

  if has_case ceiling; then
    ceiling_run "$R" standalone; cs=$ceil_s
    commands+=("$(source_cmd "$COUNT" "$SINK_PORT" bench-dest.example)")
    crows+=("| smtp-source → smtp-sink (one hop) | $COUNT | $(awk -v n="$COUNT" -v s="$cs" 'BEGIN {printf "%.0f", n / s}') | $cs | - | $(cut -d' ' -f1 /proc/loadavg) |")
    printf 'ceiling\t%d\t%d\t%d\t%.1f\t%s\n' "$rep" "$COUNT" "$SESSIONS" "$(awk -v n="$COUNT" -v s="$cs" 'BEGIN {print n / s}')" "$cs" >>"$tsv"
    # The TLS sink without TLS: smtp-source -> Postfix smtpd -> proxy smtp-sink, one
    # message per connection (as the ceiling) and with connection reuse (-d, as the relay
    # delivers). CPU of the Postfix instance + the smtp-sink behind it, per 1000 messages.
    postfix_start
    plaintext_ceiling pfsink postfix-sink "Postfix sink" \
      "smtp-source → Postfix smtpd (STARTTLS offered, not used) → proxy smtp-sink" \
      "$TLS_ADDR:$TLS_PORT" postfix_sink_start postfix_sink_ticks
    # The same for tls-sink.
    plaintext_ceiling csink tls-sink "tls-sink" \
      "smtp-source → tls-sink (STARTTLS offered, not used)" \
      "$CSINK_ADDR:$CSINK_PORT" start_csink cpu_ticks
  fi

  # name route-host route-tls sink: ceiling, fresh relay, send and deliver, measure.
  send_case() {
    ceiling_run "$R" "$1"; cs=$ceil_s
    write_config "$R/$1" false "$2" "$3"
    e2e_case "$1" "$rep" "$R/$1" send "$4" 0 "$cs"
    [ "$KEEP" = 1 ] || rm -rf "$R/$1/queue"
  }
  if has_case plain; then send_case plain "[$DEST_ADDR]:$DEST_PORT" "" plain; fi
  if has_case tls; then send_case tls "[$TLS_ADDR]:$TLS_PORT" encrypt tls; fi
  if has_case tlsc; then send_case tlsc "[$CSINK_ADDR]:$CSINK_PORT" encrypt csink; fi

  if has_case paused; then
    ceiling_run "$R" paused; cs=$ceil_s
    d=$R/paused
    write_config "$d" true "[$DEST_ADDR]:$DEST_PORT" ""
    start_relay "$d"
    fsync_start "$d"
    cm0=$(commit_metrics "$d")
    c0=$(cpu_ticks "$relay_pid"); th0=$(thread_ticks "$relay_pid"); mt0=$(machine_ticks)
    cmd=$(source_cmd "$COUNT" "$RELAY_PORT" bench-dest.example)
    t0=$(now); rc=0; $cmd >"$d/source.out" 2>&1 || rc=$?; t1=$(now)
    c1=$(cpu_ticks "$relay_pid"); th1=$(thread_ticks "$relay_pid"); mt1=$(machine_ticks)
    cm1=$(commit_metrics "$d")
    fsync_stop "$d"
    [ "$rc" = 0 ] || { note "smtp-source against the paused relay failed (rc $rc)"; failed=1; }
    sleep 2   # idle with COUNT queued: RssAnon as it stays
    hwm=$(status_kb "$relay_pid" VmHWM)
    stop_relay "$d"
    rss=$(cat "$d/rssanon.max")
    queued=$("$RELAY" --config "$d/relay.toml" --queue-dump 2>/dev/null | wc -l)
    lost=$(( COUNT - queued ))
    [ "$lost" = 0 ] || { note "paused: smtp-source sent $COUNT, the queue holds $queued"; failed=1; KEEP=1; }
    src_s=$(fsub "$t0" "$t1")
    commits=$(commits_of "$d"); [ -n "$commits" ] || commits="?"
    # Here the "e2e" time is the accept time: nothing is delivered.
    record paused "$rep" "$cs" "$src_s" "-" "$src_s" $(( c1 - c0 )) "$(thread_roles "$th0" "$th1" 2)" "$rss" "$hwm" \
      0 0 0 0 - - "$queued" "$lost" "$commits" "$(where_figures "$mt0" "$mt1" 0 "$cm0" "$cm1") $fs"
  fi

  if has_case drain; then
    ceiling_run "$R" drain; cs=$ceil_s
    d=$R/paused
    write_config "$d" false "[$DEST_ADDR]:$DEST_PORT" ""
    : >"$d/relay.log.paused"; cat "$d/relay.log" >>"$d/relay.log.paused"; : >"$d/relay.log"
    rm -f "$d/rssanon.max"
    e2e_case drain "$rep" "$d" drain plain 0 "$cs"
  fi
  [ "$KEEP" = 1 ] || rm -rf "$R/paused/queue"

  if has_case scale && [ "$rep" = "$REPEAT" ]; then
    d=$R/scale
    write_config "$d" false "[$DEST_ADDR]:$DEST_PORT" ""
    note "scale: filling the queue with $SCALE_FILL messages for deferred.bench ($DEAD_ADDR:$DEAD_PORT, refused)"
    start_relay "$d"
    fill_c0=$(cpu_ticks "$relay_pid")
    fcmd=$(source_cmd "$SCALE_FILL" "$RELAY_PORT" deferred.bench -d)
    commands+=("$fcmd")
    t0=$(now); rc=0; $fcmd >"$d/fill.source.out" 2>&1 || rc=$?; t1=$(now)
    [ "$rc" = 0 ] || { note "fill: smtp-source failed (rc $rc): $(tail -3 "$d/fill.source.out")"; failed=1; }
    # Every message must have had its one (refused) attempt and be deferred.
    for i in $(seq 1 1800); do
      n=$(stats "$d" '[.deferred[]] | add')
      [ "${n:-0}" -ge "$SCALE_FILL" ] && break
      sleep 1
    done
    t2=$(now)
    fill_cpu=$(( $(cpu_ticks "$relay_pid") - fill_c0 ))
    fill_q=$(stats "$d" '.queue.messages')
    fill_hwm=$(status_kb "$relay_pid" VmHWM)
    stop_relay "$d"
    fill_rss=$(cat "$d/rssanon.max")
    fill_dump_n=$("$RELAY" --config "$d/relay.toml" --queue-dump 2>/dev/null | wc -l)
    fill_sent=$(fsub "$t0" "$t1"); fill_all=$(fsub "$t0" "$t2")
    extra+=("Scale fill: $SCALE_FILL messages to deferred.bench ($fcmd) accepted in ${fill_sent} s, all tried once and deferred after ${fill_all} s ($(awk -v n="$SCALE_FILL" -v s="$fill_all" 'BEGIN {printf "%.0f", n / s}') msg/s accept + failed attempt; relay CPU $(awk -v t="$fill_cpu" -v hz="$clk_tck" -v n="$SCALE_FILL" 'BEGIN {printf "%.1f s, %.3f s per 1000", t / hz, 1000 * t / hz / n}'); peak RssAnon $(awk -v k="$fill_rss" 'BEGIN {printf "%.1f MB", k / 1024}'), VmHWM $(awk -v k="$fill_hwm" 'BEGIN {printf "%.1f MB", k / 1024}')). Queue after the fill: ${fill_q:-?} messages (stats), $fill_dump_n listed by --queue-dump; data.mdb $(du -m "$d/queue/data.mdb" | cut -f1) MB.")
    [ "$fill_dump_n" = "$SCALE_FILL" ] || { note "scale: the queue holds $fill_dump_n messages after the fill, expected $SCALE_FILL"; failed=1; KEEP=1; }
    # Restart on the full queue; how long until it listens?
    ceiling_run "$R" scale; cs=$ceil_s
    rm -f "$d/rssanon.max"
    mv "$d/relay.log" "$d/relay.log.fill"
    t_l=$(now)
    e2e_case scale "$rep" "$d" send plain "$fill_dump_n" "$cs"
    startup=$(awk '/ info main: queue .* opened:/ {print $1; exit}' "$d/relay.log")
    extra+=("Scale restart: the relay opened the queue of $fill_dump_n messages and listened $(fsub "$relay_t_launch" "$relay_t_listen" 2>/dev/null || echo '?') s after its launch ($(grep -m1 ' info main: queue .* opened:' "$d/relay.log" | sed 's/.* info main: //')).")
    [ "$KEEP" = 1 ] || rm -rf "$d/queue"
  fi
done
postfix_stop

# ---------------------------------------------------------------- report
plain_rate=$(awk -F'\t' '$1 == "plain" {r = $9} END {print r + 0}' "$tsv")
scale_rate=$(awk -F'\t' '$1 == "scale" {r = $9} END {print r + 0}' "$tsv")
plain_sched=$(awk -F'\t' '$1 == "plain" {r = 1000 * $16 / $3} END {printf "%.3f", r}' "$tsv")
scale_sched=$(awk -F'\t' '$1 == "scale" {r = 1000 * $16 / $3} END {printf "%.3f", r}' "$tsv")
{
  echo "# secmx-relay end-to-end delivery (accept + deliver), $stamp"
  echo
  machine_info
  echo
  echo "Cases: $CASES; $COUNT messages of $SIZE bytes per case, smtp-source -s $SESSIONS, one message per connection."
  echo "Relay: fresh queue per case on the disk above (fsync on: group commit, each 250 sent once its commit is synced), log level info to a file,"
  echo "delivery defaults (2 workers, destination_concurrency 20, connection_cache_time 2s), retry = [\"4h\"]."
  echo "Ceiling: the same smtp-source command against \`$SMTP_SINK -u $SINK_USER 127.0.0.1:$SINK_PORT 1024\`, run just before each row."
  [ -z "$PROFILE" ] || echo "**Profiled with perf: relay figures are perturbed by the profiler.**"
  [ "$FSYNC_TRACE" != on ] || echo "fsync trace on: perf trace -s on the relay's commit writer thread (fdatasync, fsync, pwrite64); it adds a little cost to every syscall while it runs (--fsync-trace off for untraced figures)."
  echo
  if [ "${#crows[@]}" -gt 0 ]; then
    echo "## Ceilings"
    echo
    echo "| path | msgs | msg/s | s | sink CPU s/1000 msgs | load1 after |"
    echo "|---|---:|---:|---:|---:|---:|"
    printf '%s\n' "${crows[@]}"
    echo
    echo "smtp-source cannot do TLS, so there is no one-hop TLS ceiling; the Postfix and tls-sink rows are the TLS sinks'"
    echo "capacity without the handshakes (sink CPU = the Postfix instance, with the children it reaped, + the smtp-sink"
    echo "behind it; or tls-sink)."
    echo
  fi
  echo "## End to end"
  echo
  echo "| case | msgs | ceiling msg/s | relay e2e msg/s | ratio | smtp-source s | e2e s | relay CPU s | CPU s/1000 msgs | peak RssAnon MB | VmHWM MB | outbound conns | TLS handshakes | status=sent | LMDB commits | lost |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "## Where the time goes"
  echo
  echo "| case | e2e s | machine CPU busy (2 CPUs = 100%) | relay CPU s | sink CPU s | inbound commits | msgs per inbound commit | relay fdatasync calls | time in fdatasync + pwrite s | share of e2e time |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${wrows[@]}"
  echo
  echo "## Relay CPU by thread (seconds during the measurement)"
  echo
  echo "| case | e2e msg/s | total | smtpd loop | commit writer | delivery workers | scheduler | admin | scheduler CPU s/1000 msgs |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${trows[@]}"
  echo
  if [ "${#extra[@]}" -gt 0 ]; then
    echo "## Scale"
    echo
    printf -- '- %s\n' "${extra[@]}"
    if [ "$(awk -v a="$plain_rate" 'BEGIN {print (a > 0)}')" = 1 ] && [ "$(awk -v a="$scale_rate" 'BEGIN {print (a > 0)}')" = 1 ]; then
      echo "- New mail with $SCALE_FILL deferred in the queue: $(awk -v a="$scale_rate" -v b="$plain_rate" 'BEGIN {printf "%.0f msg/s = %.0f%% of the empty-queue rate (%.0f msg/s)", a, 100 * a / b, b}'); scheduler thread $scale_sched CPU s per 1000 messages vs $plain_sched with an empty queue."
    fi
    echo
  fi
  echo "Commands:"
  echo
  echo '```'
  printf '%s\n' "${commands[@]}" | awk '!seen[$0]++'
  echo "$SMTP_SINK -c -u $SINK_USER $DEST_ADDR:$DEST_PORT 1024        # plain destination"
  echo "$POSTFIX_DAEMON_DIR/master -c <tmp>/postfix/conf -w    # TLS destination: smtpd on $TLS_ADDR:$TLS_PORT, smtpd_proxy_filter = $PROXY_ADDR:$PROXY_PORT"
  echo "$SMTP_SINK -c -u $SINK_USER $PROXY_ADDR:$PROXY_PORT 1024        # behind it"
  echo "<tmp>/tls-sink $CSINK_ADDR $CSINK_PORT <tmp>/tls/cert.pem <tmp>/tls/key.pem   # tlsc destination (source in bench/deliver.sh)"
  echo "$RELAY --config <tmp>/relay.toml   # per case"
  echo '```'
  echo
  echo "Columns: e2e msg/s = messages / (time from smtp-source's start — drain: the relay's launch — until the sink"
  echo "counted the last message); ratio = e2e / ceiling; smtp-source s = time until smtp-source had its last 250 (the"
  echo "accept side); relay CPU s = utime+stime of all relay threads over the e2e time (drain: since the relay started);"
  echo "peak RssAnon = max of /proc/PID/status RssAnon sampled every 50 ms; VmHWM = peak RSS including the file-backed"
  echo "LMDB map; outbound conns = sessions the sink saw (plain) or TLS connections (tls, tlsc); TLS handshakes ="
  echo "full / resumed, from the Postfix sink's log (certificate sent or not) or tls-sink's counters (SSL_session_reused);"
  echo "status=sent = the relay's per-attempt log lines;"
  echo "LMDB commits = write transactions the relay reports at shutdown (messages in + outcomes); lost = sent − arrived"
  echo "at the sink − left in the queue. paused: accept only (delivery paused), its e2e s is the accept time."
  echo
  echo "Where the time goes: machine CPU busy = non-idle, non-iowait share of all CPUs over the e2e time (/proc/stat;"
  echo "includes smtp-source, the sinks and anything else running); sink CPU s = smtp-sink, or the Postfix instance"
  echo "(master + children) + its smtp-sink; inbound commits / msgs per inbound commit = the relay's"
  echo "secmx_commit_latency_seconds_count and secmx_commit_batch_size (new messages only: outcome writes are not in"
  echo "that histogram, they are in the LMDB commits column above); fdatasync calls and time in fdatasync + pwrite64 ="
  echo "perf trace -s of the relay (LMDB: one fdatasync per commit, then the meta page by pwrite on an O_DSYNC fd);"
  echo "share = that time / e2e time (one writer thread: near 100% means the commit writer is the bottleneck)."
  echo "CPU by thread: threads told apart by creation order (main loop = SMTP server, commit writer, 2 workers,"
  echo "scheduler, admin HTTP); scheduler CPU s/1000 msgs is the figure that must not grow with the queue (scale)."
  echo
  echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews every column)."
} >"$OUT"
cat "$OUT"
echo "report: $OUT (tsv: $tsv)" >&2
exit $failed
