# report.sh - bench/deliver.sh's report (sourced by it, not run). report_init empties the
# row lists and writes the tsv's header; record turns one case's figures into a row of each
# markdown table (main, per thread, where the time goes), a tsv line and a progress note;
# write_report writes the markdown report to $OUT and prints it. The tsv columns and the
# table columns are the contract with docs/benchmarks.md and older reports in
# bench/results: add at the end, never reorder.
# shellcheck shell=bash disable=SC2034,SC2154 # globals: bench/deliver.sh's

report_init() {
  rows=()          # markdown rows of the main table
  trows=()         # markdown rows of the per-thread table
  wrows=()         # markdown rows of the where-the-time-goes table
  crows=()         # ceiling-case rows
  extra=()         # free text (scale fill etc.)
  anotes=()        # free text of the dane and sts cases (policy fetches)
  commands=()
  printf 'case\trep\tcount\tsessions\tceiling_rate\tsource_s\tfirst_s\te2e_s\te2e_rate\tratio_pct\trelay_cpu_s\tcpu_per_1000\tcpu_smtpd\tcpu_writer\tcpu_workers\tcpu_scheduler\tcpu_admin\tpeak_rssanon_kb\tvmhwm_kb\tsink_mesg\tout_sessions\tlog_sent\tlog_sent_tls\ttls_conns\tfull_handshakes\tqueued_after\tlost\tcommits\tmachine_busy_pct\tsink_cpu_s\tcommits_interval\tcommit_s\tcommit_msgs\tfdatasync_calls\tfdatasync_s\tload1\n' >"$tsv"
}

# record CASE REP CEIL SRC_S FIRST_S E2E_S CPU_TICKS ROLES RSS HWM MESG SESS SENT SENT_TLS TLSC FULL QUEUED LOST COMMITS
record() {
  local name=$1 rep=$2 ceil=$3 src=$4 first=$5 e2e=$6 ticks=$7 roles=$8 rss=$9 hwm=${10}
  local mesg=${11} sess=${12} sent=${13} senttls=${14} tlsc=${15} full=${16} queued=${17} lost=${18} commits=${19}
  local where=${20:-"0 0 0 0 0 - -"}
  local load1; load1=$(cut -d' ' -f1 /proc/loadavg)
  local out
  out=$(awk -v name="$name" -v rep="$rep" -v n="$COUNT" -v sess_n="$SESSIONS" -v ceil="$ceil" -v src="$src" \
      -v first="$first" -v e2e="$e2e" -v ticks="$ticks" -v hz="$clk_tck" -v roles="$roles" -v rss="$rss" \
      -v hwm="$hwm" -v mesg="$mesg" -v sess="$sess" -v sent="$sent" -v senttls="$senttls" -v tlsc="$tlsc" \
      -v full="$full" -v queued="$queued" -v lost="$lost" -v commits="$commits" -v load1="$load1" \
      -v prof="$PROFILE" -v where="$where" 'BEGIN {
    split(roles, r, " "); split(where, w, " ")
    cr = (ceil > 0) ? n / ceil : 0; er = n / e2e; cpu = ticks / hz
    label = name; if (prof != "") label = label " [" prof "]"
    conns = (tlsc != "-") ? tlsc : sess
    hs = (tlsc != "-") ? sprintf("%d full / %d resumed", full, tlsc - full) : "-"
    srcs = (src == "-") ? "-" : sprintf("%.1f", src)
    printf "MD\t| %s | %d | %.0f | %.0f | %.0f%% | %s | %.1f | %.2f | %.3f | %.1f | %.1f | %s | %s | %d | %s | %s |\n",
      label, n, cr, er, (cr > 0 ? 100 * er / cr : 0), srcs, e2e, cpu, 1000 * cpu / n, rss / 1024, hwm / 1024,
      conns, hs, sent, commits, (lost == 0 ? "0" : "**" lost " LOST**")
    printf "TH\t| %s | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.3f |\n",
      label, er, cpu, r[1], r[2], r[3], r[4], r[5], 1000 * r[4] / n
    fcalls = w[6]; ftime = w[7]
    fshare = (fcalls == "-" || e2e <= 0) ? "-" : sprintf("%.0f%%", 100 * ftime / e2e)
    printf "WH\t| %s | %.1f | %s%% | %.2f | %.2f | %d | %.1f | %s | %s | %s |\n",
      label, e2e, w[1], cpu, w[2], w[3], (w[3] > 0 ? w[5] / w[3] : 0), fcalls, ftime, fshare
    printf "TSV\t%s\t%d\t%d\t%d\t%.1f\t%s\t%.3f\t%.3f\t%.1f\t%.1f\t%.2f\t%.4f\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%d\t%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
      name, rep, n, sess_n, cr, src, first, e2e, er, (cr > 0 ? 100 * er / cr : 0), cpu, 1000 * cpu / n,
      r[1], r[2], r[3], r[4], r[5], rss, hwm, mesg, sess, sent, senttls, tlsc, full, queued, lost, commits,
      w[1], w[2], w[3], w[4], w[5], w[6], w[7], load1
  }')
  rows+=("$(echo "$out" | sed -n 's/^MD\t//p')")
  trows+=("$(echo "$out" | sed -n 's/^TH\t//p')")
  wrows+=("$(echo "$out" | sed -n 's/^WH\t//p')")
  echo "$out" | sed -n 's/^TSV\t//p' >>"$tsv"
  note "$(echo "$out" | sed -n 's/^MD\t//p')"
}

# The report's header lines about the machine, the disk and the relay binary.
machine_info() {
  local cpu
  cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
  echo "- Host: $(hostname), $(nproc) CPUs ($cpu), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM"
  echo "- Kernel: $(uname -sr); $(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "- Queue filesystem: $fstype on $fsdev mounted at $fsmount ($fsopts); temp dir $WORK"
  echo "- Postfix tools: $(dpkg-query -W -f '${Package} ${Version}' postfix 2>/dev/null || echo unknown); OpenSSL $(openssl version 2>/dev/null | awk '{print $2}')"
  echo "- Relay: $RELAY ($("$RELAY" --version 2>/dev/null || echo '?'), compiled with $(relay_flags))"
  echo "- Load average at the start: $load_start"
}

# Rows of the authenticated-delivery table: tlsc, dane, sts, dane-rpt and sts-rpt of each
# repetition, each against that repetition's tlsc (rate and CPU per message).
auth_rows() {
  awk -F'\t' '$1 ~ /^(tlsc|dane|sts|dane-rpt|sts-rpt)$/ {rate[$2, $1] = $9; cpu[$2, $1] = $12; if ($2 > last) last = $2}
    END {
      split("tlsc dane sts dane-rpt sts-rpt", names, " ")
      for (r = 1; r <= last; r++) {
        if (!((r, "tlsc") in rate)) continue
        for (i = 1; i <= 5; i++) {
          c = names[i]
          if (!((r, c) in rate)) continue
          printf "| %s (rep %s) | %.0f | %.0f%% | %.3f | %.0f%% |\n", c, r, rate[r, c],
            100 * rate[r, c] / rate[r, "tlsc"], cpu[r, c], 100 * cpu[r, c] / cpu[r, "tlsc"]
        }
      }
    }' "$tsv"
}

# Rows of the TLS-reporting table: dane-rpt and sts-rpt of each repetition against dane and
# sts of the same repetition (rate, CPU per message, LMDB commits).
rpt_rows() {
  awk -F'\t' '$1 ~ /^(dane|sts|dane-rpt|sts-rpt)$/ {rate[$2, $1] = $9; cpu[$2, $1] = $12; com[$2, $1] = $28; if ($2 > last) last = $2}
    END {
      for (r = 1; r <= last; r++) {
        for (i = 1; i <= 2; i++) {
          off = (i == 1) ? "dane" : "sts"; on = off "-rpt"
          if (!((r, off) in rate) || !((r, on) in rate)) continue
          printf "| %s (rep %s) | %.0f | %.0f | %.0f%% | %.3f | %.3f | %.0f%% | %s / %s |\n", off, r, rate[r, off], rate[r, on],
            100 * rate[r, on] / rate[r, off], cpu[r, off], cpu[r, on], 100 * cpu[r, on] / cpu[r, off], com[r, off], com[r, on]
        }
      }
    }' "$tsv"
}

write_report() {
  local plain_rate scale_rate plain_sched scale_sched
  plain_rate=$(awk -F'\t' '$1 == "plain" {r = $9} END {print r + 0}' "$tsv")
  scale_rate=$(awk -F'\t' '$1 == "scale" {r = $9} END {print r + 0}' "$tsv")
  plain_sched=$(awk -F'\t' '$1 == "plain" {r = 1000 * $16 / $3} END {printf "%.3f", r}' "$tsv")
  scale_sched=$(awk -F'\t' '$1 == "scale" {r = 1000 * $16 / $3} END {printf "%.3f", r}' "$tsv")
  {
    echo "# secmx-relay end-to-end delivery (accept + deliver), $stamp"
    echo
    machine_info
    echo
    echo "Cases: $CASES; $COUNT messages of $SIZE bytes per case, smtp-source -s $SESSIONS, one message per connection."
    echo "Relay: fresh queue per case on the disk above (fsync on: group commit, each 250 sent once its commit is synced), log level info to a file,"
    echo "delivery defaults (2 workers, destination_concurrency 20, connection_cache_time 2s), retry = [\"4h\"]."
    echo "Ceiling: the same smtp-source command against \`$SMTP_SINK -u $SINK_USER 127.0.0.1:$SINK_PORT 1024\`, run just before each row."
    [ -z "$PROFILE" ] || echo "**Profiled with perf: relay figures are perturbed by the profiler.**"
    [ "$FSYNC_TRACE" != on ] || echo "fsync trace on: perf trace -s on the relay's commit writer thread (fdatasync, fsync, pwrite64); it adds a little cost to every syscall while it runs (--fsync-trace off for untraced figures)."
    echo
    if [ "${#crows[@]}" -gt 0 ]; then
      echo "## Ceilings"
      echo
      echo "| path | msgs | msg/s | s | sink CPU s/1000 msgs | load1 after |"
      echo "|---|---:|---:|---:|---:|---:|"
      printf '%s\n' "${crows[@]}"
      echo
      echo "smtp-source cannot do TLS, so there is no one-hop TLS ceiling; the Postfix and tls-sink rows are the TLS sinks'"
      echo "capacity without the handshakes (sink CPU = the Postfix instance, with the children it reaped, + the smtp-sink"
      echo "behind it; or tls-sink)."
      echo
    fi
    echo "## End to end"
    echo
    echo "| case | msgs | ceiling msg/s | relay e2e msg/s | ratio | smtp-source s | e2e s | relay CPU s | CPU s/1000 msgs | peak RssAnon MB | VmHWM MB | outbound conns | TLS handshakes | status=sent | LMDB commits | lost |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|"
    printf '%s\n' "${rows[@]}"
    echo
    echo "## Where the time goes"
    echo
    echo "| case | e2e s | machine CPU busy (2 CPUs = 100%) | relay CPU s | sink CPU s | inbound commits | msgs per inbound commit | relay fdatasync calls | time in fdatasync + pwrite s | share of e2e time |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    printf '%s\n' "${wrows[@]}"
    echo
    echo "## Relay CPU by thread (seconds during the measurement)"
    echo
    echo "| case | e2e msg/s | total | smtpd loop | commit writer | delivery workers | scheduler | admin + other | scheduler CPU s/1000 msgs |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    printf '%s\n' "${trows[@]}"
    echo
    if awk -F'\t' '$1 ~ /^(dane|sts|dane-rpt|sts-rpt)$/ {f = 1} END {exit !f}' "$tsv"; then
      echo "## Authenticated delivery"
      echo
      echo "The same tls-sink and certificate as tlsc ($(case ${KEY_TYPE:-rsa} in rsa) echo "RSA 2048" ;; *) echo "ECDSA P-256" ;; esac), --key ${KEY_TYPE:-rsa}); dane and sts reach it by discovery (MX, cached) and authenticate it;"
      echo "dane-rpt and sts-rpt are the same with TLS reporting on."
      echo
      echo "| case | e2e msg/s | of tlsc | relay CPU ms/msg | CPU of tlsc |"
      echo "|---|---:|---:|---:|---:|"
      auth_rows
      [ "${#anotes[@]}" -eq 0 ] || printf -- '- %s\n' "${anotes[@]}"
      echo
    fi
    if awk -F'\t' '$1 ~ /^(dane|sts)-rpt$/ {f = 1} END {exit !f}' "$tsv"; then
      echo "## TLS reporting on vs off"
      echo
      echo "[tlsrpt] enabled = true: every session counted in LMDB with the message's outcome (same transaction)."
      echo
      echo "| policy | off msg/s | on msg/s | on/off | off CPU ms/msg | on CPU ms/msg | on/off | LMDB commits off / on |"
      echo "|---|---:|---:|---:|---:|---:|---:|---:|"
      rpt_rows
      echo
    fi
    if [ "${#extra[@]}" -gt 0 ]; then
      echo "## Scale"
      echo
      printf -- '- %s\n' "${extra[@]}"
      if [ "$(awk -v a="$plain_rate" 'BEGIN {print (a > 0)}')" = 1 ] && [ "$(awk -v a="$scale_rate" 'BEGIN {print (a > 0)}')" = 1 ]; then
        echo "- New mail with $SCALE_FILL deferred in the queue: $(awk -v a="$scale_rate" -v b="$plain_rate" 'BEGIN {printf "%.0f msg/s = %.0f%% of the empty-queue rate (%.0f msg/s)", a, 100 * a / b, b}'); scheduler thread $scale_sched CPU s per 1000 messages vs $plain_sched with an empty queue."
      fi
      echo
    fi
    echo "Commands:"
    echo
    echo '```'
    printf '%s\n' "${commands[@]}" | awk '!seen[$0]++'
    echo "$SMTP_SINK -c -u $SINK_USER $DEST_ADDR:$DEST_PORT 1024        # plain destination"
    echo "$POSTFIX_DAEMON_DIR/master -c <tmp>/postfix/conf -w    # TLS destination: smtpd on $TLS_ADDR:$TLS_PORT, smtpd_proxy_filter = $PROXY_ADDR:$PROXY_PORT"
    echo "$SMTP_SINK -c -u $SINK_USER $PROXY_ADDR:$PROXY_PORT 1024        # behind it"
    echo "<tmp>/tls-sink $CSINK_ADDR $CSINK_PORT <tmp>/tls/cert.pem <tmp>/tls/key.pem   # tlsc destination (source in bench/deliver/tls-sink.c)"
    if has_case dane || has_case sts || has_case dane-rpt || has_case sts-rpt; then
      echo "$PYTHON bench/deliver/authworld.py dane|sts <tmp>/world bench-dest.example $AUTH_MX $CSINK_ADDR $CSINK_PORT <tmp>/tls/cert.pem [$STS_ADDR]   # DNS (and policy host) of dane, sts"
    fi
    echo "$RELAY --config <tmp>/relay.toml   # per case"
    echo '```'
    echo
    echo "Columns: e2e msg/s = messages / (time from smtp-source's start — drain: the relay's launch — until the sink"
    echo "counted the last message); ratio = e2e / ceiling; smtp-source s = time until smtp-source had its last 250 (the"
    echo "accept side); relay CPU s = utime+stime of all relay threads over the e2e time (drain: since the relay started);"
    echo "peak RssAnon = max of /proc/PID/status RssAnon sampled every 50 ms; VmHWM = peak RSS including the file-backed"
    echo "LMDB map; outbound conns = sessions the sink saw (plain) or TLS connections (tls, tlsc); TLS handshakes ="
    echo "full / resumed, from the Postfix sink's log (certificate sent or not) or tls-sink's counters (SSL_session_reused);"
    echo "status=sent = the relay's per-attempt log lines;"
    echo "LMDB commits = write transactions the relay reports at shutdown (messages in + outcomes); lost = sent − arrived"
    echo "at the sink − left in the queue. paused: accept only (delivery paused), its e2e s is the accept time."
    echo
    echo "Where the time goes: machine CPU busy = non-idle, non-iowait share of all CPUs over the e2e time (/proc/stat;"
    echo "includes smtp-source, the sinks and anything else running); sink CPU s = smtp-sink, or the Postfix instance"
    echo "(master + children) + its smtp-sink; inbound commits / msgs per inbound commit = the relay's"
    echo "secmx_commit_latency_seconds_count and secmx_commit_batch_size (new messages only: outcome writes are not in"
    echo "that histogram, they are in the LMDB commits column above); fdatasync calls and time in fdatasync + pwrite64 ="
    echo "perf trace -s of the relay (LMDB: one fdatasync per commit, then the meta page by pwrite on an O_DSYNC fd);"
    echo "share = that time / e2e time (one writer thread: near 100% means the commit writer is the bottleneck)."
    echo "CPU by thread: threads told apart by name (main loop = SMTP server, queue-writer, delivery workers,"
    echo "scheduler; admin HTTP, audit, tlsrpt and libuv's pool as admin + other); scheduler CPU s/1000 msgs is the"
    echo "figure that must not grow with the queue (scale)."
    echo
    echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews every column)."
  } >"$OUT"
  cat "$OUT"
}
