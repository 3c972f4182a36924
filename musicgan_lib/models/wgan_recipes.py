"""Chapter 3's WGAN methods and sizes: weight clipping or gradient penalty, the critic, the optimisers.

Two ways to keep the critic 1-Lipschitz, each with its paper's recipe (`METHODS`): clipping
(Arjovsky et al. 2017: weights in [-0.01, 0.01], RMSprop 5e-5) and the gradient penalty
(Gulrajani et al. 2017: lambda 10, Adam 1e-4 with betas (0, 0.9)), both with 5 critic steps per
generator step. Chapter 3 trains them (`recipes/wgan.py`); chapter 4 uses WGAN-GP as a
baseline, so the methods, the config and the network builders live here, below every recipe.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch
from torch import nn

from ..data.sprites import ATTRIBUTE_SIZES
from ..losses import WassersteinLoss
from ..profiles import check_profile
from .conditional import CodedGenerator, ProjectionDiscriminator
from .dcgan import DCGANDiscriminator, DCGANGenerator
from .dcgan_recipes import DCGANConfig


@dataclass(frozen=True)
class WGANMethod:
    """One way to enforce the critic's Lipschitz bound, with its paper's optimiser settings."""

    name: str
    loss: WassersteinLoss
    optimizer: str  # "rmsprop" or "adam"
    lr: float
    betas: tuple[float, float] = (0.0, 0.9)
    n_critic: int = 5


METHODS: dict[str, WGANMethod] = {
    "clip": WGANMethod("clip", WassersteinLoss(clip=0.01), "rmsprop", 5e-5),
    "gp": WGANMethod("gp", WassersteinLoss(gp_weight=10.0), "adam", 1e-4, (0.0, 0.9)),
}


@dataclass(frozen=True)
class WGANConfig:
    """Chapter 3's sizes and budgets. The defaults are the quick profile; `FULL` lists what the full
    profile changes.

    Generator, data and evaluation are chapter 2's (`DCGANConfig` of the same profile: the same
    latent and widths, `metrics.sprite_eval`). Each method trains for the same `budget_seconds`
    of training time (evaluation excluded), measured on `clock`: "process" (CPU seconds of this
    process: with one torch thread that is the time on one idle core, and it does not change
    when the machine is busy) or "wall" (`train.CLOCKS`). `checkpoints` are the fractions of the
    budget where FD and the critic estimate are measured. `ema_decay` keeps an exponential moving
    average of the generator's weights next to the trained ones; it does not change training at
    all (same steps, same random numbers), only which weights are sampled for the final comparison.
    """

    profile: str = "quick"  # "quick": shipped runs + short live runs; "full": every run trained here (GPU)
    # ---- networks (chapter 2's generator; a critic without batch norm)
    latent_dim: int = 100  # noise dimensions (DCGANConfig.latent_dim)
    ngf: int = 32  # generator width (DCGANConfig.ngf of the same profile)
    ndf: int = 32  # critic width (DCGANConfig.ndf)
    critic_norm: str = "layer"  # per-sample: the penalty constrains each sample's own gradient
    conditional: bool = True  # chapter 2's cure for collapse: attribute codes in G, a projection critic
    channels_last: bool = True  # NHWC memory format: oneDNN's fast convolutions (speed only)
    # ---- training
    batch_size: int = 64  # sprites per critic step
    budget_seconds: float = 1440.0  # training s per method (WGAN-GP's coverage: 0.815 at 720 s, 0.935 at 1440 s)
    clock: str = "process"  # what the budget is measured on (see above)
    max_steps: int = 1_000_000  # generator steps: a bound the budget always hits first
    ema_decay: float | None = 0.999  # the EMA generator's decay (None: none)
    ema_warmup: int = 10  # the decay ramps (1 + n) / (10 + n) up to ema_decay (train.ema_with_warmup)
    live_seconds: float = 20.0  # the short live run of each method in the notebook (0: none)
    # ---- measurements
    checkpoints: tuple[float, ...] = (0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    curve_n: int = 1000  # samples of each checkpoint's FD
    eval_n: int = 2000  # samples of the final metrics (DCGANConfig.eval_samples)
    critic_window: int = 51  # steps of the critic estimate's running median
    probe_every: int = 10  # steps between gradient-norm probes at interpolates

    @classmethod
    def for_profile(cls, profile: str) -> "WGANConfig":
        """The quick profile is the defaults; the full profile is the defaults with `FULL`."""
        return replace(cls(), **FULL) if check_profile(profile) == "full" else cls()

    def dcgan_config(self) -> DCGANConfig:
        """Chapter 2's config of the same profile (its data set, batch and learning rates)."""
        return DCGANConfig.for_profile(self.profile)

    def meta(self) -> dict:
        """The config as JSON values (stored with a run)."""
        d = asdict(self)
        d["checkpoints"] = list(self.checkpoints)
        return d

    @classmethod
    def from_meta(cls, meta: dict) -> "WGANConfig":
        d = dict(meta)
        d["checkpoints"] = tuple(d["checkpoints"])
        return cls(**d)


#: the full profile (a GPU): chapter 2's wider networks, a wall-clock budget, no live runs
FULL = dict(profile="full", ngf=64, ndf=64, budget_seconds=1800.0, clock="wall", curve_n=2000, live_seconds=0.0)


def build_models(config: WGANConfig, device: torch.device | str = "cpu") -> tuple[nn.Module, nn.Module]:
    """The chapter-2 DCGAN generator (latents -> sprites [B, 3, 32, 32]) and a critic without batch norm
    that outputs a raw score per sprite.

    With `config.conditional` (the profiles' setting) they are chapter 2's conditional pair: the
    generator reads attribute codes from its latent [B, latent_dim + 5], the critic adds a projection
    term; the critic keeps layer norm and no spectral norm, so the Lipschitz bound comes from
    clipping or the penalty alone.
    """
    if config.conditional:
        generator: nn.Module = CodedGenerator(ATTRIBUTE_SIZES, config.latent_dim, config.ngf)
        critic: nn.Module = ProjectionDiscriminator(
            ATTRIBUTE_SIZES, config.ndf, norm=config.critic_norm, spectral_norm=False
        )
    else:
        generator = DCGANGenerator(config.latent_dim, config.ngf)
        critic = DCGANDiscriminator(config.ndf, norm=config.critic_norm)
    fmt = torch.channels_last if config.channels_last else torch.contiguous_format
    return generator.to(device, memory_format=fmt), critic.to(device, memory_format=fmt)


def make_optimizers(
    method: WGANMethod, generator: nn.Module, critic: nn.Module
) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """RMSprop (clipping: momentum-free, as Arjovsky et al. advise) or Adam (gradient penalty)."""
    if method.optimizer == "rmsprop":
        return (
            torch.optim.RMSprop(generator.parameters(), lr=method.lr),
            torch.optim.RMSprop(critic.parameters(), lr=method.lr),
        )
    if method.optimizer == "adam":
        betas = (float(method.betas[0]), float(method.betas[1]))
        return (
            torch.optim.Adam(generator.parameters(), lr=method.lr, betas=betas),
            torch.optim.Adam(critic.parameters(), lr=method.lr, betas=betas),
        )
    raise ValueError(f"unknown optimizer {method.optimizer!r}; use 'rmsprop' or 'adam'")


def critic_from_config(cfg: dict) -> nn.Module:
    """An untrained critic of the architecture in `critic.config` (stored with a run: the DCGAN
    baseline's is chapter 2's discriminator, classifier heads included)."""
    cfg = dict(cfg)
    sizes = cfg.pop("sizes", None)
    if sizes is None:
        return DCGANDiscriminator(**cfg)
    return ProjectionDiscriminator(sizes, cfg["ndf"], cfg["channels"], cfg["image_size"], norm=cfg["norm"], spectral_norm=cfg["spectral_norm"],
                                   aux_classifier=cfg.get("aux_classifier", False))  # fmt: skip
