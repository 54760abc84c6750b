#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Where the recorder's time goes in a training step: cProfile over recorded steps of resnet18.

usage: PYTHONPATH=python python3 bench/recorder_profile.py [cpu|cuda] [--image S] [--batch N]

Prints the step time without and with the recorder, then the functions that took the most time
of their own (tottime) during the recorded steps.
"""
import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time

import torch
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

from replicascope import Recorder  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("device", nargs="?", default="cpu")
    parser.add_argument("--image", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    model = torchvision.models.resnet18(num_classes=10).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.randn(args.batch, 3, args.image, args.image, device=device)
    y = torch.randint(0, 10, (args.batch,), device=device)

    def run(rec):
        sync()
        start = time.perf_counter()
        for _ in range(args.steps):
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            opt.zero_grad()
            value = loss.item()
            if rec:
                rec.step(loss=value)
        sync()
        return (time.perf_counter() - start) / args.steps

    run(None)
    plain = run(None)
    folder = tempfile.mkdtemp(prefix="replicascope-profile-")
    with Recorder(os.path.join(folder, "warm.sqlite"), model) as rec:
        run(rec)
    profile = cProfile.Profile()
    with Recorder(os.path.join(folder, "profiled.sqlite"), model) as rec:
        profile.enable()
        recorded = run(rec)
        profile.disable()
    print(f"{device}: {plain * 1e3:.1f} ms/step plain, {recorded * 1e3:.1f} ms/step recorded "
          f"(under cProfile), {args.steps} steps of batch {args.batch} x 3x{args.image}x{args.image}")
    pstats.Stats(profile).sort_stats("tottime").print_stats(14)


if __name__ == "__main__":
    main()
