# SPDX-License-Identifier: MIT
"""The recorder under DistributedDataParallel: 2 processes over Gloo on this CPU, plain BatchNorm
(PyTorch's SyncBatchNorm refuses CPU tensors). Every rank's statistics reach rank 0's file;
the synchronized figure is what SyncBatchNorm would have computed over both ranks' inputs."""
import datetime
import os
import socket
import sys
import time
import traceback

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from replicascope import Recorder, open_run

from helpers import Inputs, TempDirTest, batches, reference_stats, small_net, train

STEPS, PER_RANK = 3, 6


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def finish():
    # Both ranks leave together: a rank that exits while the other still talks to the store
    # (hosted by rank 0) can leave that one waiting. Then the process ends at once: PyTorch
    # 1.13's teardown of the group (destroy_process_group, or the destructors at exit) left rank
    # 0 hanging now and then after rank 1 had gone (seen in test_a_taken_path_fails_every_rank),
    # and nothing is left to clean up once the results are saved.
    dist.barrier()
    os._exit(0)


def exchange_worker(rank, world, out):
    """Three steps whose shares grow on rank 1 only at step 2: every rank gathers again at the
    larger size, and every rank gets every rank's share back whole."""
    from replicascope.exchange import Exchange, StepShare
    from replicascope.moments import of_input

    exchange = Exchange(None, world)
    got = []
    for step in range(3):
        layers = 3 if rank == 1 and step >= 1 else 1
        g = torch.Generator().manual_seed(100 * step + rank)
        entries = [(i, 0, 0, of_input(torch.randn(4, 5 + i, generator=g))) for i in range(layers)]
        shares = exchange.all_shares(StepShare(float(rank), None, 4, entries))
        got.append([(s.loss, s.accuracy, s.samples,
                     [(i, p, c, m.count, m.mean, m.m2) for i, p, c, m in s.entries]) for s in shares])
    torch.save({"got": got, "capacity": exchange.capacity}, os.path.join(out, f"rank{rank}.pt"))
    finish()


def worker(rank, world, port, out, scenario):
    try:
        sys.path[:0] = [os.path.dirname(__file__), os.path.dirname(os.path.dirname(__file__))]
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        torch.set_num_threads(1)
        dist.init_process_group("gloo", rank=rank, world_size=world,
                                timeout=datetime.timedelta(seconds=20))
        if scenario == "exchange":
            return exchange_worker(rank, world, out)
        torch.manual_seed(5)
        model = small_net()
        ddp = torch.nn.parallel.DistributedDataParallel(model)
        if scenario == "other_model":  # DDP itself would refuse models that differ
            ddp = model = torch.nn.Sequential(model, torch.nn.BatchNorm1d(10)) if rank else model
        inputs = Inputs(model)
        seen = []
        data = [(x[rank * PER_RANK:(rank + 1) * PER_RANK], y[rank * PER_RANK:(rank + 1) * PER_RANK])
                for x, y in batches(STEPS, PER_RANK * world)]
        def after_step():
            seen.append(inputs.take())
            if scenario == "rank_dies" and rank == 1 and len(seen) == 2:
                os._exit(3)  # killed after its second step

        try:
            # A wrong argument on one rank only (metadata is rank 0's to write, but every rank's
            # is checked): every rank must fail, none wait for the others.
            metadata = {"lr": "abc"} if scenario == "rank1_bad_metadata" and rank == 1 else None
            with Recorder(os.path.join(out, "ddp.sqlite"), ddp, dataset="random",
                          metadata=metadata) as rec:
                train(ddp, data, rec, after_step=after_step)
        except Exception as error:  # the test checks that every rank says the same
            torch.save({"error": str(error), "kind": type(error).__name__},
                       os.path.join(out, f"rank{rank}.pt"))
            if scenario != "rank_dies":
                finish()
            return
        torch.save({"inputs": seen, "running": {n: (m.running_mean, m.running_var)
                                                for n, m in model.named_modules()
                                                if hasattr(m, "running_mean")}},
                   os.path.join(out, f"rank{rank}.pt"))
        finish()
    except Exception:
        traceback.print_exc()
        raise


class DistributedDataParallelRuns(TempDirTest):
    def launch(self, scenario, world=2):
        context = mp.start_processes(worker, args=(world, free_port(), self.dir, scenario),
                                     nprocs=world, join=False, start_method="spawn")
        # Every collective times out after 20 s: ranks still running after 5 minutes hang, and
        # the test says so rather than waiting for ctest's timeout.
        deadline = time.monotonic() + 300
        while not context.join(timeout=10):
            if time.monotonic() > deadline:
                alive = [r for r, p in enumerate(context.processes) if p.is_alive()]
                for process in context.processes:
                    process.kill()
                self.fail(f"scenario '{scenario}': ranks {alive} still running after 300 s")
        return [torch.load(os.path.join(self.dir, f"rank{r}.pt")) for r in range(world)]

    def test_a_rank_that_dies_fails_the_training_not_the_recorder(self):
        context = mp.start_processes(worker, args=(2, free_port(), self.dir, "rank_dies"),
                                     nprocs=2, join=False, start_method="spawn")
        for process in context.processes:
            process.join(120)
        self.assertEqual([p.exitcode for p in context.processes], [0, 3])
        failure = torch.load(os.path.join(self.dir, "rank0.pt"))
        # Rank 0 learns of it at the training's next collective (DDP's gradient all-reduce, in
        # Gloo), within the timeout: the training's failure, not one of the recorder's.
        self.assertTrue(failure["error"])
        self.assertNotEqual(failure["kind"], "RecorderError", failure["error"])
        run = open_run(os.path.join(self.dir, "ddp.sqlite"))
        steps = [s.step for s in run.steps]
        self.assertEqual(steps, [1, 2])  # every step both ranks finished, whole
        for layer in run.layers:
            self.assertEqual(list(run.statistics(layer)["rank 1"].steps), [1, 2])

    def test_every_ranks_statistics_are_recorded_and_merged(self):
        ranks = self.launch("same")
        run = open_run(os.path.join(self.dir, "ddp.sqlite"))
        self.assertEqual(run.metadata["processes"], "2")
        self.assertEqual(run.metadata["wrapper"], "DistributedDataParallel")
        self.assertEqual(run.metadata["batch"], str(2 * PER_RANK))
        self.assertEqual(run.wiring["columns"], [("cpu", 0, 0), ("cpu", 1, 0)])
        self.assertEqual(len(run.steps), STEPS)
        for layer in ("1", "4", "9"):
            stats = run.statistics(layer)
            self.assertEqual(list(stats), ["copy 0", "synchronized", "running", "rank 0", "rank 1",
                                           "running, rank 1"])
            divergence = dict(run.divergence(layer))
            deviations = run.deviations(layer)  # every step's, of each rank (the first 3 layers)
            self.assertEqual(list(deviations), ["rank 0", "rank 1"])
            for step in range(STEPS):
                x = [ranks[r]["inputs"][step][layer][0] for r in range(2)]
                count, mean, var = reference_stats(torch.cat(x))
                got = stats["synchronized"]
                self.assertEqual(int(got.count[step]), count)
                self.assertTrue(torch.allclose(got.mean[step], mean, rtol=1e-6, atol=1e-9))
                self.assertTrue(torch.allclose(got.var[step], var, rtol=1e-6, atol=1e-9))
                worst = 0.0
                for r in range(2):
                    n, m, v = reference_stats(x[r])
                    own = stats[f"rank {r}"]
                    self.assertEqual(int(own.count[step]), n)
                    self.assertTrue(torch.allclose(own.mean[step], m, rtol=1e-6, atol=1e-9))
                    self.assertTrue(torch.allclose(own.var[step], v, rtol=1e-6, atol=1e-9))
                    u = (m - mean) / (var + 1e-5).sqrt()
                    worst = max(worst, float(u.abs().max()))
                    steps, stored_u = deviations[f"rank {r}"]
                    self.assertEqual(int(steps[step]), step + 1)
                    # kept in 1/64ths of a sigma
                    self.assertLessEqual(float((stored_u[step] - u).abs().max()), 1 / 128 + 1e-9)
                self.assertTrue(torch.equal(stats["copy 0"].mean[step], stats["rank 0"].mean[step]))
                self.assertAlmostEqual(divergence[step + 1], worst, delta=1e-6 * worst)
                self.assertGreater(worst, 0)  # plain BatchNorm: the ranks' statistics differ
            # Each rank's own running statistics after the last step (version 6: rank 1's too).
            for rank, label in ((0, "running"), (1, "running, rank 1")):
                final = ranks[rank]["running"][layer]
                self.assertTrue(torch.equal(stats[label].mean[-1], final[0].double()))
                self.assertTrue(torch.equal(stats[label].var[-1], final[1].double()))

    def test_the_exchange_grows_when_a_rank_needs_more_room(self):
        ranks = self.launch("exchange")
        for r in range(2):
            self.assertEqual(len(ranks[r]["got"]), 3)
        for step in range(3):
            for sender in range(2):
                mine = ranks[sender]["got"][step][sender]  # what the sender got back of itself
                theirs = ranks[1 - sender]["got"][step][sender]
                self.assertEqual(mine[:3], (float(sender), None, 4))
                self.assertEqual(len(mine[3]), 3 if sender == 1 and step >= 1 else 1)
                for a, b in zip(mine[3], theirs[3]):
                    self.assertEqual(a[:4], b[:4])
                    self.assertTrue(torch.equal(a[4], b[4]) and torch.equal(a[5], b[5]))
        self.assertEqual(ranks[0]["capacity"], ranks[1]["capacity"])

    def test_ranks_with_different_models_all_fail_with_one_message(self):
        ranks = self.launch("other_model")
        self.assertEqual(ranks[0], ranks[1])
        self.assertIn("the ranks' models differ: rank 0 has 3 BatchNorm layers, rank 1 has 4",
                      ranks[0]["error"])
        self.assertFalse(os.path.exists(os.path.join(self.dir, "ddp.sqlite")))

    def test_a_taken_path_fails_every_rank(self):
        with open(os.path.join(self.dir, "ddp.sqlite"), "w") as f:
            f.write("taken")
        ranks = self.launch("same")
        self.assertEqual(ranks[0], ranks[1])
        self.assertIn("the file exists; runs are not overwritten", ranks[0]["error"])

    def test_a_wrong_argument_on_one_rank_fails_every_rank(self):
        ranks = self.launch("rank1_bad_metadata")
        said = "metadata key 'lr' is the recorder's own"
        self.assertIn(said, ranks[1]["error"])
        self.assertIn(f"rank 1 could not start the recorder: RecorderError: {said}",
                      ranks[0]["error"])
        self.assertEqual([r["kind"] for r in ranks], ["RecorderError", "RecorderError"])
        self.assertFalse(os.path.exists(os.path.join(self.dir, "ddp.sqlite")))
