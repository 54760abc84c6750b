#!/usr/bin/env bash
# Sets everything up and runs every test through ctest, then the build-time checks
# (scripts/check.sh: clang-format, AddressSanitizer+UBSan and ThreadSanitizer builds). With
# arguments (`scripts/test.sh -R Session`) it runs only the ctest tests they select.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
status=0
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure --parallel "$(nproc)" "$@" || status=$?
if (($# == 0)); then
  scripts/check.sh || status=1  # also after failed tests: CI reports every check at once
fi
exit $status
