"""Fréchet distance and KID in any feature space, always next to the real-vs-real floor.

Why a floor: both numbers are estimated from N samples, and Fréchet distance is biased
upwards at finite N (two disjoint sets of *real* images do not score 0). Printing FD next to
the value two real sets get at the same N tells you how much of it is the generator's fault.

Why our own features: Inception features of 32x32 sprites or of spectrograms mean little.
Chapter 2 uses the sprite attribute classifier's 64-d penultimate layer
(`SpriteAttributeClassifier.feature_extractor()`); chapter 7 passes an audio classifier's.
The arithmetic (means, covariances, matrix square root via eigenvalues; the polynomial-kernel
MMD for KID) is torchmetrics' `FrechetInceptionDistance` / `KernelInceptionDistance` with a
custom feature module; nothing here re-implements sqrtm.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.kid import KernelInceptionDistance

# Each call measures the sets it is given, in this process: under torchrun, torchmetrics would
# otherwise gather features from every rank at compute() and wait for ranks that are not measuring.
LOCAL = False


class _Features(nn.Module):
    """Wrap any feature module/callable for torchmetrics: eval, no grad, flat float CPU output.

    torchmetrics infers the feature size by running a dummy 299x299 image through a custom
    module unless it has an int `num_features`; we set it from one real forward instead, so
    audio or 32x32 feature extractors work. Features come back on the CPU in float32 so the
    metric's float64 states work on any device (MPS has no float64).
    """

    def __init__(self, module: nn.Module | Callable[[torch.Tensor], torch.Tensor], example: torch.Tensor) -> None:
        super().__init__()
        self.module = module
        p = next(module.parameters(), None) if isinstance(module, nn.Module) else None
        self.device = p.device if p is not None else example.device
        self.num_features = int(self.forward(example[:2]).shape[1])

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.module(x.to(self.device))
        if not isinstance(f, torch.Tensor):
            raise TypeError(
                f"the feature module returned {type(f).__name__}, not a tensor of features; "
                "pass e.g. classifier.feature_extractor() rather than the classifier itself"
            )
        return f.reshape(f.shape[0], -1).float().cpu()


class PenultimateFeatures(nn.Module):
    """A classifier's `features` (its penultimate layer) as an nn.Module with `num_features`:
    what `frechet_report` and torchmetrics want. Shared by the sprite and the note classifier."""

    def __init__(self, classifier: nn.Module) -> None:
        super().__init__()
        self.classifier = classifier
        self.num_features = int(classifier.config["feature_dim"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: the classifier's input (sprite images [N, 3, 32, 32] in [-1, 1], or note audio [N, T]) -> features [N, D],
        D = num_features.
        """
        return self.classifier.features(x)


def _eval_mode(module: object) -> bool | None:
    if isinstance(module, nn.Module):
        was = module.training
        module.eval()
        return was
    return None


def _feed(metric: object, x: torch.Tensor, real: bool, batch_size: int) -> None:
    for i in range(0, x.shape[0], batch_size):
        metric.update(x[i : i + batch_size], real=real)  # type: ignore[attr-defined]


def _check_sets(*sets: torch.Tensor) -> None:
    for s in sets:
        if not isinstance(s, torch.Tensor) or s.ndim < 2 or s.shape[0] < 2:
            raise ValueError("each sample set must be a tensor [N, ...] with N >= 2")
        if not torch.isfinite(s).all():
            raise ValueError("samples contain NaN or inf; a diverged generator cannot be scored")


def frechet_distance(
    feature_module: nn.Module | Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int = 500,
) -> float:
    """Fréchet distance between Gaussians fitted to feature_module(x) and feature_module(y).

    x, y: sample sets [N, ...] and [M, ...] (N, M >= 2) that feature_module takes, e.g. images [N, 3, 32, 32] in
    [-1, 1]; it must return features [N, D].
    """
    _check_sets(x, y)
    was = _eval_mode(feature_module)
    try:
        fid = FrechetInceptionDistance(feature=_Features(feature_module, x), sync_on_compute=LOCAL)
        _feed(fid, x, True, batch_size)
        _feed(fid, y, False, batch_size)
        return float(fid.compute())
    finally:
        if was is not None:
            feature_module.train(was)  # type: ignore[union-attr]


@dataclass
class FrechetReport:
    """FD and KID of generated vs real, with the same numbers for real vs held-out real (the floors)."""

    n: int
    fd: float
    fd_floor: float
    kid: float
    kid_std: float
    kid_floor: float
    fd_mean_part: float = math.nan  # |mu_real - mu_generated|^2; fd - fd_mean_part is the spread (covariance) part

    def summary(self) -> str:
        return (
            f"FD {self.fd:.3f} (real-vs-real floor {self.fd_floor:.3f}) | "
            f"KID {self.kid:.4f} ± {self.kid_std:.4f} (floor {self.kid_floor:.4f}) | N={self.n}"
        )


def frechet_report(
    feature_module: nn.Module | Callable[[torch.Tensor], torch.Tensor],
    real_images: torch.Tensor,
    fake_images: torch.Tensor,
    n: int = 2000,
    kid_subsets: int = 100,
    kid_subset_size: int | None = None,
    batch_size: int = 500,
    seed: int = 0,
) -> FrechetReport:
    """FD and KID (mean over subsets) of fake vs real at a fixed N, next to their real-vs-real floors.

    Uses real[:n] as the reference set, fake[:n] as the generated set and real[n:2n] as the
    disjoint "held-out real" set for the floors, so `real_images` needs at least 2n samples
    (shuffle them first if their order means something). KID subsets (default size min(1000, n))
    are drawn with a fixed `seed`, so the report is deterministic given its inputs.
    Works for any inputs the feature module accepts (images, spectrograms, ...).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    if real_images.shape[0] < 2 * n:
        raise ValueError(
            f"frechet_report needs 2n = {2 * n} real samples (n for the comparison, n disjoint ones for "
            f"the real-vs-real floor) but got {real_images.shape[0]}; pass more real samples or a smaller n"
        )
    if fake_images.shape[0] < n:
        raise ValueError(f"frechet_report needs n = {n} generated samples but got {fake_images.shape[0]}")
    real, held, fake = real_images[:n], real_images[n : 2 * n], fake_images[:n]
    _check_sets(real, held, fake)
    subset = kid_subset_size if kid_subset_size is not None else min(1000, n)
    if not 2 <= subset <= n:
        raise ValueError(f"kid_subset_size must lie in 2..n={n}, got {subset}")
    was = _eval_mode(feature_module)
    try:
        feats = _Features(feature_module, real)
        # reset_real_features=False: the real set's features are computed once and reused.
        fid = FrechetInceptionDistance(feature=feats, reset_real_features=False, sync_on_compute=LOCAL)
        with warnings.catch_warnings():  # "KID will save all extracted features": fine at this N
            warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
            kid = KernelInceptionDistance(
                feature=feats, subsets=kid_subsets, subset_size=subset, reset_real_features=False, sync_on_compute=LOCAL
            )
        _feed(fid, real, True, batch_size)
        _feed(kid, real, True, batch_size)
        results = []
        for other in (fake, held):
            fid.reset()
            kid.reset()
            _feed(fid, other, False, batch_size)
            _feed(kid, other, False, batch_size)
            fd = float(fid.compute())
            # the Fréchet distance's first term from the metric's own running sums: how far apart the
            # two means are (the rest of FD says the spreads differ)
            mean_part = float(((fid.real_features_sum / fid.real_features_num_samples
                                - fid.fake_features_sum / fid.fake_features_num_samples) ** 2).sum())  # fmt: skip
            with torch.random.fork_rng(devices=[]):  # KID draws subsets with the global RNG
                torch.manual_seed(seed)
                k_mean, k_std = kid.compute()
            results.append((fd, float(k_mean), float(k_std), mean_part))
    finally:
        if was is not None:
            feature_module.train(was)  # type: ignore[union-attr]
    (fd, k, k_std, mean_part), (fd0, k0, _, _) = results
    if not all(math.isfinite(v) for v in (fd, fd0, k, k0)):
        raise FloatingPointError("Fréchet distance / KID came out non-finite; check the features for NaN")
    return FrechetReport(n=n, fd=fd, fd_floor=fd0, kid=k, kid_std=k_std, kid_floor=k0, fd_mean_part=mean_part)


@dataclass(frozen=True)
class SpreadByDirection:
    """Two feature clouds compared along the real cloud's principal directions (largest variance first).

    Why: `FrechetReport.fd_mean_part` says *whether* a generator's spread is wrong; this says
    *where*. Along direction i, `contribution[i]` = (mean gap)^2 + (sqrt(generated variance) -
    sqrt(real variance))^2 is what that direction adds to the Fréchet distance when the two
    covariances share these axes (then the contributions sum to FD exactly; otherwise the sum
    leaves out how the generated cloud is rotated, and FD is larger).
    """

    real_mean: torch.Tensor  # [d]
    directions: torch.Tensor  # [d, d], column i = direction i
    real_variance: torch.Tensor  # [d]
    generated_variance: torch.Tensor  # [d]
    mean_gap_sq: torch.Tensor  # [d]

    @property
    def contribution(self) -> torch.Tensor:
        """What each principal direction adds to the Fréchet distance: [D], float64 (see the class docstring)."""
        return self.mean_gap_sq + (self.generated_variance.sqrt() - self.real_variance.sqrt()) ** 2

    def worst(self, k: int = 2) -> list[int]:
        """The k directions that add the most to the Fréchet distance, worst first."""
        return self.contribution.argsort(descending=True)[:k].tolist()

    def project(self, features: torch.Tensor, direction: int) -> torch.Tensor:
        """Each sample's coordinate along one direction (0 = the real mean).

        features [N, D] -> coordinates [N] (float64).
        """
        return (features.double() - self.real_mean) @ self.directions[:, direction]


def spread_by_direction(real_features: torch.Tensor, generated_features: torch.Tensor) -> SpreadByDirection:
    """Compare generated features [N, d] with real ones [M, d] along the real features' principal directions."""
    if real_features.ndim != 2 or generated_features.ndim != 2 or real_features.shape[1] != generated_features.shape[1]:
        raise ValueError(
            f"expected two feature matrices [N, d] with the same d, got {tuple(real_features.shape)} and {tuple(generated_features.shape)}"
        )
    if min(real_features.shape[0], generated_features.shape[0]) < 2:
        raise ValueError("spread_by_direction needs at least 2 samples in each set")
    _check_sets(real_features, generated_features)
    real, gen = real_features.detach().double().cpu(), generated_features.detach().double().cpu()
    mean = real.mean(0)
    variance, directions = torch.linalg.eigh(torch.cov(real.T))
    directions = directions.flip(1)  # largest variance first
    gen_coords = (gen - mean) @ directions
    return SpreadByDirection(
        real_mean=mean,
        directions=directions,
        real_variance=variance.flip(0).clamp(min=0),
        generated_variance=gen_coords.var(0),
        mean_gap_sq=gen_coords.mean(0) ** 2,
    )
