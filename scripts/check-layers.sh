#!/usr/bin/env bash
# check-layers.sh - fails when a source file includes a header from a higher layer, or when
# directories of one layer include each other in a cycle.
#
# The layers are read from the ```layers block of docs/architecture.md, bottom to top:
#   layer N: dir dir ...          a file belongs to the longest listed directory holding it
#   allow: file -> header  why    one include that may go upward (an unused entry fails too)
# Only quoted includes with a path ("relay/smtp/reply.hpp") are checked; <system> headers and
# same-directory includes are not. Every violation is printed as file:line: message.
#
# Usage: scripts/check-layers.sh [source root]   (default: the repository holding this script)
# Exit status: 0 clean, 1 violations found, 2 the layer block is missing or malformed.
set -euo pipefail

root="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
cd "$root"
doc=docs/architecture.md

block=$(awk '/^```layers[[:space:]]*$/ {inside = 1; found = 1; next}
             inside && /^```/ {exit}
             inside {print}
             END {if (!found) exit 1}' "$doc") || {
  echo "$doc: no \`\`\`layers block" >&2
  exit 2
}

# The directories named in the block, to know which trees to scan.
mapfile -t dirs < <(printf '%s\n' "$block" | awk '/^layer[[:space:]]+[0-9]+:/ {for (i = 3; i <= NF; ++i) print $i}')
if [ "${#dirs[@]}" -eq 0 ]; then
  echo "$doc: the layers block names no directories" >&2
  exit 2
fi
mapfile -t trees < <(printf '%s\n' "${dirs[@]}" | cut -d/ -f1 | sort -u)

# file:line:text of every quoted include in the scanned trees.
includes=$(find "${trees[@]}" -type f \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' \) -print0 |
  sort -z | xargs -0 -r grep -HnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"]*/[^"]*"' || true)

printf '%s\n' "$includes" | awk -v block="$block" -v doc="$doc" '
  # The listed directory (and so the layer) a path belongs to: the longest listed prefix.
  function owner(path,    best, d) {
    best = ""
    for (d in layer_of) {
      if (index(path, d "/") == 1 && length(d) > length(best)) best = d
    }
    return best
  }
  BEGIN {
    n = split(block, lines, "\n")
    for (i = 1; i <= n; ++i) {
      line = lines[i]
      sub(/#.*/, "", line)
      if (line ~ /^layer[[:space:]]+[0-9]+:/) {
        split(line, f, /[[:space:]]+/)
        num = f[2]; sub(/:$/, "", num)
        for (j = 3; j in f; ++j) if (f[j] != "") layer_of[f[j]] = num + 0
      } else if (line ~ /^allow:/) {
        # allow: file -> header  reason
        if (split(line, f, /[[:space:]]+/) < 4 || f[3] != "->") {
          printf "%s: malformed allow entry: %s\n", doc, lines[i] > "/dev/stderr"
          bad_block = 1
        }
        allowed[f[2] " " f[4]] = 0
      } else if (line !~ /^[[:space:]]*$/) {
        printf "%s: unknown line in the layers block: %s\n", doc, lines[i] > "/dev/stderr"
        bad_block = 1
      }
    }
    if (bad_block) exit 2
  }
  $0 == "" { next }
  {
    # file:line:#include "dir/header.hpp"
    file = $0; sub(/:.*/, "", file)
    rest = substr($0, length(file) + 2)
    ln = rest; sub(/:.*/, "", ln)
    inc = rest; sub(/^[^"]*"/, "", inc); sub(/".*/, "", inc)
    from = owner(file); to = owner(inc)
    if (from == "" || to == "" || from == to) next
    if ((file " " inc) in allowed) { allowed[file " " inc] = 1; next }
    if (layer_of[to] > layer_of[from]) {
      printf "%s:%s: %s (layer %d) includes %s from %s (layer %d), a higher layer\n",
             file, ln, from, layer_of[from], inc, to, layer_of[to]
      failed = 1
    } else if (layer_of[to] == layer_of[from]) {
      edge[from, to] = 1
      if (!((from, to) in where)) where[from, to] = file ":" ln ": " from " includes " inc
      same[from] = 1; same[to] = 1
    }
  }
  END {
    if (bad_block) exit 2
    # Reachability between directories of one layer (Floyd-Warshall over a few nodes).
    for (k in same) for (i in same) if ((i, k) in edge) for (j in same) if ((k, j) in edge) edge[i, j] = 1
    for (key in where) {
      split(key, ft, SUBSEP)
      if ((ft[2], ft[1]) in edge) {
        printf "%s, and %s includes %s again: a cycle within layer %d\n",
               where[key], ft[2], ft[1], layer_of[ft[1]]
        failed = 1
      }
    }
    for (a in allowed) if (!allowed[a]) {
      printf "%s: allow entry matches no include: %s\n", doc, a
      failed = 1
    }
    if (failed) exit 1
  }
'
