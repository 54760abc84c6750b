# SPDX-License-Identifier: MIT
"""One rank's ledger of the sync points of its current step, for the hang explainer.

Forward *pre*-hooks write an entry before a BatchNorm layer runs and forward hooks clear it
after, so a rank stuck inside a layer (waiting in its collective) has entered it but not left.
DDP's buffer broadcast, a collective of its own before the model's forward, is a sync point
too: entered in a pre-hook on the DistributedDataParallel wrapper, left in the wrapped module's
pre-hook. The recorder's own exchange in step() is the third kind. Every hook also marks
progress, which the watch (hang_watch.py) reads.
"""
import threading
import time

DDP_BROADCAST = "DDP's buffer broadcast"
DDP_FORWARD = "DDP's forward"  # its other collectives before the model runs (bucket rebuild)
EXCHANGE = "the recorder's step exchange"
DDP_FORWARD_END = "the end of DDP's forward"  # not a collective: where a rank went on from


class SyncLedger:
    """Which sync point each copy of this rank is inside, the calls of the step so far, the last
    sync point left and when the last step ended. Written by the training's threads (hooks),
    read by the watch's thread."""

    def __init__(self, rank):
        self.rank = rank
        self._lock = threading.Lock()
        self._step = 1
        self._calls = {}  # (label, copy) -> calls entered this step
        self._inside = {}  # copy -> (label, call, wall time entered)
        self._last = None  # (label, call, wall time left) of this step
        self._step_ended = None  # wall time the last step ended
        self.progress = time.monotonic()  # the last hook of any kind

    def enter(self, label, copy=0):
        now = time.time()
        with self._lock:
            call = self._calls.get((label, copy), 0) + 1
            self._calls[(label, copy)] = call
            self._inside[copy] = (label, call, now)
            self.progress = time.monotonic()

    def leave(self, copy=0):
        now = time.time()
        with self._lock:
            entry = self._inside.pop(copy, None)
            if entry is not None:
                self._last = (entry[0], entry[1], now)
            self.progress = time.monotonic()

    def passed(self, label):
        """A point that is no collective but says where the rank went on (DDP_FORWARD_END)."""
        with self._lock:
            self._last = (label, 1, time.time())
            self.progress = time.monotonic()

    def touch(self):
        """Progress that is not a sync point: an eval-mode BatchNorm call (validation)."""
        self.progress = time.monotonic()

    def end_step(self):
        with self._lock:
            self._step += 1
            self._calls, self._inside, self._last = {}, {}, None
            self._step_ended = time.time()
            self.progress = time.monotonic()

    def snapshot(self):
        """What the other ranks are told: plain values (JSON)."""
        with self._lock:
            return {
                "rank": self.rank,
                "step": self._step,
                "inside": [[copy, label, call, since]
                           for copy, (label, call, since) in sorted(self._inside.items())],
                "calls": sum(self._calls.values()),
                "last": list(self._last) if self._last else None,
                "step_ended": self._step_ended,
                "now": time.time(),
            }


def register_hooks(ledger, layers, copy_of, wrapper):
    """The ledger's hooks on the BatchNorm `layers` ([(name, module)]) and on a
    DistributedDataParallel `wrapper` (or None); returns their handles. copy_of(x): the copy an
    input belongs to, or None when not one the recorder attributes."""
    handles = []
    for name, module in layers:
        def enter(module, inputs, name=name):
            if not (module.training or module.running_mean is None):
                ledger.touch()  # eval mode: running statistics, no collective
                return
            copy = copy_of(inputs[0]) if inputs else 0
            if copy is not None:
                ledger.enter(name, copy)

        def leave(module, inputs, output):
            if module.training or module.running_mean is None:
                copy = copy_of(inputs[0]) if inputs else 0
                if copy is not None:
                    ledger.leave(copy)
        handles.append(module.register_forward_pre_hook(enter))
        handles.append(module.register_forward_hook(leave))
    if wrapper is not None:
        def before_ddp(ddp, inputs):
            will_sync = getattr(ddp, "will_sync_module_buffers", None)
            ledger.enter(DDP_BROADCAST if will_sync is not None and will_sync() else DDP_FORWARD)
        handles.append(wrapper.register_forward_pre_hook(before_ddp))
        handles.append(wrapper.module.register_forward_pre_hook(lambda m, i: ledger.leave()))
        handles.append(wrapper.register_forward_hook(
            lambda m, i, o: ledger.passed(DDP_FORWARD_END)))
    return handles
