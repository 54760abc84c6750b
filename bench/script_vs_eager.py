#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A training step of scripted resnet18 with ReplicaScope on N CPU copies, beside PyTorch eager.

usage: /usr/bin/python3 bench/script_vs_eager.py [--bench BUILD/bench/replicascope_bench_script_step]
           [--devices cpu:2] [--batch 16] [--rounds 5] [--steps 20] [--as-started]

Scripts torchvision's resnet18 (10 classes, random weights, seed 0) to a temporary file, then
alternates, round by round, ReplicaScope's step (the C++ program, synchronized BatchNorm on the
copies, each copy's forward and backward on its own thread) and PyTorch eager's step (a Python
process, the whole batch at once) at 1 intra-op thread and at 2 (torch.set_num_threads(2): the
same cores as two copies), each timed as forward, backward and SGD with momentum on a 3x32x32
batch. Alternating in one run keeps all of them under the same machine load.

ReplicaScope's programs tune glibc's malloc to keep freed memory (replicascope/base/allocator.h);
PyTorch gets the same tuning through glibc's environment variables, for a like-for-like
comparison (--as-started adds PyTorch eager as Python starts it, without the tuning). Prints
each round and the ratios of medians (ReplicaScope / PyTorch; below 1 is faster). Needs
Debian's python3-torch and python3-torchvision.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import torchvision


def eager_ms_per_step(model, batch, steps, warmup):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(batch, 3, 32, 32)
    labels = torch.randint(10, (batch,))
    times = []
    for step in range(warmup + steps):
        start = time.perf_counter()
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), labels)
        loss.backward()
        optimizer.step()
        if step >= warmup:
            times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


def eager_in_subprocess(batch, steps, warmup, tuned, threads=1):
    env = dict(os.environ)
    for key in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_"):
        env.pop(key, None)
    if tuned:  # what replicascope::keep_freed_memory_mapped() sets
        env["MALLOC_MMAP_THRESHOLD_"] = str(32 * 1024 * 1024)
        env["MALLOC_TRIM_THRESHOLD_"] = str(1 << 30)
        env["MALLOC_TOP_PAD_"] = str(128 * 1024 * 1024)
    result = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--eager-worker", "--batch", str(batch),
         "--steps", str(steps), "--warmup", str(warmup), "--threads", str(threads)],
        capture_output=True, text=True, check=False, env=env)
    if result.returncode != 0:
        sys.exit(f"eager worker failed: {result.stderr.strip()}")
    return float(result.stdout.split()[0])


def replicascope_ms_per_step(program, model_path, devices, batch, steps, warmup):
    result = subprocess.run(
        [program, model_path, "--devices", devices, "--batch", str(batch), "--steps", str(steps),
         "--warmup", str(warmup)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"{program} failed: {result.stderr.strip()}")
    return float(result.stdout.split()[1])


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", default=os.path.join(here, "..", "build", "bench",
                                                        "replicascope_bench_script_step"))
    parser.add_argument("--devices", default="cpu:2")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--as-started", action="store_true",
                        help="also time PyTorch eager without the malloc tuning")
    parser.add_argument("--eager-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.eager_worker:
        torch.set_num_threads(args.threads)
        torch.manual_seed(0)
        model = torchvision.models.resnet18(num_classes=10)
        model.train()
        print(eager_ms_per_step(model, args.batch, args.steps, args.warmup))
        return
    if not os.access(args.bench, os.X_OK):
        sys.exit(f"{args.bench} not found: build the project first (cmake --build build)")

    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=10)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "resnet18.pt")
        torch.jit.script(model).save(path)
        print(f"resnet18, batch {args.batch} of 3x32x32, {args.steps} timed steps per round; "
              f"PyTorch {torch.__version__} eager, tuned malloc, at 1 and 2 threads; "
              f"ReplicaScope on {args.devices}")
        ours, one, two, started = [], [], [], []
        for round_index in range(args.rounds):
            ours.append(replicascope_ms_per_step(args.bench, path, args.devices, args.batch,
                                                 args.steps, args.warmup))
            one.append(eager_in_subprocess(args.batch, args.steps, args.warmup, True, 1))
            two.append(eager_in_subprocess(args.batch, args.steps, args.warmup, True, 2))
            line = (f"round {round_index + 1}: ReplicaScope {ours[-1]:.1f} ms/step, PyTorch eager "
                    f"{one[-1]:.1f} ms/step at 1 thread, {two[-1]:.1f} ms/step at 2 threads")
            if args.as_started:
                started.append(eager_in_subprocess(args.batch, args.steps, args.warmup, False))
                line += f", {started[-1]:.1f} ms/step as started"
            print(line)
    mine, at_one, at_two = (statistics.median(v) for v in (ours, one, two))
    print(f"median: ReplicaScope {mine:.1f} ms/step; PyTorch eager {at_one:.1f} ms/step at 1 "
          f"thread (ratio {mine / at_one:.2f}, goal <= 0.65), {at_two:.1f} ms/step at 2 threads "
          f"(ratio {mine / at_two:.2f}, goal <= 1.00)"
          + (f"; as started {statistics.median(started):.1f} ms/step" if started else ""))


if __name__ == "__main__":
    main()
