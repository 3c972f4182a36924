"""Chapter 4's numbers: FD in one space for every resolution of a growing GAN.

Samples of any resolution are upsampled (nearest) to 32x32 (64x64 ones are 2x2-average-pooled
down; `data.progan_sprites.to_eval_space`) before the chapter-2 attribute classifier's
features, so a 4x4 generator and a 32x32 one are measured on the same scale.

- `FDTracker`: the FD curve during training (real features computed once);
- `resolution_floors`: real sprites shown at each resolution, the best a generator that size can score;
- `growth_spikes`: how much each fade-in hurt (FD before a growth vs the worst during its fade);
- `evaluate`: chapter 2's whole evaluation (`metrics.sprite_eval`) of a generator of any resolution.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ..data.progan_sprites import detailed_sprites_2x, resize_real, to_eval_space
from ..data.sprites import SPRITE_SIZE
from ..models.progan_schedule import GrowthSchedule
from ..train import CurvePoint
from .sprite_eval import EVAL_LATENT_SEED, SpriteEvaluation, evaluate_generator, reference_sprites


class FDTracker:
    """Fréchet distance of generated images to a fixed real set, real features computed once.

    Images [N, 3, R, R] of any resolution go through `to_eval_space` (nearest up to 32x32) and then
    the sprite classifier's penultimate features; the arithmetic is torchmetrics' (as in
    `metrics.frechet`), with `reset_real_features=False` so each evaluation only embeds fakes.
    """

    def __init__(self, real: Tensor, classifier=None, batch_size: int = 500) -> None:
        from torchmetrics.image.fid import FrechetInceptionDistance

        from .attributes import load_sprite_classifier
        from .frechet import _Features

        self.classifier = classifier if classifier is not None else load_sprite_classifier()
        self.features = self.classifier.feature_extractor()
        self.n = real.shape[0]
        self.batch_size = batch_size
        real = to_eval_space(real)
        self.fid = FrechetInceptionDistance(
            feature=_Features(self.features, real), reset_real_features=False, sync_on_compute=False
        )
        for i in range(0, self.n, batch_size):
            self.fid.update(real[i : i + batch_size], real=True)

    def __call__(self, fake: Tensor) -> float:
        fake = to_eval_space(fake[: self.n])
        if fake.shape[0] < self.n:
            raise ValueError(f"FDTracker was built with {self.n} real images; pass at least as many fakes")
        self.fid.reset()
        for i in range(0, self.n, self.batch_size):
            self.fid.update(fake[i : i + self.batch_size], real=False)
        return float(self.fid.compute())


def growth_spikes(curve: Sequence[CurvePoint], schedule: GrowthSchedule) -> list[dict]:
    """For each growth: FD just before it, the worst FD during the fade, and their ratio.

    A ratio above 1 means the fade made samples worse for a while (a "spike"); the paper's
    fade-in exists to keep this small.
    """
    out = []
    for p in schedule.phases:
        if p.kind != "fade":
            continue
        before = [c for c in curve if c.step <= p.start_step]
        during = [c for c in curve if p.start_step < c.step <= p.end_step]
        if not before or not during:
            continue
        fd0 = before[-1].fd
        worst = max(c.fd for c in during)
        out.append(
            {
                "step": p.start_step,
                "resolution": p.resolution,
                "fd_before": fd0,
                "fd_max_fade": worst,
                "fd_end_fade": during[-1].fd,
                "ratio": worst / fd0,
            }
        )
    return out


def resolution_floors(config: Any, n: int, tracker: FDTracker | None = None) -> dict[int, float]:
    """FD of *real* sprites shown at each resolution (average-pooled to it, then upsampled to 32x32)
    against the reference set: the best any generator at that resolution can score here.

    `config` needs max_resolution and resolutions (`recipes.progan.ProGANConfig`)."""
    real = reference_sprites(n)
    tracker = tracker if tracker is not None else FDTracker(real[:n])
    held = real[n : 2 * n]
    src = detailed_sprites_2x(held) if config.max_resolution > SPRITE_SIZE else held
    return {r: tracker(resize_real(src, r)) for r in config.resolutions}


def evaluate(source: nn.Module | Callable[[int], Tensor], n: int = 2000, seed: int | None = None) -> SpriteEvaluation:
    """The sprite chapters' `evaluate_generator` (coverage, high quality, KL, FD + floor, KID) on 32x32
    versions [n, 3, 32, 32] of the samples (`to_eval_space`), with the same evaluation latents and
    reference sprites as chapters 2 and 3 (`metrics.sprite_eval`)."""
    seed = EVAL_LATENT_SEED if seed is None else seed
    if isinstance(source, torch.nn.Module):
        gen = source
        dev = next(gen.parameters()).device

        @torch.no_grad()
        def source(k: int) -> Tensor:  # noqa: F811
            was = gen.training
            gen.eval()
            z = torch.randn(k, gen.latent_dim, generator=torch.Generator().manual_seed(seed))
            out = torch.cat([gen(c.to(dev)).float().cpu() for c in z.split(500)])
            gen.train(was)
            return out

    return evaluate_generator(lambda k: to_eval_space(source(k)), n=n)
