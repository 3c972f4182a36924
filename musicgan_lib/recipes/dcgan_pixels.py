"""Chapter 2: DCGAN on 32x32 pixel-art characters, with mode collapse measured.

The chapter trains Radford et al.'s DCGAN on procedural sprites whose attributes are known
(`data/sprites.py`), reads each generated sprite's attributes with a classifier
(`metrics/attributes.py`) and so *counts* what the generator covers. Two recipes are compared:

- "dcgan": the paper's networks and hyper-parameters, nothing added;
- "dcgan-pac2-ema": the same networks, but the discriminator judges *pairs* of images (PacGAN,
  Lin et al. 2018) and the samples come from an exponential moving average (EMA) of the
  generator's weights, with its batch-norm statistics re-estimated ("standing statistics");
  it needs no labels, and it helps, but not enough;
- "dcgan-cond": the remedy that does not collapse: the generator is told which attribute
  combination to draw and a projection discriminator with spectral norm checks it, hinge loss,
  plus classifier heads that must name every attribute (AC-GAN; without them four seeds of
  five missed the coverage target), EMA generator (`models/conditional.py`). It uses
  the sprites' labels.

`evaluate_generator` is the chapter's measuring stick and is generic on purpose: chapters 3
(WGAN) and 4 (ProGAN) call it on their own generators.
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from ..checkpoint import load_checkpoint, read_asset_meta, save_checkpoint
from ..data.sprites import ATTRIBUTE_SIZES, SPRITE_ATTRIBUTES, SPRITE_SIZE, make_sprites, tensor_sampler
from ..device import is_batch_run, seed_everything
from ..imaging import image_grid, label_frame, to_uint8
from ..losses import AuxClassifierHingeLoss, HingeLoss, NonSaturatingLoss
from ..metrics.attributes import (
    AttributeReport,
    AttributeTrack,
    SpriteAttributeClassifier,
    attribute_report,
    load_sprite_classifier,
)
from ..metrics.frechet import FrechetReport, SpreadByDirection, frechet_report, spread_by_direction
from ..models.conditional import AttributeCodes, CodedGenerator, ProjectionDiscriminator
from ..models.dcgan import DCGANDiscriminator, DCGANGenerator, dcgan_optimizers, recalibrate_batchnorm
from ..profiles import check_profile
from ..train import Every, GANTrainer, TrainLoop, latent_sampler

ASSETS = Path(__file__).resolve().parents[2] / "assets"
MAKE_SCRIPT = "scripts/make_dcgan_weights.py"
DATA_SEED = 1234  # the training sprites
EVAL_REAL_SEED = 999  # a separate draw of real sprites: the reference set of every metric
EVAL_LATENT_SEED = 5  # the latents every evaluation samples
GRID_LATENT_SEED = 7  # the fixed latents of sample grids and GIF frames
REDRAW_SEED = 20_000  # the first of the extra draws `frechet_over_draws` makes (latents and real sprites)
FRAME_SPRITES = 16  # sprites per GIF frame (a 4x4 grid)

#: What the chapter asks of the recipe that does not collapse (quick profile, 2,000 samples).
TARGETS = {"combo_coverage": 0.90, "high_quality": 0.70, "fd_over_floor": 3.0}


# --------------------------------------------------------------------------------------------
# Recipes and sizes
@dataclass(frozen=True)
class RecipeSpec:
    """One way to train the DCGAN: which discriminator extras, EMA, and learning rates."""

    name: str
    description: str
    minibatch_std: bool = False
    pack: int = 1
    spectral_norm: bool = False
    ema_decay: float | None = None
    d_lr_scale: float = 1.0
    conditional: bool = False  # attribute codes in G's latent + a projection discriminator
    d_norm: str = "batch"  # the discriminator's hidden-layer norm ("batch", "layer", "none")
    loss: str = "non-saturating"  # or "hinge"
    aux_classifier: float = 0.0  # > 0: AC-GAN classifier heads on the (conditional) discriminator, this loss weight

    def __post_init__(self) -> None:
        if not self.aux_classifier >= 0:
            raise ValueError(
                f"recipe {self.name!r}: aux_classifier is a loss weight >= 0 (0: no classifier heads), got {self.aux_classifier}"
            )


RECIPES: dict[str, RecipeSpec] = {
    "dcgan": RecipeSpec("dcgan", "plain DCGAN (Radford et al. 2016)"),
    "dcgan-pac2-ema": RecipeSpec(
        "dcgan-pac2-ema", "DCGAN + PacGAN2 discriminator + EMA generator", pack=2, ema_decay=0.995
    ),
    "dcgan-mbstd": RecipeSpec(
        "dcgan-mbstd", "DCGAN + minibatch-stddev discriminator + EMA generator", minibatch_std=True, ema_decay=0.995
    ),
    "dcgan-cond": RecipeSpec(
        "dcgan-cond",
        "conditional DCGAN: attribute codes + projection discriminator with classifier heads "
        "(spectral norm, hinge + AC loss) + EMA generator",
        conditional=True,
        spectral_norm=True,
        d_norm="none",
        loss="hinge",
        aux_classifier=1.0,
        ema_decay=0.995,
    ),  # fmt: skip
}
LOSSES = {"non-saturating": NonSaturatingLoss, "hinge": HingeLoss}
#: plain DCGAN; the label-free remedy (helps, not enough); the remedy that does not collapse (uses labels)
PLAIN, UNSUPERVISED_REMEDY, REMEDY = "dcgan", "dcgan-pac2-ema", "dcgan-cond"


@dataclass(frozen=True)
class DCGANConfig:
    """Sizes of chapter 2 for one profile.

    `steps` is a complete training run (what `scripts/make_dcgan_weights.py` runs for the quick
    profile's shipped weights, and what the full profile trains live); the conditional remedy's
    complete run is `remedy_steps` (see `steps_for`); `live_steps` is the short run the quick
    notebook always trains so the learner sees the loop move.
    """

    profile: str
    steps: int
    live_steps: int
    remedy_steps: int = 30_000
    batch_size: int = 128
    latent_dim: int = 100
    ngf: int = 32
    ndf: int = 32
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    dataset_size: int = 20_000
    eval_samples: int = 2000
    frames: int = 20
    live_every: int = 50
    channels_last: bool = True
    bf16: bool = True
    retrain: bool = False
    track_every: int = 200  # steps between attribute checks during training (0: none); see `DCGANRun.attribute_track`
    track_samples: int = 500

    @classmethod
    def for_profile(cls, profile: str) -> "DCGANConfig":
        check_profile(profile)
        if profile == "full":
            return cls(
                profile,
                steps=20_000,
                live_steps=20_000,
                ngf=64,
                ndf=64,
                dataset_size=50_000,
                live_every=1000,
                frames=30,
                retrain=True,
            )
        return cls(profile, steps=4000, live_steps=150)

    def steps_for(self, recipe: str | RecipeSpec) -> int:
        """Steps of a complete run of `recipe`: `remedy_steps` for the conditional remedy, `steps` otherwise.

        Why longer for the remedy: it covers the combinations by 4,000 steps, but its Fréchet
        distance keeps falling until about 30,000 (seed 0: 1.76 at 4,000, 0.36 at 30,000; the
        seeds table in notebook 02), while the other recipes are there to show a collapse that
        4,000 steps already show."""
        return self.remedy_steps if get_recipe(recipe).name == REMEDY else self.steps


# --------------------------------------------------------------------------------------------
# Building and training
@functools.lru_cache(maxsize=4)
def _sprite_dataset(n: int, seed: int):
    return make_sprites(n, seed=seed)


def sprite_dataset(config: DCGANConfig, device: torch.device | str = "cpu") -> Tensor:
    """The training set: `config.dataset_size` procedural sprites (fixed seed), on `device`."""
    images = _sprite_dataset(config.dataset_size, DATA_SEED).images.to(device)
    return images.contiguous(memory_format=torch.channels_last) if config.channels_last else images


def sprite_labels(config: DCGANConfig, device: torch.device | str = "cpu") -> Tensor:
    """The attribute labels [N, 5] of `sprite_dataset` (row for row), for the conditional recipe."""
    return _sprite_dataset(config.dataset_size, DATA_SEED).labels.to(device)


def build_models(
    config: DCGANConfig, recipe: str | RecipeSpec, device: torch.device | str = "cpu"
) -> tuple[nn.Module, nn.Module]:
    """The generator and discriminator a recipe trains, initialised N(0, 0.02), on `device`."""
    spec = get_recipe(recipe)
    g: nn.Module
    d: nn.Module
    if spec.conditional:
        g = CodedGenerator(ATTRIBUTE_SIZES, config.latent_dim, config.ngf, 3, SPRITE_SIZE)
        d = ProjectionDiscriminator(ATTRIBUTE_SIZES, config.ndf, 3, SPRITE_SIZE, norm=spec.d_norm, spectral_norm=spec.spectral_norm,
                                    aux_classifier=bool(spec.aux_classifier), minibatch_std=spec.minibatch_std)  # fmt: skip
    else:
        g = DCGANGenerator(config.latent_dim, config.ngf, 3, SPRITE_SIZE)
        d = DCGANDiscriminator(config.ndf, 3, SPRITE_SIZE, norm=spec.d_norm, minibatch_std=spec.minibatch_std, pack=spec.pack,
                               spectral_norm=spec.spectral_norm)  # fmt: skip
    fmt = torch.channels_last if config.channels_last else torch.contiguous_format
    return g.to(device, memory_format=fmt), d.to(device, memory_format=fmt)


def cpu_has_bf16() -> bool:
    """True on CPUs with native bf16 (AVX512-BF16 / AMX), where bf16 autocast makes steps ~1.5x faster."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def make_loss(recipe: str | RecipeSpec):
    """The recipe's loss object (`losses.py`); with `aux_classifier` the hinge game gains the AC term."""
    spec = get_recipe(recipe)
    if spec.aux_classifier:
        if not spec.conditional or spec.loss != "hinge":
            raise ValueError(
                f"recipe {spec.name!r}: the auxiliary classifier needs a conditional recipe with the hinge loss"
            )
        return AuxClassifierHingeLoss(weight=spec.aux_classifier)
    return LOSSES[spec.loss]()


def get_recipe(recipe: str | RecipeSpec) -> RecipeSpec:
    if isinstance(recipe, RecipeSpec):
        return recipe
    if recipe not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r}; choose from {', '.join(RECIPES)}")
    return RECIPES[recipe]


def frame_steps(total_steps: int, n_frames: int) -> list[int]:
    """Steps at which to grab GIF frames: 0, then geometrically spaced up to total_steps.

    Most of the visible change (noise -> blobs -> characters) happens early, so a geometric
    spacing shows it, where an even spacing would spend most frames on small refinements.
    """
    if total_steps <= 0:
        return [0]
    steps = np.unique(np.round(np.geomspace(1, total_steps, max(n_frames - 1, 1))).astype(int))
    return [0] + [int(s) for s in steps]


@dataclass
class DCGANRun:
    """A trainer plus what the chapter shows about it: GIF frames and the fixed grid latents."""

    recipe: RecipeSpec
    config: DCGANConfig
    trainer: GANTrainer
    grid_latents: Tensor
    frames: list[tuple[int, np.ndarray]] = field(default_factory=list)
    #: the sampling generator's attribute histograms every `config.track_every` steps (None: not tracked)
    attribute_track: AttributeTrack | None = None

    @property
    def generator(self) -> nn.Module:
        """The live generator the recipe samples from: the EMA one when it keeps one (the module
        itself, updated by training; see `sampling_generator` for a copy ready to sample)."""
        return self.trainer.ema.module if self.trainer.ema is not None else self.trainer.generator

    def sampling_generator(self) -> nn.Module:
        """A copy of `generator` with standing batch-norm statistics, in eval mode (what is
        evaluated, shipped and shown)."""
        return standing_copy(self.generator)

    def train(self, steps: int) -> dict[str, list[float]]:
        """Train up to `steps` steps in total (a resumed or repeated call only does the rest)."""
        return self.trainer.run(steps)

    def sample(self, n: int, seed: int = EVAL_LATENT_SEED) -> Tensor:
        """n samples of `sampling_generator()` from seeded latents (CPU, float32, [-1, 1])."""
        return sample_generator(self.sampling_generator(), n, seed)

    def grab_frame(self, loop: TrainLoop | None = None) -> None:
        """Store the current samples of the fixed latents (raw generator: the EMA lags early on)."""
        step = self.trainer.step
        if not self.frames or self.frames[-1][0] != step:
            imgs = self.trainer.sample(len(self.grid_latents), use_ema=False, latents=self.grid_latents)
            self.frames.append((step, to_uint8(imgs)))

    def check_attributes(self, loop: TrainLoop | None = None) -> None:
        """Append the classifier's reading of `config.track_samples` samples of the sampling
        generator to `attribute_track` (fixed latents; nothing here touches the training's random streams)."""
        if self.attribute_track is None:
            self.attribute_track = AttributeTrack(dict(SPRITE_ATTRIBUTES))
        images = sample_generator(self.sampling_generator(), self.config.track_samples)
        self.attribute_track.add(self.trainer.step, attribute_report(_classifier("cpu"), images))


def make_run(
    recipe: str | RecipeSpec,
    config: DCGANConfig,
    *,
    seed: int = 0,
    device: torch.device | str = "cpu",
    images: Tensor | None = None,
    labels: Tensor | None = None,
    total_steps: int | None = None,
    callbacks: Sequence[Every] = (),
    checkpoint_path: str | Path | None = None,
    checkpoint_every: int = 0,
) -> DCGANRun:
    """Build (do not train) one DCGAN run on sprites; GIF frames are grabbed on the way to `total_steps`.

    `images` replaces the procedural training set; the conditional recipe then also needs their
    `labels` ([N, 5] in `ATTRIBUTE_NAMES` order).
    """
    spec = get_recipe(recipe)
    if spec.conditional and images is not None and labels is None:
        raise ValueError(f"recipe {spec.name!r} is conditional: pass the images' attribute labels too (labels=[N, 5]), "
                         f"or use a label-free recipe such as {UNSUPERVISED_REMEDY!r}")  # fmt: skip
    rng = seed_everything(seed)
    g, d = build_models(config, spec, device)
    g_opt, d_opt = dcgan_optimizers(g, d, lr=config.lr, betas=config.betas, d_lr=config.lr * spec.d_lr_scale)
    if images is None:
        images, labels = sprite_dataset(config, device), sprite_labels(config, device)
    sampler = tensor_sampler(images, labels if spec.conditional else None)
    grid_latents = torch.randn(FRAME_SPRITES, g.latent_dim, generator=torch.Generator().manual_seed(GRID_LATENT_SEED))
    total = total_steps if total_steps is not None else config.steps_for(spec)
    wanted = set(frame_steps(total, config.frames))
    holder: dict[str, DCGANRun] = {}

    def maybe_frame(loop: TrainLoop) -> None:
        if loop.step in wanted:
            holder["run"].grab_frame(loop)

    tracking = (
        [Every(config.track_every, lambda loop: holder["run"].check_attributes(loop), at_end=False)]
        if config.track_every
        else []
    )

    trainer = GANTrainer(
        g, d, make_loss(spec), g_opt, d_opt, sampler, latent_sampler(g.latent_dim),
        batch_size=config.batch_size, rng=rng, device=device, ema_decay=spec.ema_decay,
        amp=config.bf16, cpu_amp=config.bf16 and cpu_has_bf16(),
        callbacks=[Every(1, maybe_frame, at_end=False), *tracking, *callbacks],
        checkpoint_path=checkpoint_path, checkpoint_every=checkpoint_every,
        description=f"{spec.name} seed {seed}",
    )  # fmt: skip
    run = DCGANRun(spec, config, trainer, grid_latents)
    holder["run"] = run
    if trainer.step == 0:
        run.grab_frame()
    return run


def standing_copy(generator: nn.Module, batches: int = 8, batch_size: int = 256) -> nn.Module:
    """A copy of a generator whose batch-norm statistics are re-estimated from its own samples
    (eval mode); the generator itself is returned as is when it has no batch norm.

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
    """n samples (CPU, float32, [-1, 1]) of a generator in eval mode, from seeded latents."""
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
# Live display in a notebook
class LiveSamples:
    """An `Every` callback body that shows the fixed-latent sample grid while training.

    Interactive: one image in the notebook is updated in place. Batch runs (course runner,
    nbval, build_notebooks) only keep the grids (`self.grids`) and show the last one at the end,
    so the committed notebook does not carry a dozen images.
    """

    def __init__(self, run: DCGANRun, scale: int = 3, show: bool | None = None) -> None:
        self.run, self.scale = run, scale
        self.show = (not is_batch_run()) if show is None else show
        self.grids: list[tuple[int, np.ndarray]] = []
        self._handle = None

    def __call__(self, loop: TrainLoop) -> None:
        imgs = self.run.trainer.sample(len(self.run.grid_latents), use_ema=False, latents=self.run.grid_latents)
        grid = label_frame(image_grid(imgs, nrow=8, scale=self.scale), f"step {loop.step}")
        self.grids.append((loop.step, grid))
        if self.show:
            self._display(grid)

    def _display(self, grid: np.ndarray) -> None:
        from IPython.display import Image, display

        from ..imaging import png_bytes

        img = Image(data=png_bytes(grid))
        if self._handle is None:
            self._handle = display(img, display_id=True)
        else:
            self._handle.update(img)

    def every(self, steps: int) -> Every:
        return Every(steps, self, at_end=True)


# --------------------------------------------------------------------------------------------
# Shipped weights
def shipped_path(recipe: str | RecipeSpec, profile: str = "quick") -> Path:
    """Where `scripts/make_dcgan_weights.py` puts a recipe's generator for a profile."""
    name = get_recipe(recipe).name.replace("-", "_")
    return ASSETS / f"dcgan_{name}_{check_profile(profile)}.safetensors"


def save_generator(
    path: str | Path, run: DCGANRun, extra_meta: Mapping[str, object] | None = None, half: bool = True
) -> Path:
    """Write the run's sampling generator (fp16 by default: half the size, same samples to the eye)
    plus its GIF frames (uint8) and the config/recipe/history (and attribute track, if any) as JSON metadata."""
    g = run.sampling_generator()
    if g is run.generator:  # never modify the live module
        g = copy.deepcopy(g)
    g = g.float().to("cpu", memory_format=torch.contiguous_format)
    if half:
        g = g.half()
    steps = [s for s, _ in run.frames]
    frames = torch.from_numpy(np.stack([f for _, f in run.frames])) if run.frames else torch.zeros(0, dtype=torch.uint8)
    cfg = {k: v for k, v in run.config.__dict__.items()}
    meta = {
        "kind": "dcgan_generator",
        "recipe": run.recipe.name,
        "config": cfg,
        "generator": _generator_meta(g),
        "step": run.trainer.step,
        "seconds": run.trainer.loop.seconds,
        "frame_steps": steps,
        "history": {k: v[:: max(1, len(v) // 400)] for k, v in run.trainer.history.items()},
        "dtype": "float16" if half else "float32",
        **({"attribute_track": run.attribute_track.to_meta()} if run.attribute_track is not None else {}),
        **dict(extra_meta or {}),
    }
    return save_checkpoint(path, {"generator": g}, tensors={"frames": frames}, meta=meta)


def _generator_meta(g: nn.Module) -> dict:
    if isinstance(g, CodedGenerator):
        return {
            "coded": True,
            "sizes": list(g.sizes),
            "noise_dim": g.noise_dim,
            "ngf": g.ngf,
            "channels": g.channels,
            "image_size": g.image_size,
        }
    return {"latent_dim": g.latent_dim, "ngf": g.ngf, "channels": g.channels, "image_size": g.image_size}


def _build_generator(meta: Mapping[str, object]) -> nn.Module:
    kw = dict(meta)
    if kw.pop("coded", False):
        return CodedGenerator(**kw)  # type: ignore[arg-type]
    return DCGANGenerator(**kw)  # type: ignore[arg-type]


@dataclass
class ShippedGenerator:
    generator: nn.Module
    meta: dict
    frames: list[tuple[int, np.ndarray]]

    @property
    def attribute_track(self) -> AttributeTrack | None:
        """The attribute checks taken while it trained, or None for a file written without them."""
        track = self.meta.get("attribute_track")
        return AttributeTrack.from_meta(track) if track else None


def load_generator(path: str | Path, device: torch.device | str = "cpu") -> ShippedGenerator:
    """Load a generator written by `save_generator` (in float32, eval mode) with its frames and metadata."""
    meta = read_asset_meta(
        path,
        "DCGAN generator",
        f"Make it with `.venv/bin/python {MAKE_SCRIPT}` or set RETRAIN = True.",
        kind="dcgan_generator",
    )
    g = _build_generator(meta["generator"])
    _, extras = load_checkpoint(path, {"generator": g})  # float16 weights are cast into the float32 model
    g = g.to(device).eval()
    frames = extras.get("frames")
    steps = meta.get("frame_steps", [])
    frame_list = (
        [(int(s), frames[i].numpy()) for i, s in enumerate(steps)] if frames is not None and frames.numel() else []
    )
    return ShippedGenerator(g, meta, frame_list)


def shipped_or_none(recipe: str, profile: str) -> ShippedGenerator | None:
    """The shipped generator of a recipe for a profile, or None when there is none."""
    path = shipped_path(recipe, profile)
    return load_generator(path) if path.exists() else None


# --------------------------------------------------------------------------------------------
# Measuring
@functools.lru_cache(maxsize=2)
def _classifier(device: str) -> SpriteAttributeClassifier:
    return load_sprite_classifier(device)


@functools.lru_cache(maxsize=4)
def reference_sprites(n: int, seed: int = EVAL_REAL_SEED) -> Tensor:
    """2n real sprites from a draw separate from the training set: n to compare, n for the floor."""
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
    statistics is sampled, see `standing_copy`), a function `sample(n) -> images`, or a tensor of images
    [>= n, 3, 32, 32] in [-1, 1]. `real` (>= 2n real sprites) defaults to a fixed draw disjoint
    from the training set; `classifier` defaults to the shipped attribute classifier.
    """
    images = _generated_images(source, n, seed, standing_stats, "evaluate_generator")
    clf = classifier if classifier is not None else _classifier(str(torch.device(device)))
    real = reference_sprites(n) if real is None else real
    attrs = attribute_report(clf, images)
    fr = frechet_report(clf.feature_extractor(), real, images, n=n)
    return SpriteEvaluation(attrs, fr)


def _generated_images(
    source: nn.Module | Callable[[int], Tensor] | Tensor, n: int, seed: int, standing_stats: bool, caller: str
) -> Tensor:
    """n images (CPU float32) from a generator module, a sample(n) function or a tensor (see evaluate_generator)."""
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
    """FD and floor of `generator` over `draws` fresh draws: draw k samples its latents with seed
    first_seed + k and compares with 2n real sprites drawn with the same seed.

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
    features = (classifier if classifier is not None else _classifier("cpu")).feature_extractor()
    reports = []
    for k in range(draws):
        images = _generated_images(source, n, first_seed + k, False, "frechet_over_draws")
        reports.append(frechet_report(features, make_sprites(2 * n, seed=first_seed + k).images, images, n=n))
    return FrechetOverDraws(reports)


@dataclass
class SpreadDiagnosis:
    """Where a generator's sprites spread differently from real ones in the classifier's feature space."""

    directions: SpreadByDirection
    real_images: Tensor
    generated_images: Tensor
    real_features: Tensor
    generated_features: Tensor

    def extremes(self, direction: int, k: int = 6) -> tuple[Tensor, Tensor]:
        """The k real and the k generated sprites furthest out along one direction, k/2 at each end,
        ordered from the negative end to the positive one."""
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

    The same samples, real sprites and features as `evaluate_generator` (same n and seed), so the
    per-direction contributions explain the FD it reports."""
    images = _generated_images(source, n, seed, standing_stats, "diagnose_spread")
    clf = classifier if classifier is not None else _classifier("cpu")
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


def with_steps(config: DCGANConfig, **changes) -> DCGANConfig:
    """A copy of the config with some fields changed (e.g. fewer steps for a test)."""
    return replace(config, **changes)


@torch.no_grad()
def interpolation_pairs(
    generator: nn.Module,
    pairs: int = 3,
    seed: int = 11,
    candidates: int = 64,
    classifier: SpriteAttributeClassifier | None = None,
) -> list[tuple[Tensor, Tensor]]:
    """Latent pairs whose samples are confident characters that differ in as many attributes as
    possible (so an interpolation between them has something to show)."""
    from ..metrics.attributes import predict_attributes

    z = torch.randn(candidates, generator.latent_dim, generator=torch.Generator().manual_seed(seed))
    clf = classifier if classifier is not None else _classifier("cpu")
    probs = predict_attributes(clf, sample_generator(generator, candidates, latents=z))
    conf = torch.stack([p.max(1).values for p in probs.values()], 1).min(1).values
    pred = torch.stack([p.argmax(1) for p in probs.values()], 1)
    order = torch.argsort(conf, descending=True).tolist()
    used: set[int] = set()
    out = []
    for i in order:
        if len(out) == pairs:
            break
        if i in used:
            continue
        rest = [j for j in order if j != i and j not in used]
        if not rest:
            break
        # most attributes different, ties broken by confidence (order is by confidence)
        j = max(rest, key=lambda j: (int((pred[i] != pred[j]).sum()), -rest.index(j)))
        used.update((i, j))
        out.append((z[i], z[j]))
    return out


@torch.no_grad()
def attribute_sweeps(generator: AttributeCodes, seed: int = GRID_LATENT_SEED) -> tuple[Tensor, list[str]]:
    """What a conditional generator's codes control: one row per attribute, same noise and other
    attributes, that attribute run through all its values (rows padded with blank tiles).
    Any generator with attribute codes works (chapter 2's `CodedGenerator`, chapter 4's `CodedProGenerator`).

    Returns images [n_attributes * max_values, 3, 32, 32] (for `image_grid(..., nrow=max_values)`)
    and one label per row, e.g. "hair_colour: black .. pink".
    """
    if not isinstance(generator, AttributeCodes):
        raise TypeError(
            "attribute_sweeps needs a conditional generator (one with attribute codes, e.g. models.conditional.CodedGenerator)"
        )
    width = max(generator.sizes)
    g = standing_copy(generator)
    z = torch.randn(1, generator.latent_dim, generator=torch.Generator().manual_seed(seed))
    base = generator.labels_of(z)[0]
    rows, names = [], []
    for j, (name, values) in enumerate(SPRITE_ATTRIBUTES.items()):
        labels = base.repeat(len(values), 1)
        labels[:, j] = torch.arange(len(values))
        images = sample_generator(
            g, len(values), latents=generator.with_labels(z.repeat(len(values), 1), labels)
        ).clamp(-1.0, 1.0)
        pad = torch.ones(width - len(values), *images.shape[1:])
        rows.append(torch.cat([images, pad]))
        names.append(f"{name}: {values[0]} .. {values[-1]}")
    return torch.cat(rows), names
