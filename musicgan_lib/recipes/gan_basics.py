"""Chapter 1: GANs on 2-D mixtures, mode collapse reproduced, and how many modes each method finds.

First the classic collapse: the unrolled-GAN paper's networks (Metz et al. 2016: a generator
without batch norm, 256-d noise, a one-layer discriminator) with the vanilla minimax loss hop from
mode to mode. Then the remedies, measured the same way (modes covered over training, per seed):
batch norm in that generator, and the chapter's stabilised recipe (batch norm, 2-d noise, deeper
networks, a decaying learning rate) with the minimax loss, the non-saturating loss and a
discriminator that also sees the batch's feature spread (minibatch standard deviation), so a
generator that repeats itself is caught. PacGAN-style packing is available too (full profile).
"""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from dataclasses import dataclass, field, replace

import torch
from torch import Tensor

from ..data.toy2d import GaussianMixture2D
from ..device import seed_everything, torch_threads
from ..losses import MinimaxLoss, NonSaturatingLoss, WassersteinLoss
from ..metrics.modes import (  # noqa: F401 (the chapter's summary helpers, as ch1.*)
    MethodSummary,
    ModeReport,
    balance_score,
    best_method,
    mode_report,
    results_table,
    summarise,
)
from ..models.toy_mlp import MLPDiscriminator, MLPGenerator
from ..profiles import check_profile
from ..train import Every, GANTrainer, TrainLoop, latent_sampler, linear_lr_decay  # noqa: F401 (ch1.linear_lr_decay)

EVAL_SAMPLES = 2500


@dataclass(frozen=True)
class Networks:
    """The two MLPs' shapes and the learning-rate schedule, when a method does not use the config's."""

    latent_dim: int
    generator_layers: int  # hidden layers of `hidden` units
    critic_layers: int
    batchnorm: bool  # in the generator's hidden layers
    final_lr_fraction: float  # the learning rate decays linearly to this share of itself (1.0: constant)


# Metz et al. 2016 (unrolled GANs), appendix: G 2 x 128 ReLU on 256-d noise, no batch norm; D 1 x 128.
# They trained 25,000 steps at Adam 1e-4; at the chapter's 1e-3 the same hopping shows within 1,200.
UNROLLED_PAPER_NETWORKS = Networks(
    latent_dim=256, generator_layers=2, critic_layers=1, batchnorm=False, final_lr_fraction=1.0
)


@dataclass(frozen=True)
class MethodSpec:
    """One way to train the toy GAN: which loss, packing, critic steps, Adam betas, and networks
    (None: the config's stabilised ones)."""

    name: str
    loss: object
    pack: int = 1
    minibatch_std: bool = False
    n_critic: int = 1
    betas: tuple[float, float] = (0.5, 0.999)
    networks: Networks | None = None


METHODS: dict[str, MethodSpec] = {
    "vanilla": MethodSpec("vanilla", MinimaxLoss(), networks=UNROLLED_PAPER_NETWORKS),
    "vanilla+bn": MethodSpec("vanilla+bn", MinimaxLoss(), networks=replace(UNROLLED_PAPER_NETWORKS, batchnorm=True)),
    "minimax": MethodSpec("minimax", MinimaxLoss()),
    "non-saturating": MethodSpec("non-saturating", NonSaturatingLoss()),
    "pacgan4": MethodSpec("pacgan4", NonSaturatingLoss(), pack=4),
    "minibatch-std": MethodSpec("minibatch-std", NonSaturatingLoss(), minibatch_std=True),
    "wgan-gp": MethodSpec("wgan-gp", WassersteinLoss(gp_weight=0.1), n_critic=5, betas=(0.5, 0.9)),
}


# the ring gets the collapse and every remedy; the grid the two best remedies
RING_METHODS = ("vanilla", "vanilla+bn", "minimax", "non-saturating", "minibatch-std")
UNLISTED_MIXTURE_STEPS = 3000  # quick-profile steps of a mixture `mixture_steps` does not name


@dataclass(frozen=True)
class ToyConfig:
    """Sizes of the toy runs. The defaults ARE the quick profile (under 2 minutes on 2 cores); `FULL` lists
    what the full profile changes. `steps_for` gives each mixture its steps, `methods_for` its methods."""

    # -- how long
    # generator steps of every run; None: each mixture's own from `mixture_steps`
    steps: int | None = None
    # the ring's collapse shows within 1,200 steps; the grid's 25 modes need 4,000 to be found
    mixture_steps: tuple[tuple[str, int], ...] = (("ring", 1200), ("grid", 4000))
    batch_size: int = 256  # real and generated points per step (2-D points: a big batch is cheap)
    # -- the stabilised networks every method uses unless its MethodSpec names others
    latent_dim: int = 2  # noise numbers per sample: 2-d noise for 2-d data
    hidden: int = 128  # units per hidden layer
    layers: int = 3  # hidden layers of the generator and of the discriminator
    batchnorm: bool = True  # in the generator's hidden layers: it spreads the samples over the modes
    lr: float = 1e-3  # Adam's learning rate, both players (the unrolled-GAN paper's networks too)
    final_lr_fraction: float = 0.1  # the learning rate decays linearly to this share of itself, to settle
    # -- which runs
    seeds: tuple[int, ...] = (0, 1, 2)  # each (mixture, method) once per seed: the evaluation protocol's >= 3
    methods: tuple[str, ...] = ("non-saturating", "minibatch-std")  # trained on every mixture
    # per-mixture method lists, overriding `methods` (the collapse is shown on the ring only)
    mixture_methods: tuple[tuple[str, tuple[str, ...]], ...] = (("ring", RING_METHODS),)
    # -- what each run keeps for the figures
    snapshot_every: int = 400  # keep 1,000 fixed-noise samples every this many steps (0: none)
    track_points: int = 20  # measure modes this many times over training (0: only at the end)

    @classmethod
    def for_profile(cls, profile: str) -> "ToyConfig":
        """quick: the defaults; full: the defaults with `FULL`'s overrides."""
        return replace(cls(), **FULL) if check_profile(profile) == "full" else cls()

    def steps_for(self, mixture: str) -> int:
        if self.steps is not None:
            return self.steps
        return dict(self.mixture_steps).get(mixture, UNLISTED_MIXTURE_STEPS)

    def methods_for(self, mixture: str) -> tuple[str, ...]:
        return dict(self.mixture_methods).get(mixture, self.methods)

    def networks_for(self, spec: MethodSpec) -> Networks:
        """The method's own networks, or the config's stabilised ones."""
        return spec.networks or Networks(
            self.latent_dim, self.layers, self.layers, self.batchnorm, self.final_lr_fraction
        )


# a GPU: 20,000 steps on every mixture, wider networks, 5 seeds, denser pictures, + PacGAN
FULL = dict(
    steps=20000,
    hidden=256,
    seeds=(0, 1, 2, 3, 4),
    snapshot_every=1000,
    track_points=40,
    methods=("non-saturating", "minibatch-std", "pacgan4"),
    mixture_methods=(("ring", (*RING_METHODS, "pacgan4")),),
)


@dataclass
class ToyRun:
    """One trained toy GAN: its measurements, networks, loss history, sample snapshots, and its
    mode report at `track_points` steps over training (`track`: [(step, report)])."""

    mixture: str
    method: str
    seed: int
    report: ModeReport
    generator: MLPGenerator
    critic: MLPDiscriminator
    history: dict[str, list[float]]
    snapshots: list[tuple[int, Tensor]] = field(default_factory=list)
    seconds: float = 0.0
    track: list[tuple[int, ModeReport]] = field(default_factory=list)


def method_spec(method: str | MethodSpec) -> MethodSpec:
    """A method by name from METHODS, or the learner's own MethodSpec as it is."""
    if isinstance(method, MethodSpec):
        return method
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}, or pass a MethodSpec")
    return METHODS[method]


def build_models(
    config: ToyConfig, method: str | MethodSpec, device: torch.device | str = "cpu"
) -> tuple[MLPGenerator, MLPDiscriminator]:
    """The generator (noise [B, latent_dim] -> points [B, 2]) and discriminator (points [B, 2] -> logits
    [B / pack, 1]) a method trains: its own networks, or the config's stabilised ones; on `device`."""
    spec = method_spec(method)
    nets = config.networks_for(spec)
    generator = MLPGenerator(nets.latent_dim, config.hidden, nets.generator_layers, nets.batchnorm).to(device)
    critic = MLPDiscriminator(config.hidden, nets.critic_layers, pack=spec.pack, minibatch_std=spec.minibatch_std)
    return generator, critic.to(device)


def make_toy_trainer(
    mixture: GaussianMixture2D,
    method: str | MethodSpec,
    seed: int,
    config: ToyConfig,
    device: torch.device | str = "cpu",
) -> tuple[GANTrainer, list[tuple[int, Tensor]], list[tuple[int, ModeReport]]]:
    """Build (but do not run) a trainer; snapshots of fixed-noise samples and mode reports fill in as it trains.

    snapshots: (step, generated points [1000, 2]); track: (step, ModeReport) pairs.
    """
    spec = method_spec(method)
    nets = config.networks_for(spec)
    rng = seed_everything(seed)
    generator, critic = build_models(config, spec, device)
    # fused Adam: one kernel per step instead of a loop over tensors (~12 % faster for these tiny MLPs)
    g_opt = torch.optim.Adam(generator.parameters(), config.lr, betas=spec.betas, fused=True)
    d_opt = torch.optim.Adam(critic.parameters(), config.lr, betas=spec.betas, fused=True)
    steps = config.steps_for(mixture.name)
    snapshots: list[tuple[int, Tensor]] = []
    track: list[tuple[int, ModeReport]] = []
    fixed = torch.randn(1000, nets.latent_dim, generator=torch.Generator().manual_seed(1))
    tracked = torch.randn(EVAL_SAMPLES, nets.latent_dim, generator=torch.Generator().manual_seed(2))
    callbacks = [linear_lr_decay([g_opt, d_opt], config.lr, steps, nets.final_lr_fraction)]
    if config.snapshot_every:
        callbacks.append(
            Every(
                config.snapshot_every,
                lambda loop: snapshots.append((loop.step, trainer.sample(len(fixed), latents=fixed))),
            )
        )
    if config.track_points:
        callbacks.append(
            Every(
                max(1, steps // config.track_points),
                lambda loop: track.append(
                    (loop.step, mode_report(trainer.sample(EVAL_SAMPLES, latents=tracked), mixture))
                ),
            )
        )
    trainer = GANTrainer(
        generator,
        critic,
        spec.loss,
        g_opt,
        d_opt,
        mixture.sampler(),
        latent_sampler(nets.latent_dim),
        batch_size=config.batch_size,
        rng=rng,
        device=device,
        n_critic=spec.n_critic,
        callbacks=callbacks,
        description=f"{mixture.name} {spec.name} seed {seed}",
    )
    return trainer, snapshots, track


def train_toy_gan(
    mixture: GaussianMixture2D,
    method: str | MethodSpec,
    seed: int,
    config: ToyConfig,
    device: torch.device | str = "cpu",
    quiet: bool = False,
) -> ToyRun:
    """Train one toy GAN and measure its mode coverage on 2,500 samples."""
    with torch_threads(1):
        trainer, snapshots, track = make_toy_trainer(mixture, method, seed, config, device)
        if quiet:
            with redirect_stdout(io.StringIO()):
                trainer.run(config.steps_for(mixture.name))
        else:
            trainer.run(config.steps_for(mixture.name))
        samples = trainer.sample(EVAL_SAMPLES, rng=torch.Generator().manual_seed(10_000 + seed))
    return ToyRun(
        mixture.name,
        method_spec(method).name,
        seed,
        mode_report(samples, mixture),
        trainer.generator.cpu(),
        trainer.critic.cpu(),
        trainer.history,
        snapshots,
        trainer.loop.seconds,
        track,
    )


def _train_job(job: tuple[GaussianMixture2D, str, int, ToyConfig, str]) -> ToyRun:
    mixture, method, seed, config, device = job
    return train_toy_gan(mixture, method, seed, config, device, quiet=True)


def compare_methods(
    mixtures: list[GaussianMixture2D],
    methods: list[str] | None,
    config: ToyConfig,
    device: torch.device | str = "cpu",
    workers: int | None = None,
) -> list[ToyRun]:
    """Train every (mixture, method, seed) and measure it, one line per run. `methods=None` trains
    each mixture with `config.methods_for(mixture)`.

    Toy MLPs are too small to use two cores inside one step, so independent runs go to
    separate worker processes instead (one per core by default; workers=1 runs in-process).
    """
    import multiprocessing as mp
    import os

    from tqdm.auto import tqdm

    from ..device import is_batch_run

    jobs = [
        (m, meth, s, config, str(device))
        for m in mixtures
        for meth in (methods or config.methods_for(m.name))
        for s in config.seeds
    ]
    jobs.sort(key=lambda job: -config.steps_for(job[0].name))  # longest first: the workers finish together
    workers = workers or min(
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1, 4
    )
    if str(device) != "cpu":
        workers = 1  # one GPU: keep it in this process
    bar = tqdm(total=len(jobs), desc="toy GANs", disable=is_batch_run())
    runs: list[ToyRun] = []

    def done(run: ToyRun) -> None:
        runs.append(run)
        bar.update(1)
        if is_batch_run():
            print(f"{run.mixture:5s} {run.method:15s} seed {run.seed}: {run.report}")

    if workers > 1:
        with mp.get_context("spawn").Pool(workers) as pool:
            for run in pool.imap(_train_job, jobs):
                done(run)
    else:
        for job in jobs:
            done(_train_job(job))
    bar.close()
    return runs
