"""Chapter 4: progressive growing of GANs (Karras et al., 2018) on the sprites.

The networks in `models/progan.py` grow; this module decides *when* and trains them:

- `GrowthSchedule`: a stable phase at 4x4, then for each doubling a fade phase (alpha 0 -> 1)
  and a stable phase, each a set number of *images*; compiled to training steps, so the
  resolution and alpha at any step are a pure function of the step (a resumed run is on the
  same schedule without storing anything but the step).
- `fade_real`: real images are faded too: at resolution R during a fade the critic sees
  lerp(up(avgpool2(x_R)), x_R, alpha), the same blend the generator's output goes through,
  so real and fake are always made the same way.
- `ProGANTrainer`: a training loop on `TrainLoop` (progress, NaN stop, atomic checkpoints with
  RNG state): WGAN-GP (lambda 10) with the 0.001 drift term, one critic step per generator
  step, Adam lr 1e-3, betas (0, 0.99), *new* optimizers every time the networks grow, and an
  exponential moving average of the generator's weights used for every sample it shows.
  Checkpoints store resolution / alpha / phase; `resume()` rebuilds the networks at that
  resolution before loading the weights, so a run can be stopped and resumed mid-fade.
- Conditioning (`ProGANConfig.conditional`, on in both profiles): chapter 2's cure for collapse
  on growing networks. `CodedProGenerator` reads attribute codes at its 4x4 input,
  `ProjectionProCritic` is told the labels; real batches bring their labels and each fake batch
  requests the labels of the real batch it is judged with.
- FD in one space for every resolution: samples are upsampled (nearest) to 32x32 (64x64 ones
  are 2x2-average-pooled down) before the chapter-2 attribute classifier's features.

Full profile (64x64): the procedural sprites are drawn at 32x32, so a 64x64 source is made by
`detailed_sprites_2x`: a nearest 2x upscale plus a one-pixel bevel on every 2x2 block (top-left
lighter, bottom-right darker by the same amount). Honest summary: it is the same characters
with a synthetic shading texture, not new detail; but its 2x2 average is exactly the 32x32
sprite, so FD stays comparable, and the 64x64 level has something to learn.
"""

from __future__ import annotations

import bisect
import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .. import distributed
from ..checkpoint import load_checkpoint, read_asset_meta, read_checkpoint_meta, save_checkpoint
from ..data.sprites import ATTRIBUTE_SIZES, DATA_SEED, SPRITE_SIZE, make_sprites, tensor_sampler
from ..device import seed_everything
from ..losses import WassersteinLoss
from ..models.progan import (
    CodedProGenerator,
    ProCritic,
    ProGenerator,
    ProjectionProCritic,
    channel_plan,
    downsample2,
    upsample2,
)
from ..profiles import check_profile
from ..train import CLOCKS, BudgetSpent, Every, TrainLoop, judged

ASSETS = Path(__file__).resolve().parents[2] / "assets"
MAKE_SCRIPT = "scripts/make_progan_weights.py"
EVAL_SIZE = SPRITE_SIZE  # FD / attribute metrics are computed on 32x32 images


# ---- data ----------------------------------------------------------------------------------------
def detailed_sprites_2x(images: Tensor, strength: float = 0.12) -> Tensor:
    """32x32 sprites -> 64x64: nearest 2x upscale plus a bevel inside every 2x2 block.

    The top-left pixel of each block moves towards white and the bottom-right one towards black
    by the same amount d = strength * min(1 - x, x + 1) (so nothing leaves [-1, 1]); the other
    two are unchanged. The 2x2 average of the result is exactly the input sprite.
    """
    up = upsample2(images)
    d = strength * torch.minimum(1.0 - images, images + 1.0)
    bevel = torch.zeros_like(up)
    bevel[..., 0::2, 0::2] = d
    bevel[..., 1::2, 1::2] = -d
    return up + bevel


def to_eval_space(images: Tensor) -> Tensor:
    """Any resolution -> 32x32 in [-1, 1]: nearest upsampling from below, 2x2 average pooling from above."""
    x = images.float().clamp(-1.0, 1.0)
    if x.shape[-1] < EVAL_SIZE:
        x = F.interpolate(x, size=(EVAL_SIZE, EVAL_SIZE), mode="nearest")
    while x.shape[-1] > EVAL_SIZE:
        x = downsample2(x)
    return x


def resize_real(images: Tensor, resolution: int) -> Tensor:
    """Real images at the current training resolution (2x2 average pooling, as in the paper)."""
    x = images
    while x.shape[-1] > resolution:
        x = downsample2(x)
    if x.shape[-1] != resolution:
        raise ValueError(
            f"cannot make {resolution}x{resolution} images from {images.shape[-1]}x{images.shape[-1]} ones"
        )
    return x


def fade_real(images: Tensor, alpha: float) -> Tensor:
    """During a fade, blend real images with their 2x2-average-pooled-then-upsampled version.

    alpha = 0 gives exactly the lower-resolution picture the critic saw before growing,
    alpha = 1 the full-resolution one; in between the same lerp the generator's output uses.
    """
    if alpha >= 1.0:
        return images
    return torch.lerp(upsample2(downsample2(images)), images, float(alpha))


def training_sprites(config: "ProGANConfig") -> Tensor:
    """The training set: the same 20,000 procedural 32x32 sprites as chapters 2 and 3."""
    return make_sprites(config.n_data, seed=config.data_seed).images


def real_sampler(
    config: "ProGANConfig", data: Tensor | None = None, labels: Tensor | None = None
) -> Callable[[int, torch.Generator], Tensor | tuple[Tensor, Tensor]]:
    """sample(batch, rng) -> real images: 32x32 sprites, or `detailed_sprites_2x` of them for a 64x64 run;
    (images, labels) for a conditional config (`labels` default to the procedural sprites' own;
    an unconditional config ignores them).

    The trainer average-pools them down to the resolution it is at.
    """
    if config.max_resolution > 2 * SPRITE_SIZE:
        raise ValueError(f"sprite sources exist up to 64x64, not {config.max_resolution}")
    if data is None:  # the procedural sprites, drawn once, with their labels
        sprites = make_sprites(config.n_data, seed=config.data_seed)
        data, labels = sprites.images, sprites.labels
    elif config.conditional and labels is None:
        raise ValueError(
            "a conditional ProGAN needs the attribute labels of its training images: pass labels=[N, 5] "
            "with data, or set conditional=False"
        )
    base = tensor_sampler(data, labels if config.conditional else None)
    if config.max_resolution <= data.shape[-1]:
        return base
    if config.conditional:

        def detailed_with_labels(batch: int, rng: torch.Generator) -> tuple[Tensor, Tensor]:
            images, y = base(batch, rng)
            return detailed_sprites_2x(images), y

        return detailed_with_labels
    return lambda batch, rng: detailed_sprites_2x(base(batch, rng))


# ---- the schedule --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Phase:
    """One stretch of training at one resolution: "stable" (alpha = 1) or "fade" (alpha 0 -> 1)."""

    index: int
    resolution: int
    kind: str
    start_step: int
    steps: int
    batch_size: int
    start_images: int

    @property
    def end_step(self) -> int:
        return self.start_step + self.steps

    @property
    def images(self) -> int:
        return self.steps * self.batch_size


@dataclass(frozen=True)
class GrowthSchedule:
    """The phases of a progressive run, in steps; `at(step)` gives (phase, alpha).

    Lengths are given in images (as in the paper) and rounded up to whole steps at each
    resolution's batch size. After the last phase training stays at the final resolution.
    """

    phases: tuple[Phase, ...]

    @classmethod
    def build(
        cls,
        start_resolution: int = 4,
        max_resolution: int = 32,
        stable_images: int | Sequence[int] = 20000,
        fade_images: int | Sequence[int] = 20000,
        batch_size: int | dict[int, int] = 32,
        final_stable_images: int | None = None,
    ) -> "GrowthSchedule":
        """stable/fade images: one number for all resolutions or one per resolution (fades start at the 2nd)."""
        resolutions = []
        r = start_resolution
        while r <= max_resolution:
            resolutions.append(r)
            r *= 2
        if not resolutions or resolutions[-1] != max_resolution:
            raise ValueError(
                f"max_resolution {max_resolution} is not start_resolution {start_resolution} times a power of two"
            )

        def per_res(v, n, what):
            vals = [v] * n if isinstance(v, int) else list(v)
            if len(vals) != n:
                raise ValueError(f"{what}: need {n} values, got {len(vals)}")
            return vals

        stables = per_res(stable_images, len(resolutions), "stable_images")
        fades = per_res(fade_images, len(resolutions) - 1, "fade_images")
        if final_stable_images is not None:
            stables[-1] = final_stable_images
        phases: list[Phase] = []
        step = images = 0
        for i, res in enumerate(resolutions):
            b = batch_size[res] if isinstance(batch_size, dict) else batch_size
            kinds = [("fade", fades[i - 1])] if i > 0 else []
            kinds.append(("stable", stables[i]))
            for kind, n_img in kinds:
                steps = max(1, math.ceil(n_img / b))
                phases.append(Phase(len(phases), res, kind, step, steps, b, images))
                step += steps
                images += steps * b
        return cls(tuple(phases))

    @property
    def total_steps(self) -> int:
        return self.phases[-1].end_step

    @property
    def total_images(self) -> int:
        return self.phases[-1].start_images + self.phases[-1].images

    @property
    def final_resolution(self) -> int:
        return self.phases[-1].resolution

    @property
    def growth_steps(self) -> list[int]:
        """Steps at which the networks grow (start of each fade)."""
        return [p.start_step for p in self.phases if p.kind == "fade"]

    def phase_at(self, step: int) -> Phase:
        starts = [p.start_step for p in self.phases]
        return self.phases[max(0, bisect.bisect_right(starts, step) - 1)]

    def at(self, step: int) -> tuple[Phase, float]:
        """(phase, alpha) for the step about to run; alpha goes 0, 1/n, ..., (n-1)/n over a fade."""
        p = self.phase_at(step)
        if p.kind == "fade" and step < p.end_step:
            return p, (step - p.start_step) / p.steps
        return p, 1.0

    def images_at(self, step: int) -> int:
        p = self.phase_at(step)
        return p.start_images + (step - p.start_step) * p.batch_size

    def describe(self) -> str:
        lines = [f"{'phase':>5s} {'res':>5s} {'kind':>6s} {'steps':>13s} {'images':>17s} {'batch':>5s}"]
        for p in self.phases:
            lines.append(
                f"{p.index:5d} {p.resolution:3d}px {p.kind:>6s} {p.start_step:6d}-{p.end_step:<6d} "
                f"{p.start_images:8d}-{p.start_images + p.images:<8d} {p.batch_size:5d}"
            )
        return "\n".join(lines)

    def to_meta(self) -> list[dict]:
        return [asdict(p) for p in self.phases]

    @classmethod
    def from_meta(cls, phases: Sequence[dict]) -> "GrowthSchedule":
        return cls(tuple(Phase(**p) for p in phases))


# ---- configuration ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProGANConfig:
    """Sizes, schedule and optimiser of one profile. Widths follow `channel_plan`."""

    profile: str = "quick"
    max_resolution: int = 32
    start_resolution: int = 4
    latent_dim: int = 128
    fmap_base: int = 512
    fmap_max: int = 64
    fmap_min: int = 16
    batch_sizes: tuple[int, ...] = (64, 32, 16, 16)
    stable_images: tuple[int, ...] = (
        30000,
        15000,
        20000,
        400_000,
    )  # 4x4 long enough to settle: a shorter one spiked FD 2.1x at the first growth
    fade_images: tuple[int, ...] = (15000, 15000, 20000)
    budget_seconds: float | None = 720.0
    lr: float = 1e-3
    betas: tuple[float, float] = (0.0, 0.99)
    gp_weight: float = 10.0
    drift: float = 0.001
    mbstd_group: int = 4
    ema_half_life_images: int = 10000
    ema_rampup: float = 0.05
    n_data: int = 20000
    data_seed: int = DATA_SEED  # the training sprites of chapters 2 and 3
    real_seed: int = 999
    curve_n: int = 1000
    eval_n: int = 2000
    evals_per_phase: int = 4
    eval_every_images: int = 10000
    clock: str = "process"
    channels_last: bool = True  # ~10 % faster convolutions on a CPU
    conditional: bool = False  # attribute codes into the 4x4 input, a projection critic (chapter 2's cure)

    @classmethod
    def for_profile(cls, profile: str) -> "ProGANConfig":
        check_profile(profile)
        if profile == "full":
            return cls(
                profile="full",
                max_resolution=64,
                latent_dim=256,
                fmap_base=4096,
                fmap_max=256,
                fmap_min=32,
                batch_sizes=(128, 128, 64, 64, 32),
                stable_images=(100_000, 200_000, 200_000, 300_000, 600_000),
                fade_images=(200_000, 200_000, 300_000, 300_000),
                budget_seconds=None,
                curve_n=2000,
                evals_per_phase=6,
                eval_every_images=50_000,
                clock="wall",
                conditional=True,
            )
        return cls(conditional=True)

    def live(self) -> "ProGANConfig":
        """The notebook's short live run: 4x4, a fade, a little 8x8 (the learner sees fade-in move)."""
        return replace(
            self,
            max_resolution=8,
            batch_sizes=self.batch_sizes[:2],
            stable_images=(12000, 4000),
            fade_images=(6000,),
            evals_per_phase=2,
            budget_seconds=None,
        )

    @property
    def channels(self) -> Callable[[int], int]:
        return channel_plan(self.fmap_base, self.fmap_max, self.fmap_min)

    @property
    def resolutions(self) -> list[int]:
        return [self.start_resolution * 2**i for i in range(len(self.stable_images))]

    def schedule(self) -> GrowthSchedule:
        if self.resolutions[-1] != self.max_resolution or len(self.batch_sizes) != len(self.resolutions):
            raise ValueError(
                f"need one stable_images and batch_sizes entry per resolution {self.start_resolution}..{self.max_resolution}"
            )
        return GrowthSchedule.build(
            self.start_resolution,
            self.max_resolution,
            list(self.stable_images),
            list(self.fade_images),
            dict(zip(self.resolutions, self.batch_sizes)),
        )

    def meta(self) -> dict:
        d = asdict(self)
        for k in ("stable_images", "fade_images", "betas", "batch_sizes"):
            d[k] = list(d[k])
        return d

    @classmethod
    def from_meta(cls, d: dict) -> "ProGANConfig":
        d = dict(d)
        for k in ("stable_images", "fade_images", "betas", "batch_sizes"):
            d[k] = tuple(d[k])
        return cls(**d)


def build_generator(config: ProGANConfig, resolution: int | None = None) -> ProGenerator:
    """The config's generator (conditional or not) at `resolution` (default: the start), alpha = 1."""
    r = resolution or config.start_resolution
    if config.conditional:
        return CodedProGenerator(
            ATTRIBUTE_SIZES, config.latent_dim, config.max_resolution, config.channels, resolution=r
        )
    return ProGenerator(config.latent_dim, config.max_resolution, config.channels, resolution=r)


def make_networks(
    config: ProGANConfig, resolution: int | None = None, device: torch.device | str = "cpu"
) -> tuple[ProGenerator, ProCritic]:
    """Generator and critic at `resolution` (default: the start), alpha = 1."""
    r = resolution or config.start_resolution
    g = build_generator(config, r)
    if config.conditional:
        d: ProCritic = ProjectionProCritic(
            ATTRIBUTE_SIZES, config.max_resolution, config.channels, resolution=r, mbstd_group=config.mbstd_group
        )
    else:
        d = ProCritic(config.max_resolution, config.channels, resolution=r, mbstd_group=config.mbstd_group)
    fmt = torch.channels_last if config.channels_last else torch.preserve_format
    return g.to(device, memory_format=fmt), d.to(device, memory_format=fmt)


# ---- FD in one space for all resolutions ---------------------------------------------------------
class FDTracker:
    """Fréchet distance of generated images to a fixed real set, real features computed once.

    Images of any resolution go through `to_eval_space` (nearest up to 32x32) and then the
    sprite classifier's penultimate features; the arithmetic is torchmetrics' (as in
    `metrics.frechet`), with `reset_real_features=False` so each evaluation only embeds fakes.
    """

    def __init__(self, real: Tensor, classifier=None, batch_size: int = 500) -> None:
        from torchmetrics.image.fid import FrechetInceptionDistance

        from ..metrics.attributes import load_sprite_classifier
        from ..metrics.frechet import _Features

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


# ---- the trainer --------------------------------------------------------------------------------
@dataclass
class Snapshot:
    """Fixed-latent samples of the EMA generator at one point of training."""

    step: int
    resolution: int
    alpha: float
    kind: str
    images: Tensor


@dataclass
class CurvePoint:
    step: int
    images: int
    resolution: int
    alpha: float
    kind: str
    seconds: float
    fd: float


class ProGANTrainer:
    """Progressive training on `TrainLoop`: grows the networks on schedule, resets Adam, keeps an EMA.

    `modules` in the loop are the generator, critic and EMA generator (grown in place, so the
    loop always holds the current ones); `optimizers` are replaced at every growth. Checkpoint
    metadata carries resolution, alpha and phase; `resume()` grows the fresh networks to the
    stored resolution before loading. `seconds` counts training time only (evaluations and
    snapshots excluded) on `clock` ("process": CPU seconds, robust on a busy machine).
    """

    def __init__(
        self,
        config: ProGANConfig,
        *,
        seed: int = 0,
        device: torch.device | str = "cpu",
        data: Tensor | None = None,
        labels: Tensor | None = None,
        fd_tracker: FDTracker | None = None,
        checkpoint_path: str | Path | None = None,
        checkpoint_every: int = 0,
        snapshot_latents: int = 16,
        snapshot_every: int = 0,
        clock: str | None = None,
        description: str = "ProGAN",
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config
        self.log = log
        self.schedule = config.schedule()
        self.device = torch.device(device)
        self.rng = seed_everything(seed)
        self.generator, self.critic = make_networks(config, device=self.device)
        self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False)
        self.loss = WassersteinLoss(gp_weight=config.gp_weight, drift=config.drift)
        self.sample_real = real_sampler(config, data, labels)
        self.fd_tracker = fd_tracker
        self.fixed_latents = torch.randn(
            snapshot_latents, config.latent_dim, generator=torch.Generator().manual_seed(4321)
        )
        self.snapshots: list[Snapshot] = []
        self.snapshot_every = snapshot_every
        self._budget: float | None = None
        self.curve: list[CurvePoint] = []
        self.clock = CLOCKS[clock or config.clock]
        self.seconds = 0.0
        self.growth_log: list[int] = []
        self.eval_steps = self._eval_steps()
        self.loop = TrainLoop(
            self._step,
            {"generator": self.generator, "critic": self.critic, "generator_ema": self.generator_ema},
            self._optimizers(),
            rng=self.rng,
            checkpoint_path=checkpoint_path,
            checkpoint_every=checkpoint_every,
            callbacks=[Every(1, self._after_step, at_end=False)],
            description=description,
        )
        self._update_meta(1.0)

    # ---- pieces -----------------------------------------------------------------------------
    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Fresh Adam for both networks (called at the start and after every growth)."""
        betas = (float(self.config.betas[0]), float(self.config.betas[1]))
        return {
            "generator": torch.optim.Adam(self.generator.parameters(), lr=self.config.lr, betas=betas),
            "critic": torch.optim.Adam(self.critic.parameters(), lr=self.config.lr, betas=betas),
        }

    def _eval_steps(self) -> set[int]:
        """Where the FD curve and snapshots are taken: every phase boundary and evenly inside each phase."""
        steps = {0}
        for p in self.schedule.phases:
            k = max(1, self.config.evals_per_phase)
            if p is self.schedule.phases[-1]:  # the last phase may be cut short by a time budget
                k = max(k, p.images // max(self.config.eval_every_images, 1))
            steps.update(p.start_step + (p.steps * i) // k for i in range(1, k + 1))
        return steps

    def grow(self) -> None:
        """One growth step: G, D and the EMA get a new block (EMA's new layers = G's), Adam restarts."""
        self.generator.grow()
        self.critic.grow()
        self.generator_ema.grow()
        self.generator_ema.blocks[-1].load_state_dict(self.generator.blocks[-1].state_dict())
        self.generator_ema.to_rgb[-1].load_state_dict(self.generator.to_rgb[-1].state_dict())
        self._format()
        self.loop.optimizers.clear()
        self.loop.optimizers.update(self._optimizers())
        self.growth_log.append(self.loop.step)

    def _format(self) -> None:
        """Give freshly grown layers the networks' memory format; the EMA never gets gradients."""
        if self.config.channels_last:
            for m in (self.generator, self.critic, self.generator_ema):
                m.to(memory_format=torch.channels_last)
        self.generator_ema.requires_grad_(False)

    def _set_alpha(self, alpha: float) -> None:
        for m in (self.generator, self.critic, self.generator_ema):
            m.set_alpha(alpha)

    def _update_meta(self, alpha: float) -> None:
        phase = self.schedule.phase_at(max(self.loop.step - 1, 0))
        self.loop.meta.update(
            kind="progan",
            resolution=self.generator.resolution,
            alpha=float(alpha),
            phase=phase.index,
            phase_kind=phase.kind,
            images=self.schedule.images_at(self.loop.step),
            train_seconds=self.seconds,
            config=self.config.meta(),
        )

    def ema_beta(self, batch_size: int, images_seen: int) -> float:
        """Per-step EMA decay from a half-life in images, ramped up as in StyleGAN's code:
        half-life = min(ema_half_life_images, ema_rampup * images seen at this resolution).

        The ramp restarts at every growth: the new block starts from random weights and the old
        ones must adapt to it, so an average over the pre-growth weights would mix a freshly
        initialised block into the samples for thousands of images (a spike in FD)."""
        half_life = self.config.ema_half_life_images
        if self.config.ema_rampup:
            half_life = min(half_life, self.config.ema_rampup * images_seen)
        return 0.5 ** (batch_size / max(half_life, 1e-8))

    @torch.no_grad()
    def _update_ema(self, beta: float) -> None:
        for pe, p in zip(self.generator_ema.parameters(), self.generator.parameters()):
            pe.lerp_(p, 1.0 - beta)

    # ---- the step ---------------------------------------------------------------------------
    def _step(self, loop: TrainLoop) -> dict[str, Tensor]:
        t0 = self.clock()
        phase, alpha = self.schedule.at(loop.step)
        while self.generator.resolution < phase.resolution:
            self.grow()
        self._set_alpha(alpha)
        g_opt, d_opt = loop.optimizers["generator"], loop.optimizers["critic"]
        b = phase.batch_size
        real, labels = distributed.shard(self.sample_real(b, loop.rng)), None  # this rank's share (torchrun)
        if self.config.conditional:  # fakes request the real batch's attributes, and the critic is told them
            real, labels = real[0], real[1].to(self.device, non_blocking=True)
        real = resize_real(real, phase.resolution)
        real = fade_real(real, alpha).to(self.device, non_blocking=True)
        z = distributed.shard(torch.randn(b, self.config.latent_dim, generator=loop.rng)).to(self.device)
        if labels is not None:
            z = self.generator.with_labels(z, labels)
        with torch.no_grad():
            fake = self.generator(z)
        d_loss, logs = self.loss.critic_loss(judged(self.critic, labels), real, fake)
        d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        distributed.average_gradients(self.critic)
        d_opt.step()
        self.critic.requires_grad_(False)
        z = distributed.shard(torch.randn(b, self.config.latent_dim, generator=loop.rng)).to(self.device)
        judge = judged(self.critic, self.generator.labels_of(z) if self.config.conditional else None)
        g_loss = self.loss.generator_loss(judge, self.generator(z))
        g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        distributed.average_gradients(self.generator)
        g_opt.step()
        self.critic.requires_grad_(True)
        first = next(p for p in self.schedule.phases if p.resolution == phase.resolution)
        self._update_ema(self.ema_beta(b, self.schedule.images_at(loop.step + 1) - first.start_images))
        self.seconds += self.clock() - t0
        self._update_meta(alpha)
        return {
            "d_loss": d_loss.detach(),
            "g_loss": g_loss.detach(),
            "resolution": float(phase.resolution),
            "alpha": alpha,
            **logs,
        }

    def _after_step(self, loop: TrainLoop) -> None:
        if loop.step in self.eval_steps:
            self.measure()
        elif self.snapshot_every and loop.step % self.snapshot_every == 0:
            self.measure(fd=False)
        if self._budget is not None and self.seconds >= self._budget:
            raise BudgetSpent

    # ---- measuring --------------------------------------------------------------------------
    @torch.no_grad()
    def sample(
        self,
        n: int | None = None,
        latents: Tensor | None = None,
        seed: int = 12345,
        use_ema: bool = True,
        batch: int = 500,
    ) -> Tensor:
        """Samples at the current resolution and alpha (EMA generator by default), on the CPU."""
        model = self.generator_ema if use_ema else self.generator
        if latents is None:
            latents = torch.randn(n, self.config.latent_dim, generator=torch.Generator().manual_seed(seed))
        was = model.training
        model.eval()
        out = torch.cat([model(z.to(self.device)).float().cpu() for z in latents.split(batch)])
        model.train(was)
        return out

    def measure(self, fd: bool = True) -> None:
        """Append a snapshot (fixed latents) and, with an FD tracker and `fd`, a point of the FD curve."""
        step = self.loop.step
        phase = self.schedule.phase_at(max(step - 1, 0))
        alpha = float(self.generator.alpha)
        kind = phase.kind if step < self.schedule.total_steps else "stable"
        self.snapshots.append(
            Snapshot(step, self.generator.resolution, alpha, kind, self.sample(latents=self.fixed_latents))
        )
        if fd and self.fd_tracker is not None:
            value = self.fd_tracker(self.sample(self.fd_tracker.n, seed=2024))
            self.curve.append(
                CurvePoint(
                    step, self.schedule.images_at(step), self.generator.resolution, alpha, kind, self.seconds, value
                )
            )
            self.loop.meta["curve"] = [asdict(c) for c in self.curve]
            if self.log:
                self.log(
                    f"step {step:6d}  {self.generator.resolution:2d}px {kind:6s} alpha {alpha:.2f}  "
                    f"{self.seconds:7.1f} s  FD {value:8.3f}"
                )

    # ---- running, checkpoints ---------------------------------------------------------------
    def run(self, total_steps: int | None = None, budget_seconds: float | None = None) -> dict[str, list[float]]:
        """Train to `total_steps` (default: the whole schedule) or until `budget_seconds` of training
        time (on the trainer's clock, evaluations excluded), whichever comes first. The last state
        always gets a snapshot and an FD point."""
        target = self.schedule.total_steps if total_steps is None else total_steps
        if self.loop.step == 0 and not self.curve and not self.snapshots:
            self.measure()
        self._budget = budget_seconds
        try:
            self.loop.run(target)
        except BudgetSpent:
            if self.loop.checkpoint_path and self.loop.checkpoint_every:
                self.loop.save()
        finally:
            self._budget = None
        if not self.snapshots or self.snapshots[-1].step != self.loop.step:
            self.measure()
        return self.loop.history

    @property
    def step(self) -> int:
        return self.loop.step

    @property
    def history(self) -> dict[str, list[float]]:
        return self.loop.history

    def resume(self) -> bool:
        """Continue from checkpoint_path if it exists: grow to its resolution, then load everything."""
        path = self.loop.checkpoint_path
        if path is None or not path.exists():
            return False
        meta = read_checkpoint_meta(path)
        if meta.get("kind") != "progan":
            raise ValueError(f"{path} is not a ProGAN training checkpoint")
        saved = ProGANConfig.from_meta(meta["config"])
        if saved.conditional != self.config.conditional:
            kind = {True: "conditional", False: "unconditional"}
            raise ValueError(
                f"{path} holds a{'n' if not saved.conditional else ''} {kind[saved.conditional]} ProGAN and this run is "
                f"{kind[self.config.conditional]}; use the same config to resume, or start over without the checkpoint"
            )
        if saved.schedule() != self.schedule or saved.max_resolution != self.config.max_resolution:
            raise ValueError(
                f"{path} was written with another schedule/profile ({saved.profile}); use the same config to resume"
            )
        while self.generator.resolution < int(meta["resolution"]):
            self.generator.grow()
            self.critic.grow()
            self.generator_ema.grow()
        self._format()
        self.loop.optimizers.clear()
        self.loop.optimizers.update(self._optimizers())
        meta = self.loop.load()
        self._set_alpha(float(meta["alpha"]))
        self.seconds = float(meta.get("train_seconds", 0.0))
        self.snapshots.clear()
        self.curve = [CurvePoint(**p) for p in meta.get("curve", [])]
        self.loop.meta["curve"] = [asdict(c) for c in self.curve]
        return True

    def save(self, path: str | Path | None = None) -> Path:
        """A training checkpoint (all three networks, both Adams, RNG, resolution/alpha/phase)."""
        return self.loop.save(path)


# ---- growth-point analysis -------------------------------------------------------------------
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


# ---- shipped weights ------------------------------------------------------------------------------
def asset_path(profile: str = "quick") -> Path:
    return ASSETS / f"progan_{profile}.safetensors"


def save_asset(trainer: "ProGANTrainer | ShippedProGAN", path: str | Path, extra_meta: dict | None = None) -> Path:
    """EMA generator (fp16) + snapshots + FD curve + schedule in one small file.

    Takes a trainer, or a `ShippedProGAN` (to rewrite a shipped file with more metadata)."""
    if isinstance(trainer, ShippedProGAN):
        g, base = trainer.generator, {k: v for k, v in trainer.meta.items() if k not in ("curve", "snapshots")}
    else:
        g = trainer.generator_ema
        base = {"steps": trainer.step, "train_seconds": trainer.seconds}
    g16 = copy.deepcopy(g).cpu().half()
    tensors = {f"snapshot/{i}": s.images.half() for i, s in enumerate(trainer.snapshots)}
    meta = {
        **base,
        "kind": "progan_asset",
        "config": trainer.config.meta(),
        "resolution": g.resolution,
        "alpha": float(g.alpha),
        "schedule": trainer.schedule.to_meta(),
        "curve": [asdict(c) for c in trainer.curve],
        "snapshots": [
            {"step": s.step, "resolution": s.resolution, "alpha": s.alpha, "kind": s.kind} for s in trainer.snapshots
        ],
        **(extra_meta or {}),
    }
    return save_checkpoint(path, {"generator_ema": g16}, tensors=tensors, meta=meta)


@dataclass
class ShippedProGAN:
    """What `load_asset` returns: the EMA generator, its schedule, FD curve and snapshots."""

    generator: ProGenerator
    config: ProGANConfig
    schedule: GrowthSchedule
    curve: list[CurvePoint]
    snapshots: list[Snapshot]
    meta: dict = field(repr=False)

    @torch.no_grad()
    def sample(self, n: int, seed: int = 12345, batch: int = 500) -> Tensor:
        z = torch.randn(n, self.config.latent_dim, generator=torch.Generator().manual_seed(seed))
        dev = next(self.generator.parameters()).device
        return torch.cat([self.generator(c.to(dev)).float().cpu() for c in z.split(batch)])


def load_asset(path: str | Path | None = None, device: torch.device | str = "cpu") -> ShippedProGAN:
    path = Path(path) if path is not None else asset_path()
    meta = read_asset_meta(
        path, "shipped ProGAN", f"Build it with `.venv/bin/python {MAKE_SCRIPT}`.", kind="progan_asset"
    )
    config = ProGANConfig.from_meta(meta["config"])
    g = build_generator(config, int(meta["resolution"]))
    _, extras = load_checkpoint(path, {"generator_ema": g})  # float16 weights are cast into the float32 model
    g.eval().requires_grad_(False)
    g.set_alpha(float(meta["alpha"]))
    snaps = [
        Snapshot(s["step"], s["resolution"], s["alpha"], s["kind"], extras[f"snapshot/{i}"].float())
        for i, s in enumerate(meta["snapshots"])
    ]
    return ShippedProGAN(
        g.to(device),
        config,
        GrowthSchedule.from_meta(meta["schedule"]),
        [CurvePoint(**c) for c in meta["curve"]],
        snaps,
        meta,
    )


# ---- measuring and comparing ----------------------------------------------------------------------
def evaluate(source: ProGenerator | Callable[[int], Tensor], n: int = 2000, seed: int | None = None):
    """The sprite chapters' `evaluate_generator` (coverage, high quality, KL, FD + floor, KID) on 32x32
    versions [n, 3, 32, 32] of the samples (`to_eval_space`), with the same evaluation latents and
    reference sprites as chapters 2 and 3 (`metrics.sprite_eval`)."""
    from ..metrics.sprite_eval import EVAL_LATENT_SEED, evaluate_generator

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


def resolution_floors(config: ProGANConfig, n: int, tracker: FDTracker | None = None) -> dict[int, float]:
    """FD of *real* sprites shown at each resolution (average-pooled to it, then upsampled to 32x32)
    against the reference set: the best any generator at that resolution can score here."""
    from ..metrics.sprite_eval import reference_sprites

    real = reference_sprites(n)
    tracker = tracker if tracker is not None else FDTracker(real[:n])
    held = real[n : 2 * n]
    src = detailed_sprites_2x(held) if config.max_resolution > SPRITE_SIZE else held
    return {r: tracker(resize_real(src, r)) for r in config.resolutions}


#: equal-time baselines: chapter 2's recipes (conditional, label-free remedy, plain) and chapter 3's
#: WGAN-GP with and without labels; a ProGAN is compared first with the ones conditioned as it is
BASELINES = ("dcgan-cond", "wgan-gp-cond", "dcgan-pac2-ema", "dcgan", "wgan-gp")


def matching_baselines(conditional: bool) -> tuple[str, str]:
    """(chapter-2 DCGAN, chapter-3 WGAN-GP) baselines told as much as a ProGAN that is / is not conditional."""
    return ("dcgan-cond", "wgan-gp-cond") if conditional else ("dcgan-pac2-ema", "wgan-gp")


def baseline_recipe(name: str, profile: str = "quick") -> dict:
    """What defines how a baseline trains (its chapter-2 recipe or chapter-3 method, and the
    profile's config), as JSON values: stored with its result, so that a later ProGAN-only retrain
    keeps the result only while none of it has changed."""
    import json

    from . import dcgan_pixels as ch2
    from . import wgan as ch3

    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; choose from {BASELINES}")
    if name.startswith("wgan-gp"):
        config = replace(ch3.WGANConfig.for_profile(profile), conditional=name == "wgan-gp-cond")
        recipe = {"method": asdict(ch3.METHODS["gp"]), "config": asdict(config)}
    else:
        recipe = {"recipe": asdict(ch2.get_recipe(name)), "config": asdict(ch2.DCGANConfig.for_profile(profile))}
    return json.loads(json.dumps(recipe))  # tuples as lists, as they come back from a file's metadata


def train_baseline_for(
    name: str,
    seconds: float,
    tracker: FDTracker | None = None,
    marks: Sequence[float] = (0.05, 0.1, 0.2, 0.3, 0.45, 0.6, 0.8, 1.0),
    profile: str = "quick",
    clock: str = "process",
    device: torch.device | str = "cpu",
    seed: int = 0,
) -> dict:
    """Train a chapter-2 DCGAN recipe ("dcgan-cond", "dcgan-pac2-ema", "dcgan") or chapter 3's WGAN-GP
    ("wgan-gp-cond" with labels, "wgan-gp" without) for `seconds` of training time on `clock`
    (evaluations excluded), with an FD point at each fraction in `marks`;
    return steps, seconds, the curve and chapter 2's metrics of the final generator."""
    import io
    from contextlib import redirect_stdout

    from ..metrics.sprite_eval import evaluate_generator
    from . import dcgan_pixels as ch2
    from . import wgan as ch3

    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; choose from {BASELINES}")
    tick = CLOCKS[clock]
    curve: list[dict] = []
    if name.startswith("wgan-gp"):
        config = replace(ch3.WGANConfig.for_profile(profile), conditional=name == "wgan-gp-cond")
        score = (lambda x: {"fd": tracker(x)}) if tracker is not None else None
        run = ch3.train_for_budget(
            "gp",
            config,
            seed=seed,
            device=device,
            budget_seconds=seconds,
            clock=clock,
            score=score,
            checkpoints=list(marks) if tracker else [1.0],
            log=None,
        )
        curve = [{"step": p.step, "seconds": p.seconds, "fd": p.fd} for p in run.curve] if tracker else []
        generator, steps, used = run.generator, run.steps, run.seconds
    else:
        config = ch2.with_steps(ch2.DCGANConfig.for_profile(profile), frames=2)
        run = ch2.make_run(name, config, seed=seed, device=device, total_steps=10**9)
        todo = sorted(marks) if tracker else []
        state = {"start": 0.0, "excluded": 0.0, "used": 0.0}

        def each_step(loop: TrainLoop) -> None:
            state["used"] = used = tick() - state["start"] - state["excluded"]
            t0 = tick()
            if todo and used >= todo[0] * seconds:
                while todo and used >= todo[0] * seconds:
                    todo.pop(0)
                curve.append({"step": loop.step, "seconds": used, "fd": tracker(run.sample(tracker.n, seed=2024))})
            state["excluded"] += tick() - t0
            if used >= seconds:
                raise BudgetSpent

        run.trainer.loop.callbacks.append(Every(1, each_step, at_end=False))
        state["start"] = tick()
        try:
            with redirect_stdout(io.StringIO()):
                run.train(10**9)
        except BudgetSpent:
            pass
        generator, steps, used = run.generator, run.trainer.step, state["used"]
    ev = evaluate_generator(generator, n=2000)
    return {
        "recipe": name,
        "steps": steps,
        "seconds": used,
        "curve": curve,
        "metrics": ev.metrics(),
        "generator": generator,
    }


# ---- pictures for the notebook -------------------------------------------------------------------
_RES_COLOURS = {4: "#c6dbef", 8: "#9ecae1", 16: "#6baed6", 32: "#3182bd", 64: "#08519c"}


def plot_schedule(schedule: GrowthSchedule, ax=None, x: str = "images"):
    """The schedule as a timeline: one bar per phase (colour = resolution, hatched = fade), alpha on top."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 1.9))
    scale = 1000.0 if x == "images" else 1.0
    for p in schedule.phases:
        x0 = (p.start_images if x == "images" else p.start_step) / scale
        w = (p.images if x == "images" else p.steps) / scale
        ax.barh(
            0,
            w,
            left=x0,
            height=0.8,
            color=_RES_COLOURS.get(p.resolution, "0.5"),
            edgecolor="k",
            linewidth=0.5,
            hatch="///" if p.kind == "fade" else None,
        )
        ax.text(x0 + w / 2, 0, f"{p.resolution}px\n{p.kind}", ha="center", va="center", fontsize=9)
    # alpha over the run
    xs, alphas = [], []
    for p in schedule.phases:
        x0 = (p.start_images if x == "images" else p.start_step) / scale
        w = (p.images if x == "images" else p.steps) / scale
        xs += [x0, x0 + w]
        alphas += [0.0, 1.0] if p.kind == "fade" else [1.0, 1.0]
    ax2 = ax.twinx()
    ax2.plot(xs, alphas, color="tab:red", lw=1.2)
    ax2.set_ylim(-0.05, 1.6)
    ax2.set_yticks([0, 1])
    ax2.set_ylabel("alpha", color="tab:red", fontsize=9)
    ax.set_yticks([])
    ax.set_xlim(0, xs[-1])
    ax.set_xlabel("thousands of real images shown" if x == "images" else "training step", fontsize=9)
    ax.figure.tight_layout()
    return ax.figure


def plot_fd_curve(
    curve: Sequence[CurvePoint],
    schedule: GrowthSchedule,
    floors: dict[int, float] | None = None,
    baselines: dict[str, list[dict]] | None = None,
    x: str = "seconds",
    ax=None,
):
    """FD over training (log scale) with growth points marked and, per resolution, the FD of real
    sprites at that resolution (the best a generator that size can do); optionally baselines' curves."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.2))
    xs = [getattr(c, x) for c in curve]
    ax.plot(xs, [c.fd for c in curve], "o-", ms=3, color="tab:blue", label="ProGAN (EMA generator)")
    step_to_x = {c.step: getattr(c, x) for c in curve}
    for i, g in enumerate(schedule.growth_steps):
        if g in step_to_x:
            ax.axvline(step_to_x[g], color="k", ls=":", lw=0.8, label="growth (fade starts)" if i == 0 else None)
    if floors:
        for p in schedule.phases:
            if p.kind == "stable" or p.index == 0:
                pts = [c for c in curve if c.resolution == p.resolution]
                if pts:
                    ax.hlines(
                        floors[p.resolution],
                        getattr(pts[0], x),
                        getattr(pts[-1], x),
                        colors=_RES_COLOURS.get(p.resolution, "0.5"),
                        linestyles="--",
                        lw=1.2,
                    )
        ax.plot([], [], "--", color="0.5", label="real sprites at that resolution")
    for name, pts in (baselines or {}).items():
        if pts:
            ax.plot([p[x] for p in pts], [p["fd"] for p in pts], "s-", ms=3, lw=1, label=name)
    ax.set_yscale("log")
    ax.set_xlabel({"seconds": "training time (s)", "images": "real images shown", "step": "step"}[x], fontsize=9)
    ax.set_ylabel("FD (32x32 features)", fontsize=9)
    ax.legend(fontsize=9, frameon=False)
    ax.figure.tight_layout()
    return ax.figure


def snapshot_grid(snapshots: Sequence[Snapshot], per_snapshot: int = 4, scale: int = 2) -> "np.ndarray":
    """One row per snapshot: its first sprites, shown at 32x32 (nearest) and labelled res / alpha."""
    from ..imaging import image_grid, label_frame

    rows = []
    for s in snapshots:
        img = image_grid(to_eval_space(s.images[:per_snapshot]), nrow=per_snapshot, scale=scale)
        rows.append(label_frame(img, f"{s.resolution}px {s.kind} a={s.alpha:.2f} step {s.step}"))
    return np.concatenate(rows, axis=0)
