#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""verify on real models that are not in tests/fixtures: right answers, no false alarms.

usage: /usr/bin/python3 bench/verify_zoo.py BUILD_DIR OUT_DIR [MODEL ...]

Scripts torchvision classification and video models (random weights, fixed seed; Debian's
python3-torchvision) and two hand-written models with randomness in forward into OUT_DIR, then
runs, for each, `replicascope-cli verify` in float64 and float32 on cpu:2 and cpu:4, the negative
control (--unsync, must differ) and a deliberately broken synchronization (the test build's
replicascope-cli-faults with REPLICASCOPE_DROP_LAST_COPY=1, must differ). Prints one line per
run: the verdict, whether it is the right one, the largest noise floor and the seconds taken.
A right answer: equal or inconclusive for the real runs (never differs: that is a false alarm),
differs for the control and the broken synchronization (anything else misses).
"""
import os
import subprocess
import sys
import time

import torch
import torchvision


class DropPathNet(torch.nn.Module):
    """F.dropout in a forward and a DropBlock-like mask drawn with torch.rand under the flag."""

    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1),
                                        torch.nn.BatchNorm2d(16), torch.nn.ReLU())
        self.body = torch.nn.Sequential(torch.nn.Conv2d(16, 16, 3, padding=1),
                                        torch.nn.BatchNorm2d(16))
        self.head = torch.nn.Linear(16, 10)

    def forward(self, x):
        y = self.stem(x)
        if self.training:
            keep = (torch.rand(y.shape[0], 1, y.shape[2], y.shape[3]) > 0.2).to(y.dtype)
            y = y * keep / 0.8
        y = torch.relu(y + self.body(y))
        y = torch.nn.functional.dropout(y.mean([2, 3]), 0.5, self.training)
        return self.head(y)


class NoisyRReLU(torch.nn.Module):
    """Noise injection and RReLU (random slopes in training), BatchNorm1d."""

    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(32, 64)
        self.bn1 = torch.nn.BatchNorm1d(64)
        self.act = torch.nn.RReLU()
        self.fc2 = torch.nn.Linear(64, 10)

    def forward(self, x):
        if self.training:
            x = x + 0.05 * torch.randn_like(x)
        return self.fc2(self.act(self.bn1(self.fc1(x))))


IMAGE = "8,3,32,32"
VIDEO = "8,3,4,16,16"
MODELS = {
    "efficientnet_b0": (lambda: torchvision.models.efficientnet_b0(num_classes=10), IMAGE),
    "regnet_x_400mf": (lambda: torchvision.models.regnet_x_400mf(num_classes=10), IMAGE),
    "resnext50_32x4d": (lambda: torchvision.models.resnext50_32x4d(num_classes=10), IMAGE),
    "densenet121": (lambda: torchvision.models.densenet121(num_classes=10), IMAGE),
    "mobilenet_v3_small": (lambda: torchvision.models.mobilenet_v3_small(num_classes=10), IMAGE),
    "shufflenet_v2_x0_5": (lambda: torchvision.models.shufflenet_v2_x0_5(num_classes=10), IMAGE),
    "r2plus1d_18": (lambda: torchvision.models.video.r2plus1d_18(num_classes=10), VIDEO),
    "mc3_18": (lambda: torchvision.models.video.mc3_18(num_classes=10), VIDEO),
    "drop_path_net": (DropPathNet, "8,3,16,16"),
    "noisy_rrelu": (NoisyRReLU, "8,32"),
}
# The issue's own cases, at the batch it measured them with (a copy of one sample at cpu:4, so
# per-copy BatchNorm cannot run there: no control or broken-sync rows).
AT_BATCH_4 = {"efficientnet_b0", "regnet_x_400mf"}

# (label, extra arguments, the right verdicts, whether to run the faults binary)
RUNS = [
    ("float64 cpu:2", ["--dtype", "float64", "--devices", "cpu:2"], {"equal", "inconclusive"}, False),
    ("float64 cpu:4", ["--dtype", "float64", "--devices", "cpu:4"], {"equal", "inconclusive"}, False),
    ("float32 cpu:2", ["--dtype", "float32", "--devices", "cpu:2"], {"equal", "inconclusive"}, False),
    ("float32 cpu:4", ["--dtype", "float32", "--devices", "cpu:4"], {"equal", "inconclusive"}, False),
    ("--unsync float64 cpu:4", ["--unsync", "--devices", "cpu:4"], {"differs"}, False),
    ("broken sync float32 cpu:4", ["--dtype", "float32", "--devices", "cpu:4"], {"differs"}, True),
]


def script(out_dir, names):
    torch.manual_seed(0)
    for name in names:
        path = os.path.join(out_dir, name + ".pt")
        if not os.path.exists(path):
            model, _ = MODELS[name]
            torch.jit.script(model().eval()).save(path)


def verdict_of(result):
    import json
    try:
        report = json.loads(result.stdout)
    except ValueError:
        return "error: " + (result.stderr.strip().splitlines() or ["?"])[-1], 0.0
    floors = [d["noise_floor"] or 0.0 for d in report["differences"]]
    return report["verdict"], max(floors)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    build, out_dir = sys.argv[1], sys.argv[2]
    names = sys.argv[3:] or list(MODELS)
    os.makedirs(out_dir, exist_ok=True)
    script(out_dir, names)
    cli = os.path.join(build, "app", "replicascope-cli")
    faults = os.path.join(build, "app", "replicascope-cli-faults")
    wrong = 0
    print(f"{'model':20} {'input':12} {'run':26} {'verdict':13} {'right':6} {'max floor':>10} {'seconds':>8}")
    cases = [(name, MODELS[name][1], RUNS) for name in names]
    cases += [(name, "4,3,32,32", RUNS[:4]) for name in names if name in AT_BATCH_4]
    for name, shape, runs in cases:
        for label, extra, right, broken in runs:
            env = dict(os.environ)
            if broken:
                env["REPLICASCOPE_DROP_LAST_COPY"] = "1"
            command = [faults if broken else cli, "verify", os.path.join(out_dir, name + ".pt"),
                       "--input-shape", shape, "--steps", "2", "--json"] + extra
            start = time.monotonic()
            result = subprocess.run(command, capture_output=True, text=True, env=env)
            seconds = time.monotonic() - start
            verdict, floor = verdict_of(result)
            ok = verdict in right
            wrong += not ok
            print(f"{name:20} {shape:12} {label:26} {verdict:13} {'yes' if ok else 'NO':6} {floor:10.2e} "
                  f"{seconds:8.1f}", flush=True)
    print(f"\n{wrong} wrong answers")
    sys.exit(1 if wrong else 0)


if __name__ == "__main__":
    main()
