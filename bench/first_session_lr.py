#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A first session of torchvision's models at a learning rate: does the loss run away?

Scripts resnet50 (10 classes), inception_v3 and googlenet (1000, no aux logits), mobilenet_v3_large
(10) and r3d_18 (5) with Debian's PyTorch, trains each with `replicascope-cli train` on
synthetic data, batch 32 on cpu:4, SGD (momentum 0.9) at each learning rate given, and prints
the loss at steps 1, 2 and the last, its peak and the peak over step 1's loss. The figures of
docs/benchmarks.md, "The default learning rate", and the default's choice come from it.

usage: first_session_lr.py CLI [--steps 20] [--seeds 1,2,3] [--models resnet50,...] LR [LR ...]
"""
import argparse
import os
import sqlite3
import subprocess
import tempfile

import torch
import torchvision

MODELS = {  # name -> (constructor, --image)
    "resnet50": (lambda: torchvision.models.resnet50(num_classes=10), "3,64,64"),
    "inception_v3": (lambda: torchvision.models.inception_v3(aux_logits=False, init_weights=True),
                     "3,80,80"),
    "googlenet": (lambda: torchvision.models.googlenet(aux_logits=False, init_weights=True),
                  "3,64,64"),
    "mobilenet_v3_large": (lambda: torchvision.models.mobilenet_v3_large(num_classes=10),
                           "3,64,64"),
    "r3d_18": (lambda: torchvision.models.video.r3d_18(num_classes=5), "3,8,32,32"),
}


def losses(cli, model, image, lr, steps, seed, workdir):
    run = os.path.join(workdir, f"run-{os.getpid()}.sqlite")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(run + suffix):
            os.remove(run + suffix)
    subprocess.run([cli, "train", "--model", model, "--data", "synthetic", "--image", image,
                    "--lr", str(lr), "--steps", str(steps), "--batch", "32", "--devices", "cpu:4",
                    "--seed", str(seed), "--run", run], check=True, capture_output=True)
    with sqlite3.connect(run) as db:
        return [row[0] for row in db.execute("SELECT loss FROM steps ORDER BY step")]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cli")
    parser.add_argument("lrs", nargs="+", type=float)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--seeds", default="1")
    parser.add_argument("--models", default=",".join(MODELS))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        for name in args.models.split(","):
            make, image = MODELS[name]
            torch.manual_seed(0)
            path = os.path.join(workdir, name + ".pt")
            torch.jit.script(make()).save(path)
            for lr in args.lrs:
                for seed in (int(s) for s in args.seeds.split(",")):
                    got = losses(args.cli, path, image, lr, args.steps, seed, workdir)
                    print(f"{name:20s} lr {lr:<7g} seed {seed}  step 1 {got[0]:6.2f}  step 2 "
                          f"{got[1]:6.2f}  step {len(got)} {got[-1]:6.2f}  peak {max(got):6.2f} "
                          f"({max(got) / got[0]:.1f}x step 1)", flush=True)


if __name__ == "__main__":
    main()
