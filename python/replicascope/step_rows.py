# SPDX-License-Identifier: MIT
"""What one step of the recorder writes, before it is written: the layers' moments brought to
the host, each sync point's rows, and the step before the first non-finite one."""
import collections
import math

import torch

from . import runfile
from .moments import Moments, divergence, finish, merge


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


def point_rows(by_rank, running, world, ranks_running=None):
    """One sync point's figures: each key's channel vectors, the divergence, the count.
    `running`: rank 0's running (mean, var) after it; `ranks_running`: {rank: (mean, var)} of
    every rank's, of which ranks 1, ... are written as their own series."""
    parts = [m for r in sorted(by_rank) for _, m in sorted(by_rank[r].items())]
    merged = merge(parts)
    count = merged.count if merged else 0
    rows = sorted(by_rank.get(0, {}).items())
    if merged is not None:
        rows.append((runfile.SYNCHRONIZED, merged))
    if world > 1:
        for r in sorted(by_rank):
            ranked = merge(list(by_rank[r].values()))
            if ranked is not None:
                rows.append((runfile.rank_key(r), ranked))
    vectors = [(copy, m.count, m.mean, m.var) for copy, m in rows]
    if running is not None:
        vectors.append((runfile.RUNNING, count, running[0], running[1]))
    for r, (mean, var) in sorted((ranks_running or {}).items()):
        if r > 0:
            vectors.append((runfile.rank_running_key(r), count, mean, var))
    figure, worst = divergence(parts, merged)
    finite = math.isfinite(figure) and bool(
        torch.isfinite(torch.cat([v for _, _, mean, var in vectors for v in (mean, var)])).all())
    return PointRows(vectors, figure, worst, count, finite)


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


def write_channels(db, step, layer, sync_point, vectors):
    """A sync point's per-channel rows (channel_stats), one per series."""
    db.executemany("INSERT INTO channel_stats VALUES(?,?,?,?,?,?,?)",
                   [(step, layer, sync_point, copy, n,
                     runfile.blob(mean.tolist(), copy), runfile.blob(var.tolist(), copy))
                    for copy, n, mean, var in vectors])


def write_point(db, step, layer, sync_point, row, keep):
    """Writes one sync point's row and summaries, and its channels when `keep`."""
    if keep:
        write_channels(db, step, layer, sync_point, row.vectors)
    db.execute("INSERT INTO sync_points VALUES(?,?,?,?,?,?)",
               (step, layer, sync_point, row.count, runfile.real(row.figure), row.worst))
    vectors = row.vectors
    means = torch.stack([v for _, _, mean, var in vectors for v in (mean, var)]).mean(1).tolist()
    db.execute("INSERT INTO summaries VALUES(?,?,?,?)",
               (step, layer, sync_point, runfile.summaries_blob(
                   [(copy, n, means[2 * i], means[2 * i + 1])
                    for i, (copy, n, _, _) in enumerate(vectors)])))


# The first sync point of a step's first 3 layers keeps its deviations every step (version 6;
# the C++ writer's kDeviationLayers).
DEVIATION_LAYERS = 3


def deviation_series(vectors, world, eps=1e-5):
    """[(copy code, u)]: each copy's (one process) or rank's (several) standardized deviation
    from the whole batch per channel, u = (its mean - whole mean) / sqrt(whole var + eps), a
    list of floats (what copies-see-different-data tests every step)."""
    whole = next((v for v in vectors if v[0] == runfile.SYNCHRONIZED), None)
    if whole is None:
        return []
    scale = torch.sqrt(whole[3] + eps)

    def tested(copy):
        return runfile.RANK_RUNNING_BASE < copy <= runfile.rank_key(0) if world > 1 else copy >= 0
    return [(copy, ((mean - whole[2]) / scale).tolist())
            for copy, _, mean, _ in vectors if tested(copy)]


def write_points(db, step, rows, layer_id, keep, world):
    """Writes every sync point of a step (write_point; layer_id(db, name) its layer's id), and
    the deviations of the first sync point of its first DEVIATION_LAYERS layers."""
    first = []
    for (name, sync_point), row in rows.items():
        layer = layer_id(db, name)
        write_point(db, step, layer, sync_point, row, keep)
        if sync_point == 0 and len(first) < DEVIATION_LAYERS:
            first.append((layer, row))
    for layer, row in first:
        series = deviation_series(row.vectors, world)
        if series and len({len(u) for _, u in series}) == 1:
            db.execute("INSERT INTO deviations VALUES(?,?,?,?)",
                       (step, layer, *runfile.deviation_row(series)))
