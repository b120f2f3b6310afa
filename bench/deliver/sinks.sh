# sinks.sh - the destinations of bench/deliver.sh (sourced by it, not run): the counting
# smtp-sink, tls-sink (bench/deliver/tls-sink.c, compiled into the temp dir on first use)
# and the private Postfix instance that terminates STARTTLS in front of an smtp-sink; plus
# the smtp-source command line every case uses.
#
# Every sink runs as our child; its pid is left in $sink_pid and kept in $sink_pids until
# stop_sink, so that deliver.sh's cleanup can end whatever is still running. Postfix is
# started once per run (postfix_start is idempotent) and stopped by postfix_stop. A sink
# that does not come up is fatal (die). Reads: $WORK, $here, the *_ADDR/*_PORT settings,
# $SESSIONS, $SIZE, $SMTP_SINK, $SMTP_SOURCE, $SINK_USER, $POSTFIX_DAEMON_DIR.
# shellcheck shell=bash disable=SC2034,SC2154 # globals: bench/deliver.sh's

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

# ---------------------------------------------------------------- TLS sinks
# One certificate (RSA 2048) for both TLS sinks, issued by a bench CA (RSA 2048) with the
# names the cases reach tls-sink by: the dane case matches its key (TLSA 3 1 1), the sts
# case checks it against the CA (delivery.ca_file) and the MX name; tls and tlsc do not
# look at it. Only the leaf is served, as a self-signed one was before.
make_cert() {
  [ -f "$WORK/tls/cert.pem" ] && return 0
  local t=$WORK/tls
  mkdir -p "$t"
  { openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=secmx bench CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
      -keyout "$t/ca.key" -out "$t/ca.pem" &&
    openssl req -new -newkey rsa:2048 -nodes -subj "/CN=$AUTH_MX" \
      -keyout "$t/key.pem" -out "$t/leaf.csr" &&
    printf 'subjectAltName=DNS:%s,DNS:tls-sink.bench.example\nextendedKeyUsage=serverAuth\n' "$AUTH_MX" >"$t/leaf.ext" &&
    openssl x509 -req -in "$t/leaf.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" -CAcreateserial \
      -days 30 -extfile "$t/leaf.ext" -out "$t/cert.pem"
  } >"$t/openssl.log" 2>&1 || die "openssl failed making the sink certificate: $(tail -3 "$t/openssl.log")"
  chmod 644 "$t/cert.pem" "$t/ca.pem"; chmod 600 "$t/key.pem" "$t/ca.key"
}

# An ECDSA P-256 leaf for the same names from the same CA, for runs whose servers serve
# ECDSA (bench/tls.sh --key ecdsa|both).
make_ec_cert() {
  make_cert
  [ -f "$WORK/tls/ec-cert.pem" ] && return 0
  local t=$WORK/tls
  { openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$AUTH_MX" \
      -keyout "$t/ec-key.pem" -out "$t/ec-leaf.csr" &&
    openssl x509 -req -in "$t/ec-leaf.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" -CAcreateserial \
      -days 30 -extfile "$t/leaf.ext" -out "$t/ec-cert.pem"
  } >>"$t/openssl.log" 2>&1 || die "openssl failed making the ECDSA certificate: $(tail -3 "$t/openssl.log")"
  chmod 644 "$t/ec-cert.pem"; chmod 600 "$t/ec-key.pem"
}
# The pair tls-sink serves: it takes one, so the ECDSA one whenever KEY_TYPE serves ECDSA
# (OpenSSL clients take ECDSA when offered both, so that is what "both" would pick).
csink_pair() {
  case ${KEY_TYPE:-rsa} in
    rsa) echo "$WORK/tls/cert.pem $WORK/tls/key.pem" ;;
    *) make_ec_cert; echo "$WORK/tls/ec-cert.pem $WORK/tls/ec-key.pem" ;;
  esac
}

# tls-sink: compiled from bench/deliver/tls-sink.c into the temp dir.
csink_build() {
  [ -x "$WORK/tls-sink" ] && return 0
  make_cert
  "${CC:-cc}" -O2 -Wall -o "$WORK/tls-sink" "$here/deliver/tls-sink.c" -lssl -lcrypto -lpthread 2>"$WORK/tls-sink.build" ||
    die "cannot build tls-sink: $(cat "$WORK/tls-sink.build")"
}
start_csink() {  # outfile -> sink_pid
  csink_build
  local pair; pair=$(csink_pair)
  # shellcheck disable=SC2086
  "$WORK/tls-sink" "$CSINK_ADDR" "$CSINK_PORT" $pair >"$1" 2>"$1.err" &
  sink_pid=$!
  sink_pids+=("$sink_pid")
  wait_listen "$CSINK_PORT" "$sink_pid" || die "tls-sink did not start: $(cat "$1.err")"
}

# ---------------------------------------------------------------- Postfix TLS sink
# The private instance lives in $PF (deliver.sh sets it: $WORK/postfix).
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
postfix_stop() {
  [ -n "$pf_master" ] || return 0
  local pid i
  pid=$(awk '{print $1; exit}' "$PF/queue/pid/master.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  fi
  pf_master=
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
pf_log_size() { stat -c %s "$PF/postfix.log" 2>/dev/null || echo 0; }
# Handshake counts in the Postfix log after byte offset: "tls_connections full_handshakes".
pf_handshakes() {
  tail -c +"$(( $1 + 1 ))" "$PF/postfix.log" | awk '
    /TLS connection established from/ {c++}
    /SSL_accept:SSLv3\/TLS write certificate/ {f++}
    END {print c + 0, f + 0}'
}
