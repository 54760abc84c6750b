#!/usr/bin/env bash
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
inputs=(empty text.pt text.sqlite truncated.pt run.sqlite cut.sqlite magic.idx huge.idx.gz
  bomb.idx.gz labels.idx short.bin bad_copy.sqlite "$fixtures/mlp.pt")
sha256sum "${inputs[@]}" >before.sha

cases=0 clean=0 accepted=0 crashes=0 hangs=0 unexpected=0
# probe EXPECT NAME ARGS...: EXPECT is "error" (exit 1 or 2 with a message) or "ok" (exit 0).
probe() {
  local expect=$1 name=$2
  shift 2
  cases=$((cases + 1))
  # PROBE_STDOUT=FILE sends standard output there (/dev/full: a full disk) and keeps stderr.
  if [[ -n ${PROBE_STDOUT:-} ]]; then
    timeout 60 "$cli" "$@" </dev/null >"$PROBE_STDOUT" 2>out.txt
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
  elif [[ $expect == ok && $status == 0 ]]; then
    verdict=ok accepted=$((accepted + 1))
  elif [[ $expect == error && ($status == 1 || $status == 2) && -n $said ]]; then
    verdict="clean error" clean=$((clean + 1))
  else
    verdict="UNEXPECTED (exit $status)" unexpected=$((unexpected + 1))
  fi
  printf '%-34s %-22s %s\n' "$name" "$verdict" "$said"
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
probe ok "train --lr 1e30 (diverges)" "${t[@]}" --lr 1e30 --steps 3 --run diverged.sqlite
probe ok "runs (with a diverged run)" runs .

lost=0
if ! sha256sum --quiet -c before.sha; then lost=$(sha256sum -c before.sha 2>/dev/null | grep -c FAILED); fi
[[ -p fifo && -d folder ]] || lost=$((lost + 1))
echo "probe: $cases cases: $clean clean errors, $accepted accepted as they should be," \
  "$crashes crashes, $hangs hangs, $unexpected unexpected, $lost inputs lost or changed"
((crashes + hangs + unexpected + lost == 0))
