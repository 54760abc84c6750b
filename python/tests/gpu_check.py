#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The recorder on a CUDA machine (one short run; not part of ctest, which has no GPU).

usage: PYTHONPATH=python python3 python/tests/gpu_check.py OUT_DIR

Checks, on cuda:0: SyncBatchNorm under DistributedDataParallel over NCCL (world size 1: one GPU
at hand), the step exchange's packing through NCCL, nn.DataParallel, that outputs and
gradients are bit-identical with and without the recorder, and the recorder's overhead on
resnet18 at batch 32 (side by side, alternating). Prints one line per check; exits 1 on a
failure.
"""
import os
import sys
import time

sys.path[:0] = [os.path.dirname(os.path.abspath(__file__)),
                os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402

from replicascope import Recorder, open_run  # noqa: E402
from replicascope.exchange import Exchange, StepShare  # noqa: E402
from replicascope.moments import of_input  # noqa: E402

from helpers import Inputs, batches, reference_stats, small_net, train  # noqa: E402

failures = []


def check(name, ok, detail=""):
    print(f"{'ok  ' if ok else 'FAIL'} {name} {detail}", flush=True)
    if not ok:
        failures.append(name)


def sync_batchnorm_ddp(out):
    torch.manual_seed(0)
    model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(small_net()).cuda()
    inputs, seen = Inputs(model), []
    ddp = torch.nn.parallel.DistributedDataParallel(model, device_ids=[0])
    path = os.path.join(out, "syncbn_ddp.sqlite")
    with Recorder(path, ddp) as rec:
        train(ddp, batches(3, 8), rec, after_step=lambda: seen.append(inputs.take()),
              device="cuda")
    run = open_run(path)
    check("SyncBatchNorm+DDP(NCCL): metadata", run.metadata["synchronized"] == "true" and
          run.metadata["devices"] == "cuda:0", str({k: run.metadata[k] for k in
                                                   ("synchronized", "devices", "wrapper")}))
    worst = 0.0
    for layer in run.layers:
        stats = run.statistics(layer)
        for step in range(3):
            _, mean, var = reference_stats(seen[step][layer][0].cpu())
            worst = max(worst, float((stats["synchronized"].mean[step] - mean).abs().max()),
                        float((stats["synchronized"].var[step] - var).abs().max()))
    check("SyncBatchNorm+DDP(NCCL): statistics equal the recomputed ones", worst < 1e-6,
          f"(largest difference {worst:.2e})")


def exchange_over_nccl():
    x = torch.randn(5, 3, 4, 4, device="cuda")
    share = StepShare(1.5, None, 5, [(0, 0, 0, of_input(x))])
    back = Exchange(None, 1).all_shares(share)[0]
    ok = (back.loss == 1.5 and back.accuracy is None and back.samples == 5 and
          torch.equal(back.entries[0][3].mean, share.entries[0][3].mean.cpu()))
    check("exchange: a step packed and gathered through NCCL", ok)


def data_parallel(out):
    torch.manual_seed(0)
    model = torch.nn.DataParallel(small_net().cuda(), device_ids=[0])
    path = os.path.join(out, "dp.sqlite")
    with Recorder(path, model) as rec:
        train(model, batches(2, 8), rec, device="cuda")
    run = open_run(path)
    check("DataParallel: recorded", len(run.steps) == 2 and run.metadata["wrapper"] == "DataParallel",
          str(run.wiring["columns"]))


def bit_identical(out):
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    results = []
    for i, record in enumerate((False, True)):
        torch.manual_seed(1)
        model = small_net().cuda()
        rec = Recorder(os.path.join(out, f"same{i}.sqlite"), model) if record else None
        results.append(train(model, batches(3, 8), rec, device="cuda"))
        if rec:
            rec.close()
    (o1, g1), (o2, g2) = results
    same = all(torch.equal(a, b) for a, b in zip(o1, o2)) and all(
        torch.equal(a, b) for s1, s2 in zip(g1, g2) for a, b in zip(s1, s2))
    check("outputs and gradients bit-identical with and without the recorder (CUDA)", same)


def overhead(out):
    try:
        import torchvision
    except ImportError:
        print("skip resnet18 overhead: no torchvision")
        return
    torch.backends.cudnn.benchmark = True
    model = torchvision.models.resnet18(num_classes=10).cuda()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.randn(32, 3, 224, 224, device="cuda")
    y = torch.randint(0, 10, (32,), device="cuda")

    def steps(rec, n=20):
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(n):
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            opt.zero_grad()
            if rec:
                rec.step(loss=loss.item())
            else:
                loss.item()  # the same host sync as a recorded step's loss
        torch.cuda.synchronize()
        return (time.perf_counter() - start) / n

    steps(None, 5)
    rec = Recorder(os.path.join(out, "overhead.sqlite"), model)
    plain, recorded = [], []
    for _ in range(3):
        rec.close()
        plain.append(steps(None))
        rec = Recorder(os.path.join(out, f"overhead{len(recorded)}.sqlite"), model)
        recorded.append(steps(rec))
    rec.close()
    print(f"resnet18 batch 32 3x224x224 on {torch.cuda.get_device_name(0)}: "
          f"{min(plain) * 1e3:.1f} ms/step plain, {min(recorded) * 1e3:.1f} ms/step recorded, "
          f"ratio {min(recorded) / min(plain):.3f} (best of 3 rounds of 20 steps, alternating)")


def main(out):
    os.makedirs(out, exist_ok=True)
    print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, "
          f"{torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU'}")
    if not torch.cuda.is_available():
        sys.exit("no CUDA device")
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29611")
    torch.cuda.set_device(0)
    dist.init_process_group("nccl", rank=0, world_size=1)
    for part in (sync_batchnorm_ddp, exchange_over_nccl, data_parallel, bit_identical, overhead):
        try:
            part(out) if part is not exchange_over_nccl else part()
        except Exception as error:  # one failed check does not hide the others
            check(part.__name__, False, f"raised {type(error).__name__}: {error}")
    dist.destroy_process_group()
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/replicascope-gpu-check")
