#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Sets everything up and runs every test through ctest, then the build-time checks
# (scripts/check.sh: clang-format, AddressSanitizer+UBSan and ThreadSanitizer builds). With
# arguments (`scripts/test.sh -R Session`) it runs only the ctest tests they select.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each stage's minutes, printed last: CI shows only the end of the output, and its budget (45
# minutes on 2 cores) is spent by these stages.
started=$SECONDS
stage_times=()
timed() {  # NAME COMMAND...
  local name=$1 from=$SECONDS code=0
  shift
  "$@" || code=$?
  stage_times+=("$(printf '%-7s %3dm%02ds' "$name" $(((SECONDS - from) / 60)) $(((SECONDS - from) % 60)))")
  return $code
}

status=0
timed setup scripts/setup.sh
timed ctest ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure --parallel "$(nproc)" "$@" ||
  status=$?
if (($# == 0)); then
  timed checks scripts/check.sh || status=1  # also after failed tests: CI reports every check at once
fi
for line in "${stage_times[@]}"; do echo "test: $line"; done
echo "test: all in $(((SECONDS - started) / 60))m$(printf '%02d' $(((SECONDS - started) % 60)))s, exit $status"
exit $status
