#!/bin/sh
# SPDX-License-Identifier: MIT
# replicascope-cli export --plot in every format, headless: each file exists and starts as its
# format says (PNG signature, JPEG SOI, %PDF, an <svg element).
# usage: check_plot_export.sh CLI WORK_DIR
set -eu
cli=$1
work=$2
rm -rf "$work" && mkdir -p "$work"
"$cli" train --data synthetic --steps 4 --batch 12 --devices cpu:3 --run "$work/run.sqlite"
for format in png jpg pdf svg; do
  "$cli" export "$work/run.sqlite" --plot "$work/plot.$format" --layer features.5 --channels 0:3 \
    --statistic var --size 640x360
done
[ "$(head -c 8 "$work/plot.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || { echo "plot.png is not a PNG"; exit 1; }
[ "$(head -c 2 "$work/plot.jpg" | od -An -tx1 | tr -d ' \n')" = "ffd8" ] || { echo "plot.jpg is not a JPEG"; exit 1; }
[ "$(head -c 4 "$work/plot.pdf")" = "%PDF" ] || { echo "plot.pdf is not a PDF"; exit 1; }
grep -q "<svg" "$work/plot.svg" || { echo "plot.svg is not an SVG"; exit 1; }
if "$cli" export "$work/run.sqlite" --plot "$work/plot.gif" --layer features.5 2>"$work/err"; then
  echo "a .gif plot was accepted"; exit 1
fi
grep -q "expected a .png, .jpg, .pdf or .svg file name" "$work/err"
ls "$work" | grep -q partial && { echo "a partial file was left"; exit 1; }
echo "plot export ok"
