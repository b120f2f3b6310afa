#!/usr/bin/env bash
# bound.sh - how close to smtp-sink can a queue that syncs before its 250 come on this
# machine? The accept benchmark's ratio target (>= 70% of smtp-sink) is a property of the
# disk as much as of the relay; this script measures the bound in the same run.
#
# It builds the relay once from HEAD (committed code only: uncommitted changes to the relay
# are not in it) with bench/patches/commit-bound.patch (an experiment,
# never part of the product: with SECMX_COMMIT_BOUND set, LMDB runs with MDB_NOSYNC and
# the writer answers as described below; unset, the binary is the product's code) and
# runs bench/accept.sh for each variant, ROUNDS times, interleaved:
#   durable   the product: group commit, each 250 after its commit record is synced
#   one-sync  one fdatasync per writer round, then the 250s: the shortest wait any
#             group commit can give (it drops LMDB's pages-before-commit-record order,
#             so a crash during the sync could corrupt the queue - NOT crash-safe)
#   nosync    no sync at all: the relay's own cost, same disk, same code path
# Every accept.sh run measures its own smtp-sink ceiling just before the relay. It also
# probes the queue filesystem: an 8 KiB pwrite + fdatasync (a 4 KiB message's pages), and
# reports the medians per variant and mode.
#
# Usage: bench/bound.sh [--rounds N] [--count N] [--sessions N] [--workdir DIR] [--out FILE]
#   defaults: 3 rounds, 10000 messages of 4 KiB, 20 sessions, /var/tmp, bench/results/bound-<UTC>.md
#   BOUND_BUILD (default /var/tmp/secmx-bound-build) keeps the patched build between runs.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

ROUNDS=3 COUNT=10000 SESSIONS=20 BENCH_DIR=/var/tmp OUT=
BOUND_BUILD=${BOUND_BUILD:-/var/tmp/secmx-bound-build}
parse_options "--rounds:ROUNDS --count:COUNT --sessions:SESSIONS --workdir:BENCH_DIR --out:OUT" "$@"
failed() { keep=1; die "$@"; }

stamp=$(date -u +%Y%m%dT%H%M%SZ)
[ -n "$OUT" ] || OUT=$root/bench/results/bound-$stamp.md
mkdir -p "$(dirname "$OUT")" "$BENCH_DIR"
WORK=$(mktemp -d "$BENCH_DIR/secmx-bound.XXXXXX")
keep=0  # set when a run failed: its files (and accept.sh's kept queue) are the evidence
trap '[ "$keep" = 1 ] && echo "bound.sh: kept $WORK" >&2 || rm -rf "$WORK"' EXIT

# --- the patched relay, built from HEAD --------------------------------------------
commit=$(git -C "$root" rev-parse --short HEAD)
mkdir -p "$BOUND_BUILD/src"
git -C "$root" archive HEAD | tar -x -C "$WORK" --one-top-level=src
patch -s -d "$WORK/src" -p1 <"$here/patches/commit-bound.patch" || die "the patch no longer applies to HEAD"
# Copy only what changed, so that the build dir's previous objects stay valid.
(cd "$WORK/src" && find . -type f) | while IFS= read -r f; do
  cmp -s "$WORK/src/$f" "$BOUND_BUILD/src/$f" 2>/dev/null ||
    { mkdir -p "$(dirname "$BOUND_BUILD/src/$f")"; cp "$WORK/src/$f" "$BOUND_BUILD/src/$f"; }
done
(cd "$BOUND_BUILD/src" && find . -type f) | while IFS= read -r f; do
  [ -e "$WORK/src/$f" ] || rm -f "$BOUND_BUILD/src/$f"  # gone from HEAD
done
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$BOUND_BUILD/src" -B "$BOUND_BUILD/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "${launcher[@]}" >"$WORK/cmake.log" 2>&1 || { tail -20 "$WORK/cmake.log" >&2; die "cmake failed"; }
cmake --build "$BOUND_BUILD/build" --target secmx-relay >"$WORK/build.log" 2>&1 ||
  { tail -30 "$WORK/build.log" >&2; die "build failed"; }
RELAY=$BOUND_BUILD/build/relay/secmx-relay

# --- the disk: what one sync of a message's pages costs ------------------------------
probe=$(python3 - "$WORK" <<'PY'
import os, random, statistics, sys, time
path = os.path.join(sys.argv[1], "probe.dat")
fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
block = b"x" * 8192
for i in range(2048):  # 16 MiB written and synced first: overwrites, as in a grown queue
    os.pwrite(fd, block, i * 8192)
os.fsync(fd)
lat = []
for _ in range(1000):
    t = time.perf_counter()
    os.pwrite(fd, block, random.randrange(2048) * 8192)
    os.fdatasync(fd)
    lat.append((time.perf_counter() - t) * 1e6)
os.close(fd); os.unlink(path)
lat.sort()
print(f"{statistics.median(lat):.0f} {lat[len(lat) * 9 // 10]:.0f}")
PY
)
read -r sync_p50 sync_p90 <<<"$probe"

# --- the runs ------------------------------------------------------------------------
variants=(durable one-sync nosync)
for r in $(seq 1 "$ROUNDS"); do
  for v in "${variants[@]}"; do
    renv=
    [ "$v" = durable ] || renv="SECMX_COMMIT_BOUND=$v"
    echo "round $r: $v" >&2
    "$here/accept.sh" --relay "$RELAY" --relay-env "$renv" --sizes 4096 --count "$COUNT" \
      --sessions "$SESSIONS" --workdir "$WORK" --out "$WORK/r$r-$v.md" >"$WORK/r$r-$v.log" 2>&1 ||
      { tail -20 "$WORK/r$r-$v.log" >&2; failed "accept.sh failed (round $r, $v)"; }
  done
done

# --- report ----------------------------------------------------------------------------
{
  echo "# Accept-path bound: durable vs. one-sync vs. no sync, $stamp"
  echo
  sed -n '/^- Host:/,/^- Load before/p' "$WORK/r1-durable.md" | grep -v '^- Relay:'
  echo "- Relay: commit $commit + bench/patches/commit-bound.patch, RelWithDebInfo"
  echo "- Disk probe (queue filesystem, 8 KiB pwrite + fdatasync, 1000 times): p50 ${sync_p50} µs, p90 ${sync_p90} µs"
  echo
  echo "Command: \`bench/bound.sh --rounds $ROUNDS --count $COUNT --sessions $SESSIONS\` —"
  echo "each row is one \`bench/accept.sh --sizes 4096 --count $COUNT --sessions $SESSIONS\` run"
  echo "(smtp-sink ceiling, then the relay), variants interleaved round by round."
  echo
  echo "| round | variant | mode | sink msg/s | relay msg/s | ratio | lost |"
  echo "|---:|---|---|---:|---:|---:|---:|"
  for r in $(seq 1 "$ROUNDS"); do
    for v in "${variants[@]}"; do
      awk -F'\t' -v r="$r" -v v="$v" 'NR > 1 {
        printf "| %s | %s | %s | %.0f | %.0f | %.0f%% | %d |\n", r, v, $4, $7, $10, $11, $18 }' "$WORK/r$r-$v.tsv"
    done
  done
  echo
  echo "Medians of the ratio (relay / sink of the same row):"
  echo
  echo "| variant | 1 msg/conn | reuse (-d) |"
  echo "|---|---:|---:|"
  for v in "${variants[@]}"; do
    med() { cat "$WORK"/r*-"$v".tsv | awk -F'\t' -v m="$1" '$4 == m {print $11}' | sort -n |
              awk '{a[NR] = $1} END {if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
    printf '| %s | %.0f%% | %.0f%% |\n' "$v" "$(med conn)" "$(med reuse)"
  done
} | tee "$OUT"
lost=$(cat "$WORK"/r*.tsv | awk -F'\t' 'NR > 1 && $18 ~ /^[0-9]+$/ {s += $18} END {print s + 0}')
[ "$lost" = 0 ] || failed "$lost messages missing from a queue after a run (see the rows)"
echo "report: $OUT" >&2
