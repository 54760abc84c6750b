#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Issue 16's probe, kept: bad models, data, run files, export targets and flags given to the CLI.
# Each case must end in a clear error (exit 1 or 2 with a message), never a crash (a signal), a
# hang (60 s) or a lost file (every input is hashed before and after). Prints one line per case
# and the figures docs/reliability.md quotes.
#   tests/probe/bad_inputs.sh CLI FIXTURES WORKDIR
set -u
cli=$(realpath "$1") fixtures=$(realpath "$2") work=$3
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1

# Inputs, made here.
mkdir folder && mkfifo fifo && : >empty && echo "not a model" >text.pt && echo "x,y" >text.sqlite
head -c 3000 "$fixtures/mlp.pt" >truncated.pt
"$cli" train --steps 3 --data synthetic --devices cpu:2 --batch 8 --run run.sqlite >/dev/null 2>&1 ||
  { echo "probe: cannot make a run"; exit 1; }
head -c 4096 run.sqlite >cut.sqlite
python3 - <<'PY'
import gzip, struct, shutil, sqlite3
open("magic.idx", "wb").write(struct.pack(">IIII", 0x804, 1, 2, 3) + bytes(6))
gzip.open("huge.idx.gz", "wb").write(struct.pack(">IIII", 0x803, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF))
gzip.open("bomb.idx.gz", "wb").write(struct.pack(">IIII", 0x803, 60000, 28, 28) + bytes(1 << 20))
open("labels.idx", "wb").write(struct.pack(">II", 0x801, 2) + bytes(2))
open("short.bin", "wb").write(bytes(3072))
shutil.copy("run.sqlite", "bad_copy.sqlite")
db = sqlite3.connect("bad_copy.sqlite")
db.execute("UPDATE channel_stats SET copy = -2147483648 WHERE rowid = 1")
db.commit()
db.close()
PY
# Image folders: in wide/, a strip of 999,999 x 1 pixels (1 KB as a PNG) per class; in loop/,
# 4 images a class and a link from class a back up to the folder.
python3 - <<'PY'
import os, struct, zlib
def png(path, width, rows):  # 8-bit gray
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, len(rows), 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\0" + row for row in rows), 9)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))
for c, value in (("a", 0), ("b", 200)):
    os.makedirs("wide/" + c)
    png("wide/%s/strip.png" % c, 999999, [bytes([value]) * 999999])
    os.makedirs("loop/" + c)
    for i in range(4):
        png("loop/%s/%d.png" % (c, i), 28, [bytes([value + i]) * 28] * 28)
os.symlink("..", "loop/a/up")
PY
inputs=(empty text.pt text.sqlite truncated.pt run.sqlite cut.sqlite magic.idx huge.idx.gz
  bomb.idx.gz labels.idx short.bin bad_copy.sqlite "$fixtures/mlp.pt")
sha256sum "${inputs[@]}" >before.sha

cases=0 clean=0 accepted=0 crashes=0 hangs=0 unexpected=0
# probe EXPECT NAME ARGS...: EXPECT is "error" (exit 1 or 2 with a message) or "ok" (exit 0).
probe() {
  local expect=$1 name=$2
  shift 2
  cases=$((cases + 1))
  # PROBE_STDOUT=FILE sends standard output there (/dev/full: a full disk) and keeps stderr;
  # PROBE_ULIMIT_V=KIB runs the case under ulimit -v KIB (an address space that runs out).
  if [[ -n ${PROBE_STDOUT:-} ]]; then
    timeout 60 "$cli" "$@" </dev/null >"$PROBE_STDOUT" 2>out.txt
  elif [[ -n ${PROBE_ULIMIT_V:-} ]]; then
    (ulimit -v "$PROBE_ULIMIT_V" && exec timeout 60 "$cli" "$@" </dev/null >out.txt 2>&1)
  else
    timeout 60 "$cli" "$@" </dev/null >out.txt 2>&1
  fi
  local status=$?
  local said
  said=$(grep -m1 -E "error|expected|expects|usage" out.txt | cut -c1-150)
  local verdict
  if ((status == 124)); then
    verdict=HANG hangs=$((hangs + 1))
  elif ((status > 128)); then
    verdict="CRASH (signal $((status - 128)))" crashes=$((crashes + 1))
  elif grep -q "^frame #" out.txt; then
    verdict="BACKTRACE (exit $status)" unexpected=$((unexpected + 1))
  elif [[ $expect == ok && $status == 0 ]]; then
    verdict=ok accepted=$((accepted + 1))
  elif [[ $expect == error && ($status == 1 || $status == 2) && -n $said ]]; then
    verdict="clean error" clean=$((clean + 1))
  else
    verdict="UNEXPECTED (exit $status)" unexpected=$((unexpected + 1))
  fi
  printf '%-34s %-22s %s\n' "$name" "$verdict" "$said"
}

# said TEXT: the last case's output holds TEXT, what the case is there to see said.
said() {
  grep -qF -- "$1" out.txt || { echo "probe: the last case did not say: $1"; unexpected=$((unexpected + 1)); }
}

m=(inspect) t=(train --steps 1 --data synthetic --devices cpu:2 --batch 8)
probe error "model: missing" "${m[@]}" missing.pt
probe error "model: folder" "${m[@]}" folder
probe error "model: FIFO" "${m[@]}" fifo
probe error "model: empty" "${m[@]}" empty
probe error "model: text" "${m[@]}" text.pt
probe error "model: truncated zip" "${m[@]}" truncated.pt
probe error "model: state_dict" "${m[@]}" "$fixtures/state_dict.pt"
probe error "model: /dev/null" "${m[@]}" /dev/null
probe error "train --model FIFO" "${t[@]}" --model fifo
probe error "verify FIFO" verify fifo --input-shape 8,16
probe error "data: idx missing" train --steps 1 --data idx:missing,labels.idx
probe error "data: idx folder" train --steps 1 --data idx:folder,labels.idx
probe error "data: idx FIFO" train --steps 1 --data idx:fifo,labels.idx
probe error "data: idx empty" train --steps 1 --data idx:empty,labels.idx
probe error "data: idx bad magic" train --steps 1 --data idx:magic.idx,labels.idx
probe error "data: idx absurd header" train --steps 1 --data idx:huge.idx.gz,labels.idx
probe error "data: idx gzip, short" train --steps 1 --data idx:bomb.idx.gz,labels.idx
probe error "data: cifar short" train --steps 1 --data cifar10:short.bin
probe error "data: cifar FIFO" train --steps 1 --data cifar10:fifo
probe error "run: missing" export missing.sqlite --csv o.csv
probe error "run: folder" export folder --csv o.csv
probe error "run: FIFO" export fifo --csv o.csv
probe error "run: empty" export empty --csv o.csv
probe error "run: text" export text.sqlite --csv o.csv
probe error "run: cut to 4096 bytes" export cut.sqlite --csv o.csv
probe error "run: copy id INT_MIN" export bad_copy.sqlite --csv o.csv
probe error "export --csv the run" export run.sqlite --csv run.sqlite
probe error "export --csv a FIFO" export run.sqlite --csv fifo
probe error "export --csv a folder" export run.sqlite --csv folder
probe error "export --csv ''" export run.sqlite --csv ''
probe error "export --csv X --json X" export run.sqlite --csv o.csv --json o.csv
probe ok "export --csv -" export run.sqlite --csv - --layer head.2 --channels 0:0
probe error "train --run on a run" "${t[@]}" --run run.sqlite
probe error "train --run ''" "${t[@]}" --run ''
probe error "train --run in a FIFO's place" "${t[@]}" --run fifo
probe error "train --lr nan" "${t[@]}" --lr nan
probe error "train --seed 2^64" "${t[@]}" --seed 18446744073709551616
probe error "train --batch 0" "${t[@]}" --batch 0
probe error "train --devices cpu:0" "${t[@]}" --devices cpu:0
probe error "train --image 1,20000,20000" train --steps 1 --data synthetic --image 1,20000,20000
probe error "train --timeout inf" "${t[@]}" --dist --timeout inf
probe error "launch --grace nan" launch --nproc 1 --grace nan -- true
probe error "launch --grace 1e300" launch --nproc 1 --grace 1e300 -- true
probe error "runs on a file" runs run.sqlite
probe error "train --run :memory:" "${t[@]}" --run :memory:
probe error "train --run file: URI" "${t[@]}" --run "file:r.sqlite?mode=memory"
[[ -e :memory: || -e "file:r.sqlite?mode=memory" ]] && { echo "probe: a stray in-memory run file"; unexpected=$((unexpected + 1)); }
probe error "verify --lr nan" verify "$fixtures/mlp.pt" --input-shape 4,16 --lr nan
probe error "export --channels past the layer" export run.sqlite --layer features.1 --channels 100:200 --csv ch.csv
probe error "export --channels past every layer" export run.sqlite --channels 100:200 --csv ch.csv
[[ -e ch.csv ]] && { echo "probe: an export of no channels left a file"; unexpected=$((unexpected + 1)); }
PROBE_STDOUT=/dev/full probe error "inspect --json > /dev/full" inspect "$fixtures/mlp.pt" --json
PROBE_STDOUT=/dev/full probe error "wiring --json > /dev/full" wiring "$fixtures/mlp.pt" --json
PROBE_STDOUT=/dev/full probe error "runs > /dev/full" runs .
PROBE_STDOUT=/dev/full probe error "export --json - > /dev/full" export run.sqlite --json -
# Round two: damaged runs read with a word naming the row, runs missing tables, names not UTF-8.
python3 - <<'PY'
import shutil, sqlite3
for name, sql in [("loss_text", "UPDATE steps SET loss = 'abc' WHERE step = 2"),
                  ("short_blob", "UPDATE channel_stats SET mean = zeroblob(30) WHERE rowid = 1"),
                  ("no_tables", "DROP TABLE channel_stats; DROP TABLE modules")]:
    shutil.copy("run.sqlite", name + ".sqlite")
    db = sqlite3.connect(name + ".sqlite")
    db.executescript(sql)
    db.commit()
    db.close()
PY
probe error "run: a loss stored as text" export loss_text.sqlite --json o.json
probe error "run: a BLOB of the wrong size" export short_blob.sqlite --csv o.csv
probe error "run: two tables dropped" export no_tables.sqlite --csv o.csv
grep -q "lacks" out.txt || { echo "probe: the dropped tables went unnamed"; unexpected=$((unexpected + 1)); }
# probe_json NAME ARGS...: a command that must succeed and print valid UTF-8 JSON.
probe_json() {
  probe ok "$@"
  python3 -c 'import json, sys; json.load(open("out.txt", encoding="utf-8"))' 2>/dev/null ||
    { echo "probe: $1 printed invalid JSON"; unexpected=$((unexpected + 1)); }
}
odd=$'not_utf8_\xff'
mkdir "$odd" && cp "$fixtures/mlp.pt" "$odd/mlp.pt"
"$cli" train --steps 2 --model "$odd/mlp.pt" --data synthetic --image 16 --classes 4 \
  --devices cpu:2 --batch 8 --run "$odd/run.sqlite" >/dev/null 2>&1 || echo "probe: no run in $odd"
probe_json "inspect --json, a name not UTF-8" inspect "$odd/mlp.pt" --json
probe_json "wiring --json, a name not UTF-8" wiring "$odd/mlp.pt" --json
probe_json "verify --json, a name not UTF-8" verify "$odd/mlp.pt" --input-shape 4,16 --json
probe_json "export --json, a name not UTF-8" export "$odd/run.sqlite" --json - --layer layers.1 --channels 0:0
# Issue 29 (round two): a 999,999 x 1 image is fitted from what the crop keeps (it took 4.1 GB
# at 1,28,28 and 200 GB at 224,224); a link back up to the folder is followed once and said.
i=(train --steps 1 --devices cpu:2)
probe ok "imagefolder: 999,999x1 at 1,28,28" "${i[@]}" --batch 2 --data imagefolder:wide --image 1,28,28
probe ok "imagefolder: 999,999x1 at 3,224,224" "${i[@]}" --batch 2 --data imagefolder:wide --image 3,224,224 \
  --model "$fixtures/reused_bn.pt"
probe ok "imagefolder: a link back up" "${i[@]}" --batch 4 --data imagefolder:loop --image 1,28,28
grep -q "imagefolder:loop, batch 4" out.txt && grep -q "left out 1 link to a folder or image taken already ('loop/a/up')" out.txt ||
  { echo "probe: the link back up was not left out and said"; unexpected=$((unexpected + 1)); }
# Issue 29 (round two): no BatchNorm, proposals that fit, allocations, device counts.
nobn=(--model "$fixtures/no_batchnorm.pt" --image 16 --classes 4)
probe error "train --run, no BatchNorm" "${t[@]}" "${nobn[@]}" --run nobn.sqlite
said "has no BatchNorm layer (expected BatchNorm1d, BatchNorm2d or BatchNorm3d): there is nothing to synchronize"
[[ -e nobn.sqlite ]] && { echo "probe: a run of a model without BatchNorm left a file"; unexpected=$((unexpected + 1)); }
probe ok "train, no BatchNorm (says so)" "${t[@]}" "${nobn[@]}"
said "there is nothing to synchronize; the copies train as plain data parallelism"
probe ok "verify, no BatchNorm" verify "$fixtures/no_batchnorm.pt" --input-shape 4,16
said "there is nothing to synchronize: synchronized and per-copy training are both plain data parallelism"
grep -q "not run" out.txt && { echo "probe: verify printed rows that compare nothing"; unexpected=$((unexpected + 1)); }
probe ok "verify --unsync, no BatchNorm" verify "$fixtures/no_batchnorm.pt" --input-shape 4,16 --unsync
said "there is nothing to synchronize"
probe error "train --image 1,32,32 (the demo)" "${t[@]}" --image 1,32,32
said "(2x1024 and 784x64). Try --data synthetic --image 1,28,28, or data of that layout."
probe error "train a fixed pooling on 3,4,4" "${t[@]}" --model "$fixtures/fixed_pool.pt" --image 3,4,4 --classes 5
said "Try --data synthetic --image 3,8,8, or data of that layout."
# Issue 30: a tuple's scores are trained on, said once; a choice that picks nothing exits 2.
probe ok "train a model returning a tuple" "${t[@]}" --model "$fixtures/tuple_output.pt" --image 16
said "model: forward() returns a tuple of 2 elements; training on element 0 [2, 4] (--output picks another)"
probe error "train a tuple without scores" "${t[@]}" --model "$fixtures/no_scores.pt" --image 16
said "No change of data can help: forward() must return a tensor of [batch, outputs], a score per class, or a tuple or list holding one."
named=(--model "$fixtures/named_output.pt" --image 16)
probe error "train --output 9" "${t[@]}" "${named[@]}" --output 9
said "--output 9: forward() returns a tuple of 2 elements (Outputs: logits, aux); expected a number from 0 to 1"
grep -q "usage: replicascope-cli train" out.txt || { echo "probe: --output 9 was no usage error"; unexpected=$((unexpected + 1)); }
probe error "train --output nosuchname" "${t[@]}" "${named[@]}" --output nosuchname
said "--output nosuchname: Outputs has no field 'nosuchname'; expected logits or aux (or a number from 0 to 1)"
probe error "train --output -1" "${t[@]}" "${named[@]}" --output -1
said "--output expects auto, an element's number (0, 1, ...) or a field's name (logits), got '-1'"
probe error "train --output, the demo" "${t[@]}" --output 1
said "--output 1: the demo CNN returns one tensor; expected --output with a --model"
probe error "verify --output 9" verify "$fixtures/named_output.pt" --input-shape 4,16 --output 9
said "--output 9: forward() returns a tuple of 2 elements (Outputs: logits, aux); expected a number from 0 to 1"
probe error "verify --input-shape 64,3,20000,20000" verify "$fixtures/mlp.pt" --input-shape 64,3,20000,20000
said "takes 614 GB alone, but the process can have"
PROBE_ULIMIT_V=4000000 probe error "train --batch 1000000, ulimit -v 4 GB" "${t[@]}" --batch 1000000
said "more than the process can have"
PROBE_ULIMIT_V=6000000 probe error "train --batch 100000, ulimit -v 6 GB" "${t[@]}" --batch 100000
said "in the forward for the backward, x 50000, x 1.0 for backward) but the process can have"
probe error "train --devices cpu:-1" "${t[@]}" --devices cpu:-1
said "'-1' is negative; the number of CPU copies must be 1 to 1024"
probe error "train --devices cpu:99999999999" "${t[@]}" --devices cpu:99999999999
said "'99999999999' is past the most; the number of CPU copies must be 1 to 1024"
probe ok "train --lr 1e30 (diverges)" "${t[@]}" --lr 1e30 --steps 3 --run diverged.sqlite
probe ok "runs (with a diverged run)" runs .
# Issue 31: diagnose's bad flags and runs; a healthy run (exit 0) and a diverged one (exit 6).
probe error "diagnose --severity loud" diagnose run.sqlite --severity loud
said "--severity expects note, warning or error, got 'loud'"
probe error "diagnose --bad-flag" diagnose run.sqlite --bad-flag
said "unknown option --bad-flag"
probe error "diagnose: missing run" diagnose missing.sqlite
said "run 'missing.sqlite': no such file"
probe error "diagnose: not a run" diagnose text.sqlite
probe error "diagnose: a loss stored as text" diagnose loss_text.sqlite
said "damaged row in table steps (step 2)"
probe error "diagnose: two runs" diagnose run.sqlite run.sqlite
probe ok "diagnose a healthy run" diagnose run.sqlite
said "run.sqlite: no findings"
PROBE_STDOUT=/dev/full probe error "diagnose > /dev/full" diagnose run.sqlite
probe_json "diagnose --json, a name not UTF-8" diagnose "$odd/run.sqlite" --json
timeout 60 "$cli" diagnose diverged.sqlite </dev/null >out.txt 2>&1
found=$?
((found == 6)) && grep -q "^diverged.sqlite: error \[nonfinite\]" out.txt ||
  { echo "probe: diagnose did not find the diverged run's NaN (exit $found)"; unexpected=$((unexpected + 1)); }

lost=0
if ! sha256sum --quiet -c before.sha; then lost=$(sha256sum -c before.sha 2>/dev/null | grep -c FAILED); fi
[[ -p fifo && -d folder ]] || lost=$((lost + 1))
echo "probe: $cases cases: $clean clean errors, $accepted accepted as they should be," \
  "$crashes crashes, $hangs hangs, $unexpected unexpected, $lost inputs lost or changed"
((crashes + hangs + unexpected + lost == 0))
