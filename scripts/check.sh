#!/usr/bin/env bash
# The build-time checks CI runs after the test suite (scripts/test.sh calls this):
#   format  clang-format 14 over core ui app tests bench (scripts/format.sh --check)
#   asan    AddressSanitizer + UBSan build (build-asan) of the core and the tests of the code
#           that reads files and juggles memory (replicascope_sanitized_tests, tests/CMakeLists.txt)
#           and the rendezvous tests; runs them
#   tsan    ThreadSanitizer build (build-tsan) of the rendezvous tests; runs them
# `scripts/check.sh asan tsan` runs some phases; no argument runs all. Every phase runs even when
# an earlier one failed; the script fails if any did. Each phase prints how long it took.
set -uo pipefail
cd "$(dirname "$0")/.."
jobs=${CHECK_JOBS:-$(nproc)}
phases=("$@")
((${#phases[@]})) || phases=(format asan tsan)

# -O1: sanitized code at -O0 is slow, higher levels compile slower. -g1: line numbers in reports.
# Release-like NDEBUG, as the normal build and Debian's LibTorch use. No UI or benchmarks.
sanitized_build() {  # DIR SANITIZERS TARGET...
  local dir=$1 sanitize=$2
  shift 2
  mkdir -p "$dir"
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DREPLICASCOPE_SANITIZE="$sanitize" \
    -DREPLICASCOPE_BUILD_UI=OFF -DREPLICASCOPE_BUILD_BENCH=OFF >"$dir/configure.log" 2>&1 ||
    { cat "$dir/configure.log"; return 1; }
  cmake --build "$dir" --parallel "$jobs" --target "$@"
}

# LibTorch, OpenMP and the standard libraries are not instrumented: leaks inside them cannot be
# told from ours, so leak detection is off; every other error stops the test.
# RunStore.KilledRunKeepsItsFinishedSteps needs the CLI, which this build leaves out.
check_asan() {
  sanitized_build build-asan address,undefined replicascope_sanitized_tests replicascope_sync_tests &&
    ASAN_OPTIONS=detect_leaks=0:check_initialization_order=1 \
    UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure --parallel "$jobs" \
      -R '^(SyncMaster|FutureResult|[A-Za-z]*/?Equivalence|Kernels|Precision|SyncBatchNorm|DataFiles|Datasets|BatchLoader|SessionSpec|SessionFactory|Wiring|RunStore)[./]' \
      -E 'KilledRun'
}

# tests/tsan.supp silences reports from inside uninstrumented third-party code only.
check_tsan() {
  sanitized_build build-tsan thread replicascope_sync_tests &&
    TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp:halt_on_error=1:second_deadlock_stack=1" \
    ctest --test-dir build-tsan --output-on-failure --parallel "$jobs" -R '^(SyncMaster|FutureResult)\.'
}

failed=()
summary=()
for phase in "${phases[@]}"; do
  case $phase in
    format) run=(scripts/format.sh --check) ;;
    asan | tsan) run=("check_$phase") ;;
    *) echo "check: unknown phase '$phase' (expected format, asan or tsan)" >&2; exit 2 ;;
  esac
  echo "check: --- $phase ---"
  start=$SECONDS
  if "${run[@]}"; then result=ok; else result=FAILED; failed+=("$phase"); fi
  took=$((SECONDS - start))
  summary+=("$(printf '%-7s %-6s %dm%02ds' "$phase" "$result" $((took / 60)) $((took % 60)))")
  echo "check: $phase $result after $((took / 60))m$((took % 60))s"
done
printf 'check: %s\n' "${summary[@]}"
if ((${#failed[@]})); then
  echo "check: FAILED: ${failed[*]}" >&2
  exit 1
fi
