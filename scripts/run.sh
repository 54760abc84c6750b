#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Sets everything up and starts the main job: the ReplicaScope desktop debugger on the built-in
# demo (a small BatchNorm CNN on Fashion-MNIST, 4 CPU copies). Extra arguments go to the app
# (`scripts/run.sh MODEL.pt`, `scripts/run.sh RUN.sqlite`, `--help`). Without a display it runs
# the headless demo (replicascope-cli demo) instead and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
build=${BUILD_DIR:-build}
if [[ -z "${DISPLAY:-}" && -z "${WAYLAND_DISPLAY:-}" && -z "${QT_QPA_PLATFORM:-}" ]]; then
  echo "run.sh: no display (DISPLAY and WAYLAND_DISPLAY are unset), so the headless demo runs" \
       "instead; on a desktop this starts the GUI" >&2
  exec "$build/app/replicascope-cli" demo "$@"
fi
exec "$build/app/replicascope" "$@"
