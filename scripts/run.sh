#!/usr/bin/env bash
# Sets everything up and starts the main job: the built-in demo (a small BatchNorm CNN trained on
# 4 CPU copies, printing per-copy and synchronized statistics). Extra arguments go to the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec "${BUILD_DIR:-build}/app/replicascope-cli" demo "$@"
