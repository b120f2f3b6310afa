# ceiling.sh - the "ceiling" case of bench/deliver.sh and the one-hop ceiling measured
# before every other case (sourced by deliver.sh, not run).
#
# ceiling_run: smtp-source straight into a fresh smtp-sink on 127.0.0.1:$SINK_PORT; sets
# $ceil_s. case_ceiling: that as a row of its own, then each TLS sink in plaintext
# (smtp-source cannot do TLS), one message per connection and with -d: what the TLS sinks
# take without the handshakes. Rows go to $crows and the tsv; a failed smtp-source run sets
# $failed.
# shellcheck shell=bash disable=SC2034,SC2154 # globals: bench/deliver.sh's

# Ceiling: smtp-source straight into a fresh smtp-sink. Sets ceil_s (seconds).
ceiling_run() {  # dir tag
  local t0 t1 rc=0 cmd
  "$SMTP_SINK" -u "$SINK_USER" "127.0.0.1:$SINK_PORT" 1024 >"$1/ceiling-$2.sink.out" 2>&1 &
  ceil_sink_pid=$!
  wait_listen "$SINK_PORT" "$ceil_sink_pid" || die "smtp-sink did not start: $(cat "$1/ceiling-$2.sink.out")"
  cmd=$(source_cmd "$COUNT" "$SINK_PORT" bench-dest.example)
  t0=$(now); $cmd >"$1/ceiling-$2.source.out" 2>&1 || rc=$?; t1=$(now)
  stop_pid "$ceil_sink_pid"; ceil_sink_pid=
  [ "$rc" = 0 ] || { note "smtp-source against smtp-sink failed (rc $rc): $(tail -3 "$1/ceiling-$2.source.out")"; failed=1; }
  ceil_s=$(fsub "$t0" "$t1")
}

# A TLS sink's ceiling without TLS: smtp-source -> TARGET, one message per connection
# and with connection reuse (-d); a row each in the ceiling table and the tsv. START
# starts the counting sink (output file as argument, sets sink_pid); TICKS prints the CPU
# ticks charged to it (the sink's pid as argument).
plaintext_ceiling() {  # file-prefix tsv-name note-name label target start-fn ticks-fn
  local prefix=$1 tsvname=$2 who=$3 label=$4 target=$5 start=$6 ticks=$7
  local pfmode pfs_pid d_flag cmd pk0 pk1 t0 t1 rc pss pmesg x y ps_ mode_label
  for pfmode in conn reuse; do
    "$start" "$R/$prefix-$pfmode.out"
    pfs_pid=$sink_pid
    d_flag=; [ "$pfmode" = reuse ] && d_flag="-d "
    cmd="$SMTP_SOURCE $d_flag-s $SESSIONS -m $COUNT -l $SIZE -M bench.example -f sender@bench.example -t rcpt@bench-dest.example $target"
    pk0=$("$ticks" "$pfs_pid")
    t0=$(now); rc=0; $cmd >"$R/$prefix-$pfmode.source.out" 2>&1 || rc=$?; t1=$(now)
    sleep 0.3
    pk1=$("$ticks" "$pfs_pid")
    stop_sink "$pfs_pid"
    read -r pss pmesg x y < <(sink_counts "$R/$prefix-$pfmode.out")
    [ "$rc" = 0 ] && [ "$pmesg" = "$COUNT" ] || { note "smtp-source -> $who: rc $rc, $pmesg of $COUNT arrived"; failed=1; }
    commands+=("$cmd")
    ps_=$(fsub "$t0" "$t1")
    mode_label=$( [ "$pfmode" = reuse ] && echo "reuse (-d)" || echo "1 msg/conn")
    crows+=("| $label, $mode_label | $COUNT | $(awk -v n="$COUNT" -v s="$ps_" -v t=$(( pk1 - pk0 )) -v hz="$clk_tck" 'BEGIN {printf "%.0f | %.3f | %.3f", n / s, s, 1000 * t / hz / n}') | $(cut -d' ' -f1 /proc/loadavg) |")
    printf '%s-%s\t%d\t%d\t%d\t%.1f\t%s\n' "$tsvname" "$pfmode" "$rep" "$COUNT" "$SESSIONS" "$(awk -v n="$COUNT" -v s="$ps_" 'BEGIN {print n / s}')" "$ps_" >>"$tsv"
  done
}
postfix_sink_start() { start_sink "$PROXY_ADDR" "$PROXY_PORT" "$1"; }
postfix_sink_ticks() { echo $(( $(postfix_ticks) + $(cpu_ticks "$1") )); }

case_ceiling() {  # in $R, repetition $rep
  local cs
  ceiling_run "$R" standalone; cs=$ceil_s
  commands+=("$(source_cmd "$COUNT" "$SINK_PORT" bench-dest.example)")
  crows+=("| smtp-source → smtp-sink (one hop) | $COUNT | $(awk -v n="$COUNT" -v s="$cs" 'BEGIN {printf "%.0f", n / s}') | $cs | - | $(cut -d' ' -f1 /proc/loadavg) |")
  printf 'ceiling\t%d\t%d\t%d\t%.1f\t%s\n' "$rep" "$COUNT" "$SESSIONS" "$(awk -v n="$COUNT" -v s="$cs" 'BEGIN {print n / s}')" "$cs" >>"$tsv"
  # The TLS sink without TLS: smtp-source -> Postfix smtpd -> proxy smtp-sink, one
  # message per connection (as the ceiling) and with connection reuse (-d, as the relay
  # delivers). CPU of the Postfix instance + the smtp-sink behind it, per 1000 messages.
  postfix_start
  plaintext_ceiling pfsink postfix-sink "Postfix sink" \
    "smtp-source → Postfix smtpd (STARTTLS offered, not used) → proxy smtp-sink" \
    "$TLS_ADDR:$TLS_PORT" postfix_sink_start postfix_sink_ticks
  # The same for tls-sink.
  plaintext_ceiling csink tls-sink "tls-sink" \
    "smtp-source → tls-sink (STARTTLS offered, not used)" \
    "$CSINK_ADDR:$CSINK_PORT" start_csink cpu_ticks
}
