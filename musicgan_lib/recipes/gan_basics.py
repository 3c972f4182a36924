"""Chapter 1: GANs on 2-D mixtures, and how many modes each loss finds.

Three ways to play the game are compared on the ring and the grid, over several seeds:
the original minimax loss, the non-saturating loss, and a remedy for mode collapse: a
discriminator that also sees the batch's feature spread (minibatch standard deviation), so a
generator that repeats itself is caught. PacGAN-style packing is available too (full profile).
"""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from dataclasses import dataclass, field

import torch
from torch import Tensor

from ..data.toy2d import GaussianMixture2D
from ..device import seed_everything, torch_threads
from ..losses import MinimaxLoss, NonSaturatingLoss, WassersteinLoss
from ..metrics.modes import ModeReport, mode_report
from ..models.toy_mlp import MLPDiscriminator, MLPGenerator
from ..profiles import check_profile
from ..train import Every, GANTrainer, TrainLoop, latent_sampler, linear_lr_decay  # noqa: F401 (ch1.linear_lr_decay)

EVAL_SAMPLES = 2500


@dataclass(frozen=True)
class MethodSpec:
    """One way to train the toy GAN: which loss, packing, critic steps and Adam betas."""

    name: str
    loss: object
    pack: int = 1
    minibatch_std: bool = False
    n_critic: int = 1
    betas: tuple[float, float] = (0.5, 0.999)


METHODS: dict[str, MethodSpec] = {
    "minimax": MethodSpec("minimax", MinimaxLoss()),
    "non-saturating": MethodSpec("non-saturating", NonSaturatingLoss()),
    "pacgan4": MethodSpec("pacgan4", NonSaturatingLoss(), pack=4),
    "minibatch-std": MethodSpec("minibatch-std", NonSaturatingLoss(), minibatch_std=True),
    "wgan-gp": MethodSpec("wgan-gp", WassersteinLoss(gp_weight=0.1), n_critic=5, betas=(0.5, 0.9)),
}


@dataclass(frozen=True)
class ToyConfig:
    """Sizes of the toy runs. `steps` is the default; `steps_for` gives harder mixtures more."""

    steps: int
    mixture_steps: tuple[tuple[str, int], ...] = ()
    batch_size: int = 256
    latent_dim: int = 2
    hidden: int = 128
    layers: int = 3
    batchnorm: bool = True
    lr: float = 1e-3
    final_lr_fraction: float = 0.1
    seeds: tuple[int, ...] = (0, 1, 2)
    snapshot_every: int = 0
    methods: tuple[str, ...] = ("minimax", "non-saturating", "minibatch-std")

    @classmethod
    def for_profile(cls, profile: str) -> "ToyConfig":
        """quick: 1,200 ring / 4,000 grid steps, 3 seeds (under 2 minutes on 2 cores); full: longer, wider, 5 seeds, + PacGAN."""
        check_profile(profile)
        if profile == "full":
            return cls(
                steps=20000,
                hidden=256,
                seeds=(0, 1, 2, 3, 4),
                snapshot_every=1000,
                methods=("minimax", "non-saturating", "minibatch-std", "pacgan4"),
            )
        return cls(steps=3000, mixture_steps=(("ring", 1200), ("grid", 4000)), snapshot_every=400)

    def steps_for(self, mixture: str) -> int:
        return dict(self.mixture_steps).get(mixture, self.steps)


@dataclass
class ToyRun:
    """One trained toy GAN: its measurements, networks, loss history and sample snapshots."""

    mixture: str
    method: str
    seed: int
    report: ModeReport
    generator: MLPGenerator
    critic: MLPDiscriminator
    history: dict[str, list[float]]
    snapshots: list[tuple[int, Tensor]] = field(default_factory=list)
    seconds: float = 0.0


def make_toy_trainer(
    mixture: GaussianMixture2D, method: str, seed: int, config: ToyConfig, device: torch.device | str = "cpu"
) -> tuple[GANTrainer, list[tuple[int, Tensor]]]:
    """Build (but do not run) a trainer; snapshots of fixed-noise samples fill in as it trains."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    spec = METHODS[method]
    rng = seed_everything(seed)
    generator = MLPGenerator(config.latent_dim, config.hidden, config.layers, config.batchnorm).to(device)
    critic = MLPDiscriminator(config.hidden, config.layers, pack=spec.pack, minibatch_std=spec.minibatch_std).to(device)
    # fused Adam: one kernel per step instead of a loop over tensors (~12 % faster for these tiny MLPs)
    g_opt = torch.optim.Adam(generator.parameters(), config.lr, betas=spec.betas, fused=True)
    d_opt = torch.optim.Adam(critic.parameters(), config.lr, betas=spec.betas, fused=True)
    snapshots: list[tuple[int, Tensor]] = []
    fixed = torch.randn(1000, config.latent_dim, generator=torch.Generator().manual_seed(1))
    callbacks = [linear_lr_decay([g_opt, d_opt], config.lr, config.steps_for(mixture.name), config.final_lr_fraction)]
    if config.snapshot_every:
        callbacks.append(
            Every(
                config.snapshot_every,
                lambda loop: snapshots.append((loop.step, trainer.sample(len(fixed), latents=fixed))),
            )
        )
    trainer = GANTrainer(
        generator,
        critic,
        spec.loss,
        g_opt,
        d_opt,
        mixture.sampler(),
        latent_sampler(config.latent_dim),
        batch_size=config.batch_size,
        rng=rng,
        device=device,
        n_critic=spec.n_critic,
        callbacks=callbacks,
        description=f"{mixture.name} {method} seed {seed}",
    )
    return trainer, snapshots


def train_toy_gan(
    mixture: GaussianMixture2D,
    method: str,
    seed: int,
    config: ToyConfig,
    device: torch.device | str = "cpu",
    quiet: bool = False,
) -> ToyRun:
    """Train one toy GAN and measure its mode coverage on 2,500 samples."""
    with torch_threads(1):
        trainer, snapshots = make_toy_trainer(mixture, method, seed, config, device)
        if quiet:
            with redirect_stdout(io.StringIO()):
                trainer.run(config.steps_for(mixture.name))
        else:
            trainer.run(config.steps_for(mixture.name))
        samples = trainer.sample(EVAL_SAMPLES, rng=torch.Generator().manual_seed(10_000 + seed))
    return ToyRun(
        mixture.name,
        method,
        seed,
        mode_report(samples, mixture),
        trainer.generator.cpu(),
        trainer.critic.cpu(),
        trainer.history,
        snapshots,
        trainer.loop.seconds,
    )


def _train_job(job: tuple[GaussianMixture2D, str, int, ToyConfig, str]) -> ToyRun:
    mixture, method, seed, config, device = job
    return train_toy_gan(mixture, method, seed, config, device, quiet=True)


@dataclass(frozen=True)
class MethodSummary:
    """Mean (and range) over seeds of one method on one mixture."""

    mixture: str
    method: str
    modes_mean: float
    modes_min: int
    modes_max: int
    high_quality_mean: float
    n_modes: int
    seeds: int


def summarise(runs: list[ToyRun]) -> list[MethodSummary]:
    """Group runs by (mixture, method) and average over seeds."""
    groups: dict[tuple[str, str], list[ToyRun]] = {}
    for run in runs:
        groups.setdefault((run.mixture, run.method), []).append(run)
    out = []
    for (mixture, method), rs in groups.items():
        modes = [r.report.modes_covered for r in rs]
        out.append(
            MethodSummary(
                mixture,
                method,
                sum(modes) / len(modes),
                min(modes),
                max(modes),
                sum(r.report.high_quality for r in rs) / len(rs),
                rs[0].report.n_modes,
                len(rs),
            )
        )
    return out


def compare_methods(
    mixtures: list[GaussianMixture2D],
    methods: list[str],
    config: ToyConfig,
    device: torch.device | str = "cpu",
    workers: int | None = None,
) -> list[ToyRun]:
    """Train every (mixture, method, seed) and measure it, one line per run.

    Toy MLPs are too small to use two cores inside one step, so independent runs go to
    separate worker processes instead (one per core by default; workers=1 runs in-process).
    """
    import multiprocessing as mp
    import os

    from tqdm.auto import tqdm

    from ..device import is_batch_run

    jobs = [(m, meth, s, config, str(device)) for m in mixtures for meth in methods for s in config.seeds]
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


def balance_score(summary: MethodSummary) -> float:
    """Harmonic mean of mode coverage (a recall: share of modes found) and high-quality share
    (a precision: share of samples on a mode). Covering every mode with blurry samples, or
    hitting a few modes precisely, both score low."""
    recall, precision = summary.modes_mean / summary.n_modes, summary.high_quality_mean
    return 0.0 if recall + precision == 0 else 2 * recall * precision / (recall + precision)


def best_method(summaries: list[MethodSummary], mixture: str) -> MethodSummary:
    """The method with the best balance of coverage and quality (see `balance_score`)."""
    candidates = [s for s in summaries if s.mixture == mixture]
    return max(candidates, key=lambda s: (balance_score(s), s.modes_mean))


def results_table(summaries: list[MethodSummary]) -> str:
    """A plain-text table: one row per method, one column pair per mixture."""
    mixtures = sorted({s.mixture for s in summaries}, key=lambda m: (m != "ring", m))
    methods = list(dict.fromkeys(s.method for s in summaries))
    by = {(s.mixture, s.method): s for s in summaries}
    header = f"{'method':16s}" + "".join(f"| {m + ' modes':>16s} {m + ' HQ':>9s} {'score':>6s} " for m in mixtures)
    lines = [header, "-" * len(header)]
    for method in methods:
        row = f"{method:16s}"
        for m in mixtures:
            s = by[(m, method)]
            row += f"| {s.modes_mean:6.2f}/{s.n_modes:<2d} ({s.modes_min}-{s.modes_max}) {100 * s.high_quality_mean:8.1f}% {balance_score(s):6.3f} "
        lines.append(row)
    return "\n".join(lines)
