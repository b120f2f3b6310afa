#!/usr/bin/env bash
# handshake.sh - what an inbound TLS handshake costs the relay: full and resumed
# handshakes per second per core for its STARTTLS listener, with the RSA and the ECDSA
# certificate, TLS 1.3 and 1.2, beside `openssl speed` (the primitives) and the same
# handshake loop against `openssl s_server` (no STARTTLS, no SMTP: the ceiling), all in
# one run on the same machine.
#
# Usage: bench/handshake.sh [--seconds N] [--relay PATH] [--out FILE]
#   --seconds N   each measured loop runs N seconds (default 5; SECONDS_PER_CASE)
#   --relay PATH  the relay binary (default build/relay/secmx-relay; RELAY)
#   --out FILE    also write the table to FILE (default bench/results/handshake-<time>.txt)
#
# Run it inside a private network namespace (it listens on 127.0.0.1:25870 and :25871):
#   unshare -n bash -c 'ip link set lo up && bench/handshake.sh'
# The client is bench/handshake/hsloop.c, compiled here with cc: one connection at a time
# (EHLO, STARTTLS, handshake, QUIT inside TLS, close; --reuse offers the last session).
# Per core = handshakes / CPU seconds the server process used (utime+stime of
# /proc/PID/stat, all threads), so a noisy machine changes the wall-clock rate more than
# the figure that matters; "ms/hs" is the same as CPU milliseconds per handshake.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_PER_CASE=${SECONDS_PER_CASE:-5}
RELAY=${RELAY:-$root/build/relay/secmx-relay}
OUT=""
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) SECONDS_PER_CASE=$2; shift 2 ;;
    --relay) RELAY=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "handshake.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
[ -x "$RELAY" ] || { echo "handshake.sh: no relay binary at $RELAY (build first)" >&2; exit 2; }
RELAY_PORT=25870
SERVER_PORT=25871
OUT=${OUT:-$root/bench/results/handshake-$(date -u +%Y%m%dT%H%M%SZ).txt}
mkdir -p "$(dirname "$OUT")"

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

hz=$(getconf CLK_TCK)
cpu_ticks() { local s; s=$(<"/proc/$1/stat"); s=${s##*) }; set -- $s; echo $(( ${12} + ${13} )); }

"${CC:-cc}" -O2 -o "$work/hsloop" "$root/bench/handshake/hsloop.c" -lssl -lcrypto

# Both certificates for the same name, as scripts/run.sh makes them.
"$root/scripts/make-dev-cert.sh" "$work/rsa.pem" "$work/rsa.key" relay.bench.example >/dev/null
"$root/scripts/make-dev-cert.sh" --ecdsa "$work/ec.pem" "$work/ec.key" relay.bench.example >/dev/null
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/admin.token"
chmod 600 "$work/admin.token"
cat >"$work/relay.toml" <<CONF
hostname = "relay.bench.example"
[smtp]
listen = ["127.0.0.1:$RELAY_PORT"]
relay_networks = ["127.0.0.0/8"]
max_connections_per_client = 1000
tls_cert = "rsa.pem"
tls_key = "rsa.key"
tls_ecdsa_cert = "ec.pem"
tls_ecdsa_key = "ec.key"
[queue]
path = "queue"
[dns]
servers = ["127.0.0.1:9"]
[delivery]
pause = true
[admin]
listen = "127.0.0.1:25872"
token_file = "admin.token"
[log]
level = "warn"
file = "relay.log"
CONF

wait_port() {
  for _ in $(seq 1 200); do
    ss -Hltn "sport = :$1" | grep -q . && return 0
    sleep 0.05
  done
  echo "handshake.sh: nothing listens on port $1" >&2
  cat "$work"/*.stderr "$work/relay.log" >&2 2>/dev/null || true
  exit 1
}

"$RELAY" --config "$work/relay.toml" 2>"$work/relay.stderr" &
relay_pid=$!
pids+=("$relay_pid")
wait_port $RELAY_PORT
# The ceiling: OpenSSL's own server with the same two certificates and groups, answering
# each line reversed (-rev) so that the client reads one record, as from the relay.
openssl s_server -quiet -rev -accept $SERVER_PORT -cert "$work/rsa.pem" -key "$work/rsa.key" \
  -dcert "$work/ec.pem" -dkey "$work/ec.key" -groups X25519:P-256:P-384 \
  >/dev/null 2>"$work/s_server.stderr" &
server_pid=$!
pids+=("$server_pid")
wait_port $SERVER_PORT

# One case: server pid, port, then hsloop options. Prints "rate per_core ms resumed".
measure() {
  local pid=$1 port=$2 t0 t1 line rounds resumed took
  shift 2
  t0=$(cpu_ticks "$pid")
  line=$("$work/hsloop" 127.0.0.1 "$port" "$SECONDS_PER_CASE" "$@")
  t1=$(cpu_ticks "$pid")
  rounds=$(sed -E 's/.*rounds=([0-9]+).*/\1/' <<<"$line")
  resumed=$(sed -E 's/.*resumed=([0-9]+).*/\1/' <<<"$line")
  took=$(sed -E 's/.*seconds=([0-9.]+).*/\1/' <<<"$line")
  awk -v n="$rounds" -v r="$resumed" -v s="$took" -v dt=$((t1 - t0)) -v hz="$hz" 'BEGIN {
    cpu = dt / hz
    printf "%9.0f %12s %9s %5d/%d\n", n / s, (cpu > 0 ? sprintf("%.0f", n / cpu) : "n/a"),
      (n > 0 && cpu > 0 ? sprintf("%.3f", cpu * 1000 / n) : "n/a"), r, n }'
}

{
  echo "# bench/handshake.sh, $(date -u +%Y-%m-%dT%H:%MZ), ${SECONDS_PER_CASE}s per case"
  echo "# $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "# $(openssl version); relay $RELAY"
  echo
  echo "## openssl speed -seconds 3 ecdsap256 rsa2048 ecdhx25519 (one core)"
  openssl speed -seconds 3 ecdsap256 rsa2048 ecdhx25519 2>/dev/null |
    grep -E '^(rsa|[[:space:]]*[0-9]+ bits? (ecdsa|ecdh))|sign/s|op/s' | sed 's/^/    /'
  echo
  echo "## handshakes: rate = per wall second (one connection at a time); per core = per CPU second of the server"
  printf "%-8s %-6s %-6s %-8s %9s %12s %9s %9s\n" server cert tls mode rate/s "per-core/s" "ms/hs" resumed
  for server in relay s_server; do
    if [ $server = relay ]; then pid=$relay_pid port=$RELAY_PORT st=-starttls; else pid=$server_pid port=$SERVER_PORT st=""; fi
    for cert in ECDSA RSA; do
      if [ $cert = ECDSA ]; then sig="ECDSA+SHA256"; else sig="RSA-PSS+SHA256:RSA+SHA256"; fi
      for tls in 1.3 1.2; do
        for mode in full resumed; do
          reuse=""; [ $mode = resumed ] && reuse=-reuse
          printf "%-8s %-6s %-6s %-8s " $server $cert "$tls" $mode
          measure "$pid" "$port" $st $reuse "-tls1_${tls#1.}" -sigalgs "$sig"
        done
      done
    done
  done
  echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT"
