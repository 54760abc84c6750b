# SPDX-License-Identifier: MIT
"""The hang explainer: a watch thread per rank that says where the ranks wait when a training
stops making progress at a sync point.

Each rank's watch reads its ledger (sync_ledger.py) every few seconds and acts once its rank
has made no progress for `timeout` seconds: it writes the ledger to the process group's store
(a TCPStore still answers while a collective hangs) and gathers the other ranks' for a while.
Ranks stuck in a collective stall too, so they all answer; a rank stuck elsewhere (its data
loading) has stalled longest and answered first. Rank 0 (or, when rank 0 did not answer, the
lowest rank that did) then says which ranks wait in which sync point and where the others are.
The watch only reads and tells: it never interrupts the training, so a hang stays a hang (or
the collective's own timeout), never a crash made by the recorder.

The store is polled with add(key, 0), which returns at once, where get() would wait for a key
and hold the store client's lock meanwhile. Each rank keeps one ledger slot under the run's own
prefix (a token rank 0 made at the start, so two recorders never read each other's); an answer
older than this rank's stall (a stall that resolved earlier) is not taken for this one. A
training thread that itself waits on the store (NCCL setting up its communicators at the first
collective) holds the store client's lock, and its rank cannot answer: that first-step hang is
told by the other ranks, as one that did not answer.
"""
import json
import sys
import threading
import time

from .sync_ledger import DDP_FORWARD_END

# Long enough not to fire on validation (its eval-mode calls are progress), a checkpoint or a
# slow first step; short enough to speak before NCCL's default 10-minute timeout ends a process.
DEFAULT_TIMEOUT = 300.0
_PREFIX = "replicascope/hang"
_GATHER_SECONDS = 20.0  # the longest a watch waits for the other ranks' ledgers


def _ranks(ranks):
    names = [str(r) for r in ranks]
    text = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return ("rank " if len(names) == 1 else "ranks ") + text


def _ago(ledger, at):
    return f"{max(0.0, ledger['now'] - at):.0f} s ago"


def _idle(ledger):
    """Where a rank that is in no sync point is, from its ledger."""
    r, step = ledger["rank"], ledger["step"]
    if ledger["calls"] == 0:
        last = (f"step {step - 1} ended {_ago(ledger, ledger['step_ended'])}"
                if ledger["step_ended"] is not None else "it has not ended a step yet")
        return f"rank {r} has not entered a sync point of step {step} (its last: {last})"
    label, call, left = ledger["last"]
    if label == DDP_FORWARD_END:
        return (f"rank {r} is in no sync point of step {step} (it ended DDP's forward "
                f"{_ago(ledger, left)}: in the backward, where DDP all-reduces the gradients, or "
                "past it)")
    return (f"rank {r} is in no sync point of step {step} (its last: {label}, call {call}, "
            f"left {_ago(ledger, left)})")


def explain(ledgers, world):
    """(sentence, where) from the ranks' ledgers ({rank: SyncLedger.snapshot()}); where is a
    dict(step, label, call, culprit) for the run's event, culprit the first rank not waiting
    with the others. None when no rank is inside a sync point: a training idle between steps
    is not hung at one."""
    waiting = {}  # (label, call, step) -> [who]
    idle = []
    for r in sorted(ledgers):
        ledger = ledgers[r]
        inside = ledger["inside"]
        for copy, label, call, _ in inside:
            who = r if len(inside) == 1 and copy == 0 else f"{r} (copy {copy})"
            waiting.setdefault((label, call, ledger["step"]), []).append(who)
        if not inside:
            idle.append(r)
    if not waiting:
        return None
    parts = [f"{_ranks(who)} {'waits' if len(who) == 1 else 'wait'} in {label}, call {call} "
             f"of step {step}" for (label, call, step), who in waiting.items()]
    parts += [_idle(ledgers[r]) for r in idle]
    silent = [r for r in range(world) if r not in ledgers]
    if silent:
        parts.append(f"{_ranks(silent)} did not answer (gone, or still running)")
    (label, call, step), _ = next(iter(waiting.items()))
    elsewhere = [r for r in sorted(ledgers) if ledgers[r]["inside"] and
                 (tuple(ledgers[r]["inside"][0][1:3]), ledgers[r]["step"]) != ((label, call), step)]
    culprits = idle + silent + elsewhere
    return "; ".join(parts), {"step": step, "label": label, "call": call,
                              "culprit": culprits[0] if culprits else None}


# What the backends' errors say when a collective failed (a rank left, Gloo aborted one that
# called another collective, a timeout), as against an error of the model's own (a shape, memory).
_COLLECTIVE_FAILED = ("gloo", "nccl", "connection", "timed out", "timeout", "closed", "reset by "
                      "peer", "abort", "collective", "socket")


def failure(ledger, error):
    """(sentence, where) for a step that ended in `error` inside a sync point whose collective
    failed; None when the rank was in none, or the error is not a collective's."""
    text = str(error).lower()
    if not ledger["inside"] or not any(word in text for word in _COLLECTIVE_FAILED):
        return None
    _, label, call, _ = ledger["inside"][0]
    return (f"rank {ledger['rank']}'s step {ledger['step']} ended inside {label}, call {call}: "
            f"{type(error).__name__}: {str(error)[:300]} (the collective there failed: a rank "
            "left, called another one, or timed out)",
            {"step": ledger["step"], "label": label, "call": call, "culprit": None})


class HangWatch:
    """The watch of one rank. report(sentence, where) is called on the rank that speaks."""

    def __init__(self, ledger, timeout, world, store, report, token=""):
        self._ledger, self._timeout, self._world = ledger, float(timeout), world
        self._store, self._report = store, report
        self._key = f"{_PREFIX}/{token}"
        self._poll = min(self._timeout / 4, 5.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="replicascope-hang-watch",
                                        daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=1.0)

    def _run(self):
        told = False  # this stall was told: once per stall, re-armed by progress
        while not self._stop.wait(self._poll):
            stalled = time.monotonic() - self._ledger.progress
            if stalled < self._timeout:
                told = False
            elif not told:
                told = True
                try:
                    self._explain(stalled)
                except Exception as error:  # the watch never takes the training down
                    print(f"replicascope: the hang watch of rank {self._ledger.rank} failed: "
                          f"{type(error).__name__}: {error}", file=sys.stderr, flush=True)

    def _explain(self, stalled):
        mine = self._ledger.snapshot()
        rank = mine["rank"]
        ledgers, note = {rank: mine}, ""
        if self._world > 1:
            try:
                ledgers = self._gather(mine, stalled)
            except Exception as error:  # the store is gone with its host: say what we see
                note = f" (the other ranks could not be asked: {error})"
        if self._stop.is_set() or rank != min(ledgers, key=lambda r: (r != 0, r)):
            return  # rank 0, or the lowest rank that answered, speaks
        said = explain(ledgers, self._world)
        if said is None:
            return
        sentence, where = said
        self._report(f"no progress for {stalled:.0f} s at a sync point: {sentence}{note}", where)

    def _gather(self, mine, stalled):
        """Every rank's ledger that answers within the gather time and is of this stall."""
        rank, key = mine["rank"], self._key
        since = mine["now"] - stalled - 1.0  # when this stall began, a second early for clocks
        self._store.set(f"{key}/ledger/{rank}", json.dumps(mine))
        self._store.add(f"{key}/answers/{rank}", 1)  # after the ledger: a count means it is there
        ledgers, deadline = {rank: mine}, time.monotonic() + min(self._timeout, _GATHER_SECONDS)
        while True:
            for r in range(self._world):
                if r not in ledgers and self._store.add(f"{key}/answers/{r}", 0) > 0:
                    other = json.loads(self._store.get(f"{key}/ledger/{r}"))
                    if other["now"] >= since:
                        ledgers[r] = other
            if len(ledgers) == self._world or time.monotonic() >= deadline or \
                    self._stop.is_set():
                return ledgers
            time.sleep(0.2)


def default_store():
    """The default process group's store, or None (a world of one, or a PyTorch without it)."""
    try:
        from torch.distributed import distributed_c10d
        return distributed_c10d._get_default_store()
    except Exception:
        return None
