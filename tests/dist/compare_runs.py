#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks that a multi-process run equals a single-process run of the same training.

usage: compare_runs.py REFERENCE.sqlite CANDIDATE.sqlite [--tolerance T] [--shares N]

Compares, step by step: the loss and accuracy; per layer and sync point the value count over
all copies and ranks; the synchronized mean and variance (copy -1) and the running statistics
(copy -2), channel by channel. Values agree when |a - b| <= T * max(1, |a|). Exits 1 naming the
first difference. With --shares N, also checks that the candidate's copy 0 saw 1/N of the values
or little more (shares differ by a sample) at every sync point: the batch was shared out, and
that the candidate's recorded wiring has N columns (processes x copies), every one of them wired
(each module that takes replication callbacks got one on every copy of every rank). Uses only
Python's sqlite3.
"""
import sqlite3
import struct
import sys


def load(path):
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    steps = {s: (loss, acc) for s, loss, acc in db.execute("SELECT step, loss, accuracy FROM steps")}
    layers = dict(db.execute("SELECT id, name FROM layers"))
    counts = {(s, layers[l], p): c for s, l, p, c in
              db.execute("SELECT step, layer, sync_point, count FROM sync_points")}
    stats = {}
    first_copy = {(s, layers[l], p): c for s, l, p, c in db.execute(
        "SELECT step, layer, sync_point, count FROM channel_stats WHERE copy = 0")}
    # Each rank's statistics over its copies (copy -3 - rank), in runs of several processes.
    rank_counts = {}
    for s, l, p, copy, c in db.execute(
            "SELECT step, layer, sync_point, copy, count FROM channel_stats WHERE copy <= -3"):
        rank_counts.setdefault((s, layers[l], p), {})[-3 - copy] = c
    for s, l, p, copy, mean, var in db.execute(
            "SELECT step, layer, sync_point, copy, mean, var FROM channel_stats "
            "WHERE copy IN (-1, -2)"):
        unpack = lambda blob: struct.unpack(f"<{len(blob) // 8}d", blob)
        stats[(s, layers[l], p, copy)] = (unpack(mean), unpack(var))
    meta = dict(db.execute("SELECT key, value FROM meta"))
    # Schema version 2 keeps the wiring in tables: columns, rows (module, whether it takes
    # callbacks) and one cell per row and column.
    meta["wiring_columns"] = [d for (d,) in db.execute("SELECT device FROM wiring_columns ORDER BY id")]
    meta["wiring_rows"] = [
        (module, expects, [(p, c) for p, c in db.execute(
            "SELECT present, called FROM wiring_cells WHERE context_id = ? ORDER BY column_id",
            (context,))])
        for context, module, expects in db.execute(
            "SELECT context_id, module, expects_callbacks FROM wiring_rows ORDER BY context_id")]
    return steps, counts, stats, first_copy, rank_counts, meta


def check_wiring(meta, columns):
    """None when the recorded wiring has `columns` columns and no problem, else what is wrong."""
    if not meta["wiring_columns"]:
        return "no wiring recorded"
    if len(meta["wiring_columns"]) != columns:
        return f"{len(meta['wiring_columns'])} columns of copies, expected {columns}"
    wired = 0
    for module, expects, cells in meta["wiring_rows"]:
        if len(cells) != columns or any(present != 1 for present, _ in cells):
            return f"module '{module}' is missing on a copy"
        if expects:
            if any(called != 1 for _, called in cells):
                return f"module '{module}' missed a replication callback"
            wired += 1
    return None if wired else "no module took replication callbacks"


def close(a, b, tolerance):
    return abs(a - b) <= tolerance * max(1.0, abs(a))


def main():
    args = sys.argv[1:]
    tolerance, shares = 1e-4, 1
    if "--tolerance" in args:
        i = args.index("--tolerance")
        tolerance = float(args[i + 1])
        del args[i:i + 2]
    if "--shares" in args:
        i = args.index("--shares")
        shares = int(args[i + 1])
        del args[i:i + 2]
    reference, candidate = load(args[0]), load(args[1])
    names = ("steps", "sync point counts", "statistics")
    for name, ref, got in zip(names, reference[:3], candidate[:3]):
        if set(ref) != set(got):
            print(f"{name} differ: only in the reference {sorted(set(ref) - set(got))[:5]}, "
                  f"only in the candidate {sorted(set(got) - set(ref))[:5]}")
            return 1
    ranks = candidate[4]
    if shares > 1 and not ranks:
        print("the candidate recorded no rank's statistics")
        return 1
    for key, by_rank in ranks.items():
        if sum(by_rank.values()) != candidate[1][key]:
            print(f"{key}: the ranks' counts {by_rank} do not add up to {candidate[1][key]}")
            return 1
    if shares > 1:
        problem = check_wiring(candidate[5], shares)
        if problem:
            print(f"the candidate's wiring: {problem}")
            return 1
    for key, count in candidate[3].items():
        total = candidate[1][key]
        if count * shares > 1.5 * total:  # uneven shares differ by one sample
            print(f"{key}: copy 0 saw {count} of {total} values: the batch was not shared "
                  f"out over {shares}")
            return 1
    worst = 0.0
    for step, (loss, acc) in reference[0].items():
        got_loss, got_acc = candidate[0][step]
        if not close(loss, got_loss, tolerance) or abs(acc - got_acc) > 1e-9:
            print(f"step {step}: loss {loss} accuracy {acc} against {got_loss} {got_acc}")
            return 1
        worst = max(worst, abs(loss - got_loss))
    for key, count in reference[1].items():
        if candidate[1][key] != count:
            print(f"{key}: {count} values per channel against {candidate[1][key]}")
            return 1
    for key, (mean, var) in reference[2].items():
        got_mean, got_var = candidate[2][key]
        for what, a, b in (("mean", mean, got_mean), ("var", var, got_var)):
            for c, (x, y) in enumerate(zip(a, b)):
                if not close(x, y, tolerance):
                    print(f"step {key[0]}, layer {key[1]}, sync point {key[2]}, copy {key[3]}, "
                          f"{what}[{c}]: {x} against {y}")
                    return 1
                worst = max(worst, abs(x - y) / max(1.0, abs(x)))
    print(f"equal: {len(reference[0])} steps, {len(reference[2])} statistic rows, "
          f"largest difference {worst:.3g} (tolerance {tolerance})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
