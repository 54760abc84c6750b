#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Measures the findings' false-alarm rate on healthy trainings and hit rate on planted problems.

Each case trains with `replicascope-cli train --run` over several seeds, then runs
`replicascope-cli diagnose RUN --json --severity note` on the run. A healthy case counts the runs
with any warning or error (the false alarms; notes are listed, not counted); a planted case
counts the runs where its kind was found, and the first steps it was found at. The table it
prints is the one in docs/findings.md ("False-alarm and hit rates").

  bench/findings_rates.py build/app [--seeds 50] [--steps 300] [--cases healthy-sync,...]

The planted non-i.i.d. case needs the test build's CLI (replicascope-cli-faults, which reads
REPLICASCOPE_SORT_BATCH_BY_LABEL); it is in build/app next to replicascope-cli. The python-*
cases are trainings in PyTorch recorded by the Python recorder (python/tests/write_planted_run.py,
one process; write_ddp_run.py, 2 ranks of DistributedDataParallel over Gloo); planted-sync-points
trains a scripted model whose copies call a BatchNorm unequally, a step that fails as it should.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

# The demo's cases train at lr 0.05, 10x the default: its statistics move faster there, the
# harder case for a false alarm (docs/findings.md's figures were measured so).
LR = ["--lr", "0.05"]
HERE = os.path.dirname(os.path.abspath(__file__))
PLANTED = os.path.join(HERE, "..", "python", "tests", "write_planted_run.py")
DDP = os.path.join(HERE, "..", "python", "tests", "write_ddp_run.py")
# name -> (binary, train flags, environment, the kind a planted case must find; None: healthy)
CASES = {
    "healthy-sync": ("replicascope-cli", ["--devices", "cpu:4", "--batch", "32"] + LR, {}, None),
    "healthy-unsync-32": ("replicascope-cli",
                          ["--devices", "cpu:4", "--batch", "128", "--unsync"] + LR, {}, None),
    "healthy-resnet18": ("replicascope-cli", ["--model", "{fixtures}/resnet18.pt", "--data",
                                              "synthetic", "--image", "3,32,32", "--devices",
                                              "cpu:2", "--batch", "16", "--lr", "0.01"], {}, None),
    "planted-class-sorted": ("replicascope-cli-faults", ["--devices", "cpu:4", "--batch", "32"] + LR,
                             {"REPLICASCOPE_SORT_BATCH_BY_LABEL": "1"},
                             "copies-see-different-data"),
    "planted-loss-explodes": ("replicascope-cli", ["--devices", "cpu:4", "--batch", "32", "--lr",
                                                   "10"], {}, "loss-explodes"),
    "planted-uneven": ("replicascope-cli", ["--devices", "cpu:4", "--batch", "5"], {},
                       "uneven-copies"),
    "planted-small-unsync": ("replicascope-cli", ["--devices", "cpu:4", "--batch", "8",
                                                  "--unsync"], {}, "small-per-copy-batch"),
    "planted-sync-points": ("replicascope-cli", ["--model", "{fixtures}/branch_on_data.pt",
                                                 "--data", "synthetic", "--image", "16",
                                                 "--devices", "cpu:2", "--batch", "5"], {},
                            "sync-points-disagree"),
    "python-healthy": (PLANTED, ["healthy"], {}, None),
    "python-healthy-drift": (PLANTED, ["healthy-drift"], {}, None),
    "python-cumulative": (PLANTED, ["cumulative"], {}, "running-stats-lag"),
    "python-frozen": (PLANTED, ["frozen"], {}, "frozen-batchnorm"),
    "python-ddp-healthy": (DDP, ["healthy"], {}, None),
    "python-ddp-sharded": (DDP, ["sharded"], {}, "copies-see-different-data"),
    "python-ddp-own-buffers": (DDP, ["healthy-own-buffers"], {}, None),
    "python-ddp-sharded-own-buffers": (DDP, ["sharded-own-buffers"], {}, "rank-buffers-differ"),
}
# Kinds that are notes by design: a planted case finds them as notes.
NOTE_KINDS = {"frozen-batchnorm"}
# Cases whose training fails, as planted: the run keeps what the failure left.
FAILING = {"planted-sync-points"}


def run_case(app, fixtures, name, seed, steps, workdir):
    """The findings (kind, severity, first step) of one training of `name` with `seed`."""
    binary, flags, env, _ = CASES[name]
    run = os.path.join(workdir, f"{name}-{seed}.sqlite")
    flags = [f.replace("{fixtures}", fixtures) for f in flags]
    if binary.endswith(".py"):  # a PyTorch training: KIND STEPS OUT SEED
        train = [sys.executable, binary] + flags + [str(steps), run, str(seed)]
    else:
        train = [os.path.join(app, binary), "train", "--steps", str(steps), "--seed", str(seed),
                 "--run", run] + flags
    done = subprocess.run(train, env={**os.environ, **env}, capture_output=True, text=True)
    if done.returncode != 0 and name not in FAILING:
        raise RuntimeError(f"{' '.join(train)}: exit {done.returncode}\n{done.stderr[-2000:]}")
    diagnose = [os.path.join(app, "replicascope-cli"), "diagnose", run, "--json", "--severity",
                "note"]
    done = subprocess.run(diagnose, capture_output=True, text=True)
    if done.returncode not in (0, 6):
        raise RuntimeError(f"{' '.join(diagnose)}: exit {done.returncode}\n{done.stderr}")
    os.remove(run)
    return [(f["kind"], f["severity"], f["first_step"]) for f in json.loads(done.stdout)]


def summarize(name, results):
    """One table row: a healthy case's false alarms, a planted case's hits."""
    planted = CASES[name][3]
    seeds = len(results)
    if planted is None:
        alarms = [r for r in results if any(sev in ("warning", "error") for _, sev, _ in r)]
        kinds = sorted({k for r in results for k, sev, _ in r if sev != "note"})
        notes = sorted({k for r in results for k, sev, _ in r if sev == "note"})
        return (f"| {name} | {seeds} | false alarms: {len(alarms)} of {seeds} "
                f"({100.0 * len(alarms) / seeds:.0f}%) | {', '.join(kinds) or '-'} | "
                f"notes: {', '.join(notes) or '-'} |")
    counted = ("note", "warning", "error") if planted in NOTE_KINDS else ("warning", "error")
    firsts = [min(step for k, sev, step in r if k == planted and sev in counted) for r in results
              if any(k == planted and sev in counted for k, sev, _ in r)]
    first = f"first step median {statistics.median(firsts):.0f}" if firsts else "-"
    return (f"| {name} | {seeds} | found: {len(firsts)} of {seeds} "
            f"({100.0 * len(firsts) / seeds:.0f}%) | {planted} | {first} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("app", help="the folder with replicascope-cli (build/app)")
    parser.add_argument("--fixtures", default="build/tests/fixtures")
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--cases", default=",".join(CASES))
    args = parser.parse_args()
    names = args.cases.split(",")
    unknown = [n for n in names if n not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; expected some of {', '.join(CASES)}")
    print(f"| case | seeds | rate | kinds | |\n| --- | --- | --- | --- | --- |", flush=True)
    with tempfile.TemporaryDirectory() as workdir:
        for name in names:
            started, results = time.monotonic(), []
            for seed in range(args.seeds):
                results.append(run_case(args.app, args.fixtures, name, seed, args.steps, workdir))
                print(f"  {name}: seed {seed + 1}/{args.seeds}", file=sys.stderr, end="\r")
            print(summarize(name, results), flush=True)
            print(f"  {name}: {time.monotonic() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
