# measure.sh - how bench/deliver.sh measures (sourced by it, not run): CPU ticks of the relay
# by thread and of the whole machine, the relay's commit metrics, and e2e_case, the one
# end-to-end measurement every delivering case (plain, tls, tlsc, drain, scale) goes
# through: start the sink and its monitor (bench/deliver/sinkmon.py), start the relay,
# send (or let it drain), wait for the sink's COUNT-th message, stop everything, verify
# (sink count, status=sent lines, nothing of the bench domain left in the queue) and hand
# the figures to record (report.sh). A failed check sets $failed (and KEEP=1 where the
# temp dir is the evidence); it never stops the run.
# shellcheck shell=bash disable=SC2034,SC2154 # globals: bench/deliver.sh's

fsub() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", b-a}'; }

# Per-thread CPU ticks of the relay as "tid:name:ticks ..." (name = /proc/PID/task/TID/comm).
thread_ticks() {
  local pid=$1 t s n out=
  for t in $(ls "/proc/$pid/task" | sort -n); do
    s=$(<"/proc/$pid/task/$t/stat") || continue
    n=$(<"/proc/$pid/task/$t/comm") || continue
    s=${s##*) }; set -- $s
    out+="$t:${n// /_}:$(( ${12} + ${13} )) "
  done
  echo "$out"
}
# Difference of two thread_ticks snapshots, summed by role. The relay names its threads
# (pthread_setname_np): the main thread (tid = pid) runs the SMTP server's loop;
# "queue-writer" the commit writer, "delivery" each delivery worker, "scheduler"; "admin"
# the admin HTTP server and its request threads; every other thread (audit, tlsrpt, libuv's
# pool) counts as "admin + other". The third argument (the number of workers) is unused
# now that threads are told apart by name.
# Prints "smtpd writer workers scheduler admin" in seconds.
thread_roles() {  # before after [workers]
  awk -v before="$1" -v after="$2" -v hz="$clk_tck" 'BEGIN {
    n = split(before, b, " "); for (i = 1; i <= n; i++) { split(b[i], kv, ":"); t0[kv[1]] = kv[3] }
    n = split(after, a, " ")
    for (i = 1; i <= n; i++) {
      split(a[i], kv, ":"); d = kv[3] - ((kv[1] in t0) ? t0[kv[1]] : 0)
      if (i == 1) r = "smtpd"; else if (kv[2] == "queue-writer") r = "writer";
      else if (kv[2] == "delivery") r = "workers"; else if (kv[2] == "scheduler") r = "scheduler";
      else r = "admin"
      sum[r] += d
    }
    printf "%.2f %.2f %.2f %.2f %.2f\n", sum["smtpd"]/hz, sum["writer"]/hz, sum["workers"]/hz, sum["scheduler"]/hz, sum["admin"]/hz
  }'
}

# Busy and total jiffies of the whole machine (all CPUs), from /proc/stat: "busy total".
machine_ticks() {
  awk '$1 == "cpu" {t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t; exit}' /proc/stat
}
# From the relay's /metrics: "commits commit_seconds batch_sum" (group commits since start,
# their summed write+fsync time, messages in them).
commit_metrics() {  # dir
  curl -s --max-time 10 -H "Authorization: Bearer $(cat "$1/admin.token")" "http://127.0.0.1:$ADMIN_PORT/metrics" |
    awk '$1 == "secmx_commit_latency_seconds_count" {c = $2} $1 == "secmx_commit_latency_seconds_sum" {s = $2}
         $1 == "secmx_commit_batch_size_sum" {b = $2} END {printf "%d %.3f %d\n", c, s, b}' || echo "0 0 0"
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
  "$PYTHON" "$here/deliver/sinkmon.py" "$sinkout" "$COUNT" "$STALL" "$mon" &
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
  # A case's own checks of the running relay, once the measurement is over (dane-rpt and
  # sts-rpt: what TLS reporting counted).
  [ -z "${CASE_CHECK:-}" ] || "$CASE_CHECK" "$dir"
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
  local sentauth
  read -r sent senttls deferred errs sentauth < <(log_counts "$dir" "${AUTH_RX:-}")
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
  if [ -n "${AUTH_RX:-}" ] && [ "$sentauth" != "$sent" ]; then
    note "$name: only $sentauth of $sent deliveries say tls=.../($AUTH_RX), e.g.: $(grep 'status=sent' "$dir/relay.log" | grep -vE "tls=[^,]*/($AUTH_RX)," | head -1)"
    failed=1; KEEP=1
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
