#!/usr/bin/env bash
# audit-report.sh - how long `secmxctl audit report` takes over a large audit trail.
#
# Fills a fresh queue store with COUNT synthetic audit records (bench/audit_fill.cpp,
# secmx-audit-fill: schema-v1 records of mixed classification, policy, outcome and TLS
# authentication, appended through Store::append_audit in large transactions and
# checkpointed), starts secmx-relay on loopback over it, then times
# `secmxctl audit report` over the whole month the records span (REPEAT times) and
# `secmxctl audit verify` once. Prints, and writes as markdown: records, report seconds
# (each run), verify seconds, store size and bytes per record. The target (issue 18):
# a report over 1,000,000 records in <= 10 s. Exit 1 when the report fails.
#
# Usage: bench/audit-report.sh [options]   (every option also has an environment form)
#   --count N        COUNT       records (default 1000000)
#   --repeat N       REPEAT      report runs (default 3)
#   --build DIR      BUILD       build tree (default build)
#   --workdir DIR    BENCH_DIR   parent of the temp dir (default /var/tmp)
#   --out FILE       OUT         markdown report (default bench/results/audit-report-<UTC>.md)
#   --keep           KEEP=1      keep the temp dir (queue, log) afterwards
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"

COUNT=${COUNT:-1000000}
REPEAT=${REPEAT:-3}
BUILD=${BUILD:-$root/build}
BENCH_DIR=${BENCH_DIR:-/var/tmp}
OUT=${OUT:-$root/bench/results/audit-report-$(date -u +%Y%m%dT%H%M%SZ).md}
KEEP=${KEEP:-}
parse_options "--count:COUNT --repeat:REPEAT --build:BUILD --workdir:BENCH_DIR --out:OUT --keep:KEEP=1" "$@"

RELAY=$BUILD/relay/secmx-relay
CTL=$BUILD/admin/secmxctl
FILL=$BUILD/bench/secmx-audit-fill
for b in "$RELAY" "$CTL" "$FILL"; do
  [ -x "$b" ] || die "$b not built (cmake --build $BUILD --target secmx-relay secmxctl secmx-audit-fill)"
done

RELAY_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ADMIN_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dir=$(mktemp -d "$BENCH_DIR/secmx-audit-report.XXXXXX")
relay_pid=
cleanup() {
  if [ -n "$relay_pid" ] && kill -0 "$relay_pid" 2>/dev/null; then
    kill -TERM "$relay_pid"; wait "$relay_pid" 2>/dev/null || true
  fi
  [ -n "$KEEP" ] && note "kept $dir" || rm -rf "$dir"
}
trap cleanup EXIT

write_relay_config "$dir" true "" "" warn
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/audit.key"
# The key file of the relay's [audit] section when the build knows it; this build's
# default (etc/audit.key) is relative, so verify runs from $dir with that layout.
mkdir -p "$dir/etc" && cp "$dir/audit.key" "$dir/etc/audit.key"

note "filling $COUNT records into $dir/queue"
t0=$(now)
written=$("$FILL" --queue "$dir/queue" --count "$COUNT" --key-file "$dir/audit.key")
t1=$(now)
fill_s=$(echo "$t1 - $t0" | bc)
store_bytes=$(du -sb "$dir/queue" | cut -f1)

(cd "$dir" && exec "$RELAY" --config "$dir/relay.toml" >"$dir/relay.stderr" 2>&1) &
relay_pid=$!
for _ in $(seq 1 200); do
  "$CTL" --config "$dir/relay.toml" stats >/dev/null 2>&1 && break
  sleep 0.1
done
"$CTL" --config "$dir/relay.toml" stats >/dev/null || die "the relay did not start (see $dir/relay.stderr)"

times=()
for i in $(seq 1 "$REPEAT"); do
  t0=$(now)
  "$CTL" --config "$dir/relay.toml" audit report --from 2026-11-01 --to 2026-12-01 >"$dir/report.txt" ||
    { note "audit report failed"; exit 1; }
  t1=$(now)
  times+=("$(printf '%.2f' "$(echo "$t1 - $t0" | bc)")")
done
"$CTL" --config "$dir/relay.toml" --json audit report --from 2026-11-01 --to 2026-12-01 >"$dir/report.json"
reported=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["records"])' "$dir/report.json")
t0=$(now)
(cd "$dir" && "$CTL" --config "$dir/relay.toml" audit verify >"$dir/verify.txt") || true
t1=$(now)
verify_s=$(printf '%.2f' "$(echo "$t1 - $t0" | bc)")
verify_line=$(head -1 "$dir/verify.txt")

per_record=$(( store_bytes / written ))
best=$(printf '%s\n' "${times[@]}" | sort -n | head -1)
machine="$(nproc) CPU ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(free -g | awk '/Mem:/ {print $2}') GiB RAM, load $(cut -d' ' -f1 /proc/loadavg)"

mkdir -p "$(dirname "$OUT")"
{
  echo "# audit report benchmark, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "machine: $machine  "
  echo "command: \`bench/audit-report.sh --count $COUNT --repeat $REPEAT\`"
  echo
  echo "| records | in report | report s (each run) | best s | verify s | fill s | store MB | bytes/record |"
  echo "|---:|---:|---|---:|---:|---:|---:|---:|"
  echo "| $written | $reported | ${times[*]} | $best | $verify_s | $(printf '%.1f' "$fill_s") | $(( store_bytes / 1048576 )) | $per_record |"
  echo
  echo "verify: $verify_line"
} >"$OUT"
cat "$OUT"
note "report written to $OUT"
