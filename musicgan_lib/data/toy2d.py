"""Toy 2-D mixtures with known modes: the 8-Gaussian ring and the 25-Gaussian grid.

These are the standard mode-collapse benchmarks (VEEGAN, PacGAN): because every mode is
known, "how many modes did the generator find" is a count, not an impression.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from ..checks import require_int, require_number


@dataclass(frozen=True)
class GaussianMixture2D:
    """Equal-weight isotropic Gaussians at `modes` ([K, 2]) with standard deviation `std`."""

    name: str
    modes: Tensor
    std: float

    def sample(self, n: int, rng: torch.Generator | None = None) -> Tensor:
        """n points [n, 2]: a mode drawn uniformly, plus Gaussian noise."""
        require_int("n", n, minimum=0)
        idx = torch.randint(len(self.modes), (n,), generator=rng)
        return self.modes[idx] + self.std * torch.randn(n, 2, generator=rng)

    def sampler(self):
        """A `sample(batch, rng)` callable for the training loop."""
        return lambda n, rng: self.sample(n, rng)


def ring(n_modes: int = 8, radius: float = 2.0, std: float = 0.02) -> GaussianMixture2D:
    """Modes evenly spaced on a circle; angles are 2*pi*k/n for k < n (n distinct angles,
    not linspace(0, 2*pi, n), which repeats the first mode at 2*pi)."""
    n_modes = require_int("n_modes", n_modes)
    radius, std = (
        require_number("radius", radius, low=0, low_open=True),
        require_number("std", std, low=0, low_open=True),
    )
    angles = torch.arange(n_modes, dtype=torch.float64) * (2 * math.pi / n_modes)
    modes = radius * torch.stack([angles.cos(), angles.sin()], dim=1)
    return GaussianMixture2D("ring", modes.float(), std)


def grid(side: int = 5, spacing: float = 2.0, std: float = 0.05) -> GaussianMixture2D:
    """side x side modes on a square lattice centred at the origin (25 modes at -4..4 by default)."""
    side = require_int("side", side)
    spacing, std = (
        require_number("spacing", spacing, low=0, low_open=True),
        require_number("std", std, low=0, low_open=True),
    )
    coords = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) * spacing
    xx, yy = torch.meshgrid(coords, coords, indexing="ij")
    return GaussianMixture2D("grid", torch.stack([xx.flatten(), yy.flatten()], dim=1), std)
