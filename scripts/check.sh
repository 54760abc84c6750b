#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The build-time checks CI runs after the test suite (scripts/test.sh calls this):
#   format  clang-format 14 over core ui app tests bench (scripts/format.sh --check)
#   layout  core's includes against its layer table (scripts/check_layers.py) and the size rules:
#           files under 400 lines, C++ functions under 60, outside tests (scripts/check_sizes.py)
#   asan    AddressSanitizer + UBSan build (build-asan) of the core and the tests of the code
#           that reads files and juggles memory (replicascope_sanitized_tests, tests/CMakeLists.txt)
#           and the rendezvous tests; runs them
#   tsan    ThreadSanitizer build (build-tsan) of the rendezvous tests; runs them (ctest -L rendezvous)
#   fuzz    libFuzzer targets (fuzz/; clang, AddressSanitizer + UBSan, build-fuzz): each reader of
#           files users give runs on a copy of its seeds (tests/fuzz/) for FUZZ_SECONDS (default
#           30) seconds; a crash, a leak, or an input that takes over 10 s fails it. FUZZ_TARGETS
#           picks some (default: all). docs/reliability.md tells how to run one longer.
#   package the Debian packages from build/ (cpack, no rebuild), validated (desktop-file-validate,
#           appstreamcli, lintian), installed (as root; else unpacked), run, a run file typed by
#           the installed MIME database, removed (scripts/check_package.sh)
# `scripts/check.sh asan tsan` runs some phases; no argument runs all. Every phase runs even when
# an earlier one failed; the script fails if any did. Each phase prints how long it took.
set -uo pipefail
cd "$(dirname "$0")/.."
jobs=${CHECK_JOBS:-$(nproc)}
phases=("$@")
((${#phases[@]})) || phases=(format layout asan tsan fuzz package)

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

# A phase whose label picked no test has checked nothing: that is a failure, not a pass.
ran_tests() {  # CTEST_LOG
  if grep -q 'No tests were found' "$1"; then
    echo "check: the label picked no test (tests/CMakeLists.txt gives the labels)" >&2
    return 1
  fi
}

# LibTorch, OpenMP and the standard libraries are not instrumented: leaks inside them cannot be
# told from ours, so leak detection is off; every other error stops the test. The label picks
# every test the two binaries hold (tests/CMakeLists.txt); the few that need the CLI or the
# scripted fixtures, which this build leaves out, skip saying so, and the main ctest runs them.
check_asan() {
  sanitized_build build-asan address,undefined replicascope_sanitized_tests replicascope_sync_tests &&
    ASAN_OPTIONS=detect_leaks=0:check_initialization_order=1 \
    UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure --parallel "$jobs" -L '^(asan|rendezvous)$' </dev/null |
    tee build-asan/ctest.log && ran_tests build-asan/ctest.log
}

# tests/tsan.supp silences reports from inside uninstrumented third-party code only.
check_tsan() {
  sanitized_build build-tsan thread replicascope_sync_tests &&
    TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp:halt_on_error=1:second_deadlock_stack=1" \
    ctest --test-dir build-tsan --output-on-failure --parallel "$jobs" -L '^rendezvous$' </dev/null |
    tee build-tsan/ctest.log && ran_tests build-tsan/ctest.log
}

# The house rules the compiler cannot see: core's includes keep to the layer table of
# CONTRIBUTING.md (the build checks it too), no source file outside tests is over 400 lines
# or C++ function over 60, and every source file names its license (scripts/spdx.py, LICENSE).
check_layout() {
  python3 scripts/check_layers.py && python3 scripts/check_sizes.py && python3 scripts/spdx.py
}

# The seeds of a fuzz target: load_module reads the same archives as model_archive.
fuzz_seeds() { echo "tests/fuzz/${1/load_module/model_archive}"; }

# One fuzz target on a copy of its seeds, its output in build-fuzz/runs/TARGET/log. Leaks inside
# LibTorch are suppressed (fuzz/lsan.supp says which); ours fail the run.
fuzz_one() {  # TARGET
  local run=build-fuzz/runs/$1 seconds=${FUZZ_SECONDS:-30}
  rm -rf "$run" && mkdir -p "$run/corpus" && cp "$(fuzz_seeds "$1")"/* "$run/corpus/"
  LSAN_OPTIONS="suppressions=$PWD/fuzz/lsan.supp" UBSAN_OPTIONS=print_stacktrace=1 \
    timeout $((seconds + 120)) "build-fuzz/fuzz/fuzz_$1" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$run/" "$run/corpus" \
    >"$run/log" 2>&1
  echo $? >"$run/status"
}

check_fuzz() {
  local targets=(${FUZZ_TARGETS:-idx cifar10 image run_file model_archive load_module}) target status=0
  command -v clang++ >/dev/null ||
    { echo "check: clang++ not found (scripts/setup.sh installs clang libclang-rt-14-dev)" >&2; return 1; }
  mkdir -p build-fuzz
  cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DREPLICASCOPE_BUILD_FUZZ=ON \
    -DREPLICASCOPE_BUILD_TESTS=OFF -DREPLICASCOPE_BUILD_UI=OFF -DREPLICASCOPE_BUILD_BENCH=OFF \
    -DREPLICASCOPE_UNITY_BUILD=OFF \
    >build-fuzz/configure.log 2>&1 || { cat build-fuzz/configure.log; return 1; }
  cmake --build build-fuzz --parallel "$jobs" --target "${targets[@]/#/fuzz_}" || return 1
  for target in "${targets[@]}"; do  # $jobs targets at a time
    while (($(jobs -rp | wc -l) >= jobs)); do wait -n; done
    fuzz_one "$target" &
  done
  wait
  for target in "${targets[@]}"; do
    local run=build-fuzz/runs/$target
    printf 'check: fuzz_%-14s %9s inputs, %6s/s, corpus %3s -> %4s files, exit %s\n' "$target" \
      "$(sed -n 's/^stat::number_of_executed_units: *//p' "$run/log")" \
      "$(sed -n 's/^stat::average_exec_per_sec: *//p' "$run/log")" \
      "$(find "$(fuzz_seeds "$target")" -type f | wc -l)" \
      "$(find "$run/corpus" -type f | wc -l)" "$(cat "$run/status")"
    if [[ $(cat "$run/status") != 0 ]]; then
      status=1
      tail -n 60 "$run/log"
      echo "check: fuzz_$target failed; the input is in $run/ (crash-*, leak-*, timeout-*, oom-*):" \
        "build-fuzz/fuzz/fuzz_$target FILE runs it again" >&2
    fi
  done
  return $status
}

failed=()
summary=()
for phase in "${phases[@]}"; do
  case $phase in
    format) run=(scripts/format.sh --check) ;;
    layout | asan | tsan | fuzz) run=("check_$phase") ;;
    package) run=(scripts/check_package.sh) ;;
    *) echo "check: unknown phase '$phase' (expected format, layout, asan, tsan, fuzz or package)" >&2; exit 2 ;;
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
