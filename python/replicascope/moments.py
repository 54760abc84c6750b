# SPDX-License-Identifier: MIT
"""Per-channel moments of a BatchNorm layer's input, in float64, and their merge.

The same arithmetic as the C++ engine (core kernels::Moments): a count, the mean and M2 (the sum
of squared deviations from the mean) per channel; merged over copies and ranks with Chan's
parallel formula, weighted by count, so that the merge equals the statistics of the whole batch.
"""
import torch

# |local mean - synchronized mean| / sqrt(var + eps): the C++ engine's kDivergenceEps.
DIVERGENCE_EPS = 1e-5


class Moments:
    __slots__ = ("count", "mean", "m2")

    def __init__(self, count, mean, m2):
        self.count = int(count)
        self.mean = mean  # float64 tensors of one value per channel
        self.m2 = m2

    @property
    def var(self):
        """The biased variance, the one BatchNorm normalizes with."""
        return self.m2 / max(self.count, 1)


def raw_of_input(x):
    """The sums behind the moments of a BatchNorm input [N, C, *], per channel C, off the graph;
    changes nothing. (count, sum, shift, squares): float64 [C] tensors on x's device, made final
    by `finish` (on the host, for a whole step at once: fewer kernels while the model runs).

    Sums accumulate in float64. Two passes: the sum, then the squared deviations from the mean
    rounded to the input's precision (at least float32; each deviation exact to its last bit,
    so no cancellation), corrected in `finish` for that rounding. torch.var_mean would take 3 to
    8 times longer on CPU (its Welford reduction over dims 0, 2, 3 is not vectorized), a float64
    copy of the input twice the memory.
    """
    with torch.no_grad():
        x = x.detach()
        if x.dtype in (torch.float16, torch.bfloat16):
            x = x.float()
        channels = x.shape[1]
        count = x.numel() // channels if channels else 0
        dims = [0] + list(range(2, x.dim()))
        total = torch.sum(x, dim=dims, dtype=torch.float64)
        shift = (total / max(count, 1)).to(x.dtype)
        deviation = x - shift.view([1, channels] + [1] * (x.dim() - 2))
        deviation.mul_(deviation)
        squares = torch.sum(deviation, dim=dims, dtype=torch.float64)
        return count, total, shift.to(torch.float64), squares


def finish(counts, total, shift, squares):
    """Moments from raw_of_input's sums; `counts` per channel (a tensor) or one count."""
    counts = counts if torch.is_tensor(counts) else torch.tensor(float(counts), dtype=torch.float64)
    mean = total / counts.clamp(min=1)
    # sum((x - s)^2) = M2 + n (mean - s)^2
    m2 = (squares - (mean - shift) ** 2 * counts).clamp_(min=0)
    return mean, m2


def of_input(x):
    """The Moments of a BatchNorm input (raw_of_input, then finish)."""
    count, total, shift, squares = raw_of_input(x)
    mean, m2 = finish(count, total, shift, squares)
    return Moments(count, mean, m2)


def merge(parts):
    """The count-weighted merge of moments on one device (Chan et al.); parts may be empty."""
    parts = [p for p in parts if p.count > 0]
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    counts = torch.tensor([float(p.count) for p in parts], dtype=torch.float64)[:, None]
    means = torch.stack([p.mean for p in parts])
    total = int(sum(p.count for p in parts))
    mean = (means * counts).sum(0) / total
    m2 = (torch.stack([p.m2 for p in parts]) + (means - mean) ** 2 * counts).sum(0)
    return Moments(total, mean, m2)


def divergence(parts, merged, eps=DIVERGENCE_EPS):
    """(max over parts and channels of |part mean - merged mean| / sqrt(merged var + eps), the
    channel where it is largest); (0.0, 0) when nothing diverges."""
    parts = [p for p in parts if p.count > 0]
    if merged is None or not parts:
        return 0.0, 0
    means = torch.stack([p.mean for p in parts])
    ratio = (means - merged.mean).abs() / torch.sqrt(merged.var + eps)
    # NaN elements count for nothing, as in the C++ engine's comparisons; infinities count.
    per_channel = torch.nan_to_num(ratio, nan=0.0, posinf=float("inf")).max(0).values
    worst = float(per_channel.max())
    # The first channel of the largest, as the C++ engine's strict comparison keeps it.
    channel = int((per_channel == worst).nonzero()[0]) if worst > 0 else 0
    return worst, channel
