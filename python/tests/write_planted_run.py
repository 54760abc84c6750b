#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes a Python-recorded training with a planted problem, for the C++ tests of the findings
that read version 6's records (tests/test_diagnose_run.cpp).

usage: write_planted_run.py KIND STEPS OUT.sqlite [SEED]

KIND: healthy (shuffled data, default BatchNorm), cumulative (the first BatchNorm keeps a
cumulative mean, momentum=None, while its input drifts: every step's images are shifted 0.03
further), frozen (the second BatchNorm is put in eval mode after model.train(), as a backbone
freeze that reached it), healthy-drift (the same drift with the default momentum).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from replicascope import Recorder  # noqa: E402


def model_for(kind):
    momentum = None if kind == "cumulative" else 0.1
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8, momentum=momentum),
        torch.nn.ReLU(), torch.nn.Conv2d(8, 8, 3, padding=1), torch.nn.BatchNorm2d(8),
        torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(8, 4))


def main(kind, steps, out, seed="0"):
    if kind not in ("healthy", "cumulative", "frozen", "healthy-drift"):
        sys.exit(f"write_planted_run.py: unknown KIND '{kind}'")
    torch.manual_seed(int(seed))
    model = model_for(kind)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    drift = 0.03 if kind in ("cumulative", "healthy-drift") else 0.0
    with Recorder(out, model, dataset=f"planted {kind}", optimizer=optimizer, seed=int(seed)) \
            as rec:
        for step in range(1, int(steps) + 1):
            model.train()
            if kind == "frozen":
                model[4].eval()
            images = torch.randn(16, 3, 8, 8) + drift * step
            labels = torch.randint(0, 4, (16,))
            loss = torch.nn.functional.cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            rec.step(loss=loss)


if __name__ == "__main__":
    main(*sys.argv[1:])
