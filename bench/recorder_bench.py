#!/usr/bin/env python3
"""The Python recorder's overhead, measured side by side in one run (issue 17's goal: <= 1.05x).

usage: PYTHONPATH=python python3 bench/recorder_bench.py [--rounds R] [--steps N] [--image S]

resnet18 (torchvision), batch 32 of 3xSxS (default 64), SGD: rounds of N steps without and with
the recorder, alternating, so that both see the same machine; then the same with
DistributedDataParallel over Gloo, 2 processes of 16 samples and 1 thread each. Prints the
median step time of each and their ratio.
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


def alternate(model, x, y, rounds, steps, folder, tag):
    """Median seconds per step without and with the recorder, in alternating rounds."""
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def run(rec):
        start = time.perf_counter()
        for _ in range(steps):
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            opt.zero_grad()
            value = loss.item()
            if rec:
                rec.step(loss=value)
        return (time.perf_counter() - start) / steps

    run(None)  # warm up: allocator, thread pools
    plain, recorded = [], []
    for r in range(rounds):
        plain.append(run(None))
        with Recorder(os.path.join(folder, f"{tag}-{r}.sqlite"), model) as rec:
            recorded.append(run(rec))
    return statistics.median(plain), statistics.median(recorded)


def report(name, plain, recorded):
    print(f"{name:44s} {plain * 1e3:8.1f} ms {recorded * 1e3:8.1f} ms   {recorded / plain:.3f}",
          flush=True)


def ddp_worker(rank, port, args, folder, queue):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=2)
    torch.manual_seed(0)
    model = torch.nn.parallel.DistributedDataParallel(torchvision.models.resnet18(num_classes=10))
    x = torch.randn(16, 3, args.image, args.image)
    y = torch.randint(0, 10, (16,))
    times = alternate(model, x, y, args.rounds, args.steps, folder, "ddp")
    if rank == 0:
        queue.put(times)
    dist.barrier()
    dist.destroy_process_group()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--image", type=int, default=64)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="replicascope-recorder-bench-")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, resnet18, batch 32 of "
          f"3x{args.image}x{args.image}, median of {args.rounds} alternating rounds of "
          f"{args.steps} steps")
    print(f"{'':44s} {'plain':>11s} {'recorded':>11s}   ratio")
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=10)
    x = torch.randn(32, 3, args.image, args.image)
    y = torch.randint(0, 10, (32,))
    report("one process", *alternate(model, x, y, args.rounds, args.steps, folder, "one"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    queue = mp.get_context("spawn").SimpleQueue()
    mp.start_processes(ddp_worker, args=(port, args, folder, queue), nprocs=2,
                       start_method="spawn")
    report("DDP, Gloo, 2 processes x 16 samples, 1 thread", *queue.get())


if __name__ == "__main__":
    main()
