# scale.sh - the scale case of bench/deliver.sh (sourced by it, not run): SCALE_FILL
# messages to deferred.bench, routed to $DEAD_ADDR:$DEAD_PORT where nothing listens, so
# each is tried once and deferred for 4 h; then a new relay process on that queue gets
# COUNT new messages for the working sink, measured exactly as "plain" (e2e_case). The
# fill and the restart are described in $extra (the report's Scale section). Run once,
# in the last repetition.
# shellcheck shell=bash disable=SC2034,SC2154 # globals: bench/deliver.sh's

case_scale() {
  local d fill_c0 fcmd t0 t1 t2 rc i n fill_cpu fill_q fill_hwm fill_rss fill_dump_n fill_sent fill_all cs
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
  e2e_case scale "$rep" "$d" send plain "$fill_dump_n" "$cs"
  extra+=("Scale restart: the relay opened the queue of $fill_dump_n messages and listened $(fsub "$relay_t_launch" "$relay_t_listen" 2>/dev/null || echo '?') s after its launch ($(grep -m1 ' info main: queue .* opened:' "$d/relay.log" | sed 's/.* info main: //')).")
  [ "$KEEP" = 1 ] || rm -rf "$d/queue"
}
