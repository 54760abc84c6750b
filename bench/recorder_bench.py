#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The Python recorder's overhead, measured side by side in one run (issue 17's goal: <= 1.05x).

usage: PYTHONPATH=python python3 bench/recorder_bench.py [--pairs P] [--image S]

resnet18 (torchvision), batch 32 of 3xSxS (default 64), SGD: two copies of the model, one
recorded, stepped in turn P times (default 30), so that both see the same machine; then the same
with DistributedDataParallel over Gloo, 2 processes of 16 samples and 1 thread each. Prints the
median step time of each and the median of the per-pair ratios.
"""
import argparse
import os
import socket
import statistics
import sys
import tempfile
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

from replicascope import Recorder  # noqa: E402


def alternate(make_model, x, y, pairs, folder, tag):
    """Median seconds per step without and with the recorder, and the median of the per-pair
    ratios: two copies of one model (same weights, same data), stepped in turn, one of them
    recorded, so that every recorded step has a plain neighbour on the same machine state."""
    models = [make_model(), make_model()]
    models[1].load_state_dict(models[0].state_dict())
    optimizers = [torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9) for m in models]
    rec = Recorder(os.path.join(folder, f"{tag}.sqlite"), models[1])

    def step(i):
        start = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(models[i](x), y)
        loss.backward()
        optimizers[i].step()
        optimizers[i].zero_grad()
        value = loss.item()
        if i == 1:
            rec.step(loss=value)
        return time.perf_counter() - start

    for _ in range(2):  # warm up: allocator, thread pools
        step(0), step(1)
    times = [(step(0), step(1)) if p % 2 == 0 else tuple(reversed((step(1), step(0))))
             for p in range(pairs)]
    rec.close()
    plain, recorded = zip(*times)
    return (statistics.median(plain), statistics.median(recorded),
            statistics.median(r / p for p, r in times))


def report(name, plain, recorded, ratio):
    print(f"{name:44s} {plain * 1e3:8.1f} ms {recorded * 1e3:8.1f} ms   {ratio:.3f}", flush=True)


def ddp_worker(rank, port, args, folder, queue):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=2)
    torch.manual_seed(0)
    x = torch.randn(16, 3, args.image, args.image)
    y = torch.randint(0, 10, (16,))
    times = alternate(lambda: torch.nn.parallel.DistributedDataParallel(
        torchvision.models.resnet18(num_classes=10)), x, y, args.pairs, folder, "ddp")
    if rank == 0:
        queue.put(times)
    dist.barrier()
    dist.destroy_process_group()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=30)
    parser.add_argument("--image", type=int, default=64)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="replicascope-recorder-bench-")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, resnet18, batch 32 of "
          f"3x{args.image}x{args.image}, {args.pairs} pairs of steps (plain, recorded) in turn")
    print(f"{'':44s} {'plain':>11s} {'recorded':>11s}   median ratio of the pairs")
    torch.manual_seed(0)
    x = torch.randn(32, 3, args.image, args.image)
    y = torch.randint(0, 10, (32,))
    report("one process", *alternate(lambda: torchvision.models.resnet18(num_classes=10), x, y,
                                     args.pairs, folder, "one"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    queue = mp.get_context("spawn").SimpleQueue()
    mp.start_processes(ddp_worker, args=(port, args, folder, queue), nprocs=2,
                       start_method="spawn")
    report("DDP, Gloo, 2 processes x 16 samples, 1 thread", *queue.get())


if __name__ == "__main__":
    main()
