# SPDX-License-Identifier: MIT
"""Records a PyTorch training's BatchNorm statistics into a ReplicaScope run file.

Every BatchNorm-like module gets a forward hook that, in training, computes the per-channel
moments of its input in float64 (a detached copy: the training's tensors are never changed)
and keeps them until `step()`. There, with several processes, one all_gather per step brings
every rank's moments to every rank (exchange.py); rank 0 merges them (what synchronized
BatchNorm normalizes with, or would have), computes the divergence the C++ engine records, and
writes the step in one transaction. Forward pre-hooks keep a ledger of the sync points for
the hang explainer (sync_ledger.py, hang_watch.py).
"""
import math
import sys
import threading
import time
import uuid

import torch
import torch.distributed as dist

from . import arguments, hang_watch, model_tree, run_meta, runfile, sync_ledger
from .arguments import RecorderError
from .exchange import (Exchange, StepShare, agree_at_start, collective_device, global_rank,
                       weighted_mean)
from .moments import Moments, raw_of_input
from .step_rows import BeforeNonfinite, on_host, point_rows, write_channels, write_points

__version__ = "0.2.0"

# The copy of an exchanged entry that carries a rank's running mean and variance, not moments.
RUNNING_ENTRY = -1


class Recorder:
    """Records `model`'s BatchNorm layers to the new run file `path`, one `step()` at a time.

    model: a plain module, or one wrapped in DistributedDataParallel or DataParallel (also
        Synchronized-BatchNorm-PyTorch's DataParallelWithCallback). Under torch.distributed
        every rank makes a Recorder with the same path at the same point; rank 0 writes.
    dataset, loss, seed, optimizer, model_name, metadata: what the run's metadata says (the
        optimizer's class, learning rate and weight decay are read from it).
    group: the process group to gather over (default: the whole world, when initialized).
    detail_steps: how many steps keep every channel's statistics: "auto" (as many as fit in
        100 MB, 16 to 1000), "all", or a number; they are spread over the run, a quarter of
        them the latest. Every step keeps its summaries (divergence, means over channels).
    detail_every: only steps 1, 1 + K, ... may keep detail.
    hang_timeout: seconds without progress at a sync point before the hang explainer says
        where every rank waits (stderr and the run's events); None turns it off.
    Arguments of a wrong type raise TypeError, of a wrong value ValueError (metadata keys the
    recorder writes itself, RecorderError).

    What the layers see is kept (on their devices) until the next step(): call it every step,
    and close() the recorder (or use it as a context manager) to remove its hooks.
    """

    def __init__(self, path, model, *, dataset="", loss="", seed=None, optimizer=None,
                 model_name=None, metadata=None, group=None, detail_steps="auto",
                 detail_every=1, hang_timeout=hang_watch.DEFAULT_TIMEOUT):
        self.path = arguments.run_path(path)
        self._hang_timeout = arguments.hang_timeout(hang_timeout)
        self._detail_steps = runfile.parse_detail_steps(detail_steps)
        self._detail_every = arguments.detail_every(detail_every)
        self._policy = None  # made at the first step that records a layer ("auto": its size)
        # The last step and, while the run is finite and its detail was not kept, its channels:
        # the step before the first non-finite one keeps them (as the C++ writer does).
        self._before_nonfinite = BeforeNonfinite()
        self._wrapper = arguments.model(model)
        self._model, wrapper, self._dp_ids = model_tree.unwrap(self._wrapper)
        self._layers = [(n, m) for n, m in self._model.named_modules()
                        if model_tree.is_batch_norm(m)]
        arguments.eager(self._model)
        if not self._layers:
            raise RecorderError(
                f"the model ({type(self._model).__name__}) has no BatchNorm layer to record "
                "(expected torch.nn.BatchNorm1d/2d/3d, SyncBatchNorm or a "
                "SynchronizedBatchNorm module)")
        distributed = dist.is_available() and dist.is_initialized()
        self._group = group
        self._world = dist.get_world_size(group) if distributed else 1
        self._rank = dist.get_rank(group) if distributed else 0
        try:  # every rank hears of a rank's wrong argument (in _agree), or the others would wait
            settings, problem = arguments.run_settings(model_name, dataset, loss, seed, optimizer,
                                                       metadata), None
        except (TypeError, ValueError, RecorderError) as e:
            settings, problem = None, e
        devices = model_tree.local_devices(self._model, self._dp_ids)
        self._exchange = Exchange(group, self._world, devices[0]) if self._world > 1 else None
        with collective_device(self._exchange):
            devices_per_rank = agree_at_start(self._group, self._world, devices,
                                              [n for n, _ in self._layers], problem)
        self._db = None
        error = None
        if self._rank == 0:
            try:
                meta = run_meta.recorder_meta(
                    self._model, [m for _, m in self._layers], self._world, wrapper, devices,
                    settings, __version__, detail_steps=self._detail_steps,
                    detail_every=self._detail_every, hang_timeout=self._hang_timeout)
                self._db = runfile.create(self.path,
                                          lambda db: self._fill(db, meta, devices_per_rank))
            except Exception as e:  # every rank must hear of it, or the others would wait
                error = str(e) if isinstance(e, (runfile.RunFileError, OSError)) else \
                    f"the recorder could not start: {type(e).__name__}: {e}"
        self._token = uuid.uuid4().hex  # the hang explainer's keys in the store: rank 0's
        if self._world > 1:
            shared = [error, self._token]
            with collective_device(self._exchange):
                dist.broadcast_object_list(shared, src=global_rank(group, 0), group=group)
            error, self._token = shared
        if error:
            raise RecorderError(error)
        self._lock = threading.Lock()
        self._db_lock = threading.Lock()  # the steps' transactions and the watch's events
        self._pending = []
        self._calls = {}
        self._eval_calls = {}  # module index -> calls in eval mode since the last step
        self._step = 0
        self._layer_ids = {}
        self._last = time.perf_counter()
        self._handles = [m.register_forward_hook(self._hook(i)) for i, (_, m) in
                         enumerate(self._layers)]
        self._start_hang_watch()

    # -- setup ---------------------------------------------------------------------------------

    def _fill(self, db, meta, devices_per_rank):
        db.executemany("INSERT INTO meta VALUES(?,?)",
                       sorted((runfile.text(k), runfile.text(v)) for k, v in meta.items()))
        model_tree.write_model(db, self._model, devices_per_rank)

    def _start_hang_watch(self):
        ddp = self._wrapper if isinstance(
            self._wrapper, torch.nn.parallel.DistributedDataParallel) else None
        self._ledger = sync_ledger.SyncLedger(self._rank)
        self._told = set()  # (step, sync point, call) of the events written
        self._handles += sync_ledger.register_hooks(self._ledger, self._layers, self._copy_of, ddp)
        self._watch = None
        if self._hang_timeout is not None:
            self._watch = hang_watch.HangWatch(
                self._ledger, self._hang_timeout, self._world,
                hang_watch.default_store() if self._world > 1 else None, self._tell_hang,
                self._token)

    # -- per forward ---------------------------------------------------------------------------

    def _copy_of(self, x):
        """The copy an input belongs to: its DataParallel replica's place in device_ids, or 0;
        None when it is not one of the wrapper's replicas (nothing to attribute it to)."""
        if not self._dp_ids:
            return 0
        if not x.is_cuda or x.device.index not in self._dp_ids:
            return None
        return self._dp_ids.index(x.device.index)

    def _hook(self, index):
        def record(module, inputs, output):
            # Batch statistics only: in eval mode a layer with running statistics uses those, and
            # is counted (a frozen layer is told from an unused one).
            if not (module.training or module.running_mean is None):
                with self._lock:
                    self._eval_calls[index] = self._eval_calls.get(index, 0) + 1
                return
            if not inputs:
                return
            x = inputs[0]
            copy = self._copy_of(x)
            if copy is None:
                return
            moments = raw_of_input(x)
            running = None
            if copy == 0 and module.running_mean is not None:
                with torch.no_grad():
                    running = (module.running_mean.detach().to(torch.float64, copy=True),
                               module.running_var.detach().to(torch.float64, copy=True))
            with self._lock:
                sync_point = self._calls.get((index, copy), 0)
                self._calls[(index, copy)] = sync_point + 1
                self._pending.append((index, sync_point, copy, moments, x.shape[0], running))
        return record

    # -- per step ------------------------------------------------------------------------------

    def step(self, loss=None, accuracy=None, epoch=0):
        """Ends a training step: records what the layers saw since the last call.

        Under torch.distributed every rank must call it (one collective). loss and accuracy:
        this rank's figures (numbers or one-element tensors; with several ranks, the recorded
        figure is their mean weighted by each rank's samples). epoch: an integer from 0.
        """
        if self._handles is None:
            raise RecorderError(f"run '{self.path}': the recorder is closed")
        loss = arguments.step_number(loss, "loss")
        accuracy = arguments.step_number(accuracy, "accuracy")
        epoch = arguments.epoch(epoch)
        now = time.perf_counter()
        seconds, self._last = now - self._last, now
        with self._lock:
            pending, self._pending, self._calls = self._pending, [], {}
            eval_calls, self._eval_calls = self._eval_calls, {}
        pending = on_host(pending)
        running = {(e[0], e[1]): e[5] for e in pending if e[5] is not None}
        first = min((e[0] for e in pending), default=None)
        samples = sum(e[4] for e in pending if e[0] == first and e[1] == 0)
        entries = [(i, s, c, m) for i, s, c, m, _, _ in pending]
        if self._world > 1:  # this rank's running statistics go to rank 0 too (version 6)
            entries += [(i, s, RUNNING_ENTRY, Moments(0, mean, var))
                        for (i, s), (mean, var) in running.items()]
        share = StepShare(loss, accuracy, samples, entries)
        self._ledger.enter(sync_ledger.EXCHANGE)
        shares = self._exchange.all_shares(share) if self._exchange else [share]
        self._ledger.leave()
        self._step += 1
        self._ledger.end_step()  # the ranks met: what is left is rank 0's writing
        if self._db is not None:
            committed, policy = dict(self._layer_ids), self._policy
            try:
                with self._db_lock:
                    written = runfile.transaction(
                        self._db, self.path,
                        lambda db: self._write(db, shares, running, seconds, epoch, eval_calls))
            except BaseException:
                # What the rolled-back transaction did is gone: the ids it made, its evictions.
                self._layer_ids, self._policy = committed, policy
                raise
            self._before_nonfinite.remember(self._step, *written)

    def _pin_first_nonfinite(self, db):
        """The first non-finite step keeps its detail, and the step before it too (its channels
        written now if it did not keep them); both are pinned in the policy."""
        before = self._before_nonfinite
        self._policy.pin(self._step)
        if not before.step:
            return
        had_detail = self._policy.keeps(before.step)
        self._policy.pin(before.step)
        if had_detail or before.rows is None:
            return
        for (name, sync_point), vectors in before.rows.items():
            write_channels(db, before.step, self._layer_id(db, name), sync_point, vectors)
        db.execute("UPDATE steps SET detail = 1 WHERE step = ?", (before.step,))

    def _decide(self, db, points, first_nonfinite):
        """Whether this step keeps per-channel detail; forgets the detail of evicted steps."""
        if self._policy is None and not points and self._detail_steps == runfile.AUTO:
            return False  # nothing to estimate "auto" from: the first step that records decides
        if self._policy is None:
            capacity = self._detail_steps
            if capacity == runfile.AUTO:  # what this step's channel_stats rows take, near enough
                # running, the copies, and with several ranks each rank's merge and running
                copies = len(model_tree.local_devices(self._model, self._dp_ids))
                keys = 1 + copies + (2 * self._world - 1 if self._world > 1 else 0)
                rows = 0
                for by_rank in points.values():
                    channels = next(iter(next(iter(by_rank.values())).values())).mean.numel()
                    rows += keys * runfile.stored_row_bytes(2 * 4 * channels)  # float32 series
                    rows += runfile.stored_row_bytes(2 * 8 * channels)  # the synchronized
                capacity = runfile.auto_detail_steps(rows)
            self._policy = runfile.DetailPolicy(capacity, self._detail_every)
            db.execute("INSERT OR IGNORE INTO meta VALUES('detail_capacity', ?)",
                       ("all" if capacity == runfile.ALL else str(capacity),))
            # The steps before, which recorded no layer, as the policy would have taken them.
            for (earlier,) in list(db.execute("SELECT step FROM steps ORDER BY step")):
                keep, evicted = self._policy.admit(earlier)
                db.executemany("UPDATE steps SET detail = ? WHERE step = ?",
                               [(int(keep), earlier)] + [(0, old) for old in evicted])
        else:
            self._policy = self._policy.copy()  # the committed one stays for a rollback
        if first_nonfinite:  # where a diagnosis of the NaN looks (docs/run-format.md)
            self._pin_first_nonfinite(db)
        keep, evicted = self._policy.admit(self._step)
        for old in evicted:
            db.execute("DELETE FROM channel_stats WHERE step = ?", (old,))
            db.execute("UPDATE steps SET detail = 0 WHERE step = ?", (old,))
        return keep

    def _write(self, db, shares, running, seconds, epoch, eval_calls):
        weights = [s.samples for s in shares]
        loss = weighted_mean(zip([s.loss for s in shares], weights))
        accuracy = weighted_mean(zip([s.accuracy for s in shares], weights))
        # The batch is known once a step saw a training forward; the first such step keeps it.
        if sum(weights) > 0:
            db.execute("INSERT OR IGNORE INTO meta VALUES('batch', ?)", (str(sum(weights)),))
        points, ranks_running = {}, {}
        for rank, share in enumerate(shares):  # rank 0's first: its entries in call order
            for index, sync_point, copy, m in share.entries:
                if copy == RUNNING_ENTRY:
                    ranks_running.setdefault((index, sync_point), {})[rank] = (m.mean, m.m2)
                    continue
                points.setdefault((index, sync_point), {}).setdefault(rank, {})[copy] = m
        # As the C++ writer: layers numbered and sync points counted in the order they ran, and
        # "statistics of N layers" counting sync points.
        rows = {(self._layers[index][0], sync_point):
                point_rows(by_rank, running.get((index, sync_point)), self._world,
                           ranks_running.get((index, sync_point), {}))
                for (index, sync_point), by_rank in points.items()}
        bad_layers = [name for (name, _), row in rows.items() if not row.finite]
        bad, first_bad = len(bad_layers), (bad_layers[0] if bad_layers else None)
        finite = (bad == 0 and (loss is None or math.isfinite(loss))
                  and (accuracy is None or math.isfinite(accuracy)))
        keep = self._decide(db, points, not finite and not self._before_nonfinite.seen)
        write_points(db, self._step, rows, self._layer_id, keep, self._world)
        nonfinite = []
        if loss is not None and not math.isfinite(loss):
            nonfinite.append("loss")
        if accuracy is not None and not math.isfinite(accuracy):
            nonfinite.append("accuracy")
        if bad == 1:
            nonfinite.append(f"layer '{first_bad}' statistics")
        elif bad > 1:
            nonfinite.append(f"statistics of {bad} layers, the first '{first_bad}'")
        nonfinite = [runfile.text(part) for part in nonfinite]
        db.execute("INSERT INTO steps VALUES(?,?,?,?,?,?,?)",
                   (self._step, epoch, None if loss is None else runfile.real(loss),
                    None if accuracy is None else runfile.real(accuracy), seconds,
                    ", ".join(nonfinite) or None, int(keep)))
        db.executemany("INSERT INTO eval_calls VALUES(?,?,?)",  # rank 0's
                       [(self._step, runfile.text(self._layers[i][0]), n)
                        for i, n in sorted(eval_calls.items())])
        # What the next step needs of this one (BeforeNonfinite.remember), once this is committed.
        return keep, not finite, None if keep else {at: row.vectors for at, row in rows.items()}

    def _layer_id(self, db, name):
        if name not in self._layer_ids:
            layer = db.execute("INSERT INTO layers(name) VALUES(?)", (runfile.text(name),)).lastrowid
            module = next(m for n, m in self._layers if n == name)
            momentum = getattr(module, "momentum", 0.1)  # version 6: with the layer's first row
            db.execute("INSERT INTO layer_settings VALUES(?,?,?)",
                       (layer, None if momentum is None else float(momentum),
                        float(getattr(module, "eps", 1e-5))))
            self._layer_ids[name] = layer
        return self._layer_ids[name]

    # -- hangs ---------------------------------------------------------------------------------

    def _tell_hang(self, sentence, where):
        """Says a hang (or a step that failed inside a sync point) on stderr, and in the run's
        events on rank 0, once per place: kind sync-points-disagree, the layer and call where
        the ranks wait, the first rank elsewhere."""
        print(f"replicascope: {sentence}", file=sys.stderr, flush=True)
        place = (where["step"], where["label"], where["call"])
        told, self._told = place in self._told, self._told | {place}
        if self._db is None or told or not self._db_lock.acquire(timeout=10):
            return  # a step being written for 10 s is no hang of the training's
        try:
            if self._db is None:  # closed meanwhile
                return
            layer = where["label"] if any(n == where["label"] for n, _ in self._layers) else None
            culprit = where["culprit"] if self._world > 1 else None
            runfile.add_event(self._db, self.path, where["step"], "sync-points-disagree", layer,
                              None if layer is None else where["call"] - 1,
                              None if culprit is None else runfile.rank_key(culprit), sentence)
        except runfile.RunFileError as error:
            print(f"replicascope: {error}", file=sys.stderr, flush=True)
        finally:
            self._db_lock.release()

    def _tell_failure(self, error):
        """A step whose collective failed inside a sync point: every live rank says where."""
        if self._world == 1:
            return  # no collective across processes to fail
        try:
            said = hang_watch.failure(self._ledger.snapshot(), error)
            if said is not None:
                self._tell_hang(*said)
        except Exception:  # pragma: no cover - never in place of the training's own error
            pass

    # -- end -----------------------------------------------------------------------------------

    def close(self):
        """Removes the hooks and closes the file; every step recorded so far is in it."""
        if self._handles is None:
            return
        if self._watch is not None:
            self._watch.stop()
        for handle in self._handles:
            handle.remove()
        self._handles = None
        with self._db_lock:  # not while the watch writes an event
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self):
        return self

    def __exit__(self, kind, error, trace):
        if isinstance(error, Exception) and self._handles is not None:
            self._tell_failure(error)
        self.close()
        return False
