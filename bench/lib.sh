# lib.sh - helpers shared by the benchmark scripts (sourced, not run). The caller sets
# $root (the checkout) and $RELAY (the relay binary) before calling relay_flags.

# Postfix's benchmark tools (package postfix, binaries only) and the sink's user.
SMTP_SOURCE=${SMTP_SOURCE:-/usr/sbin/smtp-source}
SMTP_SINK=${SMTP_SINK:-/usr/sbin/smtp-sink}
SINK_USER=${SINK_USER:-nobody}

# Messages name the script that was run (accept.sh, deliver.sh, bound.sh).
die() { echo "$(basename "$0"): $*" >&2; exit 2; }
note() { echo "$(basename "$0"): $*" >&2; }

# The command line of every bench script: parse_options SPECS "$@", where SPECS is a
# space-separated list of "--flag:VAR" (the option takes a value, stored in VAR) and
# "--flag:VAR=value" (a switch: VAR is set to value). -h/--help prints the script's header
# comment (from line 2 up to its `set -euo pipefail`) and exits 0; an unknown option or a
# missing value exits 2. Defaults (and environment forms) are the caller's, set before.
parse_options() {  # specs "$@"
  local specs=$1 spec flag var matched
  shift
  while [ $# -gt 0 ]; do
    case $1 in
      -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    esac
    matched=
    for spec in $specs; do
      flag=${spec%%:*} var=${spec#*:}
      [ "$1" = "$flag" ] || continue
      matched=1
      if [ "${var#*=}" != "$var" ]; then
        printf -v "${var%%=*}" '%s' "${var#*=}"; shift
      else
        [ $# -ge 2 ] || { echo "$(basename "$0"): $flag needs a value (try --help)" >&2; exit 2; }
        printf -v "$var" '%s' "$2"; shift 2
      fi
      break
    done
    [ -n "$matched" ] || { echo "$(basename "$0"): unknown argument '$1' (try --help)" >&2; exit 2; }
  done
}

port_busy() { ss -Hltn "sport = :$1" | grep -q .; }
now() { date +%s.%N; }
# utime + stime (all threads) in clock ticks: fields 14 and 15 of /proc/PID/stat. The
# command name (field 2) may contain spaces, so cut at the last ')'.
cpu_ticks() { local s; s=$(<"/proc/$1/stat"); s=${s##*) }; set -- $s; echo $(( ${12} + ${13} )); }
status_kb() { awk -v k="$2:" '$1==k {print $2}' "/proc/$1/status"; }

# Peak RssAnon of PID, sampled every 50 ms, written to FILE whenever it grows.
sampler() {
  local pid=$1 file=$2 max=0 k v rest
  echo 0 >"$file"
  while [ -d "/proc/$pid" ]; do
    while read -r k v rest; do
      if [ "$k" = RssAnon: ]; then
        if [ "$v" -gt "$max" ]; then max=$v; echo "$max" >"$file"; fi
        break
      fi
    done <"/proc/$pid/status" 2>/dev/null || true
    sleep 0.05
  done
}

wait_listen() {  # port pid [tries of 50 ms]: until something listens on port, while pid lives
  local i
  for i in $(seq 1 "${3:-200}"); do
    port_busy "$1" && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

relay_flags() {  # optimisation flags of main.cpp from the build tree, if we can find them
  local cc
  for cc in "$(dirname "$RELAY")/../compile_commands.json" "$root/build/compile_commands.json"; do
    [ -r "$cc" ] || continue
    grep -o '"command": "[^"]*relay/main.cpp[^"]*"' "$cc" | head -1 | grep -oE ' -O[0-3sg]| -g\b| -DNDEBUG| -fsanitize=[^ ]*' | tr -d '\n' | sed 's/^ //'
    [ "$cc" = "$root/build/compile_commands.json" ] && echo -n " (from build/compile_commands.json)"
    return
  done
  echo '?'
}

# The relay config of the benchmarks, in DIR/relay.toml (and a token in DIR/admin.token):
# SMTP on 127.0.0.1:$RELAY_PORT, admin on $ADMIN_PORT, the queue in DIR/queue, the log in
# DIR/relay.log. Nothing may go anywhere real: the resolver is a closed local port and
# bench-dest.example has a static route to ROUTE_HOST (with tls = ROUTE_TLS unless
# empty); EXTRA is appended as it is (more routes). One retry step of 4 h: a message
# deferred in deliver.sh's scale case is not due again during the run. Every other key
# keeps its default. For deliver.sh's dane and sts cases, which reach the domain through
# discovery: an empty ROUTE_HOST leaves out its route, DNS_LINES replace the [dns] keys
# (a local resolver instead of the closed port) and DELIVERY_LINES are added to [delivery].
write_relay_config() {  # dir pause route-host route-tls log-level [extra] [dns-lines] [delivery-lines]
  local dir=$1 tls_line='' route='' dns_lines=${7:-'servers = ["127.0.0.1:9"]'}
  [ -z "$4" ] || tls_line="tls = \"$4\""
  [ -z "$3" ] || route="[[route]]
domain = \"bench-dest.example\"
host = \"$3\"
$tls_line"
  mkdir -p "$dir"
  [ -f "$dir/admin.token" ] || {
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/admin.token"
    chmod 600 "$dir/admin.token"
  }
  cat >"$dir/relay.toml" <<CONF
# secmx-relay configuration written by bench/$(basename "$0")
hostname = "relay.bench.example"

[smtp]
listen = ["127.0.0.1:$RELAY_PORT"]
relay_networks = ["127.0.0.0/8"]
max_connections = 2000
max_connections_per_client = 2000
max_message_size = "50MiB"

[queue]
path = "$dir/queue"
map_size = "8GiB"

[dns]
$dns_lines

[delivery]
pause = $2
retry = ["4h"]
${8:-}

$route
${6:-}

[admin]
listen = "127.0.0.1:$ADMIN_PORT"
token_file = "$dir/admin.token"

[log]
level = "$5"
file = "$dir/relay.log"
CONF
}
