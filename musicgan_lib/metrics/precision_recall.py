"""Improved precision and recall of a generator (Kynkäänniemi et al. 2019), on any features.

FD folds two failures into one number; these two keep them apart:

* **precision**: the share of generated samples that fall inside the *real* manifold, i.e.
  within the distance from some real sample to its k-th nearest real neighbour. Low precision
  means implausible samples.
* **recall**: the share of real samples that fall inside the *generated* manifold. Low recall
  means parts of the data the generator never makes: mode collapse.

Each manifold is the union of balls around its points, with radius the distance to the point's
k-th nearest neighbour in the same set (k = 3, as in the paper). Features are [N, D] rows; the
cost is O(N^2 D), fine for a few thousand samples on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class PrecisionRecall:
    precision: float
    recall: float
    k: int
    n_real: int
    n_fake: int

    def __str__(self) -> str:
        return f"precision {self.precision:.3f}, recall {self.recall:.3f} (k = {self.k}, {self.n_real} real / {self.n_fake} generated)"


def kth_neighbour_radius(features: Tensor, k: int) -> Tensor:
    """For each row of features [N, D], the distance to its k-th nearest *other* row: [N]."""
    if not 1 <= k < len(features):
        raise ValueError(f"k must be between 1 and N - 1 = {len(features) - 1}, got {k}")
    d = torch.cdist(features, features)
    return d.kthvalue(k + 1, dim=1).values  # +1: the nearest row is the point itself, at distance 0


def inside_manifold(points: Tensor, support: Tensor, radius: Tensor, chunk: int = 1024) -> Tensor:
    """For each row of points [M, D]: is it within radius[j] of some support[j] ([N, D], [N])? -> [M] bool."""
    inside = []
    for block in points.split(chunk):
        inside.append((torch.cdist(block, support) <= radius.unsqueeze(0)).any(dim=1))
    return torch.cat(inside)


def precision_recall(real: Tensor, fake: Tensor, k: int = 3) -> PrecisionRecall:
    """Improved precision and recall of generated features `fake` [M, D] against `real` [N, D]."""
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(
            f"real and fake must be [N, D] and [M, D] features of the same D, got {tuple(real.shape)}, {tuple(fake.shape)}"
        )
    real, fake = real.double(), fake.double()  # distances of near-duplicates must not round into a ball
    precision = inside_manifold(fake, real, kth_neighbour_radius(real, k)).double().mean()
    recall = inside_manifold(real, fake, kth_neighbour_radius(fake, k)).double().mean()
    return PrecisionRecall(float(precision), float(recall), k, len(real), len(fake))
