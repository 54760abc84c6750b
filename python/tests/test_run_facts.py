# SPDX-License-Identifier: MIT
"""What version 6 records beside the statistics: each layer's momentum and eps, and BatchNorm
calls in eval mode during training (a frozen layer told from an unused one)."""
import os
import subprocess
import sys

import torch

from replicascope import Recorder, open_run, runfile

from helpers import TempDirTest, batches, small_net, train


class LayerSettings(TempDirTest):
    def test_momentum_and_eps_are_each_layers_and_none_stays_none(self):
        model = small_net()
        model[1].momentum, model[1].eps = None, 1e-3
        model[4].momentum = 0.01
        path = self.path("settings.sqlite")
        with Recorder(path, model) as rec:
            train(model, batches(2, 4), rec)
        run = open_run(path)
        self.assertEqual(run.schema_version, runfile.SCHEMA_VERSION)
        self.assertEqual(run.layer_settings, {"1": (None, 1e-3), "4": (0.01, 1e-5),
                                              "9": (0.1, 1e-5)})


class Deviations(TempDirTest):
    def test_kept_in_sixty_fourths_clamped_and_not_finite_as_itself_as_the_cpp_writer(self):
        u = [0.0, 0.1, -0.1, 5.0, -5.0, float("nan"), float("inf"), 0.5 / 64, -1.5 / 64]
        [(copy, back)] = runfile.deviations_of_row(*runfile.deviation_row([(-4, u)]))
        self.assertEqual(copy, -4)
        self.assertEqual(back[:5] + back[7:], [0.0, 6 / 64, -6 / 64, 127 / 64, -127 / 64,
                                               1 / 64, -2 / 64])  # halves away from 0
        self.assertTrue(all(v != v for v in back[5:7]))
        self.assertIsNone(runfile.deviations_of_row(b"\0" * 8, b"\0" * 3))  # 2 series, 3 values

    def test_every_step_keeps_the_first_three_layers_of_each_copy(self):
        model = torch.nn.Sequential(small_net(), torch.nn.Linear(10, 10), torch.nn.BatchNorm1d(10))
        path = self.path("deviations.sqlite")
        with Recorder(path, model) as rec:
            train(model, batches(3, 4), rec)
        run = open_run(path)
        self.assertEqual(len(run.layers), 4)
        for layer in run.layers[:3]:  # one copy: its deviation from itself is 0
            steps, u = run.deviations(layer)["copy 0"]
            self.assertEqual(steps.tolist(), [1, 2, 3])
            self.assertEqual(float(u.abs().max()), 0.0)
        self.assertEqual(run.deviations(run.layers[3]), {})


class EvalCalls(TempDirTest):
    def test_a_frozen_layer_is_counted_each_step_and_has_no_statistics(self):
        model = small_net()
        path = self.path("frozen.sqlite")
        data = batches(3, 4)

        def freeze():  # as a fine-tuning script that freezes a layer after model.train()
            model.train()
            model[4].eval()
        freeze()
        with Recorder(path, model) as rec:
            train(model, data, rec, after_step=freeze)
        run = open_run(path)
        self.assertEqual(run.eval_calls, [(1, "4", 1), (2, "4", 1), (3, "4", 1)])
        self.assertEqual(run.layers, ["1", "9"])  # it recorded no training statistics

    def test_validation_between_steps_counts_toward_the_next_step(self):
        model = small_net()
        path = self.path("validation.sqlite")

        def evaluate():
            model.eval()
            with torch.no_grad():
                model(torch.randn(5, 3, 16, 16))
                model(torch.randn(5, 3, 16, 16))
            model.train()
        with Recorder(path, model) as rec:
            train(model, batches(2, 4), rec, after_step=evaluate)
        run = open_run(path)
        # Step 2's window saw both validation forwards after step 1; step 1's none. Each layer
        # also trained in step 2, which the findings tell apart from a frozen layer.
        self.assertEqual(run.eval_calls, [(2, "1", 2), (2, "4", 2), (2, "9", 2)])
        self.assertEqual(run.layers, ["1", "4", "9"])


class EveryRanksRunningStatistics(TempDirTest):
    def test_ddp_ranks_running_statistics_are_each_ranks_own(self):
        """2 ranks of DDP (write_ddp_run.py): with the broadcast, rank 1's running statistics
        after a step differ from rank 0's by exactly momentum x the ranks' batch means'
        difference (both started from rank 0's); without it, by more."""
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "write_ddp_run.py")
        for kind, broadcast in (("healthy", True), ("healthy-own-buffers", False)):
            path = self.path(f"{kind}.sqlite")
            subprocess.run([sys.executable, script, kind, "20", path], check=True)
            series = open_run(path).statistics("1")
            self.assertIn("running, rank 1", series)
            other, mine = series["running, rank 1"], series["running"]
            expected = 0.1 * (series["rank 1"].mean - series["rank 0"].mean)
            residual = (other.mean - mine.mean - expected)[1:].abs().max().item()  # from step 2
            if broadcast:
                self.assertLess(residual, 1e-5)
            else:
                self.assertGreater(residual, 1e-3)
