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

The chapter's measuring stick, `evaluate_generator` (with `reference_sprites`, `sample_generator`,
`comparison_table` and the evaluation seeds), lives in `metrics/sprite_eval.py`, because chapters 3
(WGAN) and 4 (ProGAN) measure their own generators with it; it stays importable from here.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from ..checkpoint import load_checkpoint, read_asset_meta, save_checkpoint
from ..data.sprites import (
    ATTRIBUTE_SIZES,
    DATA_SEED,
    SPRITE_ATTRIBUTES,
    SPRITE_SIZE,
    sprite_training_set,
    tensor_sampler,
)
from ..device import is_batch_run, seed_everything
from ..imaging import image_grid, label_frame, to_uint8
from ..losses import AuxClassifierHingeLoss, HingeLoss, NonSaturatingLoss
from ..metrics.attributes import AttributeTrack, SpriteAttributeClassifier, attribute_report

# sprite evaluation, shared with chapters 3 and 4; the names the notebooks use as `ch2.<name>` stay here
from ..metrics.sprite_eval import (  # noqa: F401
    EVAL_LATENT_SEED,
    EVAL_REAL_SEED,
    REDRAW_SEED,
    TARGETS,
    FrechetOverDraws,
    SpreadDiagnosis,
    SpriteEvaluation,
    comparison_table,
    diagnose_spread,
    evaluate_generator,
    frechet_over_draws,
    reference_sprites,
    sample_generator,
    sprite_classifier,
    standing_copy,
)
from ..models.conditional import AttributeCodes, CodedGenerator, ProjectionDiscriminator
from ..models.diffaugment import AugmentedCritic
from ..models.dcgan import DCGANDiscriminator, DCGANGenerator, dcgan_optimizers
from ..profiles import check_profile
from ..train import Every, GANTrainer, TrainLoop, latent_sampler

ASSETS = Path(__file__).resolve().parents[2] / "assets"
MAKE_SCRIPT = "scripts/make_dcgan_weights.py"
GRID_LATENT_SEED = 7  # the fixed latents of sample grids and GIF frames
FRAME_SPRITES = 16  # sprites per GIF frame (a 4x4 grid)


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
    augment: str = ""  # DiffAugment policy the discriminator sees real and fake through ("" = none)

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
    "dcgan-sn-ema": RecipeSpec(  # dcgan-diffaug without the augmentation: what it adds, measured
        "dcgan-sn-ema", "DCGAN + spectral-norm discriminator + EMA", spectral_norm=True, d_norm="none", ema_decay=0.995
    ),
    "dcgan-diffaug": RecipeSpec(
        "dcgan-diffaug",
        "DCGAN for small real sets: DiffAugment (colour, translation, cutout) + spectral-norm discriminator + EMA",
        augment="color,translation,cutout",
        spectral_norm=True,
        d_norm="none",
        ema_decay=0.995,
    ),
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
        seeds table in docs/experiments/02_dcgan.md), while the other recipes are there to show a collapse that
        4,000 steps already show."""
        return self.remedy_steps if get_recipe(recipe).name == REMEDY else self.steps


def with_steps(config: DCGANConfig, **changes) -> DCGANConfig:
    """A copy of the config with some fields changed (e.g. fewer steps for a test)."""
    return replace(config, **changes)


# --------------------------------------------------------------------------------------------
# Building and training
def sprite_dataset(config: DCGANConfig, device: torch.device | str = "cpu") -> Tensor:
    """The training set: `config.dataset_size` procedural sprites [N, 3, 32, 32] (seed `DATA_SEED`,
    `data.sprites.sprite_training_set`), on `device`."""
    images = sprite_training_set(config.dataset_size, DATA_SEED).images.to(device)
    return images.contiguous(memory_format=torch.channels_last) if config.channels_last else images


def sprite_labels(config: DCGANConfig, device: torch.device | str = "cpu") -> Tensor:
    """The attribute labels [N, 5] of `sprite_dataset` (row for row), for the conditional recipe."""
    return sprite_training_set(config.dataset_size, DATA_SEED).labels.to(device)


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
    if spec.augment:
        d = AugmentedCritic(d, spec.augment)
    fmt = torch.channels_last if config.channels_last else torch.contiguous_format
    return g.to(device, memory_format=fmt), d.to(device, memory_format=fmt)


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
        self.attribute_track.add(self.trainer.step, attribute_report(sprite_classifier("cpu"), images))


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
        autocast=config.bf16,
        callbacks=[Every(1, maybe_frame, at_end=False), *tracking, *callbacks],
        checkpoint_path=checkpoint_path, checkpoint_every=checkpoint_every,
        description=f"{spec.name} seed {seed}",
    )  # fmt: skip
    run = DCGANRun(spec, config, trainer, grid_latents)
    holder["run"] = run
    if trainer.step == 0:
        run.grab_frame()
    return run


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
# Pictures of a trained generator
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
    clf = classifier if classifier is not None else sprite_classifier("cpu")
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
