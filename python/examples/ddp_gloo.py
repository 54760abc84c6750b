#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A DistributedDataParallel training on this CPU, recorded for the ReplicaScope debugger.

usage: PYTHONPATH=python python3 python/examples/ddp_gloo.py RUN.sqlite [--steps N] [--ranks R]

R processes over Gloo (default 2), each with 8 images per step of Fashion-MNIST (Debian's
dataset-fashion-mnist) or random images where it is not installed, a small CNN with plain
BatchNorm (PyTorch's SyncBatchNorm needs CUDA). Then: replicascope RUN.sqlite
"""
import argparse
import gzip
import os
import socket
import sys

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from replicascope import Recorder  # noqa: E402

FASHION = "/usr/share/datasets/fashion-mnist"


def images_and_labels():
    try:
        with gzip.open(os.path.join(FASHION, "train-images-idx3-ubyte.gz")) as f:
            images = torch.frombuffer(bytearray(f.read()[16:]), dtype=torch.uint8)
        with gzip.open(os.path.join(FASHION, "train-labels-idx1-ubyte.gz")) as f:
            labels = torch.frombuffer(bytearray(f.read()[8:]), dtype=torch.uint8)
        return images.reshape(-1, 1, 28, 28).float() / 255, labels.long(), "fashion-mnist"
    except OSError:
        g = torch.Generator().manual_seed(0)
        return torch.rand(4096, 1, 28, 28, generator=g), torch.randint(0, 10, (4096,), generator=g), "random"


def model():
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.BatchNorm2d(16), torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.BatchNorm2d(32), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
        torch.nn.Linear(32, 64), torch.nn.BatchNorm1d(64), torch.nn.ReLU(), torch.nn.Linear(64, 10))


def train(rank, ranks, port, path, steps):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=ranks)
    torch.manual_seed(0)
    net = torch.nn.parallel.DistributedDataParallel(model())
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    images, labels, dataset = images_and_labels()
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(1))
    per_rank = 8
    with Recorder(path, net, dataset=dataset, loss="ce", seed=0, optimizer=optimizer) as rec:
        for step in range(steps):
            # Each rank its own slice of the step's batch, as a DistributedSampler would give.
            take = order[(step * ranks + rank) * per_rank:(step * ranks + rank + 1) * per_rank]
            out = net(images[take])
            loss = torch.nn.functional.cross_entropy(out, labels[take])
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            accuracy = (out.argmax(1) == labels[take]).float().mean().item()
            rec.step(loss=loss.item(), accuracy=accuracy)
            if rank == 0 and (step + 1) % 10 == 0:
                print(f"step {step + 1}/{steps}  loss {loss.item():.4f}", flush=True)
    dist.barrier()
    # Every rank is done and the run is written. PyTorch 1.13's Gloo teardown can spin forever
    # when the peer has already gone (seen in the GUI's test), so each rank leaves without it.
    sys.stdout.flush()
    os._exit(0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--ranks", type=int, default=2)
    args = parser.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.start_processes(train, args=(args.ranks, port, args.run, args.steps), nprocs=args.ranks,
                       start_method="spawn")
    print(f"recorded to {args.run}; open it with: replicascope {args.run}")


if __name__ == "__main__":
    main()
