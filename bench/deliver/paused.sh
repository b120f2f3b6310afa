# paused.sh - the cases paused and drain of bench/deliver.sh (sourced by it, not run).
#   paused  delivery paused: smtp-source sends COUNT messages, they stay queued; the accept
#           rate and the peak RssAnon with COUNT queued. Every message must be in the
#           queue afterwards (else $failed, KEEP=1).
#   drain   the queue of "paused" reopened by a relay with delivery on: the deliver-only
#           rate, clock from the relay's launch (e2e_case's drain mode). deliver.sh adds
#           paused to the case list when drain is asked for.
# Both use the directory $R/paused; deliver.sh removes its queue after them.
# shellcheck shell=bash disable=SC2034,SC2154 # globals: bench/deliver.sh's

case_paused() {
  local cs d cmd t0 t1 rc c0 c1 th0 th1 mt0 mt1 cm0 cm1 fs hwm rss queued lost src_s commits
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
}

case_drain() {
  local cs d
  ceiling_run "$R" drain; cs=$ceil_s
  d=$R/paused
  write_config "$d" false "[$DEST_ADDR]:$DEST_PORT" ""
  : >"$d/relay.log.paused"; cat "$d/relay.log" >>"$d/relay.log.paused"; : >"$d/relay.log"
  rm -f "$d/rssanon.max"
  e2e_case drain "$rep" "$d" drain plain 0 "$cs"
}
