#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""What the hang explainer's ledger and every step's deviations add to a recorded step, against
resnet18's plain step measured in the same run (the recorder's budget: at most 2% above its
ratio before them).

usage: PYTHONPATH=python python3 bench/recorder_additions_cost.py

Per BatchNorm call, the ledger's pre-hook and hook (a BatchNorm2d(64) on 2x64x1x1, so that the
hooks are most of the call); per step, the deviations of 3 layers x 64 channels x 2 ranks (the
first layers of resnet18 under DDP), computed and packed as the recorder does.
"""
import time

import torch
import torchvision

from replicascope import runfile, step_rows, sync_ledger


def best_of(rounds, fn):
    return min(fn() for _ in range(rounds))


def per_call(layer, x, n=20000):
    start = time.perf_counter()
    for _ in range(n):
        layer(x)
    return (time.perf_counter() - start) / n


def deviations_per_step(n=2000):
    vectors = [(runfile.rank_key(r), 16, torch.randn(64, dtype=torch.float64),
                torch.rand(64, dtype=torch.float64)) for r in range(2)]
    vectors.append((runfile.SYNCHRONIZED, 32, torch.randn(64, dtype=torch.float64),
                    torch.rand(64, dtype=torch.float64)))
    start = time.perf_counter()
    for _ in range(n):
        for _ in range(3):
            runfile.deviation_row(step_rows.deviation_series(vectors, 2))
    return (time.perf_counter() - start) / n


def resnet18_step(steps=5):
    model = torchvision.models.resnet18(num_classes=10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = torch.randn(32, 3, 64, 64), torch.randint(0, 10, (32,))
    start = time.perf_counter()
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return (time.perf_counter() - start) / steps


def main():
    torch.set_num_threads(1)
    bn, x = torch.nn.BatchNorm2d(64), torch.randn(2, 64, 1, 1)
    plain = best_of(5, lambda: per_call(bn, x))
    sync_ledger.register_hooks(sync_ledger.SyncLedger(0), [("bn", bn)], lambda _: 0, None)
    hooked = best_of(5, lambda: per_call(bn, x))
    hooks = hooked - plain
    deviations = best_of(3, deviations_per_step)
    step = best_of(3, resnet18_step)
    added = 20 * hooks + deviations  # resnet18: 20 BatchNorm calls a step
    print(f"torch {torch.__version__}, 1 thread")
    print(f"ledger hooks per BatchNorm call   {hooks * 1e6:8.2f} us "
          f"({plain * 1e6:.2f} us plain, {hooked * 1e6:.2f} us hooked)")
    print(f"deviations per step (3 x 64 x 2)  {deviations * 1e6:8.0f} us")
    print(f"resnet18 step, batch 32 of 64x64  {step * 1e3:8.1f} ms")
    print(f"added per resnet18 step           {added * 1e6:8.0f} us = {added / step:.4%} of it")


if __name__ == "__main__":
    main()
