# tlsload.sh - what bench/tls.sh and bench/mix.sh share (sourced, not run): smtp-load
# (bench/tools/smtp-load.c, compiled into the temp dir like tls-sink), the relay with
# STARTTLS in, a private Postfix configured as a relay (the comparison, and the internal
# MTA that relays through secmx-relay), and waiting for a sink's count. Uses sinks.sh
# (certificate, tls-sink) and lib.sh (relay config, /proc helpers).
# shellcheck shell=bash disable=SC2034,SC2154 # globals: the calling script's

load_build() {
  [ -x "$WORK/smtp-load" ] && return 0
  "${CC:-cc}" -O2 -Wall -o "$WORK/smtp-load" "$here/tools/smtp-load.c" -lssl -lcrypto -lpthread -lm 2>"$WORK/smtp-load.build" ||
    die "cannot build smtp-load: $(cat "$WORK/smtp-load.build")"
}

# Messages a tls-sink has taken (its last counter line), and 451s it gave: "mesg tmpf".
csink_mesg() {
  tail -c 400 "$1" 2>/dev/null | tr '\r' '\n' | awk '/mesg=/ {
      for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
    END {print v["mesg"] + 0, v["tmpf"] + 0}'
}
# Until the sink in OUTFILE has WANT messages; fails after STALL s without progress.
# Prints the time (now) it got there.
wait_csink() {  # outfile want stall-s
  local last=-1 t_last m _t
  t_last=$(now)
  for (( ;; )); do
    read -r m _t < <(csink_mesg "$1")
    [ "$m" -ge "$2" ] && { now; return 0; }
    if [ "$m" != "$last" ]; then last=$m; t_last=$(now); fi
    awk -v a="$t_last" -v b="$(now)" -v s="$3" 'BEGIN {exit !(b - a > s)}' && { now; return 1; }
    sleep 0.02
  done
}

# The relay with STARTTLS in (the bench certificate) and, for the bench domain, a route
# with tls = "encrypt" to tls-sink; EXTRA as write_relay_config takes it. With AUTH set
# (bench/tls.sh --outbound dane|sts) there is no route: the relay finds the sink by
# discovery, with bench/deliver/auth.sh's auth_relay_lines (auth_dns, auth_delivery,
# auth_tables) for a world already started.
write_tls_relay_config() {  # dir pause [extra] [auth]
  make_cert
  if [ -n "${4:-}" ]; then
    write_relay_config "$1" "$2" "" "" info "${3:-}
$auth_tables" "$auth_dns" "$auth_delivery"
  else
    write_relay_config "$1" "$2" "[$CSINK_ADDR]:$CSINK_PORT" encrypt info "${3:-}"
  fi
  local keys
  case ${KEY_TYPE:-rsa} in
    rsa) keys="tls_cert = \"$WORK/tls/cert.pem\"\ntls_key = \"$WORK/tls/key.pem\"" ;;
    # The relay's ECDSA slot needs an RSA pair beside it; an ECDSA pair in the main slot
    # is the relay serving ECDSA only.
    ecdsa) make_ec_cert; keys="tls_cert = \"$WORK/tls/ec-cert.pem\"\ntls_key = \"$WORK/tls/ec-key.pem\"" ;;
    both) make_ec_cert; keys="tls_cert = \"$WORK/tls/cert.pem\"\ntls_key = \"$WORK/tls/key.pem\"\ntls_ecdsa_cert = \"$WORK/tls/ec-cert.pem\"\ntls_ecdsa_key = \"$WORK/tls/ec-key.pem\"" ;;
  esac
  sed -i "/^max_message_size/a $keys" "$1/relay.toml"
  "$RELAY" --config "$1/relay.toml" --check >/dev/null 2>"$1/check.err" ||
    die "relay rejects the bench config: $(cat "$1/check.err")"
}
start_tls_relay() {  # dir -> relay_pid (sampler in sampler_pid)
  "$RELAY" --config "$1/relay.toml" >>"$1/relay.stderr" 2>&1 &
  relay_pid=$!
  wait_listen "$RELAY_PORT" "$relay_pid" 2400 || die "relay did not listen: $(tail -5 "$1/relay.stderr" "$1/relay.log" 2>/dev/null)"
  sampler "$relay_pid" "$1/rssanon.max" &
  sampler_pid=$!
}
stop_tls_relay() {  # dir -> relay_exit; sets failed on an unclean exit
  kill "$sampler_pid" 2>/dev/null || true; wait "$sampler_pid" 2>/dev/null || true; sampler_pid=
  kill -TERM "$relay_pid" 2>/dev/null || true
  relay_exit=0; wait "$relay_pid" || relay_exit=$?; relay_pid=
  [ "$relay_exit" = 0 ] || { note "relay exited with status $relay_exit ($1)"; failed=1; }
}
# status=sent lines (with tls=TLSv...) and deferrals for DOMAIN-REGEX in the relay log.
relay_sent() {  # dir [domain-regex]
  awk -v d="${2:-bench-dest\\.example}" '/ delivery: / && $0 ~ ("to=<[^>]*@" d ">") {
      if (/status=sent/) { s++; if (/tls=TLSv/) t++ } else if (/status=deferred/) f++ }
    END {print s + 0, t + 0, f + 0}' "$1/relay.log"
}
relay_queued() {  # dir: messages in the stopped relay's queue
  "$RELAY" --config "$1/relay.toml" --queue-dump 2>"$1/dump.err" | wc -l || true
}

# ---------------------------------------------------------------- Postfix as a relay
# A private instance in DIR (config, queue, log; nothing under /etc/postfix), smtpd with
# STARTTLS (the bench certificate) on ADDR:PORT, every message to RELAYHOST over TLS
# (smtp_tls_security_level = encrypt) with connection caching (TLS connections are reused
# through tlsproxy: smtp_tls_connection_reuse). HOLD = yes: defer_transports keeps every
# message in the queue (accept only). The queue is on the same disk as the relay's.
pfrelay_start() {  # dir addr port relayhost hold(yes|no)
  local dir=$1 d
  mkdir -p "$dir/conf" "$dir/queue" "$dir/data"
  chown postfix "$dir/data"
  make_cert
  cp "$WORK/tls/cert.pem" "$WORK/tls/key.pem" "$dir/conf/"
  chmod 600 "$dir/conf/key.pem"
  local chain=
  case ${KEY_TYPE:-rsa} in
    ecdsa) make_ec_cert; chain="$dir/conf/ec-key.pem, $dir/conf/ec-cert.pem" ;;
    both) make_ec_cert; chain="$dir/conf/key.pem, $dir/conf/cert.pem, $dir/conf/ec-key.pem, $dir/conf/ec-cert.pem" ;;
  esac
  if [ -n "$chain" ]; then
    cp "$WORK/tls/ec-cert.pem" "$WORK/tls/ec-key.pem" "$dir/conf/"; chmod 600 "$dir/conf/ec-key.pem"
  fi
  cat >"$dir/conf/main.cf" <<PFEOF
# Postfix as the same relay as secmx-relay in the bench. Written by bench/$(basename "$0").
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
syslog_name = postfix-bench-$(basename "$dir")
maillog_file = $dir/postfix.log
myhostname = pf-$(basename "$dir").bench.example
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
relay_domains =
relayhost = $4
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions =
smtpd_tls_cert_file = $dir/conf/cert.pem
smtpd_tls_key_file = $dir/conf/key.pem
$( [ -n "$chain" ] && echo "# takes precedence over smtpd_tls_cert_file/key_file: the pairs served (--key ${KEY_TYPE:-rsa})" && echo "smtpd_tls_chain_files = $chain" )
smtpd_tls_security_level = may
smtpd_tls_session_cache_timeout = 3600s
smtp_tls_security_level = encrypt
smtp_tls_connection_reuse = yes
smtp_connection_cache_on_demand = yes
smtp_connection_cache_destinations = $4
smtp_tls_session_cache_database = btree:$dir/data/smtp_scache
default_destination_concurrency_limit = 20
message_size_limit = 52428800
$( [ "$5" = yes ] && echo "defer_transports = smtp" )
tls_random_source = dev:/dev/urandom
biff = no
PFEOF
  cat >"$dir/conf/master.cf" <<PFEOF
$2:$3 inet n - n - - smtpd
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
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
showq     unix  n       -       n       -       -       showq
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
tlsproxy  unix  -       -       n       -       0       tlsproxy
PFEOF
  for d in active bounce corrupt defer deferred flush hold incoming private saved trace; do
    mkdir -p -m 700 "$dir/queue/$d"; chown postfix:root "$dir/queue/$d"
  done
  mkdir -p "$dir/queue/maildrop" "$dir/queue/public" "$dir/queue/pid"
  chown postfix:postdrop "$dir/queue/maildrop" "$dir/queue/public"
  chmod 730 "$dir/queue/maildrop"; chmod 710 "$dir/queue/public"; chmod 755 "$dir/queue/pid"
  "$POSTFIX_DAEMON_DIR/master" -c "$dir/conf" -w || die "Postfix master ($dir) failed: $(tail -5 "$dir/postfix.log" 2>/dev/null)"
  pf_dirs+=("$dir")
  local i
  for i in $(seq 1 200); do port_busy "$3" && return 0; sleep 0.05; done
  die "Postfix ($dir) did not listen on $2:$3: $(tail -5 "$dir/postfix.log")"
}
pfrelay_stop() {  # dir
  local pid i
  pid=$(awk '{print $1; exit}' "$1/queue/pid/master.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  fi
  local keep=() p
  for p in "${pf_dirs[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  pf_dirs=("${keep[@]}")
}
pfrelay_ticks() { local PF=$1; postfix_ticks 2>/dev/null || true; }  # sinks.sh's sum over the instance's processes
# Messages in the instance's queue (files under incoming, active, deferred, hold).
pfrelay_queued() { find "$1/queue/incoming" "$1/queue/active" "$1/queue/deferred" "$1/queue/hold" -type f 2>/dev/null | wc -l || true; }
# Peak RssAnon summed over the instance's processes is not sampled; its deliveries counted:
pfrelay_sent() { grep -c 'status=sent' "$1/postfix.log" 2>/dev/null || true; }
