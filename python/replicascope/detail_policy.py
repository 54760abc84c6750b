# SPDX-License-Identifier: MIT
"""Which steps of a run keep per-channel detail: core/src/store/detail_policy.cpp, step for step
(docs/run-format.md, "Every step's summary, a sample of steps' detail")."""

AUTO, ALL = 0, -1
AUTO_DETAIL_BYTES, AUTO_DETAIL_MIN_STEPS, AUTO_DETAIL_MAX_STEPS = 100_000_000, 16, 1000


def parse_detail_steps(value):
    """"auto" (or None), "all", or a count of at least 1 (an int, or its digits)."""
    if value is None or value == "auto":
        return AUTO
    if value == "all":
        return ALL
    count = 0
    if isinstance(value, int) and not isinstance(value, bool):
        count = value
    elif isinstance(value, str) and value.isdigit():
        count = int(value)
    if count < 1:
        raise ValueError(f"detail_steps expects 'auto', 'all' or a number of steps of at least "
                         f"1, got {value!r}")
    return count


def stored_row_bytes(payload):
    """What a channel_stats row of `payload` bytes of BLOBs takes in the file, near enough (the
    C++ writer's estimate: header and cell, and the half-empty last overflow page beyond 4 kB)."""
    return 40 + payload + (2048 if payload > 4000 else 0)


def auto_detail_steps(bytes_per_step):
    fit = AUTO_DETAIL_BYTES // max(int(bytes_per_step), 1)
    return min(max(fit, AUTO_DETAIL_MIN_STEPS), AUTO_DETAIL_MAX_STEPS)


class DetailPolicy:
    """The C++ DetailPolicy, step for step: a reservoir of steps on a grid (1, 1 + stride, ...)
    whose stride doubles when it is full, plus a quarter of the capacity for the latest steps on
    a grid four times finer."""

    def __init__(self, capacity, every=1):
        if capacity != ALL and capacity < 1:
            raise ValueError(f"expected a capacity of at least 1 step, got {capacity}")
        self.capacity, self.every = capacity, max(int(every), 1)
        self.recent_capacity = capacity // 4 if capacity >= 4 else 0
        self.reservoir_capacity = capacity - self.recent_capacity
        self.stride = self.every
        self.reservoir, self.recent, self.pinned = set(), [], set()

    def copy(self):
        other = DetailPolicy.__new__(DetailPolicy)
        other.__dict__.update(self.__dict__)
        other.reservoir, other.recent = set(self.reservoir), list(self.recent)
        other.pinned = set(self.pinned)
        return other

    def pin(self, step):
        """Keeps `step`'s detail from now on, outside the capacity (the first non-finite step
        and the one before it); the grids go on as if nothing was pinned."""
        self.pinned.add(step)

    def keeps(self, step):
        return (step in self.pinned or step in self.reservoir or step in self.recent
                or (self.capacity == ALL and (step - 1) % self.every == 0))

    def admit(self, step):
        """(keep, evicted): whether `step` keeps its detail, and earlier steps that lose it."""
        keep, evicted = self._admit_to_grids(step)
        return keep or step in self.pinned, [old for old in evicted if old not in self.pinned]

    def _admit_to_grids(self, step):
        if (step - 1) % self.every:
            return False, []
        if self.capacity == ALL:
            return True, []
        evict = []
        if self.recent_capacity and (step - 1) % self.recent_spacing == 0:
            self.recent.append(step)
            if len(self.recent) > self.recent_capacity:
                old = self.recent.pop(0)
                if old not in self.reservoir:
                    evict.append(old)
        if (step - 1) % self.stride == 0:
            self.reservoir.add(step)
            while len(self.reservoir) > self.reservoir_capacity:
                self.stride *= 2
                for kept in sorted(self.reservoir):
                    if (kept - 1) % self.stride:
                        self.reservoir.discard(kept)
                        if kept not in self.recent and kept != step:
                            evict.append(kept)
        return step in self.reservoir or step in self.recent, sorted(evict)

    @property
    def recent_spacing(self):
        return self.stride // 4 if self.stride >= 4 * self.every else self.every

    def kept(self):
        return sorted(self.reservoir | set(self.recent) | self.pinned)
