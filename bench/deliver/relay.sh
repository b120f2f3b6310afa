# relay.sh - the relay under test in bench/deliver.sh (sourced by it, not run): its config
# (bench/lib.sh's, plus the scale case's dead route), start and stop, its admin API, the
# profiler and fsync tracer attached to it, and what its log says about a case.
#
# One relay runs at a time: $relay_pid, $sampler_pid, $prof_pid and $ftrace_pid are the
# processes of the current one (deliver.sh's cleanup ends any left over). A relay that
# rejects its config or does not listen is fatal (die); an unclean exit sets $failed.
# shellcheck shell=bash disable=SC2034,SC2154 # globals: bench/deliver.sh's

# dane and sts: no route for the bench domain (route-host ""), DNS-LINES and DELIVERY-LINES
# as bench/lib.sh's write_relay_config takes them, EXTRA-TABLES appended (e.g. [mta_sts]).
write_config() {  # dir pause(true|false) route-host route-tls(""|encrypt) [dns-lines] [delivery-lines] [extra-tables]
  local dir=$1
  # A second route, where nothing listens, for the scale case's deferred messages.
  write_relay_config "$dir" "$2" "$3" "$4" info "[[route]]
domain = \"deferred.bench\"
host = \"[$DEAD_ADDR]:$DEAD_PORT\"
${7:-}" "${5:-}" "${6:-}"
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
    echo "# threads by name (perf report --sort comm): secmx-relay = main loop (smtpd), queue-writer, delivery, scheduler, admin, audit, tlsrpt"
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

# Counts in the relay log of one case: "sent sent_tls deferred errors sent_auth" for
# bench-dest; sent_auth = status=sent lines whose tls= field ends in "/" AUTH-REGEX (0 when
# no regex is given).
log_counts() {  # dir [auth-regex]
  awk -v auth="${2:-}" '
    / info delivery: / && /to=<rcpt@bench-dest\.example>/ {
      if (/status=sent/) {
        s++; if (/tls=TLSv/) t++
        if (auth != "" && match($0, /tls=[^,]*/) && substr($0, RSTART, RLENGTH) ~ ("/(" auth ")$")) a++
      } else if (/status=deferred/) d++
    }
    /^[^ ]+ (error|critical) / {e++}
    END {print s + 0, t + 0, d + 0, e + 0, a + 0}' "$1/relay.log"
}
commits_of() {
  sed -n 's/.*stopped: \([0-9]*\) messages in \([0-9]*\) commits.*/\2/p' "$1/relay.log" "$1/relay.stderr" 2>/dev/null | tail -1 || true
}
