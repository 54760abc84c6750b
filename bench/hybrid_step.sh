#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# One hybrid training step, 2 processes x 2 copies, against one process with 4 copies: the demo
# CNN on synthetic data, batch 32, steps/s over --steps steps, alternating rounds (issue 6).
# usage: bench/hybrid_step.sh [ROUNDS] [STEPS]   (after building in ${BUILD_DIR:-build})
set -euo pipefail
cli=${BUILD_DIR:-build}/app/replicascope-cli
rounds=${1:-3}
steps=${2:-40}
common=(--data synthetic --batch 32 --steps "$steps" --seed 1)
rate() { sed -n 's/.* \([0-9.]*\) steps\/s.*/\1/p' | tail -1; }
for ((r = 1; r <= rounds; r++)); do
  single=$("$cli" train "${common[@]}" --devices cpu:4 2>/dev/null | rate)
  hybrid=$("$cli" launch --nproc 2 -- "$cli" train --dist "${common[@]}" --devices cpu:2 2>/dev/null | rate)
  awk -v r="$r" -v s="$single" -v h="$hybrid" \
    'BEGIN { printf "round %d: 1 process x 4 copies %.1f steps/s, 2 processes x 2 copies %.1f steps/s, ratio %.2f\n", r, s, h, h / s }'
done
