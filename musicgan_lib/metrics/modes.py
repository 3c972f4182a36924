"""Mode coverage on toy mixtures, by the rule VEEGAN and PacGAN report.

A sample is high quality when it lies within 3 standard deviations of its nearest mode;
a mode is covered when at least one high-quality sample is nearest to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..data.toy2d import GaussianMixture2D


@dataclass(frozen=True)
class ModeReport:
    modes_covered: int
    n_modes: int
    high_quality: float
    counts: tuple[int, ...]

    def __str__(self) -> str:
        return f"{self.modes_covered}/{self.n_modes} modes, {100 * self.high_quality:.1f}% high-quality samples"


def mode_report(samples: Tensor, mixture: GaussianMixture2D, n_std: float = 3.0) -> ModeReport:
    """Count covered modes and the high-quality fraction of `samples` ([N, 2])."""
    if samples.dim() != 2 or samples.shape[1] != 2:
        raise ValueError(f"samples must have shape [N, 2], got {tuple(samples.shape)}")
    if len(samples) == 0:
        raise ValueError("no samples to evaluate")
    dist = torch.cdist(samples.float(), mixture.modes.float())
    nearest_dist, nearest = dist.min(dim=1)
    good = nearest_dist <= n_std * mixture.std
    counts = torch.bincount(nearest[good], minlength=len(mixture.modes))
    return ModeReport(
        modes_covered=int((counts > 0).sum()),
        n_modes=len(mixture.modes),
        high_quality=float(good.float().mean()),
        counts=tuple(int(c) for c in counts),
    )
