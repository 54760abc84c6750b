# SPDX-License-Identifier: MIT
"""Reads a run file (C++ or Python written, schema versions 1 to 6) as Python and torch objects.

    run = replicascope.open_run("runs/resnet.sqlite")
    run.steps[-1].loss
    stats = run.statistics("layer1.0.bn1")          # {"copy 0": Series, "synchronized": ...}
    stats["synchronized"].mean                         # float64 tensor [steps, channels]
    run.summaries("layer1.0.bn1")["copy 0"].mean      # every step's mean over channels

Per-channel statistics are kept for the steps run.detail_steps lists (a sample, from version
4 on); summaries and divergence for every step. Every value read is checked (stored.py): a
damaged file is a RunFileError naming the run, never a struct.error or a wrong number.
"""
import collections
import math
import os
import pathlib
import sqlite3

import torch

from . import stored
from .runfile import (SCHEMA_VERSION, TABLES, RunFileError, decode_text, key_label, text,
                      deviations_of_row)
from .stored import INTEGER, NUMBER, TEXT

Step = collections.namedtuple("Step", "step epoch loss accuracy seconds nonfinite detail")
Series = collections.namedtuple("Series", "steps count mean var")

_NAN = float("nan")
_STEP_COLUMNS = (("step", INTEGER), ("epoch", INTEGER), ("loss", NUMBER), ("accuracy", NUMBER),
                 ("seconds", NUMBER), ("nonfinite", TEXT), ("detail", INTEGER))
_MODULE_COLUMNS = (("name", TEXT), ("type", TEXT), ("full_type", TEXT), ("depth", INTEGER),
                   ("own_parameters", INTEGER), ("subtree_parameters", INTEGER),
                   ("synchronized", INTEGER), ("receives_callbacks", INTEGER))


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
        self._db.text_factory = decode_text  # text of older runs may hold invalid UTF-8
        try:
            self._check_tables()
            self.metadata = dict(self._checked("meta", "SELECT key, value FROM meta",
                                               (("key", TEXT), ("value", TEXT))))
        except BaseException:
            self._db.close()
            raise

    def _check_tables(self):
        """The schema version and every table it has, or one error naming all that are missing."""
        path = self.path
        try:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            tables = {n for (n,) in self._db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.Error as error:
            raise RunFileError(f"run '{path}': not a run file ({error})") from None
        if not 1 <= version <= SCHEMA_VERSION:
            newer = ": a newer ReplicaScope wrote it" if version > SCHEMA_VERSION else ""
            raise RunFileError(f"run '{path}': not a ReplicaScope run of schema version 1 to "
                               f"{SCHEMA_VERSION} (found version {version}{newer})")
        missing = [t for t in TABLES[version] if t not in tables]
        if missing:
            raise RunFileError(f"run '{path}': damaged or not a ReplicaScope run: schema version "
                               f"{version} has the table(s) {', '.join(missing)}, which this "
                               "file lacks")
        self.schema_version = version
        self._has_deviations = "deviations" in tables  # version 6, written after they came

    def _rows(self, table, sql, params=()):
        """Every row of a query; SQLite's errors (a damaged file) name the run."""
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as error:
            raise RunFileError(f"run '{self.path}': cannot read table {table}: {error}") from None

    def _checked(self, table, sql, columns, params=(), layer=None):
        return [stored.checked(self.path, table, columns, row, layer)
                for row in self._rows(table, sql, params)]

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
        rows = self._checked("steps", "SELECT step, epoch, loss, accuracy, seconds, "
                             f"{nonfinite}, {detail} FROM steps ORDER BY step", _STEP_COLUMNS)
        return [Step(s, e, l, a, t, n, bool(d)) for s, e, l, a, t, n, d in rows]

    @property
    def detail_steps(self):
        """The steps that keep per-channel statistics."""
        return [s.step for s in self.steps if s.detail]

    @property
    def layers(self):
        return [n for _, n in self._layer_rows()]

    def _layer_rows(self):
        return self._checked("layers", "SELECT id, name FROM layers ORDER BY id",
                             (("id", INTEGER), ("name", TEXT)))

    @property
    def modules(self):
        """The module tree (version 2 on): dicts in module order."""
        if self.schema_version < 2:
            return []
        keys = [name for name, _ in _MODULE_COLUMNS]
        return [dict(zip(keys, row)) for row in self._checked(
            "modules", f"SELECT {', '.join(keys)} FROM modules ORDER BY id", _MODULE_COLUMNS)]

    @property
    def wiring(self):
        """Columns (device, rank, copy) and, per module index, each column's (present, called)."""
        if self.schema_version < 2:
            return {"columns": [], "rows": []}
        columns = [tuple(c) for c in self._checked(
            "wiring_columns", "SELECT device, rank, copy FROM wiring_columns ORDER BY id",
            (("device", TEXT), ("rank", INTEGER), ("copy", INTEGER)))]
        rows = []
        for context, module, expects in self._checked(
                "wiring_rows", "SELECT context_id, module, expects_callbacks FROM wiring_rows "
                "ORDER BY context_id",
                (("context_id", INTEGER), ("module", TEXT), ("expects_callbacks", INTEGER))):
            cells = [tuple(c) for c in self._checked(
                "wiring_cells", "SELECT present, called, call_order FROM wiring_cells "
                "WHERE context_id = ? ORDER BY column_id",
                (("present", INTEGER), ("called", INTEGER), ("call_order", INTEGER)),
                (context,))]
            rows.append({"module": module, "expects_callbacks": bool(expects), "cells": cells})
        return {"columns": columns, "rows": rows}

    @property
    def layer_settings(self):
        """Version 6: {layer: (momentum or None for a cumulative mean, eps)}; {} before."""
        if self.schema_version < 6:
            return {}
        return {name: (None if math.isnan(momentum) else momentum, eps)  # NULL: cumulative
                for name, momentum, eps in self._checked(
            "layer_settings", "SELECT l.name, s.momentum, s.eps FROM layer_settings s JOIN "
            "layers l ON l.id = s.layer ORDER BY s.layer",
            (("name", TEXT), ("momentum", NUMBER), ("eps", NUMBER)))}

    @property
    def eval_calls(self):
        """Version 6: [(step, module, calls)]: BatchNorm modules that ran in eval mode during a
        training step; [] before."""
        if self.schema_version < 6:
            return []
        return [tuple(r) for r in self._checked(
            "eval_calls", "SELECT step, module, calls FROM eval_calls ORDER BY step, module",
            (("step", INTEGER), ("module", TEXT), ("calls", INTEGER)))]

    def _layer(self, layer):
        """(id, name as stored) of `layer`, a name as run.layers lists it (a name from the file
        system, with surrogates for its invalid bytes, also finds its stored form)."""
        rows = self._layer_rows()
        wanted = text(layer) if isinstance(layer, str) else layer
        for layer_id, name in rows:
            if name == wanted:
                return layer_id, name
        raise KeyError(f"run '{self.path}' has no layer '{layer}' "
                       f"(it has {', '.join(n for _, n in rows) or 'none'})")

    def statistics(self, layer, sync_point=0):
        """Per series ("copy 0", "synchronized", "running", "rank 1"): its steps, counts and
        mean and variance as float64 tensors [steps, channels]."""
        layer_id, name = self._layer(layer)
        rows = self._rows("channel_stats", "SELECT step, copy, count, mean, var FROM "
                          "channel_stats WHERE layer = ? AND sync_point = ? ORDER BY step",
                          (layer_id, sync_point))
        grouped = {}
        for step, copy, count, mean, var in stored.channel_rows(self.path, name, rows,
                                                                self.schema_version):
            grouped.setdefault(copy, []).append((step, count, mean, var))
        return _series_of(grouped)

    def summaries(self, layer, sync_point=0):
        """Per series, every step's means over channels: Series(steps, count, mean, var) with
        1-d tensors (count -1 where unknown). Before version 4, from the per-channel values."""
        if self.schema_version < 4:
            return collections.OrderedDict(
                (label, Series(s.steps, s.count, s.mean.mean(1), s.var.mean(1)))
                for label, s in self.statistics(layer, sync_point).items())
        layer_id, name = self._layer(layer)
        rows = self._rows("summaries", "SELECT step, copies FROM summaries WHERE layer = ? AND "
                          "sync_point = ? ORDER BY step", (layer_id, sync_point))
        grouped = {}
        for step, summaries in stored.summary_rows(self.path, name, rows):
            for copy, count, mean, var in summaries:
                grouped.setdefault(copy, []).append((step, count, mean, var))
        return _series_of(grouped)

    def deviations(self, layer):
        """Per series ("copy 1", or "rank 1" with several processes): (steps, u), u a float64
        tensor [steps, channels] of the standardized deviation from the whole batch per channel
        at the layer's first sync point, kept every step for a step's first 3 layers in 1/64ths
        of a sigma (clamped to +-127/64, NaN where not finite); {} where
        the run has none (docs/run-format.md, `deviations`)."""
        layer_id, name = self._layer(layer)
        if not self._has_deviations:
            return {}
        grouped = {}
        for step, copies, u in self._checked(
                "deviations", "SELECT step, copies, u FROM deviations WHERE layer = ? ORDER BY "
                "step, rowid", (("step", INTEGER), ("copies", "a BLOB"), ("u", "a BLOB")),
                (layer_id,), layer=name):
            series = deviations_of_row(copies, u)
            if series is None:
                raise stored.damaged(self.path, "deviations", f"copies holds {len(copies)} bytes "
                                     f"and u {len(u)}, expected int32 codes and as many int8 "
                                     "values for each of them", step, name)
            for copy, values in series:
                grouped.setdefault(key_label(copy), []).append((step, values))
        return {label: (torch.tensor([s for s, _ in rows]),
                        torch.tensor([list(u) for _, u in rows], dtype=torch.float64))
                for label, rows in grouped.items()}

    def divergence(self, layer):
        """(step, divergence) per step: the largest over the layer's sync points (NaN where
        every one is NaN)."""
        layer_id, name = self._layer(layer)
        largest = collections.OrderedDict()
        for step, value in self._checked(
                "sync_points", "SELECT step, divergence FROM sync_points WHERE layer = ? "
                "ORDER BY step", (("step", INTEGER), ("divergence", NUMBER)), (layer_id,),
                layer=name):
            known = largest.get(step, _NAN)
            largest[step] = value if math.isnan(known) or value > known else known
        return list(largest.items())


def open_run(path):
    """Opens a run file read-only (see Run)."""
    return Run(os.fsdecode(path))
