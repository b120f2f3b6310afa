# lib.sh - helpers shared by the benchmark scripts (sourced, not run). The caller sets
# $root (the checkout) and $RELAY (the relay binary) before calling relay_flags.

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
