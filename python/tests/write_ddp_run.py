#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes a 2-rank DistributedDataParallel training (Gloo, this CPU) recorded by the Python
recorder, healthy or with the data sharded by class, for the findings' benchmark
(bench/findings_rates.py) and tests.

usage: write_ddp_run.py KIND STEPS OUT.sqlite [SEED]

The data: 4 classes of 8x8 images whose 3 channels each have a class's own mean (so the classes
differ in the BatchNorm statistics), 2,048 samples, 16 a rank per step, plain BatchNorm (PyTorch's
SyncBatchNorm refuses CPU tensors). KIND healthy: a DistributedSampler that shuffles, set_epoch
every epoch. KIND sharded: each rank reads its contiguous half of the class-sorted dataset,
shuffled within its half (a naive split: rank 0 sees classes 0-1, rank 1 classes 2-3).
KIND healthy-own-buffers, sharded-own-buffers: the same with DDP's broadcast_buffers=False (each
rank keeps its own running statistics).
"""
import datetime
import os
import socket
import sys

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from replicascope import Recorder  # noqa: E402

WORLD, PER_RANK, SAMPLES, CLASSES = 2, 16, 2048, 4


def dataset(seed):
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(SAMPLES) * CLASSES // SAMPLES  # sorted by class
    centers = torch.randn(CLASSES, 3, 1, 1, generator=g)
    images = torch.randn(SAMPLES, 3, 8, 8, generator=g) + centers[labels]
    return torch.utils.data.TensorDataset(images, labels)


def loader(data, kind, rank, seed):
    if kind.startswith("healthy"):
        sampler = torch.utils.data.distributed.DistributedSampler(
            data, num_replicas=WORLD, rank=rank, shuffle=True, seed=seed)
    else:
        half = SAMPLES // WORLD
        sampler = torch.utils.data.SubsetRandomSampler(
            range(rank * half, (rank + 1) * half), torch.Generator().manual_seed(seed + rank))
    return sampler, torch.utils.data.DataLoader(data, batch_size=PER_RANK, sampler=sampler,
                                                drop_last=True)


def worker(rank, kind, steps, out, seed, port):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD,
                            timeout=datetime.timedelta(seconds=60))
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
        torch.nn.Conv2d(8, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(8, CLASSES))
    ddp = torch.nn.parallel.DistributedDataParallel(
        model, broadcast_buffers=not kind.endswith("own-buffers"))
    optimizer = torch.optim.SGD(ddp.parameters(), lr=0.01, momentum=0.9)
    sampler, batches = loader(dataset(seed), kind, rank, seed)
    step, epoch = 0, 0
    with Recorder(out, ddp, dataset=f"ddp {kind}", optimizer=optimizer, seed=seed) as rec:
        while step < steps:
            if hasattr(sampler, "set_epoch"):
                sampler.set_epoch(epoch)
            for images, labels in batches:
                loss = torch.nn.functional.cross_entropy(ddp(images), labels)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                rec.step(loss=loss, epoch=epoch)
                step += 1
                if step == steps:
                    break
            epoch += 1
    dist.barrier()
    os._exit(0)  # as the recorder's own DDP tests: no teardown that can hang


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(kind, steps, out, seed="0"):
    kinds = ("healthy", "sharded", "healthy-own-buffers", "sharded-own-buffers")
    if kind not in kinds:
        sys.exit(f"write_ddp_run.py: unknown KIND '{kind}' (expected one of {', '.join(kinds)})")
    mp.spawn(worker, args=(kind, int(steps), out, int(seed), free_port()), nprocs=WORLD)


if __name__ == "__main__":
    main(*sys.argv[1:])
