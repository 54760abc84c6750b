#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""How far two float32 trainings of the same model drift apart in PyTorch itself.

usage: /usr/bin/python3 bench/float32_drift.py

torchvision mobilenet_v2 (10 classes, dropout off), batch 8 of 3x32x32, 3 SGD steps (lr 0.01,
loss: the mean of the output times a random tensor, as replicascope-cli verify uses), run three
times: float32 with 1 and with 2 intra-op threads (different summation orders), and float64.
Prints per step the relative difference of the outputs, max |a - b| / max |b|. This is why
verify checks in float64 by default (README.md).
"""
import torch
import torchvision


def run(dtype, threads):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    m = torchvision.models.mobilenet_v2(num_classes=10).to(dtype)
    m.train(); m.classifier[0].p = 0.0
    g = torch.Generator().manual_seed(1)
    outs = []
    for step in range(3):
        x = torch.randn(8, 3, 32, 32, generator=g).to(dtype)
        out = m(x); outs.append(out.detach().double())
        proj = torch.randn(out.shape, generator=g).to(dtype)
        (out * proj).mean().backward()
        with torch.no_grad():
            for p in m.parameters():
                p -= 0.01 * p.grad; p.grad = None
    return outs
a = run(torch.float32, 1); b = run(torch.float32, 2); c = run(torch.float64, 1)
for s in range(3):
    rel = lambda u, v: ((u - v).abs().max() / v.abs().max()).item()
    print(f"step {s+1}: float32 1 vs 2 threads {rel(a[s], b[s]):.2e}, float32 vs float64 {rel(a[s], c[s]):.2e}")
