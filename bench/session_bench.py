#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Recording overhead and memory of training sessions, through replicascope-cli train.

usage: python3 bench/session_bench.py [--cli build/app/replicascope-cli] [--rounds 3]
           [--steps 300] [--long-steps 10000]

1. Steps per second of the demo's training loop on 4 CPU copies (batch 32, synthetic data;
   replicascope-cli's own figure, start-up excluded), with recording on (--run FILE: statistics
   observed and written to SQLite every step) and off, alternated round by round in one run.
   Prints the time ratios (goal: 1.05x or less).
2. Resident memory of one recorded run of --long-steps steps, sampled from /proc every second:
   the growth from 10% of the run to its end (goal: flat within 50 MB).
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def timed_train(cli, steps, run_path):
    """Seconds per step of the training loop (replicascope-cli's own figure, without start-up)."""
    command = [cli, "train", "--data", "synthetic", "--devices", "cpu:4", "--batch", "32",
               "--steps", str(steps)]
    if run_path:
        command += ["--run", run_path]
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    steps_per_second = float(result.stdout.split(" steps/s")[0].rsplit(" ", 1)[1])
    return 1.0 / steps_per_second


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cli", default=os.path.join(here, "..", "build", "app",
                                                      "replicascope-cli"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--long-steps", type=int, default=10000)
    args = parser.parse_args()
    if not os.access(args.cli, os.X_OK):
        sys.exit(f"{args.cli} not found: build the project first")

    with tempfile.TemporaryDirectory() as tmp:
        on, off = [], []
        for round_index in range(args.rounds):
            off.append(timed_train(args.cli, args.steps, None))
            on.append(timed_train(args.cli, args.steps,
                                  os.path.join(tmp, f"round{round_index}.sqlite")))
            print(f"round {round_index + 1}: recording off {1 / off[-1]:.1f} steps/s, "
                  f"on {1 / on[-1]:.1f} steps/s, ratio {on[-1] / off[-1]:.3f}")
        ratios = [a / b for a, b in zip(on, off)]
        print(f"median: off {1 / statistics.median(off):.1f} steps/s, on "
              f"{1 / statistics.median(on):.1f} steps/s; time ratio: median of the rounds "
              f"{statistics.median(ratios):.3f}, of the medians "
              f"{statistics.median(on) / statistics.median(off):.3f} (goal <= 1.05)")

        if args.long_steps <= 0:
            return
        path = os.path.join(tmp, "long.sqlite")
        child = subprocess.Popen(
            [args.cli, "train", "--data", "synthetic", "--devices", "cpu:4", "--batch", "32",
             "--steps", str(args.long_steps), "--run", path],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samples = []
        start = time.perf_counter()
        while child.poll() is None:
            samples.append((time.perf_counter() - start, rss_mb(child.pid)))
            time.sleep(1.0)
        if child.returncode != 0:
            sys.exit(f"the long run failed with status {child.returncode}")
        samples = [s for s in samples if s[1] > 0]
        total = samples[-1][0]
        early = next(rss for t, rss in samples if t >= 0.1 * total)
        peak = max(rss for _, rss in samples)
        print(f"{args.long_steps} recorded steps in {total:.0f} s: resident memory "
              f"{early:.0f} MB at 10% of the run, {samples[-1][1]:.0f} MB at the end, peak "
              f"{peak:.0f} MB; growth {peak - early:.1f} MB (goal: within 50 MB); run file "
              f"{os.path.getsize(path) / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
