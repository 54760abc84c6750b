# SPDX-License-Identifier: MIT
"""The run file as the contract between writers (docs/run-format.md): the package reads what the
C++ writer wrote, and both writers make the same schema. Needs replicascope-cli: the path in
REPLICASCOPE_CLI (ctest sets it), else the test is skipped."""
import os
import sqlite3
import subprocess
import unittest

import torch

from replicascope import Recorder, open_run, runfile
from replicascope.moments import Moments, divergence, merge

from helpers import TempDirTest, batches, small_net, train

CLI = os.environ.get("REPLICASCOPE_CLI", "")


@unittest.skipUnless(os.access(CLI, os.X_OK), "REPLICASCOPE_CLI is not set to replicascope-cli")
class CppWrittenRuns(TempDirTest):
    def cpp_run(self, steps=3, *flags, name="cpp.sqlite"):
        path = self.path(name)
        subprocess.run([CLI, "train", "--steps", str(steps), "--data", "synthetic", "--devices",
                        "cpu:2", "--batch", "7", "--seed", "4", "--run", path, *flags],
                       check=True, stdout=subprocess.DEVNULL)
        return path

    def test_the_package_reads_a_cpp_run_and_its_figures_add_up(self):
        run = open_run(self.cpp_run())
        self.assertEqual(run.schema_version, runfile.SCHEMA_VERSION)
        self.assertEqual([s.step for s in run.steps], [1, 2, 3])
        self.assertEqual(run.metadata["devices"], "cpu:2")
        self.assertEqual(len(run.wiring["columns"]), 2)
        for layer in run.layers:
            stats = run.statistics(layer)
            self.assertEqual(list(stats), ["copy 0", "copy 1", "synchronized", "running"])
            recorded = dict(run.divergence(layer))
            for step in range(3):
                copies = [Moments(stats[c].count[step], stats[c].mean[step],
                                  stats[c].var[step] * stats[c].count[step])
                          for c in ("copy 0", "copy 1")]
                self.assertEqual(copies[1].count * 4, copies[0].count * 3)  # 7 samples: 4 + 3
                merged = merge(copies)
                sync = stats["synchronized"]
                self.assertEqual(int(sync.count[step]), merged.count)
                # The copies are kept in float32, the synchronized statistics in float64.
                self.assertTrue(torch.allclose(sync.mean[step], merged.mean, rtol=1e-6, atol=1e-7))
                self.assertTrue(torch.allclose(sync.var[step], merged.var, rtol=1e-6, atol=1e-7))
                self.assertAlmostEqual(recorded[step + 1], divergence(copies, merged)[0], places=5)
            summaries = run.summaries(layer)
            for label in ("copy 0", "synchronized", "running"):
                self.assertTrue(torch.allclose(summaries[label].mean, stats[label].mean.mean(1),
                                               rtol=1e-6, atol=1e-7))

    def test_both_writers_keep_the_same_steps(self):
        cpp = open_run(self.cpp_run(30, "--detail-steps", "6", name="sampled.sqlite"))
        policy = runfile.DetailPolicy(6)
        for step in range(1, 31):
            policy.admit(step)
        self.assertEqual(cpp.detail_steps, policy.kept())
        self.assertEqual(len(cpp.summaries(cpp.layers[0])["copy 0"].steps), 30)
        python_run = self.path("py_sampled.sqlite")
        model = small_net()
        with Recorder(python_run, model, detail_steps=6) as rec:
            train(model, batches(30, 4), rec)
        self.assertEqual(open_run(python_run).detail_steps, policy.kept())

    def test_both_writers_make_the_same_schema(self):
        python_run = self.path("py.sqlite")
        model = small_net()
        with Recorder(python_run, model) as rec:
            train(model, batches(1, 4), rec)
        query = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name"
        schemas = [list(sqlite3.connect(p).execute(query)) for p in (self.cpp_run(), python_run)]
        self.assertEqual(schemas[0], schemas[1])
        for pragma in ("user_version", "application_id"):
            values = [sqlite3.connect(p).execute(f"PRAGMA {pragma}").fetchone()[0]
                      for p in (self.path("cpp.sqlite"), python_run)]
            self.assertEqual(values[0], values[1], pragma)
        self.assertEqual(values[0], runfile.APPLICATION_ID)
