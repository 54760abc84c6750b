# SPDX-License-Identifier: MIT
"""What one step of the recorder writes, before it is written: the layers' moments brought to
the host, each sync point's rows, and the step before the first non-finite one."""
import collections

import torch

from .moments import Moments, finish


def on_host(pending):
    """The step's entries as Moments on the CPU: one copy per device rather than one per tensor
    (each copy from a GPU waits for it), and the moments made final for all entries at once."""
    tensors = []
    for entry in pending:
        tensors += list(entry[3][1:]) + list(entry[5] or ())
    by_device = {}
    for i, t in enumerate(tensors):
        by_device.setdefault(t.device, []).append(i)
    host = [None] * len(tensors)
    for device, indices in by_device.items():
        parts = [tensors[i] for i in indices]
        flat = torch.cat(parts).cpu() if device.type != "cpu" else None
        at = 0
        for i, t in zip(indices, parts):
            host[i] = t if flat is None else flat[at:at + t.numel()]
            at += t.numel()
    raw, runnings, at = [], [], 0
    for entry in pending:
        raw.append(host[at:at + 3])
        at += 3
        runnings.append(tuple(host[at:at + 2]) if entry[5] is not None else None)
        at += 2 if entry[5] is not None else 0
    if not raw:
        return []
    sizes = [r[0].numel() for r in raw]
    counts = torch.repeat_interleave(
        torch.tensor([float(e[3][0]) for e in pending], dtype=torch.float64),
        torch.tensor(sizes))
    means, m2s = finish(counts, *(torch.cat([r[i] for r in raw]) for i in range(3)))
    out = []
    for entry, mean, m2, running in zip(pending, means.split(sizes), m2s.split(sizes), runnings):
        index, sync_point, copy, (count, *_), samples, _ = entry
        out.append((index, sync_point, copy, Moments(count, mean, m2), samples, running))
    return out


# One sync point of a step as it is written: each key's (copy, count, mean, var), the
# divergence and its worst channel, the count, and whether every value is finite.
PointRows = collections.namedtuple("PointRows", "vectors figure worst count finite")


class BeforeNonfinite:
    """The last step written, and its channels while the run is finite and that step did not
    keep them: the first non-finite step's predecessor keeps its detail (both writers)."""

    def __init__(self):
        self.seen, self.step, self.rows = False, 0, None

    def remember(self, step, kept, nonfinite, rows):
        if self.seen:
            return
        self.seen, self.step = nonfinite, step
        self.rows = None if kept or nonfinite else rows
