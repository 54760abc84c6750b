#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Run file size and recording overhead with bounded per-channel detail (issue 18), through
replicascope-cli train.

usage: python3 bench/run_size_bench.py [--cli build/app/replicascope-cli] [--model densenet121.pt]
           [--demo-steps 10000] [--model-steps 60,180] [--rounds 3] [--overhead-steps 300]

1. The demo (cpu:4, batch 32, synthetic): the run file of --demo-steps steps with the default
   policy (goal for 10,000 steps: 30 MB or less).
2. --model (e.g. torchvision's densenet121, scripted) at cpu:4, batch 16, synthetic 3x32x32:
   the file after each of --model-steps steps with the default policy, and the size of 10,000
   steps extrapolated from the last (goal: 300 MB or less): what every step adds (its rows in
   steps, sync_points and summaries, measured with SQLite's dbstat) times 10,000, plus the detail
   of a full sample (the policy's capacity times a kept step's size) and the free pages; one step
   with --detail-steps all for what every step cost before. Also the peak resident memory of
   each run.
3. Recording overhead: seconds per step with --run and without, alternated round by round in
   one run (goal: 1.05x or less), for the demo and, with --model, for the model.
Sizes count the run file and its -wal together.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

MODEL_FLAGS = ["--data", "synthetic", "--image", "3,32,32", "--devices", "cpu:4", "--batch", "16"]
DEMO_FLAGS = ["--data", "synthetic", "--devices", "cpu:4", "--batch", "32"]


def train(cli, flags, steps, run=None, extra=()):
    """(seconds per step of the training loop, peak resident MB) of one `train`."""
    command = ["/usr/bin/time", "-f", "maxrss %M", cli, "train", *flags, "--steps", str(steps),
               *extra]
    if run:
        command += ["--run", run]
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    steps_per_second = float(result.stdout.split(" steps/s")[0].rsplit(" ", 1)[1])
    rss = int(re.search(r"maxrss (\d+)", result.stderr).group(1)) / 1024
    return 1.0 / steps_per_second, rss


def size_mb(path):
    return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p)) / 1e6


def detail_count(cli, path):
    out = subprocess.run([cli, "runs", os.path.dirname(path)], check=True, capture_output=True,
                         text=True).stdout
    for line in out.splitlines():
        if line.startswith(os.path.basename(path)):
            fields = line.split()
            return int(fields[1]), int(fields[2])
    return 0, 0


def breakdown(path):
    """(bytes of every step's rows: steps, sync_points, summaries; bytes of channel_stats; free
    bytes; steps; steps that keep detail; the policy's capacity) of a finished run."""
    import sqlite3
    db = sqlite3.connect(path)
    pages = dict(db.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"))
    every_step = sum(v for k, v in pages.items()
                     if k in ("steps", "sync_points", "summaries", "sqlite_autoindex_steps_1"))
    detail = sum(v for k, v in pages.items() if "channel_stats" in k)
    free = db.execute("PRAGMA freelist_count").fetchone()[0] * db.execute(
        "PRAGMA page_size").fetchone()[0]
    steps, kept = db.execute("SELECT count(*), sum(detail) FROM steps").fetchone()
    capacity = int(dict(db.execute("SELECT key, value FROM meta"))["detail_capacity"])
    db.close()
    return every_step, detail, free, steps, kept, capacity


def overhead(cli, flags, steps, rounds, tmp, name):
    on, off = [], []
    for r in range(rounds):
        off.append(train(cli, flags, steps)[0])
        on.append(train(cli, flags, steps, os.path.join(tmp, f"{name}-overhead-{r}.sqlite"))[0])
        print(f"  round {r + 1}: off {off[-1] * 1e3:.2f} ms/step, on {on[-1] * 1e3:.2f} ms/step, "
              f"ratio {on[-1] / off[-1]:.3f}", flush=True)
    ratios = [a / b for a, b in zip(on, off)]
    print(f"  {name}: recording on / off, median of {rounds} rounds: "
          f"{statistics.median(ratios):.3f}x (goal <= 1.05)")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cli", default=os.path.join(here, "..", "build", "app",
                                                      "replicascope-cli"))
    parser.add_argument("--model", default="")
    parser.add_argument("--demo-steps", type=int, default=10000)
    parser.add_argument("--model-steps", default="60,180")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--overhead-steps", type=int, default=300)
    parser.add_argument("--model-overhead-steps", type=int, default=20)
    args = parser.parse_args()
    if not os.access(args.cli, os.X_OK):
        sys.exit(f"{args.cli} not found: build the project first")

    with tempfile.TemporaryDirectory() as tmp:
        if args.demo_steps:
            path = os.path.join(tmp, "demo.sqlite")
            seconds, rss = train(args.cli, DEMO_FLAGS, args.demo_steps, path)
            steps, detail = detail_count(args.cli, path)
            print(f"demo, {steps} steps, default policy: {size_mb(path):.1f} MB "
                  f"({detail} steps keep detail; goal for 10,000 steps <= 30 MB), "
                  f"peak resident {rss:.0f} MB", flush=True)
        if args.model:
            path = os.path.join(tmp, "all.sqlite")
            train(args.cli, ["--model", args.model, *MODEL_FLAGS], 1, path, ["--detail-steps", "all"])
            every = size_mb(path)
            print(f"model, 1 step with --detail-steps all: {every:.2f} MB", flush=True)
            sizes = []
            for count in [int(n) for n in args.model_steps.split(",")]:
                path = os.path.join(tmp, f"model-{count}.sqlite")
                seconds, rss = train(args.cli, ["--model", args.model, *MODEL_FLAGS], count, path)
                steps, detail = detail_count(args.cli, path)
                sizes.append((count, size_mb(path)))
                print(f"model, {count} steps, default policy: {sizes[-1][1]:.1f} MB, {detail} "
                      f"steps keep detail, {seconds:.3f} s/step, peak resident {rss:.0f} MB",
                      flush=True)
            every_step, detail, free, steps, kept, capacity = breakdown(path)
            per_step, per_kept = every_step / steps, detail / max(kept, 1)
            # Evicted steps' pages go to the free list and are reused by later kept steps: the
            # detail and the free pages together stay below a full sample's size.
            sample = max(per_kept * capacity, detail + free)
            total = (per_step * 10000 + sample) / 1e6
            print(f"model, after {steps} steps: every step's rows {per_step / 1e3:.1f} kB a step, "
                  f"detail {per_kept / 1e6:.2f} MB a kept step ({kept} kept, capacity "
                  f"{capacity}), {free / 1e6:.1f} MB free pages; 10,000 steps extrapolated: "
                  f"{per_step * 10000 / 1e6:.0f} MB of every step's rows + at most "
                  f"{sample / 1e6:.0f} MB of detail and free pages = {total:.0f} MB "
                  f"(goal <= 300 MB; every step's detail as before: {every * 10000:.0f} MB)")
        if args.rounds:
            print("recording overhead:", flush=True)
            overhead(args.cli, DEMO_FLAGS, args.overhead_steps, args.rounds, tmp, "demo")
        if args.model and args.rounds:
            overhead(args.cli, ["--model", args.model, *MODEL_FLAGS], args.model_overhead_steps,
                     args.rounds, tmp, "model")


if __name__ == "__main__":
    main()
