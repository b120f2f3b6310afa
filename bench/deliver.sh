#!/usr/bin/env bash
# deliver.sh - end-to-end benchmark for secmx-relay: accept + deliver, with the queue's
# fsync on, to a fast local sink (Postfix's smtp-sink), in plaintext, with STARTTLS, and
# authenticated by DANE or MTA-STS.
#
# Cases (--cases; each relay case gets a fresh relay process and, unless said otherwise,
# a fresh queue; each is preceded by the one-hop ceiling measured just before it):
#   ceiling  smtp-source -> smtp-sink (stores nothing): the ceiling of this machine, and
#            smtp-source -> each TLS sink below, in plaintext (smtp-source cannot do TLS),
#            one message per connection and with -d: what the TLS sinks can take without
#            the handshakes.
#   plain    smtp-source -> relay -> smtp-sink on 127.0.0.31. The figure is COUNT / (time
#            from smtp-source's start until the sink has received the COUNT-th message).
#   plain-noaudit  plain with the audit trail off ([audit] enabled = false): what the
#            audit records (accept and outcome, written in the same commits) cost, against
#            plain of the same run.
#   tls      the same, but the destination is a private Postfix smtpd on 127.0.0.32
#            offering STARTTLS (self-signed certificate, session tickets on) whose
#            before-queue proxy filter (smtpd_proxy_filter) is an smtp-sink on 127.0.0.33:
#            a sink that terminates TLS cheaply. The route has tls = "encrypt", so every
#            delivery must use TLS; the relay log must say tls=TLSv... for each one.
#   tlsc     the same as tls, but the destination is tls-sink, a small C program written
#            by this script (one thread per connection, OpenSSL server defaults: session
#            cache and tickets on) on 127.0.0.34: the cheapest STARTTLS sink at hand, for
#            when the Postfix sink, not the relay, is what limits the tls case.
#   dane     the same as tlsc (tls-sink, its certificate, count, size, sessions), but no
#            [[route]]: the relay finds the sink by discovery in a DNSSEC-signed zone (nsd
#            behind a validating unbound on loopback, started by bench/deliver/authworld.py
#            with tests/e2e/dnssec_zone.py): bench-dest.example MX 10 mx.bench-dest.example,
#            its A = tls-sink's address, _PORT._tcp TLSA 3 1 1 for tls-sink's key;
#            [dns] dnssec = true, delivery.port = tls-sink's port. Every status=sent line
#            must say the session was authenticated by DANE. TTLs of 3600 s: after the first
#            messages every lookup comes from the relay's cache.
#   sts      the same, but the zone is unsigned (dnssec off) and bench-dest.example has an
#            MTA-STS enforce policy (_mta-sts TXT; the policy served over HTTPS on
#            STS_ADDR:443 by tests/e2e/sts_server.py); tls-sink's certificate is issued for
#            mx.bench-dest.example by a bench CA in delivery.ca_file. Every status=sent
#            line must say MTA-STS, and the policy must have been fetched exactly once.
#   dane-rpt, sts-rpt  dane and sts with TLS reporting on ([tlsrpt] enabled = true): the
#            cost of counting every session durably, against dane and sts of the same run.
#            Checked after the measurement, on the running relay: the day's TLS-RPT counts
#            for the bench domain (GET /api/v1/tlsrpt) have no failure and 1..COUNT
#            successes, the same number as secmx_tls_sessions_total{policy,result=success}.
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
# workers, scheduler, admin; threads are told apart by their names), peak RssAnon
# (sampled every 50 ms from /proc/PID/status) and VmHWM, outbound connections (sink
# sessions), TLS handshakes (full / resumed, from the Postfix sink's log or tls-sink's
# counters), the LMDB commit count, machine CPU busy and the time the commit writer spends
# in fdatasync/pwrite (--fsync-trace). Verified: the sink received exactly COUNT messages, the relay log has one
# status=sent line per message (with tls=TLSv... for tls, tlsc, dane and sts; for dane and
# sts also the authentication and method=mx), and after SIGTERM
# `secmx-relay --queue-dump` lists nothing for the benchmark domain (scale: exactly the
# SCALE_FILL deferred ones). Anything else marks the case LOST and the script exits 1.
#
# Usage: bench/deliver.sh [options]        (every option also has an environment form)
#   --cases "ceiling plain plain-noaudit tls tlsc dane sts dane-rpt sts-rpt paused drain scale"
#                                 CASES        (default: all)
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
#   --key rsa|ecdsa               KEY_TYPE     the certificate tls-sink serves in tlsc, dane
#                                              and sts (rsa: RSA 2048; ecdsa: ECDSA P-256,
#                                              from the same bench CA, for the same names;
#                                              dane's TLSA record is made for it); the
#                                              Postfix TLS sink always serves RSA
#   (environment only) AUTH_DELIVERY  extra [delivery] lines for dane, sts, dane-rpt and
#                                 sts-rpt, e.g. 'connection_cache_time = "0s"': a new
#                                 connection (and TLS session) for every message
# Ports (127.0.0.1 unless said): RELAY_PORT (2645), SINK_PORT (2646, ceiling sink),
# ADMIN_PORT (2647), DEST_PORT (2648, plain sink on 127.0.0.31), TLS_PORT (2649, Postfix on
# 127.0.0.32), PROXY_PORT (2650, smtp-sink behind Postfix on 127.0.0.33), CSINK_PORT (2651,
# tls-sink on 127.0.0.34), DEAD_ADDR:DEAD_PORT (127.0.0.36:25, must not listen), STS_ADDR
# (127.0.0.37, port 443: the sts case's policy host); the dane/sts DNS takes free ports. Temp dir: $BENCH_DIR/secmx-deliver.XXXXXX (0755, so
# that Postfix's unprivileged users can reach their files).
set -euo pipefail

# Layout: this file holds the command line, the checks, the temp dir and the order of the
# cases; the rest is sourced from bench/deliver/ (functions only, nothing runs on
# sourcing): sinks.sh (smtp-sink, tls-sink, the Postfix TLS sink), relay.sh (the relay
# under test), measure.sh (CPU figures and e2e_case, the one end-to-end measurement),
# report.sh (rows, tsv, the markdown report) and one file per case family: ceiling.sh,
# send.sh (plain, tls, tlsc), auth.sh (dane, sts, dane-rpt, sts-rpt), paused.sh (paused, drain), scale.sh. Shared with accept.sh
# and bound.sh: bench/lib.sh (option parsing, the relay config, /proc helpers).

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
for f in sinks relay measure report ceiling send auth paused scale; do
  # shellcheck source=/dev/null
  . "$here/deliver/$f.sh"
done

CASES=${CASES:-"ceiling plain plain-noaudit tls tlsc dane sts dane-rpt sts-rpt paused drain scale"}
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
KEY_TYPE=${KEY_TYPE:-rsa}
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
STS_ADDR=${STS_ADDR:-127.0.0.37}
AUTH_DELIVERY=${AUTH_DELIVERY:-}
AUTH_MX=${AUTH_MX:-mx.bench-dest.example}
STALL=${STALL:-120}                      # seconds without sink progress -> case failed
PYTHON=${PYTHON:-/usr/bin/python3}
POSTFIX_DAEMON_DIR=${POSTFIX_DAEMON_DIR:-$(postconf -dh daemon_directory 2>/dev/null || echo /usr/lib/postfix/sbin)}

parse_options "--cases:CASES --count:COUNT --size:SIZE --sessions:SESSIONS --scale-fill:SCALE_FILL
  --repeat:REPEAT --relay:RELAY --workdir:BENCH_DIR --out:OUT --profile:PROFILE
  --fsync-trace:FSYNC_TRACE --keep:KEEP=1 --key:KEY_TYPE" "$@"
case $KEY_TYPE in rsa|ecdsa) ;; *) die "--key must be rsa or ecdsa" ;; esac

has_case() { case " $CASES " in *" $1 "*) return 0 ;; esac; return 1; }
addr_busy() {  # ip port: something listens on ip:port or on the wildcard
  ss -Hltn "sport = :$2" | awk '{print $4}' | grep -qE "^($1|0\.0\.0\.0|\*|\[::\]):$2\$"
}

for c in $CASES; do
  case $c in ceiling|plain|plain-noaudit|tls|tlsc|dane|sts|dane-rpt|sts-rpt|paused|drain|scale) ;; *) die "unknown case '$c'" ;; esac
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
has_auth=0
{ has_case dane || has_case sts || has_case dane-rpt || has_case sts-rpt; } && has_auth=1
if has_case tls || has_case tlsc || has_case ceiling || [ "$has_auth" = 1 ]; then
  command -v openssl >/dev/null || die "openssl not found"
fi
if [ "$has_auth" = 1 ]; then
  for t in nsd nsd-checkconf ldns-keygen ldns-signzone unbound unbound-checkconf; do
    command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] ||
      die "$t not found: the dane and sts cases need apt-get install nsd ldnsutils unbound"
  done
fi
if has_case sts || has_case sts-rpt; then
  [ -f "$root/tests/e2e/sts_server.py" ] || die "the sts case needs tests/e2e/sts_server.py (the MTA-STS policy host)"
  ! addr_busy "$STS_ADDR" 443 || die "$STS_ADDR:443 listens already; the sts case serves its policy there (STS_ADDR)"
fi
if has_case tlsc || has_case ceiling || [ "$has_auth" = 1 ]; then
  command -v "${CC:-cc}" >/dev/null || die "a C compiler (${CC:-cc}) is needed for tls-sink"
fi

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
CASE_CHECK='' rpt_policy='' rpt_name='' rpt_day0=''
relay_pid='' sampler_pid='' prof_pid='' ftrace_pid='' source_pid='' monitor_pid='' pf_master='' ceil_sink_pid='' world_pid=''
sink_pids=()
PF=$WORK/postfix

stop_pid() {  # pid [signal]: signal it, wait for it (it is our child)
  [ -n "$1" ] || return 0
  kill "-${2:-TERM}" "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

cleanup() {
  local p
  for p in $ftrace_pid $prof_pid $monitor_pid $source_pid $sampler_pid $relay_pid $ceil_sink_pid $world_pid "${sink_pids[@]}"; do
    kill "$p" 2>/dev/null || true
  done
  postfix_stop
  wait 2>/dev/null || true
  if [ "$KEEP" = 1 ]; then echo "temp dir kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

report_init
failed=0
note "temp dir $WORK; report $OUT"
for rep in $(seq 1 "$REPEAT"); do
  R=$WORK/rep$rep
  mkdir -p "$R"
  if has_case ceiling; then case_ceiling; fi
  if has_case plain; then case_plain; fi
  if has_case plain-noaudit; then case_plain_noaudit; fi
  if has_case tls; then case_tls; fi
  if has_case tlsc; then case_tlsc; fi
  if has_case dane; then case_dane; fi
  if has_case sts; then case_sts; fi
  if has_case dane-rpt; then case_dane_rpt; fi
  if has_case sts-rpt; then case_sts_rpt; fi
  if has_case paused; then case_paused; fi
  if has_case drain; then case_drain; fi
  [ "$KEEP" = 1 ] || rm -rf "$R/paused/queue"
  if has_case scale && [ "$rep" = "$REPEAT" ]; then case_scale; fi
done
postfix_stop

write_report
echo "report: $OUT (tsv: $tsv)" >&2
exit $failed
