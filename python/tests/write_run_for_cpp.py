#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes a run with the Python recorder for the C++ test RunStore.OpensARunThePythonRecorderWrote.

usage: write_run_for_cpp.py DATA.bin STEPS N C H W OUT.sqlite

DATA.bin: STEPS batches of float32 [N, C, H, W], made by the C++ test. The model's first layer
is a BatchNorm2d on the data itself, so the test can recompute what it must have recorded.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from replicascope import Recorder  # noqa: E402


def main(data, steps, n, c, h, w, out):
    steps, n, c, h, w = (int(v) for v in (steps, n, c, h, w))
    with open(data, "rb") as f:
        x = torch.frombuffer(bytearray(f.read()), dtype=torch.float32).reshape(steps, n, c, h, w)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.BatchNorm2d(c), torch.nn.Conv2d(c, 4, 3),
                                torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                                torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                                torch.nn.Linear(4, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with Recorder(out, model, dataset="cpp test data", optimizer=optimizer) as rec:
        for step in range(steps):
            loss = torch.nn.functional.cross_entropy(model(x[step]), torch.zeros(n, dtype=torch.long))
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            rec.step(loss=loss.item(), accuracy=0.5)


if __name__ == "__main__":
    if len(sys.argv) != 8:
        sys.exit(__doc__)
    main(*sys.argv[1:])
