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


def of_input(x):
    """The moments of a BatchNorm input [N, C, *], per channel C, off the graph; changes nothing.

    Sums accumulate in float64. Two passes: the mean, then the squared deviations from it (in
    the input's precision, at least float32, each exact to its last bit, so no cancellation),
    corrected for the rounding of the mean used. torch.var_mean would take 3 to 8 times longer
    on CPU (its Welford reduction over dims 0, 2, 3 is not vectorized), a float64 copy of the
    input twice the memory.
    """
    with torch.no_grad():
        x = x.detach()
        if x.dtype in (torch.float16, torch.bfloat16):
            x = x.float()
        channels = x.shape[1]
        count = x.numel() // channels if channels else 0
        dims = [0] + list(range(2, x.dim()))
        mean = torch.sum(x, dim=dims, dtype=torch.float64) / max(count, 1)
        shift = mean.to(x.dtype)
        view = [1, channels] + [1] * (x.dim() - 2)
        deviation = x - shift.view(view)
        deviation.mul_(deviation)
        m2 = torch.sum(deviation, dim=dims, dtype=torch.float64)
        # sum((x - s)^2) = M2 + n (mean - s)^2
        m2 -= (mean - shift.to(torch.float64)) ** 2 * count
        return Moments(count, mean, m2.clamp_(min=0))


def merge(parts):
    """The count-weighted merge of moments on one device (Chan et al.); parts may be empty."""
    parts = [p for p in parts if p.count > 0]
    if not parts:
        return None
    total = sum(p.count for p in parts)
    mean = sum(p.mean * (p.count / total) for p in parts)
    m2 = sum(p.m2 + (p.mean - mean) ** 2 * p.count for p in parts)
    return Moments(total, mean, m2)


def divergence(parts, merged, eps=DIVERGENCE_EPS):
    """max over parts and channels of |part mean - merged mean| / sqrt(merged var + eps)."""
    worst = 0.0
    if merged is None:
        return worst
    scale = torch.sqrt(merged.var + eps)
    for part in parts:
        if part.count > 0:
            worst = max(worst, float(((part.mean - merged.mean).abs() / scale).max()))
    return worst
