// SPDX-License-Identifier: MIT
// The run file's schema (docs/run-format.md), as the C++ writer creates it; the Python recorder
// creates the same (python/replicascope/runfile.py), which a test compares.
#pragma once

namespace replicascope::store::detail {

inline constexpr const char* kRunSchema = R"(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE steps(step INTEGER PRIMARY KEY, epoch INTEGER NOT NULL, loss REAL, accuracy REAL,
                   seconds REAL NOT NULL, nonfinite TEXT, detail INTEGER NOT NULL);
CREATE TABLE layers(id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL);
CREATE TABLE sync_points(step INTEGER NOT NULL, layer INTEGER NOT NULL, sync_point INTEGER NOT NULL,
                         count INTEGER NOT NULL, divergence REAL, worst_channel INTEGER NOT NULL,
                         PRIMARY KEY(step, layer, sync_point)) WITHOUT ROWID;
CREATE TABLE summaries(step INTEGER NOT NULL, layer INTEGER NOT NULL, sync_point INTEGER NOT NULL,
                       copies BLOB NOT NULL, PRIMARY KEY(step, layer, sync_point)) WITHOUT ROWID;
CREATE INDEX summaries_by_layer ON summaries(layer, sync_point, step);
CREATE TABLE channel_stats(step INTEGER NOT NULL, layer INTEGER NOT NULL,
                           sync_point INTEGER NOT NULL, copy INTEGER NOT NULL,
                           count INTEGER NOT NULL, mean BLOB NOT NULL, var BLOB NOT NULL,
                           UNIQUE(step, layer, sync_point, copy));
CREATE TABLE modules(id INTEGER PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL,
                     full_type TEXT NOT NULL, depth INTEGER NOT NULL,
                     own_parameters INTEGER NOT NULL, subtree_parameters INTEGER NOT NULL,
                     synchronized INTEGER NOT NULL, receives_callbacks INTEGER NOT NULL);
CREATE TABLE wiring_columns(id INTEGER PRIMARY KEY, device TEXT NOT NULL, rank INTEGER NOT NULL,
                            copy INTEGER NOT NULL);
CREATE TABLE wiring_rows(context_id INTEGER PRIMARY KEY, module TEXT NOT NULL, type TEXT NOT NULL,
                         expects_callbacks INTEGER NOT NULL);
CREATE TABLE wiring_cells(context_id INTEGER NOT NULL, column_id INTEGER NOT NULL,
                          present INTEGER NOT NULL, called INTEGER NOT NULL,
                          call_order INTEGER NOT NULL,
                          PRIMARY KEY(context_id, column_id)) WITHOUT ROWID;
CREATE TABLE layer_settings(layer INTEGER PRIMARY KEY, momentum REAL, eps REAL NOT NULL);
CREATE TABLE eval_calls(step INTEGER NOT NULL, module TEXT NOT NULL, calls INTEGER NOT NULL,
                        PRIMARY KEY(step, module)) WITHOUT ROWID;
CREATE TABLE events(step INTEGER NOT NULL, kind TEXT NOT NULL, layer TEXT, sync_point INTEGER,
                    copy INTEGER, message TEXT NOT NULL);
CREATE TABLE deviations(step INTEGER NOT NULL, layer INTEGER NOT NULL, copies BLOB NOT NULL,
                        u BLOB NOT NULL);
)";
// SQLite stores NaN as NULL: loss, accuracy and divergence are NULL where they were NaN (version
// 3), and steps.nonfinite names what was not finite in a step (NULL for a finite one).
// modules: the model's module tree in module order (id = index). wiring_*: the ranks x copies
// wiring, one column per copy (rank, its copy), one row per module index (context), one cell
// per both. Version 1 files have neither; their wiring is text in meta("wiring").
// Version 4: every step has its sync_points row (count, divergence, the channel where the
// divergence was largest) and its summaries row (one BLOB per sync point, stored_values.h; an
// index by layer, so that selecting a layer reads its rows, not the whole table: 49 ms rather
// than 140-150 ms for 10,000 steps of densenet121's 121 layers, for 4% more file); a
// step with steps.detail = 1 also has channel_stats rows: one per copy with every channel's value
// in a BLOB (float32, float64 for the synchronized statistics; little-endian, the byte order of
// every platform LibTorch supports). One insert per copy rather than per channel keeps recording
// off the training's critical path. A rowid table (not WITHOUT ROWID, whose rows spill to
// overflow pages beyond a few hundred bytes) keeps the BLOBs in the B-tree's pages, and the
// pages of evicted steps are reused by later ones, so the file does not grow with them.
// Version 6: layer_settings holds each recorded layer's momentum (NULL: a cumulative mean) and
// eps, written with the layer's first row; eval_calls the BatchNorm modules that ran in eval
// mode during a training step (by module name: a frozen layer records no statistics, so it has
// no layers row); events what happened to the run beside its steps (a step that failed at a
// sync point, a hang); deviations, every step, the copies' (or ranks') standardized deviations
// per channel at the first sync point of the step's first 3 layers (one row per sync point,
// stored_values.h's DeviationRow; no index: the diagnosis reads them in the order written,
// which is the steps'). Files of version 6 written before deviations came lack that table:
// readers look for it.

}  // namespace replicascope::store::detail
