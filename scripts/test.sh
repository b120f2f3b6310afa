#!/usr/bin/env bash
# The one test command: installs every dependency (apt-get), builds the relay twice
# (release with -Werror, and Debug with AddressSanitizer + UndefinedBehaviorSanitizer),
# runs the unit tests of both, the end-to-end suite against real peers with the
# sanitizer build, and the fuzz targets for a bounded time.
#
#   scripts/test.sh            everything
#   SECMX_FUZZ_SECONDS=0       skip fuzzing
#   SECMX_E2E_ARGS="-k tls"    pass arguments to pytest
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

scripts/install-deps.sh --with-tests

echo "== build: release (-Werror)"
scripts/build.sh build -DSECMX_WERROR=ON
echo "== build: debug + ASan/UBSan"
scripts/build.sh build-asan -DCMAKE_BUILD_TYPE=Debug -DSECMX_SANITIZE=ON -DSECMX_WERROR=ON

export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
echo "== unit tests (release)"
ctest --test-dir build --output-on-failure -j 2
echo "== unit tests (ASan/UBSan)"
ctest --test-dir build-asan --output-on-failure -j 2

echo "== end-to-end tests (ASan/UBSan binary, real peers)"
# Leak checking is for the unit tests; a daemon killed by the crash tests has no exit.
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=0"
# Debian's interpreter: pytest comes from python3-pytest, whatever python3 is first on PATH.
SECMX_RELAY_BIN="$root/build-asan/relay/secmx-relay" \
  /usr/bin/python3 -m pytest -q tests/e2e ${SECMX_E2E_ARGS:-}

if [ "${SECMX_FUZZ_SECONDS:-20}" != "0" ] && [ -x tests/fuzz/run.sh ]; then
  echo "== fuzzing (${SECMX_FUZZ_SECONDS:-20}s per target)"
  tests/fuzz/run.sh "${SECMX_FUZZ_SECONDS:-20}"
fi
echo "== all tests passed"
