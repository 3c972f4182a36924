"""Sprite evaluation: the measuring stick of every sprite chapter (2: DCGAN, 3: WGAN, 4: ProGAN).

One call, `evaluate_generator`, reads a generator's sprites with the shipped attribute
classifier (`metrics/attributes.py`) and reports combination coverage, high quality,
attribute KL, the Fréchet distance with its real-vs-real floor, and KID (`metrics/frechet.py`).
Every chapter evaluates with the same fixed draws, so their numbers compare:

- `EVAL_LATENT_SEED`: the latents every evaluation samples (`sample_generator`);
- `EVAL_REAL_SEED`: the reference set of real sprites (`reference_sprites`), a draw separate
  from the training sprites (`data.sprites.DATA_SEED`);
- `REDRAW_SEED`: the first of the extra draws of `frechet_over_draws`.

Shapes: sprites are [N, 3, 32, 32] float32 in [-1, 1] on the CPU; generators are modules with a
`latent_dim` attribute that map latents [N, latent_dim] to such sprites.
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from ..data.sprites import make_sprites
from ..models.dcgan import recalibrate_batchnorm
from .attributes import AttributeReport, SpriteAttributeClassifier, attribute_report, load_sprite_classifier
from .frechet import FrechetReport, SpreadByDirection, frechet_report, spread_by_direction

EVAL_REAL_SEED = 999  # a separate draw of real sprites: the reference set of every metric
EVAL_LATENT_SEED = 5  # the latents every evaluation samples
REDRAW_SEED = 20_000  # the first of the extra draws `frechet_over_draws` makes (latents and real sprites)

#: What chapter 2 asks of the recipe that does not collapse (quick profile, 2,000 samples); the
#: targets row of `comparison_table` and the default of `SpriteEvaluation.checks`.
TARGETS = {"combo_coverage": 0.90, "high_quality": 0.70, "fd_over_floor": 3.0}


# --------------------------------------------------------------------------------------------
# Sampling
def standing_copy(generator: nn.Module, batches: int = 8, batch_size: int = 256) -> nn.Module:
    """A copy of a generator whose batch-norm statistics are re-estimated from its own samples
    (`batches` batches of `batch_size` latents; eval mode); the generator itself is returned as is
    when it has no batch norm.

    Why: an EMA generator's averaged running statistics do not match its averaged weights (its
    eval-mode samples are mush: FD ~150 where the standing statistics give ~45 at the same step),
    and a raw generator's running statistics only reflect the last ~10 training batches.
    """
    if not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in generator.modules()):
        return generator
    return recalibrate_batchnorm(copy.deepcopy(generator), batches=batches, batch_size=batch_size)


@torch.no_grad()
def sample_generator(
    generator: nn.Module, n: int, seed: int = EVAL_LATENT_SEED, batch_size: int = 500, latents: Tensor | None = None
) -> Tensor:
    """n samples [n, C, H, W] (CPU, float32, [-1, 1]; sprites: [n, 3, 32, 32]) of a generator in eval
    mode, from seeded N(0, I) latents [n, latent_dim], or from the given `latents` [n, latent_dim]."""
    was = generator.training
    generator.eval()
    p = next(generator.parameters())
    if latents is None:
        latents = torch.randn(n, generator.latent_dim, generator=torch.Generator().manual_seed(seed))
    try:
        return torch.cat([generator(z.to(p.device, p.dtype)).float().cpu() for z in latents.split(batch_size)])
    finally:
        generator.train(was)


# --------------------------------------------------------------------------------------------
# The judge and the reference set
@functools.lru_cache(maxsize=2)
def sprite_classifier(device: str) -> SpriteAttributeClassifier:
    """The shipped attribute classifier on `device` ("cpu", "cuda", ...), loaded once per device
    (`metrics.attributes.load_sprite_classifier`); it reads sprites [N, 3, 32, 32] in [-1, 1]."""
    return load_sprite_classifier(device)


@functools.lru_cache(maxsize=4)
def reference_sprites(n: int, seed: int = EVAL_REAL_SEED) -> Tensor:
    """2n real sprites [2n, 3, 32, 32] (CPU, float32, [-1, 1]) from a draw separate from the training
    set: the first n to compare with, the next n for the real-vs-real floor.

    Cached: repeated calls return the same tensor, so do not modify it in place."""
    return make_sprites(2 * n, seed=seed).images


@dataclass
class SpriteEvaluation:
    """Everything the sprite metrics say about one generator, from one call."""

    attributes: AttributeReport
    frechet: FrechetReport

    @property
    def n(self) -> int:
        return self.frechet.n

    def metrics(self) -> dict[str, float]:
        """The chapter's recorded numbers, under their record() names."""
        a, f = self.attributes, self.frechet
        return {
            "combo_coverage": a.coverage,
            "high_quality": a.high_quality,
            "attribute_kl": a.kl,
            "fd": f.fd,
            "fd_floor": f.fd_floor,
            "kid": f.kid,
        }

    def checks(self, targets: Mapping[str, float] = TARGETS) -> dict[str, bool]:
        """Pass/fail of each target (coverage >=, high quality >=, FD / floor <=)."""
        return {
            "combo_coverage": self.attributes.coverage >= targets["combo_coverage"],
            "high_quality": self.attributes.high_quality >= targets["high_quality"],
            "fd_over_floor": self.frechet.fd <= targets["fd_over_floor"] * self.frechet.fd_floor,
        }

    def summary(self) -> str:
        return f"{self.attributes.summary()}\n{self.frechet.summary()}"


def evaluate_generator(
    source: nn.Module | Callable[[int], Tensor] | Tensor,
    *,
    n: int = 2000,
    seed: int = EVAL_LATENT_SEED,
    classifier: SpriteAttributeClassifier | None = None,
    real: Tensor | None = None,
    device: torch.device | str = "cpu",
    standing_stats: bool = True,
) -> SpriteEvaluation:
    """Coverage, high quality, attribute KL, FD (with its real-vs-real floor) and KID in one go.

    `source` is one of: a generator module with a `latent_dim` attribute (sampled in eval mode
    from seeded N(0, I) latents; with `standing_stats` a copy with re-estimated batch-norm
    statistics is sampled, see `standing_copy`), a function `sample(n) -> images [n, 3, 32, 32]`, or a
    tensor of images [>= n, 3, 32, 32] in [-1, 1]. `real` ([>= 2n, 3, 32, 32] real sprites: the first n
    to compare with, the next n for the floor) defaults to `reference_sprites(n)`, a fixed draw disjoint
    from the training set; `classifier` defaults to the shipped attribute classifier.
    """
    images = _generated_images(source, n, seed, standing_stats, "evaluate_generator")
    clf = classifier if classifier is not None else sprite_classifier(str(torch.device(device)))
    real = reference_sprites(n) if real is None else real
    attrs = attribute_report(clf, images)
    fr = frechet_report(clf.feature_extractor(), real, images, n=n)
    return SpriteEvaluation(attrs, fr)


def _generated_images(
    source: nn.Module | Callable[[int], Tensor] | Tensor, n: int, seed: int, standing_stats: bool, caller: str
) -> Tensor:
    """n images [n, 3, 32, 32] (CPU float32) from a generator module, a sample(n) function or a tensor
    (see evaluate_generator)."""
    if isinstance(source, Tensor):
        images = source
    elif isinstance(source, nn.Module):
        if not hasattr(source, "latent_dim"):
            raise TypeError("a generator module needs a `latent_dim` attribute; or pass sample(n) -> images, or images")
        images = sample_generator(standing_copy(source) if standing_stats else source, n, seed)
    elif callable(source):
        images = source(n)
    else:
        raise TypeError(
            f"source must be a generator module, a sample(n) function or an image tensor, not {type(source).__name__}"
        )
    images = images.detach().float().cpu()
    if images.shape[0] < n:
        raise ValueError(f"{caller} needs n = {n} images, got {images.shape[0]}")
    if not torch.isfinite(images).all():
        raise ValueError("the generated images contain NaN/inf; the generator has diverged")
    return images[:n].contiguous()


@dataclass
class FrechetOverDraws:
    """The FD of one generator and its real-vs-real floor, over several independent draws."""

    reports: list[FrechetReport]

    def _per_draw(self, field: str) -> np.ndarray:
        return np.array([getattr(r, field) for r in self.reports])

    @property
    def fd(self) -> np.ndarray:
        return self._per_draw("fd")

    @property
    def floor(self) -> np.ndarray:
        return self._per_draw("fd_floor")

    @property
    def ratio(self) -> np.ndarray:
        return self.fd / self.floor

    @property
    def kid(self) -> np.ndarray:
        """KID per draw (unbiased: its real-vs-real floor scatters around 0, it has no floor to divide by)."""
        return self._per_draw("kid")

    @property
    def kid_floor(self) -> np.ndarray:
        return self._per_draw("kid_floor")

    def summary(self) -> str:
        def spread(x: np.ndarray, fmt: str) -> str:
            return f"{x.min():{fmt}}-{x.max():{fmt}} (median {np.median(x):{fmt}})"

        return (
            f"over {len(self.reports)} draws of N = {self.reports[0].n:,}: FD {spread(self.fd, '.3f')}, "
            f"real-vs-real floor {spread(self.floor, '.3f')}, FD / floor {spread(self.ratio, '.2f')}; "
            f"KID {spread(self.kid, '.4f')}, floor {spread(self.kid_floor, '.4f')}"
        )


def frechet_over_draws(
    generator: nn.Module,
    *,
    draws: int = 5,
    n: int = 2000,
    first_seed: int = REDRAW_SEED,
    classifier: SpriteAttributeClassifier | None = None,
    standing_stats: bool = True,
) -> FrechetOverDraws:
    """FD and floor of `generator` over `draws` fresh draws: draw k samples n sprites [n, 3, 32, 32]
    from latents seeded first_seed + k and compares them with 2n real sprites [2n, 3, 32, 32] drawn
    with the same seed.

    Why: every reported FD uses one fixed draw (EVAL_LATENT_SEED, EVAL_REAL_SEED). At N = 2,000
    the FD of one generator, and the floor itself, move from draw to draw; redrawing shows how
    much, so a difference between two FDs, or between an FD and 3 x its floor, can be read against it.
    """
    if draws < 1:
        raise ValueError(f"draws must be >= 1, got {draws}")
    if not isinstance(generator, nn.Module) or not hasattr(generator, "latent_dim"):
        raise TypeError(
            "frechet_over_draws needs a generator module with a `latent_dim` attribute (it samples new latents per draw)"
        )
    source = standing_copy(generator) if standing_stats else generator
    features = (classifier if classifier is not None else sprite_classifier("cpu")).feature_extractor()
    reports = []
    for k in range(draws):
        images = _generated_images(source, n, first_seed + k, False, "frechet_over_draws")
        reports.append(frechet_report(features, make_sprites(2 * n, seed=first_seed + k).images, images, n=n))
    return FrechetOverDraws(reports)


@dataclass
class SpreadDiagnosis:
    """Where a generator's sprites spread differently from real ones in the classifier's feature space.

    Images are [n, 3, 32, 32] in [-1, 1]; features [n, F], the classifier's penultimate layer."""

    directions: SpreadByDirection
    real_images: Tensor
    generated_images: Tensor
    real_features: Tensor
    generated_features: Tensor

    def extremes(self, direction: int, k: int = 6) -> tuple[Tensor, Tensor]:
        """The k real and the k generated sprites ([k, 3, 32, 32] each) furthest out along one direction,
        k/2 at each end, ordered from the negative end to the positive one."""
        out = []
        for images, feats in ((self.real_images, self.real_features), (self.generated_images, self.generated_features)):
            order = self.directions.project(feats, direction).argsort()
            out.append(images[torch.cat([order[: k // 2], order[len(order) - (k - k // 2) :]])])
        return out[0], out[1]


@torch.no_grad()
def diagnose_spread(
    source: nn.Module | Callable[[int], Tensor] | Tensor,
    *,
    n: int = 2000,
    seed: int = EVAL_LATENT_SEED,
    classifier: SpriteAttributeClassifier | None = None,
    standing_stats: bool = True,
) -> SpreadDiagnosis:
    """Compare a generator's sprites with n real ones along the real features' principal directions.

    `source` is what `evaluate_generator` takes (a generator module, `sample(n) -> [n, 3, 32, 32]`, or
    images [>= n, 3, 32, 32]); the real sprites are the first n of `reference_sprites(n)`.

    The same samples, real sprites and features as `evaluate_generator` (same n and seed), so the
    per-direction contributions explain the FD it reports."""
    images = _generated_images(source, n, seed, standing_stats, "diagnose_spread")
    clf = classifier if classifier is not None else sprite_classifier("cpu")
    real = reference_sprites(n)[:n]
    features, dev = clf.feature_extractor().eval(), next(clf.parameters()).device
    rf, gf = (torch.cat([features(b.to(dev)).float().cpu() for b in x.split(500)]) for x in (real, images))
    return SpreadDiagnosis(spread_by_direction(rf, gf), real, images, rf, gf)


def comparison_table(evaluations: Mapping[str, SpriteEvaluation], targets: Mapping[str, float] = TARGETS) -> str:
    """A fixed-width table of the metrics of several generators (plus the targets row)."""
    head = f"{'':22s} {'coverage':>9s} {'high q.':>8s} {'attr. KL':>9s} {'FD':>8s} {'floor':>7s} {'FD/floor':>9s} {'KID':>8s}"
    lines = [head, "-" * len(head)]
    for name, ev in evaluations.items():
        m = ev.metrics()
        ratio = m["fd"] / m["fd_floor"] if m["fd_floor"] > 0 else math.inf
        lines.append(
            f"{name:22s} {m['combo_coverage']:9.3f} {m['high_quality']:8.3f} {m['attribute_kl']:9.3f} "
            f"{m['fd']:8.3f} {m['fd_floor']:7.3f} {ratio:9.1f} {m['kid']:8.4f}"
        )
    lines.append(
        f"{'target':22s} {'>= ' + format(targets['combo_coverage'], '.2f'):>9s} {'>= ' + format(targets['high_quality'], '.2f'):>8s}"
        f" {'':9s} {'':8s} {'':7s} {'<= ' + format(targets['fd_over_floor'], '.0f'):>9s}"
    )
    return "\n".join(lines)


@torch.no_grad()
def critic_on_real(critic: torch.nn.Module, images: torch.Tensor) -> tuple[float, float]:
    """The critic's view of real images [N, 3, H, W], without augmentation: the share it calls real
    (logit > 0) and its mean probability of "real". On held-out sprites both fall below their
    values on training sprites when the critic memorises the training set."""
    plain = getattr(critic, "critic", critic)  # an AugmentedCritic's own critic
    was = plain.training
    plain.eval()
    n = len(images) - len(images) % getattr(plain, "pack", 1)
    logits = plain(images[:n]).reshape(-1).float()
    plain.train(was)
    return float((logits > 0).float().mean()), float(torch.sigmoid(logits).mean())
