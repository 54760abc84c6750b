"""The recorder under DistributedDataParallel: 2 processes over Gloo on this CPU, plain BatchNorm
(PyTorch's SyncBatchNorm refuses CPU tensors). Every rank's statistics reach rank 0's file;
the synchronized figure is what SyncBatchNorm would have computed over both ranks' inputs."""
import datetime
import os
import socket
import sys
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
    # (hosted by rank 0) can leave that one waiting.
    dist.barrier()
    dist.destroy_process_group()


def worker(rank, world, port, out, scenario):
    try:
        sys.path[:0] = [os.path.dirname(__file__), os.path.dirname(os.path.dirname(__file__))]
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        torch.set_num_threads(1)
        dist.init_process_group("gloo", rank=rank, world_size=world,
                                timeout=datetime.timedelta(seconds=20))
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
            with Recorder(os.path.join(out, "ddp.sqlite"), ddp, dataset="random") as rec:
                train(ddp, data, rec, after_step=after_step)
        except Exception as error:  # the test checks that every rank says the same
            torch.save({"error": str(error)}, os.path.join(out, f"rank{rank}.pt"))
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
        while not context.join(timeout=120):
            pass
        return [torch.load(os.path.join(self.dir, f"rank{r}.pt")) for r in range(world)]

    def test_a_rank_that_dies_fails_the_training_not_the_recorder(self):
        context = mp.start_processes(worker, args=(2, free_port(), self.dir, "rank_dies"),
                                     nprocs=2, join=False, start_method="spawn")
        for process in context.processes:
            process.join(120)
        self.assertEqual([p.exitcode for p in context.processes], [0, 3])
        error = torch.load(os.path.join(self.dir, "rank0.pt"))["error"]
        self.assertTrue(error)  # rank 0 learns of it at the next collective, within the timeout
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
            self.assertEqual(list(stats), ["copy 0", "synchronized", "running", "rank 0", "rank 1"])
            divergence = dict(run.divergence(layer))
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
                    worst = max(worst, float(((m - mean).abs() / (var + 1e-5).sqrt()).max()))
                self.assertTrue(torch.equal(stats["copy 0"].mean[step], stats["rank 0"].mean[step]))
                self.assertAlmostEqual(divergence[step + 1], worst, delta=1e-6 * worst)
                self.assertGreater(worst, 0)  # plain BatchNorm: the ranks' statistics differ
            # Rank 0's own running statistics after the last step.
            final = ranks[0]["running"][layer]
            self.assertTrue(torch.equal(stats["running"].mean[-1], final[0].double()))

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
