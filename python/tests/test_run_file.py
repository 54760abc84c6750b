# SPDX-License-Identifier: MIT
"""The run file as schema version 5 promises it (docs/run-format.md): text is valid UTF-8, a file
that lacks tables is refused in one message, every value read is checked, and a step waits a
while for a write lock another process holds and then says who holds it."""
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from unittest import mock

import torch

from replicascope import Recorder, RunFileError, open_run, runfile

from helpers import TempDirTest, batches, small_net, train

FROM_THE_FILE_SYSTEM = os.fsdecode(b"/data/model\xff.pt")  # a name with a byte that is not UTF-8


def record(path, steps=2, **options):
    model = small_net()
    with Recorder(path, model, **options) as rec:
        train(model, batches(steps, 4), rec)
    return path


def stored_bytes(path, sql):
    db = sqlite3.connect(path)
    db.text_factory = bytes
    try:
        return [row[0] for row in db.execute(sql)]
    finally:
        db.close()


def change(path, *statements):
    db = sqlite3.connect(path, isolation_level=None)
    try:
        for statement in statements:
            db.execute(statement)
    finally:
        db.close()


class Utf8Text(TempDirTest):
    def test_names_with_bytes_that_are_not_utf8_are_stored_as_backslash_x(self):
        model = torch.nn.Sequential()
        model.add_module(os.fsdecode(b"bn\xff"), torch.nn.BatchNorm1d(3))
        path = self.path("names.sqlite")
        with Recorder(path, model, model_name=FROM_THE_FILE_SYSTEM,
                      metadata={"note": os.fsdecode(b"caf\xe9")}) as rec:
            model(torch.randn(4, 3))
            rec.step(loss=1.0)
        self.assertEqual(stored_bytes(path, "SELECT value FROM meta WHERE key = 'model'"),
                         [b"/data/model\\xff.pt"])
        self.assertEqual(stored_bytes(path, "SELECT value FROM meta WHERE key = 'note'"),
                         [b"caf\\xe9"])
        self.assertEqual(stored_bytes(path, "SELECT name FROM layers"), [b"bn\\xff"])
        self.assertIn(b"bn\\xff", stored_bytes(path, "SELECT name FROM modules"))
        run = open_run(path)
        self.assertEqual(run.layers, ["bn\\xff"])
        # The name as the model has it finds the layer too.
        for name in ("bn\\xff", os.fsdecode(b"bn\xff")):
            self.assertEqual(run.statistics(name)["copy 0"].steps.tolist(), [1])

    def test_a_run_whose_text_holds_invalid_utf8_opens(self):
        path = record(self.path("old.sqlite"))
        # What an older writer stored: the bytes as they came.
        change(path, "UPDATE meta SET value = CAST(X'2f6d6f64656cff2e7074' AS TEXT) "
                     "WHERE key = 'model'",
               "UPDATE layers SET name = CAST(X'34fe' AS TEXT) WHERE name = '4'")
        run = open_run(path)
        self.assertEqual(run.metadata["model"], "/model\\xff.pt")
        self.assertEqual(run.layers, ["1", "4\\xfe", "9"])
        self.assertEqual(run.statistics("4\\xfe")["copy 0"].steps.tolist(), [1, 2])


class ApplicationId(TempDirTest):
    def test_a_run_says_it_is_a_replicascope_run_in_its_sqlite_header(self):
        path = record(self.path("id.sqlite"))
        with open(path, "rb") as f:
            header = f.read(72)
        self.assertEqual(header[:16], b"SQLite format 3\0")
        self.assertEqual(header[68:72], b"RSRN")  # big-endian, as the MIME type's magic reads it
        self.assertEqual(int.from_bytes(header[68:72], "big"), runfile.APPLICATION_ID)

    def test_a_run_without_it_still_opens(self):
        path = record(self.path("older.sqlite"))
        change(path, "PRAGMA application_id=0")  # as every run written before it
        self.assertEqual([s.step for s in open_run(path).steps], [1, 2])


class MissingTables(TempDirTest):
    def test_one_message_names_every_table_the_file_lacks(self):
        path = record(self.path("lacking.sqlite"))
        change(path, "DROP TABLE summaries", "DROP TABLE modules")
        with self.assertRaises(RunFileError) as caught:
            open_run(path)
        self.assertEqual(str(caught.exception),
                         f"run '{path}': damaged or not a ReplicaScope run: schema version 6 has "
                         "the table(s) modules, summaries, which this file lacks")

    def test_the_tables_asked_for_are_the_files_versions(self):
        path = self.path("v1.sqlite")
        change(path, "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
               "CREATE TABLE steps(step INTEGER PRIMARY KEY)", "PRAGMA user_version=1")
        with self.assertRaisesRegex(RunFileError, re.escape(
                "schema version 1 has the table(s) layers, sync_points, channel_stats, which "
                "this file lacks")):
            open_run(path)

    def test_versions_outside_the_readers_say_so(self):
        for version, said in ((0, "(found version 0)"),
                              (7, "(found version 7: a newer ReplicaScope wrote it)")):
            path = self.path(f"v{version}.sqlite")
            change(path, "CREATE TABLE meta(key TEXT)", f"PRAGMA user_version={version}")
            with self.assertRaisesRegex(RunFileError, re.escape(
                    f"run '{path}': not a ReplicaScope run of schema version 1 to 6 {said}")):
                open_run(path)


class DamagedRows(TempDirTest):
    """Each damage of a pristine run, and the error of the reader's call that meets it."""

    LAYER = "(SELECT id FROM layers WHERE name = '{}')"

    def damaged(self, name, statement, read, expected):
        path = self.path(f"{name}.sqlite")
        shutil.copy(self.pristine, path)
        change(path, statement)
        with self.assertRaises(RunFileError) as caught:
            read(open_run(path))
        self.assertEqual(str(caught.exception), f"run '{path}': damaged row in {expected}")

    def setUp(self):
        super().setUp()
        self.pristine = record(self.path("pristine.sqlite"))

    def test_each_damaged_value_is_an_error_naming_the_run_table_step_and_layer(self):
        layer = self.LAYER.format
        cases = [
            ("short_mean", "UPDATE channel_stats SET mean = substr(mean, 1, 30) WHERE step = 2 "
             f"AND copy = 0 AND layer = {layer('1')}", lambda run: run.statistics("1"),
             "table channel_stats (step 2, layer '1'): mean holds a BLOB of 30 bytes, expected "
             "32 bytes (8 float32 values, the layer's channel count)"),
            ("fewer_channels", "UPDATE channel_stats SET var = substr(var, 1, 56) WHERE step = 1 "
             f"AND copy = -1 AND layer = {layer('9')}", lambda run: run.statistics("9"),
             "table channel_stats (step 1, layer '9'): var holds a BLOB of 56 bytes, expected "
             "128 bytes (16 float64 values, the layer's channel count)"),
            ("text_mean", f"UPDATE channel_stats SET mean = 'x' WHERE layer = {layer('4')}",
             lambda run: run.statistics("4"),
             "table channel_stats (step 1, layer '4'): mean holds text, expected a BLOB"),
            ("text_loss", "UPDATE steps SET loss = 'abc' WHERE step = 2", lambda run: run.steps,
             "table steps (step 2): loss holds text, expected a number or NULL"),
            ("text_epoch", "UPDATE steps SET epoch = 'x' WHERE step = 1",
             lambda run: run.detail_steps,
             "table steps (step 1): epoch holds text, expected an integer"),
            ("short_summary", "UPDATE summaries SET copies = substr(copies, 1, 20) WHERE step = 1 "
             f"AND layer = {layer('4')}", lambda run: run.summaries("4"),
             "table summaries (step 1, layer '4'): copies holds a BLOB of 20 bytes, expected a "
             "multiple of 16 bytes (one summary of 16 bytes per series)"),
            ("text_divergence", "UPDATE sync_points SET divergence = 'big' WHERE step = 2",
             lambda run: run.divergence("9"),
             "table sync_points (step 2, layer '9'): divergence holds text, expected a number "
             "or NULL"),
            ("blob_name", "UPDATE layers SET name = X'00ff' WHERE name = '9'",
             lambda run: run.layers, "table layers: name holds a BLOB of 2 bytes, expected text"),
            ("blob_meta", "UPDATE meta SET value = X'01' WHERE key = 'seed'", lambda run: None,
             "table meta: value holds a BLOB of 1 bytes, expected text"),
            ("real_call", "UPDATE wiring_cells SET called = 2.5", lambda run: run.wiring,
             "table wiring_cells: called holds a real number, expected an integer"),
        ]
        for name, statement, read, expected in cases:
            with self.subTest(name):
                self.damaged(name, statement, read, expected)

    def test_a_file_whose_pages_are_damaged_is_an_error_naming_the_run(self):
        path = self.path("pages.sqlite")
        shutil.copy(record(self.path("big.sqlite"), steps=40, detail_steps="all"), path)
        size = os.path.getsize(path)
        with open(path, "r+b") as f:  # the pages after the schema and the meta table
            f.seek(2 * 4096)
            f.write(b"\xff" * (size - 2 * 4096))
        run = open_run(path)
        reads = {"steps": lambda: run.steps, "layers": lambda: run.layers,
                 "modules": lambda: run.modules, "wiring": lambda: run.wiring,
                 "statistics": lambda: run.statistics("1"),
                 "summaries": lambda: run.summaries("1"), "divergence": lambda: run.divergence("1")}
        for name, read in reads.items():
            with self.subTest(name), self.assertRaisesRegex(
                    RunFileError, re.escape(f"run '{path}': cannot read table ")):
                read()


HOLD_THE_WRITE_LOCK = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(60)
"""


class WriteLock(TempDirTest):
    def test_a_step_waits_ten_seconds_for_a_write_lock(self):
        with Recorder(self.path("patient.sqlite"), small_net()) as rec:
            self.assertEqual(rec._db.execute("PRAGMA busy_timeout").fetchone()[0], 10000)

    def test_a_lock_held_longer_names_the_process_and_the_recording_goes_on(self):
        path = self.path("locked.sqlite")
        model = small_net()
        data = batches(3, 4)
        with mock.patch.object(runfile, "BUSY_TIMEOUT_SECONDS", 0.2):
            rec = Recorder(path, model)
        with rec:
            train(model, data[:1], rec)
            holder = subprocess.Popen([sys.executable, "-c", HOLD_THE_WRITE_LOCK, path],
                                      stdout=subprocess.PIPE, text=True)
            self.addCleanup(holder.stdout.close)
            self.addCleanup(holder.wait)
            self.addCleanup(holder.kill)
            self.assertEqual(holder.stdout.readline(), "locked\n")
            with self.assertRaisesRegex(RunFileError, re.escape(
                    f"run '{path}': cannot write a step: another process holds the run's write "
                    f"lock (pid {holder.pid}, python") + r".*\) and kept it longer than 0\.2 s"):
                train(model, data[1:2], rec)
            holder.kill()
            holder.wait()
            train(model, data[2:], rec)
        self.assertEqual([s.step for s in open_run(path).steps], [1, 3])
