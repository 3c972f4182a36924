"""Chapter 3: Wasserstein GANs on the chapter-2 sprites — weight clipping, then gradient penalty.

The point of the chapter is one plot: the critic's estimate of the Wasserstein distance
(minus its loss, without the penalty term) goes *down* as the samples get better, in step with
the Fréchet distance measured by an independent classifier. A standard GAN's discriminator
loss says nothing of the kind.

Two ways to keep the critic 1-Lipschitz, each with its paper's recipe (`models/wgan_recipes.py`):
"clip" (Arjovsky et al. 2017) and "gp" (Gulrajani et al. 2017). Both, and chapter 2's conditional
DCGAN, get the same *training-time* budget (evaluations excluded): "which is better" means
"which is better for the same compute". This file is the chapter's wiring: one run for a time
budget (`train_for_budget`) and the shipped runs (`load_or_train`); the measurements are in
`metrics/wgan_curves.py`, the figures in `spriteplots.py`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from .. import weights
from ..data.sprites import DATA_SEED, sprite_dataset, sprite_labels, tensor_sampler
from ..device import seed_everything
from ..metrics.sprite_eval import EVAL_LATENT_SEED, reference_sprites, sample_generator  # noqa: F401  (one home)
from ..metrics.wgan_curves import GradNormProbe, critic_estimate, curve_evaluator, spearman
from ..models.dcgan_recipes import PLAIN, REMEDY
from ..models.wgan_recipes import METHODS, WGANConfig, build_models, critic_from_config, make_optimizers
from ..train import CLOCKS, BudgetSpent, CurvePoint, Every, GANTrainer, TrainLoop, latent_sampler

MAKE_SCRIPT = "scripts/make_wgan_weights.py"
KIND = "wgan_chapter3"  # the kind of a shipped run file
BASELINE = "dcgan"  # the chapter-2 recipe the WGANs are compared with at equal training time
RUN_NAMES = ("clip", "gp", BASELINE)  # the chapter's three equal-time runs (and shipped files)


def training_sprites(config: WGANConfig, device: torch.device | str = "cpu") -> Tensor:
    """The training set [N, 3, 32, 32]: exactly chapter 2's sprites."""
    return sprite_dataset(config.dcgan_config(), device)


def training_labels(config: WGANConfig, device: torch.device | str = "cpu") -> Tensor:
    """The attribute labels [N, 5] of `training_sprites`, row for row (used by the conditional runs)."""
    return sprite_labels(config.dcgan_config(), device)


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
    data: dict = field(default_factory=dict)  # what it trained on (stored with its weights)

    @property
    def final_generator(self) -> nn.Module:
        """The weights to sample for results: the EMA generator when the run kept one."""
        return self.generator_ema if self.generator_ema is not None else self.generator

    def critic_fd_spearman(self) -> float:
        """Spearman correlation between the critic estimate and FD over this run's checkpoints."""
        return spearman([p.critic_estimate for p in self.curve], [p.fd for p in self.curve])

    def sample(self, n: int, seed: int = EVAL_LATENT_SEED, ema: bool = True) -> Tensor:
        """n samples [n, 3, 32, 32] (CPU, [-1, 1]) from seeded latents, in eval mode (EMA weights unless ema=False)."""
        return sample_generator(self.final_generator if ema else self.generator, n, seed)


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
    grad_probe = GradNormProbe(run.generator, trainer.conditional)
    state = {"start": clock(), "excluded": 0.0, "next": 0}
    seconds: list[float] = []
    marks, nan = sorted(marks), float("nan")

    def grad_norm(step: int) -> float:
        return grad_probe(trainer.generator, trainer.critic, step)

    def measure(loop: TrainLoop, elapsed: float) -> None:
        est = critic_estimate(_estimate_series(run.method, loop.history), config.critic_window)
        scores = score(run.sample(config.curve_n, ema=False)) if score is not None else {"fd": nan}
        with_ema = score is not None and run.generator_ema is not None
        ema_scores = score(run.sample(config.curve_n)) if with_ema else {}
        gn = grad_norm(loop.step) if probe else nan
        point = CurvePoint(step=loop.step, seconds=elapsed, critic_estimate=est, fd=scores["fd"],
                           coverage=scores.get("coverage", nan), high_quality=scores.get("high_quality", nan),
                           grad_norm=gn, fd_ema=ema_scores.get("fd", nan), coverage_ema=ema_scores.get("coverage", nan))  # fmt: skip
        run.curve.append(point)
        if on_checkpoint is not None:
            _finalise(run, trainer, seconds)
            on_checkpoint(run)
        if log:
            log(
                f"{run.method:5s} step {point.step:6d}  {elapsed:7.1f} s  estimate {est:9.4f}  FD {point.fd:8.3f}  "
                f"coverage {point.coverage:.3f}  high quality {point.high_quality:.3f}  grad norm {gn:.3f}"
                + (f"  | EMA: FD {point.fd_ema:.3f} coverage {point.coverage_ema:.3f}" if with_ema else "")
            )

    def each_step(loop: TrainLoop) -> None:
        elapsed = clock() - state["start"] - state["excluded"]
        seconds.append(elapsed)
        t0 = clock()
        if probe and loop.step % config.probe_every == 0:
            run.probes.append((loop.step, elapsed, grad_norm(loop.step)))
        if state["next"] < len(marks) and elapsed >= marks[state["next"]] * budget:
            while state["next"] < len(marks) and elapsed >= marks[state["next"]] * budget:
                state["next"] += 1
            measure(loop, elapsed)
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
    """A GANTrainer for one WGAN method on `data` [N, 3, 32, 32] (not trained yet); a conditional config
    needs the data's `labels` [N, 5]."""
    if config.conditional and labels is None:
        raise ValueError("this config is conditional: pass the training sprites' labels (training_labels(config)), "
                         "or use WGANConfig(conditional=False)")  # fmt: skip
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    spec = METHODS[method]
    rng = seed_everything(seed)
    generator, critic = build_models(config, device)
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
    make_dcgan_run: Callable[..., object] | None = None,
) -> WGANRun:
    """Train "clip", "gp" or the chapter-2 baseline "dcgan" for a training-time budget.

    At each checkpoint (fractions of the budget) the distance estimate and `score(samples)`
    (FD / coverage on config.curve_n samples; see `metrics.wgan_curves.curve_evaluator`) are
    measured; that time is excluded from the budget, so every method gets the same time to
    *train*, however many steps it fits in. The DCGAN baseline is chapter 2's run, built by
    `make_dcgan_run` (pass `recipes.dcgan_pixels.make_run`): its batch, Adam and learning rate,
    the conditional recipe for a conditional config, else the plain one, only stopped by time
    instead of by step count. `data` [N, 3, 32, 32] replaces the training sprites; a conditional
    config then needs their `labels` [N, 5] too.
    """
    if config.conditional and data is not None and labels is None:
        raise ValueError("a conditional config trains on labelled sprites: pass labels= with data=")
    clock_name = clock or config.clock
    if clock_name not in CLOCKS:
        raise ValueError(f"clock must be one of {tuple(CLOCKS)}, got {clock_name!r}")
    budget = config.budget_seconds if budget_seconds is None else budget_seconds
    marks = config.checkpoints if checkpoints is None else checkpoints
    if data is None:
        trained_on = {"source": "procedural sprites (data.sprites.sprite_training_set)", "seed": DATA_SEED,
                      "n": config.dcgan_config().dataset_size}  # fmt: skip
    else:
        trained_on = {"source": "images passed to train_for_budget", "n": len(data)}
    recipe = REMEDY if config.conditional else PLAIN
    if method == BASELINE:
        if make_dcgan_run is None:
            raise ValueError("the 'dcgan' baseline is chapter 2's run: pass make_dcgan_run=dcgan_pixels.make_run")
        trainer = make_dcgan_run(recipe, config.dcgan_config(), seed=seed, device=device, images=data, labels=labels,
                                 total_steps=config.max_steps).trainer  # fmt: skip
    else:
        images = data if data is not None else training_sprites(config, device)
        if config.conditional and labels is None:
            labels = training_labels(config, device)
        trainer = make_wgan_trainer(method, config, images, labels=labels, seed=seed, device=device)
    ema = trainer.ema.module if trainer.ema is not None else None
    run = WGANRun(
        method, trainer.generator, trainer.critic, {}, config=config.meta(), generator_ema=ema, data=trained_on
    )
    if method == BASELINE:
        run.meta["recipe"] = recipe
    run.meta["clock"] = clock_name
    return _run_for_budget(
        trainer, run, config, budget, marks, CLOCKS[clock_name], score, method in METHODS, log, on_checkpoint
    )


# ---- shipped weights (`musicgan_lib.weights`) -----------------------------------------------------
def shipped_path(method: str, profile: str = "quick") -> Path:
    """assets/wgan_<method>_<profile>.safetensors (the DCGAN baseline: wgan_dcgan_<profile>)."""
    return weights.weights_path(f"wgan_{method}", profile)


def save_run(run: WGANRun, path: str | Path, extra_meta: dict | None = None, max_history: int = 2000) -> Path:
    """Write generator + critic in fp16 with the run's curves in the metadata (no retraining to plot)."""
    every = max(1, math.ceil(len(run.history.get("step", [])) / max_history))
    meta = {
        "method": run.method,
        "critic_config": getattr(run.critic, "config", {}),
        "fd_floor_curve": run.fd_floor_curve,
        "curve": [p.to_meta() for p in run.curve],
        **({"ema": True} if run.generator_ema is not None else {}),
        "probes": [list(p) for p in run.probes],
        "history_every": every,
        "history": {k: [round(float(v), 5) for v in list(vs)[::every]] for k, vs in run.history.items()},
        "critic_window": int(run.config.get("critic_window", 51)),
        **run.meta,
        **(extra_meta or {}),
    }
    modules = {"generator": run.generator, "critic": run.critic}
    if run.generator_ema is not None:
        modules["generator_ema"] = run.generator_ema
    return weights.save_weights(path, modules, kind=KIND, config=run.config, steps=run.steps,
                                train_seconds=run.seconds, data=run.data, half=True, meta=meta)  # fmt: skip


#: metadata that `load_run` turns into the run's fields (the rest lands in `WGANRun.meta`)
_RUN_FIELDS = {"kind", "method", "config", "critic_config", "steps", "step", "seconds", "train_seconds", "data",
               "dtype", "fd_floor_curve", "curve", "probes", "history", "ema"}  # fmt: skip


def load_run(path: str | Path, device: torch.device | str = "cpu") -> WGANRun:
    """Load a run written by `save_run` (weights back to fp32, eval mode)."""
    meta = weights.read_weights_meta(path, kind=KIND, make_script=MAKE_SCRIPT, what="chapter-3 run")
    config = WGANConfig.from_meta(meta["config"])
    generator, critic = build_models(config)
    if meta.get("critic_config"):  # exactly the critic that was trained (the baseline's is chapter 2's)
        critic = critic_from_config(meta["critic_config"])
    modules = {"generator": generator, "critic": critic}
    if "ema" in meta:
        modules["generator_ema"] = copy.deepcopy(generator)
    weights.load_weights(path, modules, kind=KIND, make_script=MAKE_SCRIPT, device=device)  # fp16 into fp32
    return WGANRun(
        meta["method"], generator, critic, {k: list(v) for k, v in meta["history"].items()},
        curve=[CurvePoint(**p) for p in meta["curve"]], probes=[tuple(p) for p in meta["probes"]],
        seconds=float(meta["train_seconds"]), steps=int(meta["steps"]),
        fd_floor_curve=float(meta["fd_floor_curve"]), config=meta["config"],
        meta={k: v for k, v in meta.items() if k not in _RUN_FIELDS},
        generator_ema=modules.get("generator_ema"), data=meta.get("data", {}),
    )  # fmt: skip


def load_or_train(
    profile: str,
    *,
    retrain: bool,
    device: torch.device | str = "cpu",
    seed: int = 0,
    make_dcgan_run: Callable[..., object] | None = None,
) -> weights.LoadedOrTrained[dict[str, WGANRun]]:
    """{method: WGANRun} of the three equal-time runs (`RUN_NAMES`): the shipped files when the profile
    ships them and `retrain` is False, else trained here (each for the profile's budget, the "dcgan"
    baseline by `make_dcgan_run`, chapter 2's `make_run`), with FD curves at `curve_n`."""
    config = WGANConfig.for_profile(profile)
    paths = {m: shipped_path(m, profile) for m in RUN_NAMES}

    def train() -> dict[str, WGANRun]:
        score, floor = curve_evaluator(config.curve_n)
        runs = {}
        for m in RUN_NAMES:
            runs[m] = train_for_budget(m, config, seed=seed, device=device, score=score, make_dcgan_run=make_dcgan_run)
            runs[m].fd_floor_curve = floor
        return runs

    return weights.load_or_train(paths.values(), load=lambda: {m: load_run(p, device) for m, p in paths.items()},
                                 train=train, profile=profile, retrain=retrain, make_script=MAKE_SCRIPT, kind=KIND)  # fmt: skip
