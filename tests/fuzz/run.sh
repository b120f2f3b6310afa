#!/usr/bin/env bash
# run.sh - build the fuzz targets (relay/smtp, relay/policy, relay/dns, ...) with clang++ and
# libFuzzer, run each for a bounded time.
#
#   tests/fuzz/run.sh [SECONDS] [TARGET...]     default: 30 s, every target
#
# Targets: command params data_reader chunk_checker reply_parser marking dns_answer ehlo
# config encoded_words admin_request sts_txt sts_policy tlsrpt_txt sasl.
# Builds into $SECMX_FUZZ_BUILD (default build-fuzz/ at the top of the repo), apart from the
# main gcc build. The seeds in tests/fuzz/corpus/<target>/ are read; new inputs go to
# build-fuzz/corpus/<target>/, crashes to build-fuzz/artifacts/. Exits non-zero if any
# target fails to build or finds a crash, leak or invariant violation.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${SECMX_FUZZ_BUILD:-$root/build-fuzz}"
seconds="${1:-30}"
shift || true
all_targets=(command params data_reader chunk_checker reply_parser marking dns_answer ehlo config encoded_words admin_request
             sts_txt sts_policy tlsrpt_txt sasl audit_record)
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=("${all_targets[@]}")

if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [[ "$seconds" -eq 0 ]]; then
  echo "usage: $0 [SECONDS] [TARGET...]" >&2
  exit 2
fi

cxx="${SECMX_FUZZ_CXX:-clang++}"
probe() {
  echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' |
    "$cxx" -x c++ -fsanitize=fuzzer,address,undefined - -o /dev/null >/dev/null 2>&1
}
if ! command -v "$cxx" >/dev/null 2>&1 || ! probe; then
  # Debian 12: clang 14 and its runtime (libFuzzer, sanitizers) are separate packages.
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "fuzz: installing clang and libclang-rt-14-dev" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q clang libclang-rt-14-dev >/dev/null ||
      { apt-get update -q >/dev/null &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q clang libclang-rt-14-dev >/dev/null; }
  fi
  if ! command -v "$cxx" >/dev/null 2>&1 || ! probe; then
    echo "fuzz: $cxx with libFuzzer is not available (apt-get install clang libclang-rt-14-dev)" >&2
    exit 2
  fi
fi

generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake -S "$here" -B "$build" "${generator[@]}" -DCMAKE_CXX_COMPILER="$cxx" \
    -DCMAKE_BUILD_TYPE=Debug >/dev/null
fi
build_targets=()
for t in "${targets[@]}"; do build_targets+=("fuzz_$t"); done
cmake --build "$build" --target "${build_targets[@]}" -- -j"${SECMX_FUZZ_JOBS:-2}"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

failed=()
for t in "${targets[@]}"; do
  corpus="$build/corpus/$t"
  seeds="$here/corpus/$t"
  mkdir -p "$corpus" "$build/artifacts"
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$build/artifacts/$t-")
  case "$t" in
    data_reader|chunk_checker|marking) args+=(-max_len=8192) ;;
    dns_answer) args+=(-max_len=2048) ;;
    config) args+=(-max_len=8192) ;;
    encoded_words) args+=(-max_len=4096) ;;
    admin_request) args+=(-max_len=4096) ;;
    sts_policy) args+=(-max_len=4096) ;;
    sasl) args+=(-max_len=16384) ;;
    *) args+=(-max_len=1024) ;;
  esac
  [[ -f "$here/dict/$t.dict" ]] && args+=(-dict="$here/dict/$t.dict")
  dirs=("$corpus")
  [[ -d "$seeds" ]] && dirs+=("$seeds")
  echo "fuzz: $t for ${seconds}s"
  log="$build/$t.log"
  if "$build/fuzz_$t" "${args[@]}" "${dirs[@]}" >"$log" 2>&1; then
    echo "fuzz: $t ok ($(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo '?') runs)"
  else
    echo "fuzz: $t FAILED; log: $log" >&2
    tail -n 40 "$log" >&2
    failed+=("$t")
  fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz: failures in: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: all targets ran ${seconds}s without findings"
