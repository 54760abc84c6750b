#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Formats every C++ file under core ui app tests bench fuzz in place with clang-format 14 (Debian
# 12's) and the repository's .clang-format. `--check` changes nothing and fails when a file is not
# formatted (scripts/check.sh format, in CI).
set -euo pipefail
cd "$(dirname "$0")/.."
# Pinned to 14: other versions format some constructs differently, and CI uses 14.
clang_format=${CLANG_FORMAT:-$(command -v clang-format-14 || command -v clang-format || true)}
if [[ -z "$clang_format" ]]; then
  echo "format: clang-format not found (install clang-format)" >&2
  exit 1
fi
mapfile -t files < <(find core ui app tests bench fuzz -type f \
  \( -name '*.h' -o -name '*.cpp' -o -name '*.inc' \) | sort)
if [[ "${1:-}" == --check ]]; then
  echo "format: checking ${#files[@]} files with $("$clang_format" --version)"
  if ! "$clang_format" --dry-run --Werror "${files[@]}"; then
    echo "format: the files above are not formatted; scripts/format.sh formats them" >&2
    exit 1
  fi
else
  "$clang_format" -i "${files[@]}"
  echo "format: formatted ${#files[@]} files"
fi
