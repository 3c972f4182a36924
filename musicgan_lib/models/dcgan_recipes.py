"""Chapter 2's DCGAN recipes and sizes: which networks and which loss each recipe trains.

The registry the chapters share: chapter 2 trains these recipes (`recipes/dcgan_pixels.py`),
chapter 3 compares its WGANs with one of them at equal time, and chapter 4 uses them as
baselines. So the recipes (`RECIPES`), the config (`DCGANConfig`) and the builders of the
networks (`build_models`) and losses (`make_loss`) live here, below every recipe.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import torch
from torch import nn

from ..data.sprites import ATTRIBUTE_SIZES, SPRITE_SIZE
from ..losses import AuxClassifierHingeLoss, HingeLoss, NonSaturatingLoss
from ..profiles import check_profile
from .conditional import CodedGenerator, ProjectionDiscriminator
from .dcgan import DCGANDiscriminator, DCGANGenerator
from .diffaugment import AugmentedCritic


@dataclass(frozen=True)
class RecipeSpec:
    """One way to train the DCGAN: which discriminator extras, EMA, and learning rates."""

    name: str
    description: str
    # ---- the discriminator (all off: the paper's network)
    minibatch_std: bool = False  # Karras et al.'s minibatch-stddev channel at the 4x4 stage
    pack: int = 1  # PacGAN: images judged together (2: pairs)
    spectral_norm: bool = False  # spectral norm on every conv (a Lipschitz bound)
    d_norm: str = "batch"  # the discriminator's hidden-layer norm ("batch", "layer", "none")
    augment: str = ""  # DiffAugment policy the discriminator sees real and fake through ("" = none)
    # ---- conditioning
    conditional: bool = False  # attribute codes in G's latent + a projection discriminator
    aux_classifier: float = 0.0  # > 0: AC-GAN classifier heads on the (conditional) discriminator, this loss weight
    # ---- the game
    loss: str = "non-saturating"  # or "hinge"
    ema_decay: float | None = None  # sample from an EMA of G's weights with this decay (None: the raw G)
    d_lr_scale: float = 1.0  # D's learning rate / G's (TTUR when != 1)

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


def get_recipe(recipe: str | RecipeSpec) -> RecipeSpec:
    """The recipe of that name (a RecipeSpec passes through)."""
    if isinstance(recipe, RecipeSpec):
        return recipe
    if recipe not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r}; choose from {', '.join(RECIPES)}")
    return RECIPES[recipe]


@dataclass(frozen=True)
class DCGANConfig:
    """Chapter 2's sizes. The defaults are the quick profile; `FULL` lists what the full profile changes.

    `steps` is a complete training run (what `scripts/make_dcgan_weights.py` runs for the quick
    profile's shipped weights, and what the full profile trains here); the conditional remedy's
    complete run is `remedy_steps` (see `steps_for`); `live_steps` is the short run the quick
    notebook trains next to the shipped weights, so the learner sees the loop move.
    """

    profile: str = "quick"  # "quick": shipped weights + a short live run; "full": every run trained here (GPU)
    retrain: bool = False  # True: this profile trains every run here even where weights ship
    # ---- how long (optimizer steps)
    steps: int = 4000  # a complete run: 4,000 already show plain DCGAN's collapse
    remedy_steps: int = 30_000  # the conditional remedy's complete run: its FD keeps falling until ~30,000
    live_steps: int = 150  # the short run trained next to shipped weights, to watch the loop move
    # ---- networks (the paper's, sized for 32x32)
    latent_dim: int = 100  # noise dimensions
    ngf: int = 32  # generator width (channels of its last hidden layer; x2, x4 towards the 4x4 map)
    ndf: int = 32  # discriminator width, mirrored
    # ---- optimiser (Radford et al.'s Adam)
    batch_size: int = 128  # sprites per step
    lr: float = 2e-4  # learning rate of both networks (a recipe may scale D's: `d_lr_scale`)
    betas: tuple[float, float] = (0.5, 0.999)  # beta1 0.5: the default 0.9 made training oscillate in the paper
    # ---- data and measurements
    dataset_size: int = 20_000  # procedural training sprites (seed DATA_SEED): about 42 of each combination
    eval_samples: int = 2000  # samples of the final metrics (each next to its real-vs-real floor at this N)
    track_every: int = 200  # steps between attribute checks while training (0: none); `DCGANRun.attribute_track`
    track_samples: int = 500  # samples per attribute check
    # ---- what the notebook shows
    frames: int = 20  # GIF frames of a complete run, at geometrically spaced steps
    live_every: int = 50  # steps between the live sample grids
    # ---- speed only (the same training, faster on a CPU)
    channels_last: bool = True  # NHWC memory format: oneDNN's fast convolutions
    bf16: bool = True  # bfloat16 autocast where the device has native bf16 (GANTrainer's `autocast`)

    @classmethod
    def for_profile(cls, profile: str) -> "DCGANConfig":
        """The quick profile is the defaults; the full profile is the defaults with `FULL`."""
        return replace(cls(), **FULL) if check_profile(profile) == "full" else cls()

    def steps_for(self, recipe: str | RecipeSpec) -> int:
        """Steps of a complete run of `recipe`: `remedy_steps` for the conditional remedy, `steps` otherwise.

        Why longer for the remedy: it covers the combinations by 4,000 steps, but its Fréchet
        distance keeps falling until about 30,000 (seed 0: 1.76 at 4,000, 0.36 at 30,000; the
        seeds table in docs/experiments/02_dcgan.md), while the other recipes are there to show a collapse that
        4,000 steps already show."""
        return self.remedy_steps if get_recipe(recipe).name == REMEDY else self.steps


#: the full profile (a GPU): longer runs of wider networks on more sprites, every one trained here and shown live
FULL = dict(
    profile="full", retrain=True, steps=20_000, live_steps=20_000, ngf=64, ndf=64, dataset_size=50_000, frames=30,
    live_every=1000,
)  # fmt: skip


def with_steps(config: DCGANConfig, **changes) -> DCGANConfig:
    """A copy of the config with some fields changed (e.g. fewer steps for a test)."""
    return replace(config, **changes)


def build_models(
    config: DCGANConfig, recipe: str | RecipeSpec, device: torch.device | str = "cpu"
) -> tuple[nn.Module, nn.Module]:
    """The generator (latents [B, latent_dim] -> sprites [B, 3, 32, 32]) and discriminator (sprites ->
    logits [B, 1]) a recipe trains, initialised N(0, 0.02), on `device`."""
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


def generator_config(g: nn.Module) -> dict:
    """What `build_generator` needs to rebuild a DCGAN or coded generator (stored with shipped weights)."""
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


def build_generator(config: Mapping[str, object]) -> nn.Module:
    """An untrained generator of the architecture `generator_config` described."""
    kw = dict(config)
    if kw.pop("coded", False):
        return CodedGenerator(**kw)  # type: ignore[arg-type]
    return DCGANGenerator(**kw)  # type: ignore[arg-type]
