# SPDX-License-Identifier: MIT
"""One step's statistics of every rank brought to every rank: one all_gather per step.

Each rank packs its step into one float64 tensor: a header (the length it needs, the loss, the
accuracy, its sample count, how many entries) and per entry (layer index, sync point, copy,
count, channels, mean..., M2...). The ranks agree on a capacity at the first step (one extra
all_gather of the lengths); a later step that needs more sends only its header, every rank sees
the larger length in the same gather, and all of them gather once more at the new capacity. So
the common step costs one collective, and no rank ever sends a tensor of another size than the
others (which Gloo and NCCL would not survive).
"""
import contextlib

import torch
import torch.distributed as dist

from .arguments import RecorderError
from .moments import Moments

_HEADER = 6  # needed, has_loss, loss, has_accuracy, accuracy, samples  (then the entry count)


class StepShare:
    """What one rank contributes to a step."""

    __slots__ = ("loss", "accuracy", "samples", "entries")

    def __init__(self, loss, accuracy, samples, entries):
        self.loss = loss  # None when not given
        self.accuracy = accuracy
        self.samples = samples
        self.entries = entries  # [(layer index, sync point, copy, Moments)]


def _flag_and_value(value):
    return (0.0, 0.0) if value is None else (1.0, float(value))


def pack(share, device):
    head = [0.0, *_flag_and_value(share.loss), *_flag_and_value(share.accuracy),
            float(share.samples), float(len(share.entries))]
    parts = [torch.tensor(head, dtype=torch.float64, device=device)]
    for index, sync_point, copy, m in share.entries:
        channels = m.mean.numel()
        parts.append(torch.tensor([index, sync_point, copy, m.count, channels],
                                  dtype=torch.float64, device=device))
        parts.append(m.mean.to(device))
        parts.append(m.m2.to(device))
    flat = torch.cat(parts)
    flat[0] = flat.numel()
    return flat


def unpack(flat):
    values = flat.cpu()
    head = values[:_HEADER + 1].tolist()
    loss = head[2] if head[1] else None
    accuracy = head[4] if head[3] else None
    entries, at = [], _HEADER + 1
    for _ in range(int(head[6])):
        index, sync_point, copy, count, channels = (int(v) for v in values[at:at + 5].tolist())
        at += 5
        mean = values[at:at + channels].clone()
        m2 = values[at + channels:at + 2 * channels].clone()
        at += 2 * channels
        entries.append((index, sync_point, copy, Moments(count, mean, m2)))
    return StepShare(loss, accuracy, int(head[5]), entries)


class Exchange:
    def __init__(self, group, world, model_device="cpu"):
        self.group, self.world = group, world
        backend = dist.get_backend(group)
        # NCCL moves only CUDA tensors: the rank's model's device (each rank its own GPU), or
        # the current one for a model on the CPU.
        model_device = torch.device(model_device)
        if str(backend).lower() != "nccl":
            self.device = torch.device("cpu")
        elif model_device.type == "cuda":
            self.device = model_device
        else:
            self.device = torch.device("cuda", torch.cuda.current_device())
        self.capacity = None

    def _gather(self, tensor):
        out = [torch.empty_like(tensor) for _ in range(self.world)]
        dist.all_gather(out, tensor, group=self.group)
        return out

    def all_shares(self, share):
        """Every rank's StepShare, in rank order (a collective: every rank must call it)."""
        flat = pack(share, self.device)
        needed = flat.numel()
        if self.capacity is None:
            lengths = self._gather(torch.tensor([float(needed)], dtype=torch.float64,
                                                device=self.device))
            self.capacity = int(max(float(t[0]) for t in lengths))
        while True:
            padded = torch.zeros(self.capacity, dtype=torch.float64, device=self.device)
            padded[0] = needed
            if needed <= self.capacity:
                padded[:needed] = flat
            gathered = self._gather(padded)
            largest = int(max(float(t[0]) for t in gathered))
            if largest <= self.capacity:
                return [unpack(t[:int(float(t[0]))]) for t in gathered]
            self.capacity = largest


def collective_device(exchange):
    """NCCL's object collectives use the current CUDA device: make it this rank's model's (a DDP
    script need not have called torch.cuda.set_device). exchange: the recorder's, or None."""
    if exchange is not None and exchange.device.type == "cuda":
        return torch.cuda.device(exchange.device)
    return contextlib.nullcontext()


def agree_at_start(group, world, devices, names, problem):
    """Every rank's devices (the recorder's start, each rank its `devices` and BatchNorm layer
    `names`); refuses ranks whose models have other BatchNorm layers, and
    raises on every rank a `problem` (a wrong argument) that one rank has."""
    if world == 1:
        if problem is not None:
            raise problem
        return [devices]
    infos = [None] * world
    said = None if problem is None else f"{type(problem).__name__}: {problem}"
    dist.all_gather_object(infos, {"devices": devices, "layers": names, "problem": said},
                           group=group)
    if problem is not None:
        raise problem
    for r, info in enumerate(infos):
        if info["problem"] is not None:
            raise RecorderError(f"rank {r} could not start the recorder: {info['problem']}")
    for r, info in enumerate(infos):
        if info["layers"] != infos[0]["layers"]:
            raise RecorderError(
                f"the ranks' models differ: rank 0 has {len(infos[0]['layers'])} BatchNorm "
                f"layers, rank {r} has {len(info['layers'])} "
                "(expected the same model on every rank)")
    return [info["devices"] for info in infos]


def global_rank(group, group_rank):
    """The global rank of `group`'s rank `group_rank` (what broadcasts name as src)."""
    if group is None:
        return group_rank
    for name in ("get_global_rank", "_get_global_rank"):  # 2.x, 1.13
        if hasattr(dist, name):
            return getattr(dist, name)(group, group_rank)
        if hasattr(dist.distributed_c10d, name):
            return getattr(dist.distributed_c10d, name)(group, group_rank)
    return group_rank


def weighted_mean(values_and_weights):
    """The sample-weighted mean of the given values (None where none was given)."""
    given = [(v, w) for v, w in values_and_weights if v is not None]
    if not given:
        return None
    total = sum(w for _, w in given)
    if total <= 0:
        return sum(v for v, _ in given) / len(given)
    return sum(v * w for v, w in given) / total
