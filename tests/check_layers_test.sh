#!/usr/bin/env bash
# check_layers_test.sh - proves scripts/check-layers.sh can fail: on temporary copies of the
# sources it injects an upward include, then a cycle within one layer, and expects a non-zero
# exit naming the file:line of the include; the untouched copy must pass.
# Usage: tests/check_layers_test.sh [source root]
set -euo pipefail

src="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
check="$src/scripts/check-layers.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fresh_copy() {
  rm -rf "$tmp/src"
  mkdir -p "$tmp/src"
  cp -r "$src/docs" "$src/relay" "$src/queue" "$src/admin" "$tmp/src/"
}

fail() { echo "FAIL: $*" >&2; exit 1; }

# Expects the check to fail on the copy and to print want (a file:line).
expect_failure() {
  local want="$1" out rc=0
  out=$("$check" "$tmp/src" 2>&1) || rc=$?
  printf '%s\n' "$out"
  [ "$rc" -ne 0 ] || fail "check-layers.sh passed, expected a failure at $want"
  grep -qF "$want" <<<"$out" || fail "output does not name $want"
}

# 1. The copy as it is passes.
fresh_copy
"$check" "$tmp/src" || fail "check-layers.sh fails on the unmodified sources"

# 2. relay/smtp (layer 3) including admin/ (layer 7), on line 3 of a new file.
fresh_copy
printf '// injected\n\n#include "admin/admin_server.hpp"\n' > "$tmp/src/relay/smtp/layer_probe.cpp"
expect_failure "relay/smtp/layer_probe.cpp:3:"

# 3. relay/model (layer 2) including relay/metrics (layer 5), appended to an existing header.
fresh_copy
echo '#include "relay/metrics/metrics.hpp"' >> "$tmp/src/relay/model/envelope.hpp"
expect_failure "relay/model/envelope.hpp:$(wc -l < "$tmp/src/relay/model/envelope.hpp"):"

# 4. A cycle within layer 4: relay/dns includes relay/policy and relay/policy includes relay/dns.
fresh_copy
printf '#include "relay/policy/x.hpp"\n' > "$tmp/src/relay/dns/cycle_a.cpp"
printf '\n#include "relay/dns/x.hpp"\n' > "$tmp/src/relay/policy/cycle_b.cpp"
expect_failure "relay/policy/cycle_b.cpp:2:"

# 5. An allow entry makes the include of case 2 pass.
fresh_copy
printf '#include "admin/admin_server.hpp"\n' > "$tmp/src/relay/smtp/layer_probe.cpp"
sed -i 's|^layer 7: .*|&\nallow: relay/smtp/layer_probe.cpp -> admin/admin_server.hpp  test entry|' \
  "$tmp/src/docs/architecture.md"
"$check" "$tmp/src" || fail "an allowed include was reported"

echo "check-layers.sh: all cases behave"
