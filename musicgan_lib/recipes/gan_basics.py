"""Chapter 1: GANs on 2-D mixtures, and how many modes each loss finds.

Three ways to play the game are compared on the ring and the grid, over several seeds:
the original minimax loss, the non-saturating loss, and PacGAN-style packing (the
discriminator judges m samples at once, so a generator that repeats itself is caught).
"""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from dataclasses import dataclass, field

import torch
from torch import Tensor

from ..data.toy2d import GaussianMixture2D
from ..device import seed_everything
from ..losses import MinimaxLoss, NonSaturatingLoss, WassersteinLoss
from ..metrics.modes import ModeReport, mode_report
from ..models.toy_mlp import MLPDiscriminator, MLPGenerator
from ..profiles import check_profile
from ..train import Every, GANTrainer, TrainLoop, latent_sampler

EVAL_SAMPLES = 2500


@dataclass(frozen=True)
class MethodSpec:
    """One way to train the toy GAN: which loss, packing, critic steps and Adam betas."""

    name: str
    loss: object
    pack: int = 1
    n_critic: int = 1
    betas: tuple[float, float] = (0.5, 0.999)


METHODS: dict[str, MethodSpec] = {
    "minimax": MethodSpec("minimax", MinimaxLoss()),
    "non-saturating": MethodSpec("non-saturating", NonSaturatingLoss()),
    "pacgan4": MethodSpec("pacgan4", NonSaturatingLoss(), pack=4),
    "wgan-gp": MethodSpec("wgan-gp", WassersteinLoss(gp_weight=0.1), n_critic=5, betas=(0.5, 0.9)),
}


@dataclass(frozen=True)
class ToyConfig:
    steps: int
    batch_size: int = 256
    latent_dim: int = 2
    hidden: int = 128
    layers: int = 3
    lr: float = 1e-3
    final_lr_fraction: float = 0.1
    seeds: tuple[int, ...] = (0, 1, 2)
    snapshot_every: int = 0

    @classmethod
    def for_profile(cls, profile: str) -> "ToyConfig":
        check_profile(profile)
        if profile == "full":
            return cls(steps=20000, hidden=256, seeds=(0, 1, 2, 3, 4))
        return cls(steps=3000)


def linear_lr_decay(optimizers, base_lr: float, total_steps: int, final_fraction: float) -> Every:
    """Every step, set lr to base_lr decayed linearly to final_fraction * base_lr.

    A pure function of the step count, so a resumed run gets the same schedule.
    """

    def set_lr(loop: TrainLoop) -> None:
        frac = min(loop.step / max(total_steps, 1), 1.0)
        lr = base_lr * (1 - (1 - final_fraction) * frac)
        for opt in optimizers:
            for group in opt.param_groups:
                group["lr"] = lr

    return Every(1, set_lr, at_end=False)


@dataclass
class ToyRun:
    mixture: str
    method: str
    seed: int
    report: ModeReport
    trainer: GANTrainer
    snapshots: list[tuple[int, Tensor]] = field(default_factory=list)


def make_toy_trainer(
    mixture: GaussianMixture2D, method: str, seed: int, config: ToyConfig, device: torch.device | str = "cpu"
) -> tuple[GANTrainer, list[tuple[int, Tensor]]]:
    """Build (but do not run) a trainer; snapshots of fixed-noise samples fill in as it trains."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    spec = METHODS[method]
    rng = seed_everything(seed)
    generator = MLPGenerator(config.latent_dim, config.hidden, config.layers).to(device)
    critic = MLPDiscriminator(config.hidden, config.layers, pack=spec.pack).to(device)
    g_opt = torch.optim.Adam(generator.parameters(), config.lr, betas=spec.betas)
    d_opt = torch.optim.Adam(critic.parameters(), config.lr, betas=spec.betas)
    snapshots: list[tuple[int, Tensor]] = []
    fixed = torch.randn(1000, config.latent_dim, generator=torch.Generator().manual_seed(1))
    callbacks = [linear_lr_decay([g_opt, d_opt], config.lr, config.steps, config.final_lr_fraction)]
    if config.snapshot_every:
        callbacks.append(Every(config.snapshot_every, lambda loop: snapshots.append((loop.step, trainer.sample(len(fixed), latents=fixed)))))
    trainer = GANTrainer(
        generator, critic, spec.loss, g_opt, d_opt, mixture.sampler(), latent_sampler(config.latent_dim),
        batch_size=config.batch_size, rng=rng, device=device, n_critic=spec.n_critic, callbacks=callbacks,
        description=f"{mixture.name} {method} seed {seed}",
    )
    return trainer, snapshots


def train_toy_gan(
    mixture: GaussianMixture2D, method: str, seed: int, config: ToyConfig, device: torch.device | str = "cpu", quiet: bool = False
) -> ToyRun:
    """Train one toy GAN and measure its mode coverage on 2,500 samples."""
    trainer, snapshots = make_toy_trainer(mixture, method, seed, config, device)
    if quiet:
        with redirect_stdout(io.StringIO()):
            trainer.run(config.steps)
    else:
        trainer.run(config.steps)
    samples = trainer.sample(EVAL_SAMPLES, rng=torch.Generator().manual_seed(10_000 + seed))
    return ToyRun(mixture.name, method, seed, mode_report(samples, mixture), trainer, snapshots)
