# SPDX-License-Identifier: MIT
"""The recorder in one process: values against a plain recomputation, training unchanged, files
never overwritten, divergence recorded, kill -9 safe, clear errors."""
import math
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import unittest
from unittest import mock

import torch
import torchvision

import replicascope
from replicascope import Recorder, RecorderError, RunFileError, open_run, runfile
from replicascope import step_rows

from helpers import Inputs, Reused, TempDirTest, batches, reference_stats, small_net, train


def close(a, b, tolerance=1e-6):
    return torch.allclose(a, b, rtol=tolerance, atol=tolerance * 1e-3)


class RecordedValues(TempDirTest):
    def test_a_torchvision_models_statistics_equal_the_recomputed_ones(self):
        torch.manual_seed(1)
        model = torchvision.models.resnet18(num_classes=10)
        inputs = Inputs(model)
        running = []
        bns = {n: m for n, m in model.named_modules() if isinstance(m, torch.nn.BatchNorm2d)}
        keep = lambda: running.append({n: (m.running_mean.double().clone(),
                                           m.running_var.double().clone()) for n, m in bns.items()})
        seen = []
        path = self.path("resnet18.sqlite")
        with Recorder(path, model, dataset="random") as rec:
            train(model, batches(2, 8, (3, 32, 32)), rec,
                  after_step=lambda: (seen.append(inputs.take()), keep()))
        run = open_run(path)
        self.assertEqual(len(run.steps), 2)
        self.assertEqual(sorted(run.layers), sorted(bns))
        self.assertEqual(run.metadata["batch"], "8")
        for name in bns:
            stats = run.statistics(name)
            self.assertEqual(list(stats), ["copy 0", "synchronized", "running"])
            for step in range(2):
                count, mean, var = reference_stats(seen[step][name][0])
                for label in ("copy 0", "synchronized"):
                    self.assertEqual(int(stats[label].count[step]), count)
                    self.assertTrue(close(stats[label].mean[step], mean), (name, label, step))
                    self.assertTrue(close(stats[label].var[step], var), (name, label, step))
                self.assertTrue(torch.equal(stats["running"].mean[step], running[step][name][0]))
                self.assertTrue(torch.equal(stats["running"].var[step], running[step][name][1]))
            # One copy: nothing to diverge from.
            self.assertEqual([d for _, d in run.divergence(name)], [0.0, 0.0])
        steps = run.steps
        self.assertTrue(all(0 <= s.accuracy <= 1 and math.isfinite(s.loss) for s in steps))
        self.assertEqual(run.modules[0]["name"], "")
        self.assertEqual(len(run.modules), len(list(model.named_modules())))
        self.assertEqual(run.wiring["columns"], [("cpu", 0, 0)])

    def test_a_layer_called_twice_has_two_sync_points(self):
        torch.manual_seed(2)
        model = Reused()
        inputs = Inputs(model)
        path = self.path("reused.sqlite")
        seen = []
        with Recorder(path, model) as rec:
            train(model, batches(1, 6, (3, 5, 5), classes=3), rec,
                  after_step=lambda: seen.append(inputs.take()))
        run = open_run(path)
        for sync_point in (0, 1):
            stats = run.statistics("bn", sync_point)
            count, mean, var = reference_stats(seen[0]["bn"][sync_point])
            self.assertEqual(int(stats["synchronized"].count[0]), count)
            self.assertTrue(close(stats["synchronized"].mean[0], mean))
            self.assertTrue(close(stats["synchronized"].var[0], var))
        # Running statistics after each call: the second call moved them again.
        first, second = run.statistics("bn", 0)["running"], run.statistics("bn", 1)["running"]
        self.assertFalse(torch.equal(first.mean, second.mean))
        self.assertTrue(torch.equal(second.mean[0], model.bn.running_mean.double()))

    def test_eval_forwards_between_steps_are_not_recorded(self):
        model = small_net()
        path = self.path("eval.sqlite")
        data = batches(2, 4)
        with Recorder(path, model) as rec:
            def evaluate():
                model.eval()
                with torch.no_grad():
                    model(torch.randn(9, 3, 16, 16))
                model.train()
            train(model, data, rec, after_step=evaluate)
        counts = open_run(path).statistics("1")["copy 0"].count.tolist()
        self.assertEqual(counts, [4 * 16 * 16] * 2)


class FirstCalledFirst(torch.nn.Module):
    """Defines `late` before `early` but calls `early` first."""

    def __init__(self):
        super().__init__()
        self.late = torch.nn.BatchNorm1d(3)
        self.early = torch.nn.BatchNorm1d(3)

    def forward(self, x):
        return self.late(self.early(x))


class LayerOrder(TempDirTest):
    def test_layers_are_numbered_in_the_order_they_ran_as_the_cpp_writer_does(self):
        model = FirstCalledFirst()
        path = self.path("order.sqlite")
        with Recorder(path, model) as rec:
            model(torch.randn(4, 3))
            rec.step(loss=1.0)
        self.assertEqual(open_run(path).layers, ["early", "late"])


class FailedWrites(TempDirTest):
    def test_a_step_that_fails_to_write_leaves_the_next_steps_working(self):
        model = small_net()
        path = self.path("flaky.sqlite")
        data = batches(3, 4)
        with Recorder(path, model) as rec:
            real_write_point = step_rows.write_point
            calls = []

            def fail_at_the_second_point(*args):
                calls.append(args)
                if len(calls) == 2:
                    raise sqlite3.OperationalError("disk I/O error (simulated)")
                return real_write_point(*args)

            train(model, data[:1], rec)  # step 1 written
            with mock.patch.object(step_rows, "write_point", fail_at_the_second_point):
                with self.assertRaisesRegex(RunFileError, "cannot write a step: disk I/O error"):
                    train(model, data[1:2], rec)
            train(model, data[2:], rec)  # step 3: the layers the failed step named still work
        run = open_run(path)
        self.assertEqual([s.step for s in run.steps], [1, 3])
        self.assertEqual(run.layers, ["1", "4", "9"])
        for layer in run.layers:
            self.assertEqual([s for s, _ in run.divergence(layer)], [1, 3])


class TrainingUnchanged(TempDirTest):
    def test_outputs_gradients_and_weights_are_bit_identical_with_and_without_it(self):
        data = batches(3, 8)
        results = []
        for record in (False, True):
            torch.manual_seed(3)
            model = small_net()
            rec = Recorder(self.path("same.sqlite"), model) if record else None
            outputs, grads = train(model, data, rec)
            if rec:
                rec.close()
            results.append((outputs, grads, [t.clone() for t in model.state_dict().values()]))
        (o1, g1, w1), (o2, g2, w2) = results
        self.assertTrue(all(torch.equal(a, b) for a, b in zip(o1, o2)))
        self.assertTrue(all(torch.equal(a, b) for s1, s2 in zip(g1, g2) for a, b in zip(s1, s2)))
        self.assertTrue(all(torch.equal(a, b) for a, b in zip(w1, w2)))

    def test_close_removes_the_hooks(self):
        model = small_net()
        rec = Recorder(self.path("hooks.sqlite"), model)
        rec.close()
        self.assertTrue(all(not m._forward_hooks for m in model.modules()))
        with self.assertRaisesRegex(RecorderError, "the recorder is closed"):
            rec.step(loss=1.0)


class Divergence(TempDirTest):
    def test_non_finite_losses_and_statistics_are_recorded_and_marked(self):
        torch.manual_seed(4)
        model = small_net()
        path = self.path("nan.sqlite")
        with Recorder(path, model) as rec:
            train(model, batches(4, 4), rec, lr=1e30)
        steps = open_run(path).steps
        marked = [s for s in steps if s.nonfinite]
        self.assertTrue(marked, steps)
        self.assertIn("loss", marked[-1].nonfinite)
        self.assertIn("statistics", marked[-1].nonfinite)
        self.assertTrue(math.isnan(marked[-1].loss))
        db = sqlite3.connect(path)
        self.assertEqual(db.execute("SELECT loss IS NULL FROM steps WHERE step = ?",
                                    (marked[-1].step,)).fetchone()[0], 1)


class Files(TempDirTest):
    def test_an_existing_file_is_never_overwritten(self):
        path = self.path("taken.sqlite")
        with open(path, "wb") as f:
            f.write(b"someone else's bytes")
        with self.assertRaisesRegex(RecorderError, "the file exists; runs are not overwritten"):
            Recorder(path, small_net())
        with open(path, "rb") as f:
            self.assertEqual(f.read(), b"someone else's bytes")

    def test_an_in_memory_name_is_refused_and_leaves_no_file(self):
        cwd = os.getcwd()
        os.chdir(self.dir)
        try:
            for name in (":memory:", "file:run.sqlite?mode=memory"):
                with self.assertRaisesRegex(RecorderError, "a run is a file, and SQLite reads"):
                    Recorder(name, small_net())
            self.assertEqual(os.listdir("."), [])
        finally:
            os.chdir(cwd)

    def test_a_writer_that_loses_the_creation_race_leaves_the_winners_file(self):
        path = self.path("race.sqlite")
        real_move = runfile._move_into_place

        def another_process_first(source, target):
            with open(target, "wb") as f:
                f.write(b"winner")
            return real_move(source, target)

        with mock.patch.object(runfile, "_move_into_place", another_process_first):
            with self.assertRaisesRegex(RecorderError, "another process created it first"):
                Recorder(path, small_net())
        with open(path, "rb") as f:
            self.assertEqual(f.read(), b"winner")
        self.assertEqual(os.listdir(self.dir), ["race.sqlite"])

    def test_clear_errors(self):
        with self.assertRaisesRegex(RecorderError, r"cannot create it: No such file or directory "
                                                   r"\(is the folder there and writable\?\)"):
            Recorder(self.path("missing/r.sqlite"), small_net())
        with self.assertRaisesRegex(RecorderError, "has no BatchNorm layer to record"):
            Recorder(self.path("r.sqlite"), torch.nn.Linear(2, 2))
        with self.assertRaisesRegex(RecorderError, "expected a file name"):
            Recorder("", small_net())
        with self.assertRaisesRegex(RecorderError, "the recorder could not start: ValueError"):
            Recorder(self.path("nul\0.sqlite"), small_net())
        with self.assertRaisesRegex(RecorderError, "metadata key 'processes' is the recorder's own"):
            Recorder(self.path("r.sqlite"), small_net(), metadata={"processes": 9})
        self.assertEqual(os.listdir(self.dir), [])
        with self.assertRaisesRegex(RunFileError, "no such file"):
            open_run(self.path("none.sqlite"))
        bad = self.path("bad.sqlite")
        with open(bad, "w") as f:
            f.write("not a database")
        with self.assertRaisesRegex(RunFileError, "bad.sqlite"):
            open_run(bad)

    def test_data_parallel_is_unwrapped(self):
        model = torch.nn.DataParallel(small_net())
        path = self.path("dp.sqlite")
        with Recorder(path, model) as rec:
            train(model, batches(1, 4), rec)
        run = open_run(path)
        self.assertEqual(run.metadata["wrapper"], "DataParallel")
        self.assertEqual(run.layers, ["1", "4", "9"])  # the module's own names, not module.1

    def test_a_killed_training_keeps_every_finished_step(self):
        path = self.path("killed.sqlite")
        script = textwrap.dedent(f"""
            import sys, torch
            sys.path[:0] = {[os.path.dirname(os.path.dirname(replicascope.__file__)),
                             os.path.dirname(__file__)]!r}
            from replicascope import Recorder
            from helpers import small_net, batches
            model = small_net()
            opt = torch.optim.SGD(model.parameters(), lr=0.01)
            rec = Recorder({path!r}, model, detail_steps=4)
            for step, (x, y) in enumerate(batches(1000, 4)):
                loss = torch.nn.functional.cross_entropy(model(x), y)
                loss.backward(); opt.step(); opt.zero_grad()
                rec.step(loss=loss.item())
                print(step + 1, flush=True)
        """)
        child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        finished = 0
        while finished < 5:
            finished = int(child.stdout.readline())
        time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        run = open_run(path)
        steps = run.steps
        self.assertGreaterEqual(len(steps), 5)
        self.assertEqual([s.step for s in steps], list(range(1, len(steps) + 1)))
        recorded = list(range(1, len(steps) + 1))
        detail = run.detail_steps
        policy = runfile.DetailPolicy(4)  # the steps it keeps: the same as the writer's at the kill
        for step in recorded:
            policy.admit(step)
        self.assertEqual(detail, policy.kept())
        for layer in run.layers:  # every recorded step is whole: each layer has every step
            self.assertEqual([s for s, _ in run.divergence(layer)], recorded)
            for series in run.summaries(layer).values():
                self.assertEqual(series.steps.tolist(), recorded)
            for series in run.statistics(layer).values():
                self.assertEqual(series.steps.tolist(), detail)


class BoundedDetail(TempDirTest):
    def test_the_policy_keeps_its_bound_over_a_hundred_thousand_steps(self):
        for capacity, every in ((1, 1), (16, 1), (1000, 1), (50, 7)):
            policy, kept = runfile.DetailPolicy(capacity, every), set()
            for step in range(1, 100_001):
                keep, evicted = policy.admit(step)
                for old in evicted:
                    kept.remove(old)
                if keep:
                    kept.add(step)
                self.assertLessEqual(len(kept), capacity)
            self.assertEqual(sorted(kept), policy.kept())
            self.assertEqual(min(kept), 1)
            self.assertTrue(all((s - 1) % every == 0 for s in kept))
            gaps = [b - a for a, b in zip(sorted(kept), sorted(kept)[1:])]
            self.assertLessEqual(max(gaps, default=0), policy.stride)

    def test_kept_steps_equal_what_all_records_and_every_step_has_its_summary(self):
        paths = {}
        for detail in ("all", 5):
            torch.manual_seed(3)
            model = small_net()
            paths[detail] = self.path(f"{detail}.sqlite")
            with Recorder(paths[detail], model, detail_steps=detail) as rec:
                train(model, batches(20, 6), rec)
        full, sampled = open_run(paths["all"]), open_run(paths[5])
        self.assertEqual(full.detail_steps, list(range(1, 21)))
        kept = sampled.detail_steps
        self.assertLessEqual(len(kept), 5)
        self.assertEqual(sampled.metadata["detail_steps"], "5")
        self.assertEqual(sampled.metadata["detail_capacity"], "5")
        for layer in full.layers:
            everything, sample = full.statistics(layer), sampled.statistics(layer)
            for label, series in sample.items():
                self.assertEqual(series.steps.tolist(), kept)
                rows = [s - 1 for s in kept]
                self.assertTrue(torch.equal(series.mean, everything[label].mean[rows]), label)
                self.assertTrue(torch.equal(series.var, everything[label].var[rows]), label)
            summaries = sampled.summaries(layer)
            self.assertEqual(list(summaries), list(everything))
            for label, series in summaries.items():
                self.assertEqual(series.steps.tolist(), list(range(1, 21)))
                self.assertTrue(torch.allclose(series.mean, everything[label].mean.mean(1),
                                               rtol=1e-6, atol=1e-7), label)

    def test_auto_detail_is_estimated_from_the_first_step_that_records_a_layer(self):
        capacities = []
        for empty_first_step in (False, True):
            model = torch.nn.Sequential(torch.nn.BatchNorm1d(20000))
            path = self.path(f"wide_{empty_first_step}.sqlite")
            with Recorder(path, model) as rec:
                if empty_first_step:
                    rec.step(loss=1.0)  # no forward: nothing to estimate from
                for _ in range(3):
                    model(torch.randn(2, 20000))
                    rec.step()
            run = open_run(path)
            capacities.append(int(run.metadata["detail_capacity"]))
            policy = runfile.DetailPolicy(capacities[-1])  # as if it had been made at step 1
            for step in range(1, len(run.steps) + 1):
                policy.admit(step)
            self.assertEqual(run.detail_steps, policy.kept())
        # 20000 channels: about 650 kB of channel_stats rows a step, 100 MB / 650 kB steps.
        self.assertEqual(capacities, [154, 154])

    def test_the_first_nonfinite_step_and_the_one_before_keep_their_channels(self):
        # As the C++ writer (RunDetail.TheFirstNonFiniteStepAndTheOneBeforeKeepTheirChannels):
        # pinned outside the policy, whose other choices stay those of a finite run.
        steps, first_nan, paths = 60, 31, {}
        for detail in ("all", 4):
            torch.manual_seed(3)
            model = small_net()
            optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
            paths[detail] = self.path(f"nan_{detail}.sqlite")
            with Recorder(paths[detail], model, detail_steps=detail) as rec:
                for step, (images, labels) in enumerate(batches(steps, 6), start=1):
                    loss = torch.nn.functional.cross_entropy(model(images), labels)
                    loss.backward()
                    optimizer.step()
                    optimizer.zero_grad()
                    planted = step in (first_nan, first_nan + 5)
                    rec.step(loss=float("nan") if planted else loss.item())
        full, sampled = open_run(paths["all"]), open_run(paths[4])
        grids = runfile.DetailPolicy(4)
        for step in range(1, steps + 1):
            grids.admit(step)
        self.assertFalse({first_nan - 1, first_nan} & set(grids.kept()), "proves nothing")
        expected = sorted(grids.kept() + [first_nan - 1, first_nan])
        self.assertEqual(sampled.detail_steps, expected)
        self.assertEqual([s.step for s in sampled.steps if s.detail], expected)
        for layer in full.layers:
            everything = full.statistics(layer)
            for label, series in sampled.statistics(layer).items():
                self.assertEqual(series.steps.tolist(), expected)
                rows = [s - 1 for s in expected]
                self.assertTrue(torch.equal(series.mean, everything[label].mean[rows]), label)
                self.assertTrue(torch.equal(series.var, everything[label].var[rows]), label)

    def test_bad_detail_options_say_what_they_expect(self):
        for bad in (0, -2, "some", 2.5, True):
            with self.assertRaisesRegex(ValueError, "detail_steps expects"):
                Recorder(self.path("bad.sqlite"), small_net(), detail_steps=bad)
        with self.assertRaisesRegex(ValueError, "detail_every expects"):
            Recorder(self.path("bad.sqlite"), small_net(), detail_every=0)
        self.assertFalse(os.path.exists(self.path("bad.sqlite")))


if __name__ == "__main__":
    unittest.main()
