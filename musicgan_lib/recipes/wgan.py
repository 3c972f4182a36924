"""Chapter 3: Wasserstein GANs on the chapter-2 sprites — weight clipping, then gradient penalty.

The point of the chapter is one plot: the critic's estimate of the Wasserstein distance
(minus its loss, without the penalty term) goes *down* as the samples get better, in step with
the Fréchet distance measured by an independent classifier. A standard GAN's discriminator
loss says nothing of the kind.

Two ways to keep the critic 1-Lipschitz, each with its paper's recipe:
- "clip": Arjovsky, Chintala & Bottou (2017): clip every critic weight to [-0.01, 0.01] after
  each critic step, RMSprop with lr 5e-5, 5 critic steps per generator step;
- "gp": Gulrajani et al. (2017): penalty lambda * (||grad D(x_hat)|| - 1)^2 at per-sample random
  interpolates (lambda 10), Adam lr 1e-4 with betas (0, 0.9), 5 critic steps per generator step,
  and a critic without batch norm (batch norm mixes samples, so the per-sample gradient the
  penalty constrains would not exist); here layer norm, also used for clipping so the two
  runs differ only in how the Lipschitz bound is enforced.

Both runs get the same *training-time* budget (evaluations excluded), so "which is better"
means "which is better for the same compute", however many steps each one fits in.
The losses themselves live in `musicgan_lib.losses`; models are the chapter-2 DCGAN ones.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from ..checkpoint import load_checkpoint, read_asset_meta, save_checkpoint
from ..data.sprites import ATTRIBUTE_SIZES, make_sprites, tensor_sampler
from ..device import seed_everything
from ..losses import WassersteinLoss, gradient_penalty
from ..metrics.sprite_eval import EVAL_LATENT_SEED, reference_sprites, sample_generator, sprite_classifier
from ..models.conditional import CodedGenerator, ProjectionDiscriminator
from ..models.dcgan import DCGANDiscriminator, DCGANGenerator
from ..profiles import check_profile
from ..train import CLOCKS, BudgetSpent, Every, GANTrainer, TrainLoop, judged, latent_sampler
from . import dcgan_pixels as ch2  # chapter 2's config and DCGAN baseline (docs/ARCHITECTURE.md)

ASSETS = Path(__file__).resolve().parents[2] / "assets"
MAKE_SCRIPT = "scripts/make_wgan_weights.py"
BASELINE = "dcgan"  # the chapter-2 recipe the WGANs are compared with at equal training time
PROBE_SEED = 777  # the fixed real batch / latents of the gradient-norm probe


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
    """Sizes and budgets of chapter 3 for one profile.

    Generator and data are chapter 2's (`dcgan_pixels.DCGANConfig` of the same profile), and so
    is the evaluation (`metrics.sprite_eval`). budget_seconds is the training time each method
    gets (evaluation excluded), measured with `clock`: "process" (CPU seconds of this process:
    with one torch thread that is the time on one idle core, and it does not change when the
    machine is busy) or "wall" (`train.CLOCKS`).
    Checkpoints are fractions of the budget where FD and the critic estimate are measured.
    ema_decay keeps an exponential moving average of the WGAN generators' weights next to the
    trained ones; it does not change training at all (same steps, same random numbers), only
    which weights are sampled for the final comparison.
    """

    profile: str = "quick"
    latent_dim: int = 100
    ngf: int = 32
    ndf: int = 32
    critic_norm: str = "layer"
    batch_size: int = 64
    budget_seconds: float = (
        1440.0  # 24 CPU-minutes each (at 720 s WGAN-GP covered 0.815 of the combinations, at 1440 s 0.935)
    )
    max_steps: int = 1_000_000
    clock: str = "process"
    checkpoints: tuple[float, ...] = (0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    curve_n: int = 1000
    eval_n: int = 2000
    critic_window: int = 51
    probe_every: int = 10
    live_seconds: float = 20.0
    channels_last: bool = True
    ema_decay: float | None = 0.999
    ema_warmup: int = 10  # the EMA's decay ramps (1 + n) / (10 + n) up to ema_decay (see train.ema_with_warmup)
    conditional: bool = False  # chapter 2's cure for collapse: attribute codes in G, a projection critic

    @classmethod
    def for_profile(cls, profile: str) -> "WGANConfig":
        check_profile(profile)
        base = ch2.DCGANConfig.for_profile(profile)
        common = dict(
            latent_dim=base.latent_dim,
            ngf=base.ngf,
            ndf=base.ndf,
            eval_n=base.eval_samples,
            channels_last=base.channels_last,
            conditional=True,
        )
        if profile == "full":
            return cls(profile="full", budget_seconds=1800.0, clock="wall", curve_n=2000, live_seconds=0.0, **common)
        return cls(profile="quick", **common)

    def dcgan_config(self) -> ch2.DCGANConfig:
        """Chapter 2's config of the same profile (its data set, batch and learning rates)."""
        return ch2.DCGANConfig.for_profile(self.profile)

    def meta(self) -> dict:
        d = asdict(self)
        d["checkpoints"] = list(self.checkpoints)
        return d

    @classmethod
    def from_meta(cls, meta: dict) -> "WGANConfig":
        d = dict(meta)
        d["checkpoints"] = tuple(d["checkpoints"])
        return cls(**d)


# ---- models and data -----------------------------------------------------------------------
def make_models(config: WGANConfig, device: torch.device | str = "cpu") -> tuple[nn.Module, nn.Module]:
    """The chapter-2 DCGAN generator and a critic without batch norm that outputs a raw score.

    With `config.conditional` (the profiles' default) they are chapter 2's conditional pair: the
    generator reads attribute codes from its latent, the critic adds a projection term; the
    critic keeps layer norm and no spectral norm, so the Lipschitz bound comes from clipping or
    the penalty alone.
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


def training_sprites(config: WGANConfig, device: torch.device | str = "cpu") -> Tensor:
    """The training set: exactly chapter 2's sprites."""
    return ch2.sprite_dataset(config.dcgan_config(), device)


def training_labels(config: WGANConfig, device: torch.device | str = "cpu") -> Tensor:
    """The attribute labels of `training_sprites`, row for row (used by the conditional runs)."""
    return ch2.sprite_labels(config.dcgan_config(), device)


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


def curve_evaluator(n: int, classifier=None) -> tuple[Callable[[Tensor], dict[str, float]], float]:
    """(score(samples) -> {fd, coverage, high_quality}, FD floor) at a fixed N for training curves.

    Same classifier features and FD code as chapter 2 (`frechet_distance` of
    `metrics.frechet`), on the first n held-out real sprites; the floor is real vs the next n.
    """
    from ..metrics.attributes import attribute_report
    from ..metrics.frechet import frechet_distance

    clf = classifier if classifier is not None else sprite_classifier("cpu")
    fx = clf.feature_extractor()
    real = reference_sprites(n)
    floor = frechet_distance(fx, real[:n], real[n : 2 * n])

    def score(samples: Tensor) -> dict[str, float]:
        rep = attribute_report(clf, samples[:n])
        return {
            "fd": frechet_distance(fx, real[:n], samples[:n]),
            "coverage": rep.coverage,
            "high_quality": rep.high_quality,
        }

    return score, floor


# ---- the critic's estimate -------------------------------------------------------------------
def median_filter(values: Sequence[float], window: int) -> np.ndarray:
    """Causal running median: entry i is the median of values[max(0, i-window+1) : i+1].

    The WGAN paper plots -critic loss through a median filter: the raw per-step value is
    noisy (one minibatch), the median of the last `window` steps is not, and a causal filter
    at step t uses only what was known at step t.
    """
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    v = np.asarray(values, dtype=np.float64)
    return np.array([np.median(v[max(0, i - window + 1) : i + 1]) for i in range(len(v))])


def critic_estimate(w_history: Sequence[float], window: int) -> float:
    """The critic's distance estimate now: median of -critic loss (no penalty) over the last `window` steps."""
    if len(w_history) == 0:
        raise ValueError("no critic values yet")
    return float(np.median(np.asarray(w_history[-window:], dtype=np.float64)))


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman rank correlation (scipy.stats.spearmanr): do x and y go up and down together?"""
    from scipy.stats import spearmanr

    if len(x) != len(y) or len(x) < 3:
        raise ValueError(f"need two sequences of the same length >= 3, got {len(x)} and {len(y)}")
    return float(spearmanr(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)).statistic)


# ---- one run -----------------------------------------------------------------------------------
@dataclass
class CurvePoint:
    """What was measured at one checkpoint of a run (FD etc. at the curve's fixed N)."""

    step: int
    seconds: float  # training time so far (budget clock, evaluation excluded)
    critic_estimate: float  # median of the estimate over the last critic_window steps
    fd: float
    coverage: float = float("nan")
    high_quality: float = float("nan")
    grad_norm: float = float("nan")  # mean per-sample critic gradient norm at interpolates
    fd_ema: float = float("nan")  # the same measurements for the EMA generator, when there is one
    coverage_ema: float = float("nan")


@dataclass
class WGANRun:
    """A trained run: networks, per-step history, checkpoint curve and timing.

    history["estimate"] is the per-step distance estimate: for a WGAN the critic's
    E[D(real)] - E[D(fake)] (minus its loss, without penalty); for the DCGAN baseline minus its
    discriminator loss (shown for contrast: it is not a distance). history["seconds"] is the
    training time at each step.
    """

    method: str
    generator: nn.Module
    critic: nn.Module
    history: dict[str, list[float]]
    curve: list[CurvePoint] = field(default_factory=list)
    probes: list[tuple[int, float, float]] = field(default_factory=list)  # (step, seconds, mean grad norm)
    seconds: float = 0.0
    steps: int = 0
    fd_floor_curve: float = float("nan")
    config: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    generator_ema: nn.Module | None = None

    @property
    def final_generator(self) -> nn.Module:
        """The weights to sample for results: the EMA generator when the run kept one."""
        return self.generator_ema if self.generator_ema is not None else self.generator

    def critic_fd_spearman(self) -> float:
        """Spearman correlation between the critic estimate and FD over this run's checkpoints."""
        return spearman([p.critic_estimate for p in self.curve], [p.fd for p in self.curve])

    def sample(self, n: int, seed: int = EVAL_LATENT_SEED, ema: bool = True) -> Tensor:
        """n samples (CPU, [-1, 1]) from seeded latents, in eval mode (EMA weights unless ema=False)."""
        return sample_generator(self.final_generator if ema else self.generator, n, seed)


def interpolate_grad_norm(
    critic: nn.Module, real: Tensor, fake: Tensor, seed: int = 0, labels: Tensor | None = None
) -> Tensor:
    """Per-sample ||grad D(x_hat)|| at random interpolates: the quantity the penalty pushes to 1
    (`labels`: what a conditional critic is told about both batches)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        _, norms = gradient_penalty(judged(critic, labels), real, fake)
    critic.zero_grad(set_to_none=True)
    return norms.detach()


def _estimate_series(method: str, history: dict[str, list[float]]) -> list[float]:
    """The WGANs' critic estimate of W1; for the DCGAN baseline, minus its discriminator's loss in the
    game (without an auxiliary classifier's term, which falls as the heads learn, whatever G does)."""
    if method in METHODS:
        return history.get("w_distance", [])
    return [-v for v in history.get("d_hinge", history.get("d_loss", []))]


def _run_for_budget(
    trainer: GANTrainer,
    run: WGANRun,
    config: WGANConfig,
    budget: float,
    marks: Sequence[float],
    clock: Callable[[], float],
    score: Callable[[Tensor], dict[str, float]] | None,
    probe: bool,
    log: Callable[[str], None] | None,
    on_checkpoint: Callable[[WGANRun], None] | None = None,
) -> WGANRun:
    """Train `trainer` until `budget` seconds of training, measuring at the checkpoint fractions."""
    device = next(run.generator.parameters()).device
    probe = make_sprites(64, seed=PROBE_SEED)
    probe_real = probe.images.to(device)
    probe_z = torch.randn(64, run.generator.latent_dim, generator=torch.Generator().manual_seed(PROBE_SEED + 1)).to(
        device
    )
    probe_labels = probe.labels.to(device) if trainer.conditional else None
    if probe_labels is not None:  # fakes of the same characters as the real probe batch
        probe_z = run.generator.with_labels(probe_z, probe_labels)
    state = {"start": clock(), "excluded": 0.0, "next": 0}
    seconds: list[float] = []
    marks = sorted(marks)

    def train_seconds() -> float:
        return clock() - state["start"] - state["excluded"]

    def grad_norm(step: int) -> float:
        with torch.no_grad():
            fake = trainer.generator(probe_z)
        return float(interpolate_grad_norm(trainer.critic, probe_real, fake, seed=step, labels=probe_labels).mean())

    def each_step(loop: TrainLoop) -> None:
        elapsed = train_seconds()
        seconds.append(elapsed)
        t0 = clock()
        if probe and loop.step % config.probe_every == 0:
            run.probes.append((loop.step, elapsed, grad_norm(loop.step)))
        if state["next"] < len(marks) and elapsed >= marks[state["next"]] * budget:
            while state["next"] < len(marks) and elapsed >= marks[state["next"]] * budget:
                state["next"] += 1
            est = critic_estimate(_estimate_series(run.method, loop.history), config.critic_window)
            nan = float("nan")
            scores = score(run.sample(config.curve_n, ema=False)) if score is not None else {"fd": nan}
            ema_scores = (
                score(run.sample(config.curve_n)) if score is not None and run.generator_ema is not None else {}
            )
            gn = grad_norm(loop.step) if probe else nan
            point = CurvePoint(loop.step, elapsed, est, scores["fd"], scores.get("coverage", nan), scores.get("high_quality", nan),
                               gn, ema_scores.get("fd", nan), ema_scores.get("coverage", nan))  # fmt: skip
            run.curve.append(point)
            if on_checkpoint is not None:
                _finalise(run, trainer, seconds)
                on_checkpoint(run)
            if log:
                log(
                    f"{run.method:5s} step {point.step:6d}  {elapsed:7.1f} s  estimate {est:9.4f}  FD {point.fd:8.3f}  "
                    f"coverage {point.coverage:.3f}  high quality {point.high_quality:.3f}  grad norm {gn:.3f}"
                    + (f"  | EMA: FD {point.fd_ema:.3f} coverage {point.coverage_ema:.3f}" if ema_scores else "")
                )
        state["excluded"] += clock() - t0
        if elapsed >= budget:
            raise BudgetSpent

    trainer.loop.callbacks.append(Every(1, each_step, at_end=False))
    state["start"] = clock()
    try:
        trainer.run(config.max_steps)
    except BudgetSpent:
        pass
    finally:
        trainer.loop.callbacks.pop()
    return _finalise(run, trainer, seconds)


def _finalise(run: WGANRun, trainer: GANTrainer, seconds: list[float]) -> WGANRun:
    """Copy the trainer's state so far (steps, time, per-step history) into the run."""
    run.seconds = seconds[-1] if seconds else 0.0
    run.steps = trainer.step
    run.history = {
        "step": list(trainer.history["step"]),
        "estimate": list(_estimate_series(run.method, trainer.history)),
        "seconds": list(seconds),
    }
    for key in ("gp", "grad_norm"):
        if key in trainer.history:
            run.history[key] = list(trainer.history[key])
    return run


def make_wgan_trainer(
    method: str,
    config: WGANConfig,
    data: Tensor,
    *,
    labels: Tensor | None = None,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> GANTrainer:
    """A GANTrainer for one WGAN method (not trained yet); a conditional config needs the data's `labels`."""
    if config.conditional and labels is None:
        raise ValueError("this config is conditional: pass the training sprites' labels (training_labels(config)), "
                         "or use WGANConfig(conditional=False)")  # fmt: skip
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    spec = METHODS[method]
    rng = seed_everything(seed)
    generator, critic = make_models(config, device)
    g_opt, d_opt = make_optimizers(spec, generator, critic)
    return GANTrainer(
        generator, critic, spec.loss, g_opt, d_opt, tensor_sampler(data, labels if config.conditional else None),
        latent_sampler(generator.latent_dim),
        batch_size=config.batch_size, rng=rng, device=device, n_critic=spec.n_critic, ema_decay=config.ema_decay, ema_warmup=config.ema_warmup,
        description=f"WGAN-{method}",
    )  # fmt: skip


def train_for_budget(
    method: str,
    config: WGANConfig,
    data: Tensor | None = None,
    *,
    labels: Tensor | None = None,
    seed: int = 0,
    device: torch.device | str = "cpu",
    budget_seconds: float | None = None,
    clock: str | None = None,
    score: Callable[[Tensor], dict[str, float]] | None = None,
    checkpoints: Sequence[float] | None = None,
    log: Callable[[str], None] | None = print,
    on_checkpoint: Callable[[WGANRun], None] | None = None,
) -> WGANRun:
    """Train "clip", "gp" or the chapter-2 baseline "dcgan" for a training-time budget.

    At each checkpoint (fractions of the budget) the distance estimate and `score(samples)`
    (FD / coverage on config.curve_n samples; see `curve_evaluator`) are measured; that time
    is excluded from the budget, so every method gets the same time to *train*, however
    many steps it fits in. The DCGAN baseline is chapter 2's recipe (its batch, Adam and
    learning rate; the conditional one for a conditional config, else the plain one), only
    stopped by time instead of by step count. `data` replaces the training sprites; a
    conditional config then needs their `labels` too.
    """
    if config.conditional and data is not None and labels is None:
        raise ValueError("a conditional config trains on labelled sprites: pass labels= with data=")
    clock_name = clock or config.clock
    if clock_name not in CLOCKS:
        raise ValueError(f"clock must be one of {tuple(CLOCKS)}, got {clock_name!r}")
    budget = config.budget_seconds if budget_seconds is None else budget_seconds
    marks = config.checkpoints if checkpoints is None else checkpoints
    if method == BASELINE:
        cfg2 = config.dcgan_config()
        recipe = ch2.REMEDY if config.conditional else ch2.PLAIN
        dc = ch2.make_run(
            recipe, cfg2, seed=seed, device=device, images=data, labels=labels, total_steps=config.max_steps
        )
        trainer = dc.trainer
        run = WGANRun(
            method,
            trainer.generator,
            trainer.critic,
            {},
            config=config.meta(),
            generator_ema=trainer.ema.module if trainer.ema is not None else None,
        )
        run.meta["recipe"] = recipe
    else:
        images = data if data is not None else training_sprites(config, device)
        if config.conditional and labels is None:
            labels = training_labels(config, device)
        trainer = make_wgan_trainer(method, config, images, labels=labels, seed=seed, device=device)
        run = WGANRun(
            method,
            trainer.generator,
            trainer.critic,
            {},
            config=config.meta(),
            generator_ema=trainer.ema.module if trainer.ema is not None else None,
        )
    run.meta["clock"] = clock_name
    return _run_for_budget(
        trainer, run, config, budget, marks, CLOCKS[clock_name], score, method in METHODS, log, on_checkpoint
    )


# ---- shipped weights ---------------------------------------------------------------------------
RUN_NAMES = ("clip", "gp", BASELINE)


def asset_path(method: str, profile: str = "quick") -> Path:
    """assets/wgan_<method>_<profile>.safetensors (the DCGAN baseline: wgan_dcgan_<profile>)."""
    return ASSETS / f"wgan_{method}_{check_profile(profile)}.safetensors"


def _thin(values: Sequence[float], every: int) -> list[float]:
    return [round(float(v), 5) for v in list(values)[::every]]


def save_run(run: WGANRun, path: str | Path, extra_meta: dict | None = None, max_history: int = 2000) -> Path:
    """Write generator + critic in fp16 with the run's curves in the metadata (no retraining to plot)."""
    n = len(run.history.get("step", []))
    every = max(1, math.ceil(n / max_history))
    meta = {
        "kind": "wgan_chapter3",
        "method": run.method,
        "config": run.config,
        "critic_config": getattr(run.critic, "config", {}),
        "steps": run.steps,
        "seconds": run.seconds,
        "fd_floor_curve": run.fd_floor_curve,
        "curve": [asdict(p) for p in run.curve],
        **({"ema": True} if run.generator_ema is not None else {}),
        "probes": [list(p) for p in run.probes],
        "history_every": every,
        "history": {k: _thin(v, every) for k, v in run.history.items()},
        "critic_window": int(run.config.get("critic_window", 51)),
        **run.meta,
        **(extra_meta or {}),
    }
    fmt = torch.contiguous_format
    modules = {"generator": run.generator, "critic": run.critic}
    if run.generator_ema is not None:
        modules["generator_ema"] = run.generator_ema
    half = {k: copy.deepcopy(m).float().to("cpu", memory_format=fmt).half() for k, m in modules.items()}
    return save_checkpoint(path, half, meta=meta)


def _critic_from_config(cfg: dict) -> nn.Module:
    cfg = dict(cfg)
    sizes = cfg.pop("sizes", None)
    if sizes is None:
        return DCGANDiscriminator(**cfg)
    return ProjectionDiscriminator(sizes, cfg["ndf"], cfg["channels"], cfg["image_size"], norm=cfg["norm"], spectral_norm=cfg["spectral_norm"],
                                   aux_classifier=cfg.get("aux_classifier", False))  # fmt: skip


def load_run(path: str | Path, device: torch.device | str = "cpu") -> WGANRun:
    """Load a run written by `save_run` (weights back to fp32, eval mode)."""
    meta = read_asset_meta(
        path,
        "chapter-3 run",
        f"Build it with `.venv/bin/python {MAKE_SCRIPT}` or set RETRAIN = True.",
        kind="wgan_chapter3",
    )
    config = WGANConfig.from_meta(meta["config"])
    generator, critic = make_models(config)
    if meta.get("critic_config"):  # exactly the critic that was trained (the baseline's is chapter 2's)
        critic = _critic_from_config(meta["critic_config"])
    modules = {"generator": generator, "critic": critic}
    if "ema" in meta:
        modules["generator_ema"] = copy.deepcopy(generator)
    load_checkpoint(path, modules)  # fp16 on disk, cast into the fp32 modules
    ema = modules.get("generator_ema")
    known = {
        "kind",
        "method",
        "config",
        "critic_config",
        "steps",
        "seconds",
        "fd_floor_curve",
        "curve",
        "probes",
        "history",
        "ema",
    }
    return WGANRun(
        meta["method"], generator.to(device).eval(), critic.to(device).eval(),
        {k: list(v) for k, v in meta["history"].items()},
        curve=[CurvePoint(**p) for p in meta["curve"]],
        probes=[tuple(p) for p in meta["probes"]],
        seconds=float(meta["seconds"]), steps=int(meta["steps"]),
        fd_floor_curve=float(meta["fd_floor_curve"]), config=meta["config"],
        meta={k: v for k, v in meta.items() if k not in known},
        generator_ema=ema.to(device).eval() if ema is not None else None,
    )  # fmt: skip


def load_or_none(method: str, profile: str) -> WGANRun | None:
    """The shipped run of a method for a profile, or None when there is none."""
    path = asset_path(method, profile)
    return load_run(path) if path.exists() else None


# ---- pictures ----------------------------------------------------------------------------------
def _minutes(seconds: Sequence[float]) -> np.ndarray:
    return np.asarray(seconds, dtype=np.float64) / 60.0


def estimate_and_fd_figure(runs: dict[str, WGANRun], window: int | None = None):
    """One row per run: the critic estimate (raw and median-filtered) against training time,
    and next to it the FD measured at the same checkpoints (with the real-vs-real floor)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(runs), 2, figsize=(7.5, 2.2 * len(runs)), squeeze=False)
    for (name, run), (a, b) in zip(runs.items(), axes):
        every = int(run.meta.get("history_every", 1)) if run.meta else 1
        win = window or int(run.config.get("critic_window", 51))
        t = _minutes(run.history["seconds"])
        est = np.asarray(run.history["estimate"], dtype=np.float64)
        a.plot(t, est, c="0.8", lw=0.5, label="per step")
        a.plot(t, median_filter(est, max(1, win // every)), c="tab:blue", lw=1.2, label=f"median of {win} steps")
        a.scatter(
            _minutes([p.seconds for p in run.curve]),
            [p.critic_estimate for p in run.curve],
            c="tab:red",
            s=12,
            zorder=3,
            label="checkpoints",
        )
        a.set(title=f"{name}: critic estimate of W", xlabel="training time (min)")
        lo, hi = np.percentile(est, [1, 99.5]) if len(est) else (0, 1)
        a.set_ylim(min(lo, 0) - 0.05 * (hi - lo), hi + 0.1 * (hi - lo))
        a.legend(loc="upper right")
        b.plot(
            _minutes([p.seconds for p in run.curve]),
            [p.fd for p in run.curve],
            "o-",
            c="tab:red",
            ms=3,
            label="FD (generated vs real)",
        )
        if math.isfinite(run.fd_floor_curve):
            b.axhline(run.fd_floor_curve, ls="--", c="0.5", lw=1, label="real-vs-real floor")
        b.set(
            title=f"{name}: Fréchet distance, N={run.config.get('curve_n')}", xlabel="training time (min)", yscale="log"
        )
        b.legend(loc="upper right")
    return fig


def grad_norm_figure(runs: dict[str, WGANRun]):
    """Mean per-sample critic gradient norm at random interpolates over training (log scale)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.0, 2.4))
    for name, run in runs.items():
        if run.probes:
            _, sec, norm = zip(*run.probes)
            ax.plot(_minutes(sec), norm, lw=1, label=name)
    ax.axhline(1.0, ls="--", c="0.4", lw=1, label="the 1-Lipschitz target")
    ax.set(
        yscale="log",
        xlabel="training time (min)",
        ylabel=r"$\|\nabla_x D(\hat x)\|$",
        title="critic gradient norm at interpolates",
    )
    ax.legend()
    return fig


def critic_weights(critic: nn.Module) -> np.ndarray:
    """All conv weights of a critic, flattened (the numbers weight clipping acts on)."""
    ws = [m.weight.detach().float().flatten() for m in critic.modules() if isinstance(m, nn.Conv2d)]
    return torch.cat(ws).cpu().numpy()


def weight_histogram_figure(runs: dict[str, WGANRun]):
    """Histogram of each critic's conv weights: clipping piles them up at +-c."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(runs), figsize=(3.0 * len(runs), 2.2), squeeze=False)
    for (name, run), ax in zip(runs.items(), axes[0]):
        w = critic_weights(run.critic)
        ax.hist(w, bins=81, color="tab:purple")
        ax.set(title=f"{name} critic weights", xlabel="value", yscale="log")
    return fig


def fd_over_time_figure(runs: dict[str, WGANRun]):
    """FD at the checkpoints of every run against training time: equal time, who is ahead?"""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.0, 2.5))
    floor = None
    for name, run in runs.items():
        t = _minutes([p.seconds for p in run.curve])
        (line,) = ax.plot(t, [p.fd for p in run.curve], "o-", ms=3, label=name)
        ema = [p.fd_ema for p in run.curve]
        if any(math.isfinite(v) for v in ema):
            ax.plot(t, ema, "--", c=line.get_color(), lw=1, label=f"{name}, EMA weights")
        floor = run.fd_floor_curve if math.isfinite(run.fd_floor_curve) else floor
    if floor is not None:
        ax.axhline(floor, ls="--", c="0.5", lw=1, label="real-vs-real floor")
    ax.set(yscale="log", xlabel="training time (min)", ylabel="FD", title="Fréchet distance at equal training time")
    ax.legend()
    return fig
