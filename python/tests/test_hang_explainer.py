# SPDX-License-Identifier: MIT
"""The hang explainer on 2 ranks over Gloo on this CPU, with a user's own synchronized BatchNorm
(a _BatchNorm subclass that all-reduces its statistics; PyTorch's SyncBatchNorm refuses CPU
tensors): a rank stuck before a step, a rank that skips a block, validation on rank 0 only.
Every rank's stderr goes to a file, each line stamped with the time it was written."""
import contextlib
import datetime
import io
import json
import os
import sqlite3
import subprocess
import sys
import time
import traceback
import unittest
from unittest import mock

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from replicascope import Recorder, open_run
from replicascope import hang_watch
from replicascope.hang_watch import HangWatch, explain
from replicascope.sync_ledger import SyncLedger

from helpers import TempDirTest
from test_distributed import finish, free_port

STEPS, PER_RANK, WATCH = 4, 8, 2.0
CLI = os.environ.get("REPLICASCOPE_CLI", "")  # ctest sets it


class AllReduceBatchNorm(torch.nn.BatchNorm1d):
    """Normalizes with the statistics of every rank's batch: one all_reduce of the sums per
    call (the gradient is the local one's: enough for a test of where ranks wait)."""

    def forward(self, x):
        if not self.training:
            return super().forward(x)
        with torch.no_grad():
            sums = torch.cat([x.sum(0), (x * x).sum(0), torch.tensor([float(x.shape[0])])])
            dist.all_reduce(sums)
            c = x.shape[1]
            n = sums[-1]
            mean, var = sums[:c] / n, sums[c:2 * c] / n - (sums[:c] / n) ** 2
            self.running_mean.mul_(0.9).add_(0.1 * mean)
            self.running_var.mul_(0.9).add_(0.1 * var * n / (n - 1))
        return (x - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias


class Net(torch.nn.Module):
    def __init__(self, norm):
        super().__init__()
        self.fc1, self.bn1 = torch.nn.Linear(6, 8), norm(8)
        self.fc2, self.bn2 = torch.nn.Linear(8, 8), norm(8)
        self.fc3, self.bn3 = torch.nn.Linear(8, 4), norm(4)
        self.skip_block = False

    def forward(self, x):
        x = torch.relu(self.bn1(self.fc1(x)))
        if not self.skip_block:
            x = torch.relu(self.bn2(self.fc2(x)))
        return self.bn3(self.fc3(x))


class StampedLines:
    """stderr to a file, every line with the time it was written."""

    def __init__(self, path):
        self.file = open(path, "a", buffering=1)

    def write(self, text):
        for line in filter(None, text.splitlines()):
            self.file.write(f"{time.time():.3f} {line}\n")

    def flush(self):
        self.file.flush()


def worker(rank, port, out, scenario):
    sys.stderr = StampedLines(os.path.join(out, f"stderr{rank}.txt"))
    try:
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        torch.set_num_threads(1)
        dist.init_process_group("gloo", rank=rank, world_size=2,
                                timeout=datetime.timedelta(seconds=20))
        torch.manual_seed(1)
        validation = scenario == "validation_on_rank_0"
        model = Net(torch.nn.BatchNorm1d if validation else AllReduceBatchNorm)
        wrapped = torch.nn.parallel.DistributedDataParallel(model) if validation else model
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
        g = torch.Generator().manual_seed(rank)
        steps, error = 0, None
        try:
            with Recorder(os.path.join(out, "run.sqlite"), wrapped, hang_timeout=WATCH) as rec:
                for step in range(1, STEPS + 1):
                    if scenario == "stuck_before_a_step" and rank == 1 and step == 3:
                        print(f"stall begins at step {step}", file=sys.stderr)
                        time.sleep(12)  # its data loading: the other rank waits in bn1
                    model.skip_block = scenario == "skips_a_block" and rank == 1 and step == 2
                    loss = wrapped(torch.randn(PER_RANK, 6, generator=g)).pow(2).mean()
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    rec.step(loss=loss)
                    steps = step
                    if validation and rank == 0 and step == 2:
                        print("stall begins at validation", file=sys.stderr)
                        model.eval()  # with gradients on: DDP broadcasts buffers every forward
                        for _ in range(2):
                            wrapped(torch.randn(PER_RANK, 6, generator=g))
                        model.train()
        except Exception as e:  # what the training does, recorder or not
            error = f"{type(e).__name__}: {e}"
        torch.save({"steps": steps, "error": error}, os.path.join(out, f"rank{rank}.pt"))
        if error is None:
            finish()
        os._exit(1)
    except Exception:
        traceback.print_exc()
        raise


class HangExplainer(TempDirTest):
    def launch(self, scenario):
        context = mp.start_processes(worker, args=(free_port(), self.dir, scenario), nprocs=2,
                                     join=False, start_method="spawn")
        # A rank may end in an error, or be aborted by Gloo: wait for each, kill what is left.
        deadline = time.monotonic() + 150
        for process in context.processes:
            process.join(max(1.0, deadline - time.monotonic()))
        for process in context.processes:
            if process.is_alive():
                process.kill()
        self.exitcodes = [p.exitcode for p in context.processes]
        results = []
        for r in range(2):
            path = os.path.join(self.dir, f"rank{r}.pt")
            results.append(torch.load(path) if os.path.exists(path) else None)
        return results

    def lines(self, rank):
        path = os.path.join(self.dir, f"stderr{rank}.txt")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [(float(line.split(" ", 1)[0]), line.split(" ", 1)[1].rstrip("\n"))
                    for line in f if line[:1].isdigit()]

    def said(self, rank):
        return [(t, text) for t, text in self.lines(rank) if text.startswith("replicascope:")]

    def events(self):
        with sqlite3.connect(os.path.join(self.dir, "run.sqlite")) as db:
            return db.execute("SELECT step, kind, layer, sync_point, copy, message FROM events"
                              ).fetchall()

    def stall_began(self, rank):
        return next(t for t, text in self.lines(rank) if text.startswith("stall begins"))

    def test_a_rank_stuck_before_a_step_is_named_and_the_training_goes_on(self):
        results = self.launch("stuck_before_a_step")
        # The training itself is unchanged: rank 1 came back and every step ran.
        self.assertEqual([r["steps"] for r in results], [STEPS, STEPS], results)
        said = self.said(0)
        self.assertEqual(len(said), 1, said)
        at, text = said[0]
        self.assertIn("rank 0 waits in bn1, call 1 of step 3", text)
        self.assertRegex(text, r"rank 1 has not entered a sync point of step 3 \(its last: "
                               r"step 2 ended \d+ s ago\)")
        self.assertLess(at - self.stall_began(1), WATCH + 30)
        self.assertEqual(self.said(1), [])  # rank 0 speaks for both
        [(step, kind, layer, sync_point, copy, message)] = self.events()
        self.assertEqual((step, kind, layer, sync_point, copy),
                         (3, "sync-points-disagree", "bn1", 0, -4))  # copy: rank 1's code
        self.assertIn("rank 1 has not entered", message)
        self.assertEqual([s.step for s in open_run(os.path.join(self.dir, "run.sqlite")).steps],
                         list(range(1, STEPS + 1)))
        if os.access(CLI, os.X_OK):  # diagnose finds it in the run, where the recorder put it
            done = subprocess.run([CLI, "diagnose", os.path.join(self.dir, "run.sqlite"),
                                   "--json"], capture_output=True, text=True)
            [hang] = [f for f in json.loads(done.stdout) if f["kind"] == "sync-points-disagree"]
            # a warning: the step then completed (a slow rank, which caught up)
            self.assertEqual((hang["severity"], hang["layer"], hang["first_step"],
                              hang["series"]), ("warning", "bn1", 3, ["rank 1"]))
            self.assertIn("; the step then completed", hang["evidence"])
            self.assertNotIn("sync-points-disagree", done.stderr)  # checked, not "not checked"

    def test_a_rank_that_skips_a_block_is_aborted_by_gloo_and_the_live_rank_says_where(self):
        results = self.launch("skips_a_block")
        # Rank 1 skipped bn2: its all_reduce for bn3 (9 values) met rank 0's for bn2 (17), and
        # Gloo's size check aborted rank 1's process. Rank 0's collective failed in turn.
        self.assertEqual(self.exitcodes[1], -6, (results, self.lines(1)))
        self.assertEqual(results[0]["steps"], 1, results)
        self.assertIn("RuntimeError", results[0]["error"])
        [(_, text)] = self.said(0)
        self.assertRegex(text, r"^replicascope: rank 0's step 2 ended inside bn2, call 1: "
                               r"RuntimeError: .* \(the collective there failed")
        [(step, kind, layer, sync_point, copy, message)] = self.events()
        self.assertEqual((step, kind, layer, sync_point, copy),
                         (2, "sync-points-disagree", "bn2", 0, None))
        self.assertEqual(f"replicascope: {message}", text)

    def test_validation_on_rank_0_only_stalls_at_ddps_buffer_broadcast(self):
        results = self.launch("validation_on_rank_0")
        # Its second validation forward broadcasts the buffers again (gradients on: DDP syncs
        # them before every such forward); rank 1 is already in its backward's all-reduce.
        said = self.said(0)
        self.assertEqual(len(said), 2, said)
        (at, hang), (_, failure) = said
        self.assertRegex(hang, r"rank 0 waits in DDP's buffer broadcast, call 2 of step 3; "
                               r"rank 1 is in no sync point of step 3 \(it ended DDP's forward "
                               r"\d+ s ago: in the backward")
        self.assertLess(at - self.stall_began(0), WATCH + 30)
        # Gloo's timeout then ends both ranks, as without the recorder; rank 0 says where it
        # was, and the run keeps one event for the one place.
        self.assertIn("rank 0's step 3 ended inside DDP's buffer broadcast, call 2", failure)
        self.assertEqual([r["steps"] for r in results], [2, 2], results)
        [(step, kind, layer, sync_point, copy, message)] = self.events()
        self.assertEqual((step, kind, layer, sync_point, copy),
                         (3, "sync-points-disagree", None, None, -4))
        self.assertEqual(f"replicascope: {message}", hang)


def ledger(rank, step, inside=(), calls=0, last=None, step_ended=None, now=100.0):
    return {"rank": rank, "step": step, "inside": [list(i) for i in inside], "calls": calls,
            "last": last, "step_ended": step_ended, "now": now}


class Explain(unittest.TestCase):
    """The sentence from the ranks' ledgers, as the issue words it."""

    def test_ranks_waiting_together_and_a_rank_that_never_arrived(self):
        sentence, where = explain({
            0: ledger(0, 57, [(0, "layer4.1.bn2", 3, 90.0)], calls=9),
            1: ledger(1, 57, step_ended=39.0),
            2: ledger(2, 57, [(0, "layer4.1.bn2", 3, 91.0)], calls=9)}, 3)
        self.assertEqual(sentence, "ranks 0 and 2 wait in layer4.1.bn2, call 3 of step 57; "
                                   "rank 1 has not entered a sync point of step 57 (its last: "
                                   "step 56 ended 61 s ago)")
        self.assertEqual(where, {"step": 57, "label": "layer4.1.bn2", "call": 3, "culprit": 1})

    def test_ranks_in_different_places_and_one_that_did_not_answer(self):
        sentence, where = explain({
            0: ledger(0, 2, [(0, "bn2", 1, 99.0)], calls=2),
            1: ledger(1, 2, [(0, "bn3", 1, 99.0)], calls=2)}, 3)
        self.assertEqual(sentence, "rank 0 waits in bn2, call 1 of step 2; rank 1 waits in bn3, "
                                   "call 1 of step 2; rank 2 did not answer (gone, or still "
                                   "running)")
        self.assertEqual(where["culprit"], 2)  # the one that did not come first, then elsewhere

    def test_a_rank_past_its_sync_points_and_the_copies_of_one_rank(self):
        sentence, _ = explain({
            0: ledger(0, 4, [(0, "bn", 2, 99.0), (1, "bn", 1, 99.0)], calls=3),
            1: ledger(1, 4, calls=2, last=["bn", 2, 95.0])}, 2)
        self.assertEqual(sentence, "rank 0 (copy 0) waits in bn, call 2 of step 4; rank 0 (copy "
                                   "1) waits in bn, call 1 of step 4; rank 1 is in no sync point "
                                   "of step 4 (its last: bn, call 2, left 5 s ago)")

    def test_no_rank_inside_a_sync_point_is_no_hang_at_one(self):
        self.assertIsNone(explain({0: ledger(0, 5, step_ended=10.0),
                                   1: ledger(1, 5, calls=1, last=["bn", 1, 50.0])}, 2))


class Gather(unittest.TestCase):
    """The watch's exchange through a store: an answer of an earlier, resolved stall is not
    taken for this one, and two recorders (two tokens) never read each other's."""

    def watch(self, store, token):
        return HangWatch(SyncLedger(0), 1e6, 2, store, lambda *_: None, token)

    @mock.patch.object(hang_watch, "_GATHER_SECONDS", 1.0)
    def test_only_answers_of_this_stall_of_this_run(self):
        store = dist.HashStore()
        watch = self.watch(store, "run-a")
        try:
            mine = ledger(0, 9, [(0, "bn", 1, 1000.0)], calls=1, now=1000.0)
            store.set("replicascope/hang/run-b/ledger/1", json.dumps(ledger(1, 9, now=999.0)))
            store.add("replicascope/hang/run-b/answers/1", 1)  # another run's: not seen
            store.set("replicascope/hang/run-a/ledger/1", json.dumps(ledger(1, 9, now=900.0)))
            store.add("replicascope/hang/run-a/answers/1", 1)  # before this stall began (940)
            started = time.monotonic()
            self.assertEqual(list(watch._gather(mine, stalled=60.0)), [0])
            self.assertGreaterEqual(time.monotonic() - started, 0.9)  # it waited its time
            store.set("replicascope/hang/run-a/ledger/1", json.dumps(ledger(1, 9, now=1001.0)))
            self.assertEqual(watch._gather(mine, stalled=60.0)[1]["now"], 1001.0)
        finally:
            watch.stop()


class SlowBatchNorm(torch.nn.BatchNorm1d):
    """Waits in its forward at one call, as a layer waiting in its collective does."""

    wait_at_call, calls = 2, 0

    def forward(self, x):
        SlowBatchNorm.calls += 1
        if SlowBatchNorm.calls == SlowBatchNorm.wait_at_call:
            time.sleep(2.5)
        return super().forward(x)


class OneProcess(TempDirTest):
    def test_a_layer_that_waits_past_the_timeout_is_told_once_and_the_training_goes_on(self):
        model = torch.nn.Sequential(torch.nn.Linear(3, 4), SlowBatchNorm(4))
        path = self.path("slow.sqlite")
        err = io.StringIO()
        with contextlib.redirect_stderr(err), Recorder(path, model, hang_timeout=0.5) as rec:
            for _ in range(3):
                model(torch.randn(5, 3))
                rec.step(loss=1.0)
        [line] = err.getvalue().splitlines()
        self.assertRegex(line, r"^replicascope: no progress for \d s at a sync point: rank 0 "
                               r"waits in 1, call 1 of step 2$")
        with sqlite3.connect(path) as db:
            self.assertEqual(db.execute("SELECT step, layer, sync_point, copy FROM events"
                                        ).fetchall(), [(2, "1", 0, None)])
        run = open_run(path)
        self.assertEqual([s.step for s in run.steps], [1, 2, 3])
        self.assertEqual(run.metadata["hang_timeout"], "0.5")

    def test_off_by_none_and_wrong_timeouts_are_refused(self):
        model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
        with Recorder(self.path("off.sqlite"), model, hang_timeout=None):
            pass
        self.assertEqual(open_run(self.path("off.sqlite")).metadata["hang_timeout"], "off")
        for wrong in (0, -1, float("inf"), float("nan"), "60", True):
            with self.assertRaisesRegex(ValueError, "hang_timeout expects a number of seconds"):
                Recorder(self.path("wrong.sqlite"), model, hang_timeout=wrong)


if __name__ == "__main__":
    unittest.main()
