"""Reads a run file (C++ or Python written, schema versions 1 to 4) as Python and torch objects.

    run = replicascope.open_run("runs/resnet.sqlite")
    run.steps[-1].loss
    stats = run.statistics("layer1.0.bn1")          # {"copy 0": Series, "synchronized": ...}
    stats["synchronized"].mean                         # float64 tensor [steps, channels]
    run.summaries("layer1.0.bn1")["copy 0"].mean      # every step's mean over channels

Per-channel statistics are kept for the steps run.detail_steps lists (a sample, from version
4 on); summaries and divergence for every step.
"""
import collections
import os
import pathlib
import sqlite3

import torch

from .runfile import SCHEMA_VERSION, RunFileError, key_label, summaries_of_blob, unblob

Step = collections.namedtuple("Step", "step epoch loss accuracy seconds nonfinite detail")
Series = collections.namedtuple("Series", "steps count mean var")

_NAN = float("nan")


def _connect(path):
    if not os.path.exists(path):
        raise RunFileError(f"run '{path}': no such file")
    if not os.path.isfile(path):
        raise RunFileError(f"run '{path}': not a regular file")
    uri = pathlib.Path(path).absolute().as_uri()
    try:
        db = sqlite3.connect(f"{uri}?mode=ro", uri=True)
        db.execute("PRAGMA user_version").fetchone()
        return db
    except sqlite3.Error:
        pass
    # Read-only media, where SQLite cannot make the -shm file: the file alone, which is the
    # whole run only when no -wal holds steps not yet folded in.
    wal = path + "-wal"
    if os.path.exists(wal) and os.path.getsize(wal) > 0:
        raise RunFileError(f"run '{path}': cannot open it read-only, and its last steps are "
                           f"still in '{wal}' (open it where it can be written, once)")
    try:
        db = sqlite3.connect(f"{uri}?immutable=1", uri=True)
        db.execute("PRAGMA user_version").fetchone()
        return db
    except sqlite3.Error as error:
        raise RunFileError(f"run '{path}': cannot open it: {error}") from None


def _series_of(grouped):
    """{stored copy: [(step, count, mean, var), ...] in step order} as Series by label, in the
    C++ order: copies, synchronized, running, ranks."""
    out = collections.OrderedDict()
    for copy in sorted(grouped, key=lambda c: (c < 0, abs(c))):
        rows = grouped[copy]
        out[key_label(copy)] = Series(torch.tensor([r[0] for r in rows]),
                                      torch.tensor([r[1] for r in rows]),
                                      torch.tensor([r[2] for r in rows], dtype=torch.float64),
                                      torch.tensor([r[3] for r in rows], dtype=torch.float64))
    return out


class Run:
    """A run opened read-only. Values SQLite keeps as NULL (NaN) read back as NaN."""

    def __init__(self, path):
        self.path = path
        self._db = _connect(path)
        try:
            self.schema_version = self._db.execute("PRAGMA user_version").fetchone()[0]
            tables = {n for (n,) in self._db.execute("SELECT name FROM sqlite_master")}
        except sqlite3.Error as error:
            raise RunFileError(f"run '{path}': not a run file ({error})") from None
        if not {"meta", "steps", "layers", "sync_points", "channel_stats"} <= tables:
            raise RunFileError(f"run '{path}': not a ReplicaScope run (expected its tables)")
        if not 1 <= self.schema_version <= SCHEMA_VERSION:
            raise RunFileError(f"run '{path}': schema version {self.schema_version}; this reader "
                               f"knows 1 to {SCHEMA_VERSION}")
        self.metadata = dict(self._db.execute("SELECT key, value FROM meta"))

    def close(self):
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    @property
    def steps(self):
        nonfinite = "nonfinite" if self.schema_version >= 3 else "NULL"
        detail = "detail" if self.schema_version >= 4 else "1"
        rows = self._db.execute("SELECT step, epoch, loss, accuracy, seconds, "
                                f"{nonfinite}, {detail} FROM steps ORDER BY step")
        return [Step(s, e, _NAN if l is None else l, _NAN if a is None else a, t, n or "",
                     bool(d)) for s, e, l, a, t, n, d in rows]

    @property
    def detail_steps(self):
        """The steps that keep per-channel statistics."""
        return [s.step for s in self.steps if s.detail]

    @property
    def layers(self):
        return [n for (n,) in self._db.execute("SELECT name FROM layers ORDER BY id")]

    @property
    def modules(self):
        """The module tree (version 2 on): dicts in module order."""
        if self.schema_version < 2:
            return []
        keys = ("name", "type", "full_type", "depth", "own_parameters", "subtree_parameters",
                "synchronized", "receives_callbacks")
        return [dict(zip(keys, row)) for row in self._db.execute(
            f"SELECT {', '.join(keys)} FROM modules ORDER BY id")]

    @property
    def wiring(self):
        """Columns (device, rank, copy) and, per module index, each column's (present, called)."""
        if self.schema_version < 2:
            return {"columns": [], "rows": []}
        columns = list(self._db.execute("SELECT device, rank, copy FROM wiring_columns ORDER BY id"))
        rows = []
        for context, module, expects in list(self._db.execute(
                "SELECT context_id, module, expects_callbacks FROM wiring_rows ORDER BY context_id")):
            cells = list(self._db.execute(
                "SELECT present, called, call_order FROM wiring_cells WHERE context_id = ? "
                "ORDER BY column_id", (context,)))
            rows.append({"module": module, "expects_callbacks": bool(expects), "cells": cells})
        return {"columns": columns, "rows": rows}

    def _layer_id(self, layer):
        row = self._db.execute("SELECT id FROM layers WHERE name = ?", (layer,)).fetchone()
        if row is None:
            raise KeyError(f"run '{self.path}' has no layer '{layer}' "
                           f"(it has {', '.join(self.layers) or 'none'})")
        return row[0]

    def statistics(self, layer, sync_point=0):
        """Per series ("copy 0", "synchronized", "running", "rank 1"): its steps, counts and
        mean and variance as float64 tensors [steps, channels]."""
        layer_id, version = self._layer_id(layer), self.schema_version
        grouped = {}
        for step, copy, count, mean, var in self._db.execute(
                "SELECT step, copy, count, mean, var FROM channel_stats WHERE layer = ? AND "
                "sync_point = ? ORDER BY step", (layer_id, sync_point)):
            grouped.setdefault(copy, []).append(
                (step, count, unblob(mean, copy, version), unblob(var, copy, version)))
        return _series_of(grouped)

    def summaries(self, layer, sync_point=0):
        """Per series, every step's means over channels: Series(steps, count, mean, var) with
        1-d tensors (count -1 where unknown). Before version 4, from the per-channel values."""
        if self.schema_version < 4:
            return collections.OrderedDict(
                (label, Series(s.steps, s.count, s.mean.mean(1), s.var.mean(1)))
                for label, s in self.statistics(layer, sync_point).items())
        grouped = {}
        for step, data in self._db.execute(
                "SELECT step, copies FROM summaries WHERE layer = ? AND sync_point = ? "
                "ORDER BY step", (self._layer_id(layer), sync_point)):
            for copy, count, mean, var in summaries_of_blob(data):
                grouped.setdefault(copy, []).append((step, count, mean, var))
        return _series_of(grouped)

    def divergence(self, layer):
        """(step, divergence) per step: the largest over the layer's sync points."""
        return [(s, _NAN if d is None else d) for s, d in self._db.execute(
            "SELECT step, max(divergence) FROM sync_points WHERE layer = ? GROUP BY step "
            "ORDER BY step", (self._layer_id(layer),))]


def open_run(path):
    """Opens a run file read-only (see Run)."""
    return Run(os.fspath(path))
