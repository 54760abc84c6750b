# SPDX-License-Identifier: MIT
"""Every value the reader takes from a run, checked (docs/run-format.md, version 5): a damaged row
is a RunFileError naming the run, the table, the step and the layer, e.g.

    run 'r.sqlite': damaged row in table steps (step 7): loss holds text, expected a number or NULL

Integers must be integers, numbers integers or reals (NULL reads as NaN: SQLite keeps NaN as
NULL), text must not be a BLOB, and channel vectors BLOBs of the layer's channel count.
"""
import collections
import math

from .runfile import RunFileError, single, summaries_of_blob, unblob

INTEGER, NUMBER, TEXT, BLOB = "an integer", "a number or NULL", "text", "a BLOB"
_SUMMARY_BYTES = 16


def _holds(value):
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return "text"
    if isinstance(value, bytes):
        return f"a BLOB of {len(value)} bytes"
    return "a real number" if isinstance(value, float) else "an integer"


def damaged(path, table, what, step=None, layer=None):
    where = ", ".join(([] if step is None else [f"step {step}"]) +
                      ([] if layer is None else [f"layer '{layer}'"]))
    return RunFileError(f"run '{path}': damaged row in table {table}"
                        f"{f' ({where})' if where else ''}: {what}")


def _fit(value, kind):
    """(whether `value` is what a column of `kind` holds, the value as read)."""
    if kind == INTEGER:
        return isinstance(value, int), value
    if kind == NUMBER:
        if value is None:
            return True, math.nan
        if isinstance(value, (int, float)):
            return True, float(value)
        return False, value
    if kind == TEXT:  # NULL reads as "", as in the C++ reader
        return not isinstance(value, bytes), "" if value is None else str(value)
    return isinstance(value, bytes), value


def checked(path, table, columns, row, layer=None):
    """`row` read as `columns` ((name, kind) per value) wants it; a value that does not fit is
    a damaged row (named by the row's step, when it has a valid one, and `layer`)."""
    step = dict(zip((name for name, _ in columns), row)).get("step")
    step = step if isinstance(step, int) else None
    out = []
    for (name, kind), value in zip(columns, row):
        fits, read = _fit(value, kind)
        if not fits:
            raise damaged(path, table, f"{name} holds {_holds(value)}, expected {kind}", step,
                          layer)
        out.append(read)
    return out


def _width(copy, version):
    return (4, "float32") if single(copy, version) else (8, "float64")


def _layer_channels(rows, version):
    """The channel count most of the layer's vectors have (the first seen of equals); None
    when none is a whole number of values."""
    counts = collections.Counter()
    for _, copy, _, mean, var in rows:
        width, _ = _width(copy, version)
        counts.update(len(data) // width for data in (mean, var) if len(data) % width == 0)
    return counts.most_common(1)[0][0] if counts else None


_CHANNEL_COLUMNS = (("step", INTEGER), ("copy", INTEGER), ("count", INTEGER), ("mean", BLOB),
                    ("var", BLOB))


def channel_rows(path, layer, rows, version):
    """channel_stats rows (step, copy, count, mean, var) of one layer and sync point, checked,
    with the vectors as tuples of floats."""
    rows = [checked(path, "channel_stats", _CHANNEL_COLUMNS, row, layer) for row in rows]
    channels = _layer_channels(rows, version)
    out = []
    for step, copy, count, mean, var in rows:
        width, kind = _width(copy, version)
        for name, data in (("mean", mean), ("var", var)):
            if len(data) % width == 0 and channels in (None, len(data) // width):
                continue
            expected = (f"a BLOB of {kind} values" if channels is None else
                        f"{channels * width} bytes ({channels} {kind} values, the layer's "
                        "channel count)")
            raise damaged(path, "channel_stats", f"{name} holds {_holds(data)}, expected "
                          f"{expected}", step, layer)
        out.append((step, copy, count, unblob(mean, copy, version), unblob(var, copy, version)))
    return out


def summary_rows(path, layer, rows):
    """summaries rows (step, copies) of one layer and sync point, checked, as (step,
    [(copy, count, mean, var), ...])."""
    out = []
    for row in rows:
        step, data = checked(path, "summaries", (("step", INTEGER), ("copies", BLOB)), row, layer)
        if len(data) % _SUMMARY_BYTES:
            raise damaged(path, "summaries", f"copies holds {_holds(data)}, expected a multiple "
                          f"of {_SUMMARY_BYTES} bytes (one summary of 16 bytes per series)",
                          step, layer)
        out.append((step, summaries_of_blob(data)))
    return out
