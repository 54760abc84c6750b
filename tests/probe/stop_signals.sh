#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Ctrl-C, SIGTERM and SIGHUP stop train, demo, verify, export, launch and the GUI cleanly: they
# say where they stopped, exit with 128 + the signal, and a run file holds every step it says in
# the .sqlite file alone (no -wal with content: users copy that file alone); an interrupted
# export leaves no partial file. Also: launch names the rank that stopped answering (SIGSTOP).
#   tests/probe/stop_signals.sh CLI CLI_FAULTS GUI_OR_NONE FIXTURES WORKDIR
set -u
set -m  # job control: a script's background jobs would otherwise ignore SIGINT
cli=$(realpath "$1") faults=$(realpath "$2") gui=$3 fixtures=$(realpath "$4") work=$5
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1

failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# The steps a run file holds, read-only (its writer may be writing it); 0 while unreadable.
steps_in() {
  python3 -c 'import sqlite3, sys
try:
    print(sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True).execute(
        "SELECT COUNT(*) FROM steps").fetchone()[0])
except Exception:
    print(0)' "$1"
}

# wait_for CONDITION...: runs the command until it succeeds, for at most 120 s.
wait_for() {
  local tries
  for ((tries = 0; tries < 1200; ++tries)); do
    "$@" && return 0
    sleep 0.1
  done
  return 1
}
has_steps() { [[ -f $1 ]] && (($(steps_in "$1") >= $2)); }
# Whether process PID has a handler for SIGNAL (/proc's SigCgt mask).
catches() {
  local mask
  mask=$(awk '/^SigCgt:/ {print $2}' "/proc/$1/status" 2>/dev/null) || return 1
  [[ -n $mask ]] && (((16#$mask >> ($(kill -l "$2") - 1)) & 1))
}

# check_run DIR FILE MESSAGE_FILE WHO: the message says "stopped at step N; the run holds N
# steps", the -wal is gone or empty, and a copy of the .sqlite file alone holds N steps.
check_run() {
  local dir=$1 file=$2 said=$3 who=$4 line steps
  line=$(grep -m1 -E "stopped at step [0-9]+; the run holds [0-9]+ steps" "$said")
  steps=$(sed -nE 's/.*stopped at step ([0-9]+); the run holds \1 steps.*/\1/p' <<<"$line")
  [[ -n $steps ]] || fail "$who: no 'stopped at step N; the run holds N steps' in: $(cat "$said")"
  [[ -s $file-wal ]] && fail "$who: $file-wal still holds $(stat -c %s "$file-wal") bytes"
  mkdir -p "$dir/copy" && cp "$file" "$dir/copy/run.sqlite"
  local copied
  copied=$("$cli" runs "$dir/copy" | awk '$1 == "run.sqlite" {print $2}')
  [[ $copied == "$steps" ]] || fail "$who: the copy of the .sqlite alone holds '$copied' steps, the message says '$steps'"
  echo "$who: $line; a copy of the .sqlite alone holds $copied steps"
}

# expect_status WHO STATUS WANTED
expect_status() {
  [[ $2 == "$3" ]] || fail "$1: exit status $2, expected $3"
  echo "$1: exit status $2"
}

train=(train --steps 100000 --data synthetic --devices cpu:2 --batch 8)

# train, stopped by SIGINT and SIGTERM once it recorded a few steps.
for signal in INT TERM; do
  dir=train_$signal && mkdir $dir
  "$cli" "${train[@]}" --run $dir/r.sqlite >$dir/out.txt 2>$dir/err.txt &
  pid=$!
  wait_for has_steps $dir/r.sqlite 3 || fail "train $signal: no steps recorded"
  kill -$signal $pid
  wait $pid
  expect_status "train SIG$signal" $? $((128 + $(kill -l $signal)))
  check_run $dir $dir/r.sqlite $dir/err.txt "train SIG$signal"
done

# demo, stopped by SIGHUP after its third step.
"$cli" demo --steps 100000 --devices cpu:2 --synthetic >demo.txt 2>demo_err.txt &
pid=$!
wait_for grep -q "^step    3" demo.txt || fail "demo: no third step"
kill -HUP $pid
wait $pid
expect_status "demo SIGHUP" $? 129
grep -E "^replicascope-cli demo: SIGHUP: stopped at step [0-9]+ of 100000$" demo_err.txt ||
  fail "demo: $(cat demo_err.txt)"

# verify, stopped by SIGTERM while it loads or steps: it stops after its step in progress.
"$cli" verify "$fixtures/mlp.pt" --input-shape 8,16 --steps 1000 >verify.txt 2>&1 &
pid=$!
wait_for catches $pid TERM || fail "verify: no handler for SIGTERM"
kill -TERM $pid
wait $pid
expect_status "verify SIGTERM" $? 143
grep -E "^replicascope-cli verify: SIGTERM: stopped at step [0-9]+ of 1000; no verdict$" verify.txt ||
  fail "verify: $(cat verify.txt)"

# export of a large run, stopped by SIGINT while it writes: neither the file nor a partial one.
"$cli" train --steps 400 --data synthetic --devices cpu:4 --batch 16 --detail-steps all \
  --run big.sqlite >/dev/null 2>&1 || fail "cannot make a large run"
"$cli" export big.sqlite --json big.json >export.txt 2>&1 &
pid=$!
wait_for compgen -G "big.json.partial-*" >/dev/null || fail "export: no partial file seen"
kill -INT $pid
wait $pid
expect_status "export SIGINT" $? 130
grep -E "^replicascope-cli export: SIGINT: stopped while writing 'big.json'; nothing was written there$" export.txt ||
  fail "export: $(cat export.txt)"
leftover=$(compgen -G "big.json*")
[[ -z $leftover ]] && echo "export: no big.json, no partial file" || fail "export left $leftover"

# launch of 2 ranks training with --dist, stopped by SIGINT to launch alone: it passes the
# signal on, the ranks stop after the same step, rank 0 closes its run whole.
dir=dist && mkdir $dir
"$cli" launch --nproc 2 -- "$cli" train --dist --timeout 30 --steps 100000 --data synthetic \
  --devices cpu:1 --batch 8 --run $dir/r.sqlite >$dir/out.txt 2>$dir/err.txt &
pid=$!
wait_for has_steps $dir/r.sqlite 3 || fail "launch: no steps recorded"
kill -INT $pid
wait $pid
expect_status "launch SIGINT" $? 130
grep -E "^launch: SIGINT: every rank stopped$" $dir/err.txt || fail "launch: $(cat $dir/err.txt)"
check_run $dir $dir/r.sqlite $dir/err.txt "launch --dist SIGINT"

# A rank stopped with SIGSTOP: rank 0 times out waiting for it, and launch names rank 1.
dir=sigstop && mkdir $dir
"$cli" launch --nproc 2 --grace 1 -- "$faults" train --dist --timeout 3 --steps 100000 \
  --data synthetic --devices cpu:1 --batch 8 --run $dir/r.sqlite >$dir/out.txt 2>$dir/err.txt &
pid=$!
wait_for has_steps $dir/r.sqlite 3 || fail "SIGSTOP: no steps recorded"
for child in $(pgrep -P $pid); do
  grep -qz "^RANK=1$" /proc/$child/environ && kill -STOP $child
done
wait $pid
expect_status "launch, rank 1 stopped" $? 1
grep -E "^launch: failed: rank 1 stopped answering \(it was stopped by signal 19 \([^)]*\)\)\); rank 0 exited with status 1$" $dir/err.txt ||
  fail "SIGSTOP: $(cat $dir/err.txt)"

# The GUI, offscreen, stopped by SIGTERM: the session's run is closed whole.
if [[ $gui != none ]]; then
  dir=gui && mkdir -p $dir/data $dir/config
  XDG_DATA_HOME=$PWD/$dir/data XDG_CONFIG_HOME=$PWD/$dir/config QT_QPA_PLATFORM=offscreen \
    "$gui" --data synthetic --devices cpu:2 --batch 8 --steps 100000 >$dir/out.txt 2>$dir/err.txt &
  pid=$!
  run_file() { compgen -G "$PWD/gui/data/*/*/runs/*.sqlite" | head -1; }
  gui_has_steps() { [[ -n $(run_file) ]] && has_steps "$(run_file)" 3; }
  wait_for gui_has_steps || fail "GUI: no steps recorded"
  file=$(run_file)
  kill -TERM $pid
  wait $pid
  expect_status "GUI SIGTERM" $? 143
  check_run $dir "$file" $dir/err.txt "GUI SIGTERM"
fi

echo "stop signals: $failures failures"
