"""Chapter 4: progressive growing of GANs (Karras et al., 2018) on the sprites: the chapter's wiring.

Its config, the runs it makes (`ProGANTrainer`; the equal-time baselines of chapters 2 and 3,
handed in as `BaselineChapters`) and what it returns to the notebook (`load_or_train`). The work
lives below: networks and `build_models` in `models/progan.py`, the schedule in
`models/progan_schedule.py`, sprites at every resolution and real-image fading in
`data/progan_sprites.py`, growing, fade-in, Adam reset and the EMA in `growing.GrowingGANTrainer`,
FD at every resolution in `metrics/progan_fd.py`, figures in `spriteplots.py`.
"""

from __future__ import annotations

import functools
import io
import json
from collections.abc import Callable, Sequence
from contextlib import redirect_stdout
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..data.progan_sprites import real_sampler
from ..data.sprites import DATA_SEED
from ..device import seed_everything
from ..losses import WassersteinLoss
from ..metrics.progan_fd import FDTracker, resolution_floors
from ..metrics.sprite_eval import evaluate_generator
from ..models.progan import ProGenerator, build_generator, build_models, channel_plan
from ..models.progan_schedule import GrowthSchedule
from ..profiles import check_profile
from ..growing import GrowingGANTrainer, GrownGAN
from ..train import TimeBudget, TrainLoop
from ..weights import LoadedOrTrained, weights_path
from ..weights import load_or_train as load_or_train_weights

MAKE_SCRIPT = "scripts/make_progan_weights.py"
KIND = "progan_asset"


# ---- configuration ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProGANConfig:
    """One run's sizes, schedule and optimiser. The defaults are the quick profile (4x4 -> 32x32, 12
    minutes of one CPU thread); the full profile (64x64, a GPU) is `FULL`'s overrides."""

    profile: str = "quick"  # the profile these values are, stored with the weights
    # ---- networks: channels(res) = clamp(fmap_base / res, fmap_min, fmap_max) (models.progan.channel_plan)
    start_resolution: int = 4  # px per side at the start, where the coarse layout is learned cheaply
    max_resolution: int = 32  # px per side at the end: the sprites' own size (64: `detailed_sprites_2x`)
    latent_dim: int = 128  # latent coordinates (the last 5 are attribute codes when conditional)
    fmap_base: int = 512  # channels * resolution before clamping: halves the width at each doubling
    fmap_max: int = 64  # channels of the widest blocks (4x4, 8x8)
    fmap_min: int = 16  # channels of the narrowest blocks (32x32)
    mbstd_group: int = 4  # samples per minibatch-stddev group; must divide every batch size
    conditional: bool = True  # attribute codes into the 4x4 input + a projection critic: chapter 2's cure
    channels_last: bool = True  # memory format: ~10 % faster convolutions on a CPU
    # ---- schedule: one entry per resolution (4, 8, 16, 32), lengths in real images shown, as in the paper
    batch_sizes: tuple[int, ...] = (64, 32, 16, 16)  # images per step: bigger where steps are cheap
    # 4x4 long enough to settle (a shorter one spiked FD 2.1x at the first growth); the last runs to the budget
    stable_images: tuple[int, ...] = (30000, 15000, 20000, 400_000)
    fade_images: tuple[int, ...] = (15000, 15000, 20000)  # images over which alpha goes 0 -> 1, per growth
    budget_seconds: float | None = 720.0  # training time in s on `clock` (evaluations excluded); None: no limit
    clock: str = "process"  # "process": CPU seconds, fair on a busy machine; "wall": elapsed time (GPUs)
    # ---- optimisation: the paper's
    lr: float = 1e-3  # Adam learning rate of both networks, restarted at every growth
    betas: tuple[float, float] = (0.0, 0.99)  # Adam betas: no momentum
    gp_weight: float = 10.0  # WGAN-GP lambda (chapter 3)
    drift: float = 0.001  # weight of E[D(real)^2]: keeps the critic's scores near zero
    ema_half_life_images: int = 10000  # half-life of the EMA generator, in real images
    ema_rampup: float = 0.05  # half-life <= this x images since the last growth (StyleGAN's ramp)
    # ---- data
    n_data: int = 20000  # training sprites (with replacement)
    data_seed: int = DATA_SEED  # the training sprites of chapters 2 and 3
    real_seed: int = 999  # recorded only: the reference sprites' seed (metrics.sprite_eval.EVAL_REAL_SEED)
    # ---- measuring
    curve_n: int = 1000  # samples (and real sprites) per FD point of the training curve
    eval_n: int = 2000  # samples of the final evaluation: chapter 2's N
    evals_per_phase: int = 4  # FD points and snapshots inside each phase
    eval_every_images: int = 10000  # in the last phase (a budget may cut it) at least every this many images

    @classmethod
    def for_profile(cls, profile: str) -> "ProGANConfig":
        check_profile(profile)
        return replace(cls(), **FULL) if profile == "full" else cls()

    def live(self) -> "ProGANConfig":
        """The notebook's short live run: 4x4, a fade, a little 8x8 (the learner sees fade-in move)."""
        return replace(self, max_resolution=8, batch_sizes=self.batch_sizes[:2], stable_images=(12000, 4000),
                       fade_images=(6000,), evals_per_phase=2, budget_seconds=None)  # fmt: skip

    @property
    def channels(self) -> Callable[[int], int]:
        return channel_plan(self.fmap_base, self.fmap_max, self.fmap_min)

    @property
    def resolutions(self) -> list[int]:
        return [self.start_resolution * 2**i for i in range(len(self.stable_images))]

    def schedule(self) -> GrowthSchedule:
        r0, r1 = self.start_resolution, self.max_resolution
        if self.resolutions[-1] != r1 or len(self.batch_sizes) != len(self.resolutions):
            raise ValueError(f"need one stable_images and batch_sizes entry per resolution {r0}..{r1}")
        batches = dict(zip(self.resolutions, self.batch_sizes))
        return GrowthSchedule.build(r0, r1, list(self.stable_images), list(self.fade_images), batches)

    def meta(self) -> dict:
        """The config as JSON values (tuples as lists), as files store it."""
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_meta(cls, d: dict) -> "ProGANConfig":
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


#: the full profile: 64x64 on the 2x detailed sprites, wider networks, the whole schedule on a GPU
FULL = dict(
    profile="full",
    max_resolution=64, latent_dim=256, fmap_base=4096, fmap_max=256, fmap_min=32,
    batch_sizes=(128, 128, 64, 64, 32),
    stable_images=(100_000, 200_000, 200_000, 300_000, 600_000),
    fade_images=(200_000, 200_000, 300_000, 300_000),
    budget_seconds=None, clock="wall",  # the whole schedule, timed on the wall clock
    curve_n=2000, evals_per_phase=6, eval_every_images=50_000,
)  # fmt: skip


# ---- the run ------------------------------------------------------------------------------------
class ProGANTrainer(GrowingGANTrainer):
    """`growing.GrowingGANTrainer` set up from a config: its networks (`build_models`), WGAN-GP with the
    drift term, one critic step per generator step, Adam(lr, betas) made afresh at every growth,
    the sprites (`real_sampler`; pass `data` [N, 3, 32, 32] and `labels` [N, 5] for others)."""

    def __init__(
        self,
        config: ProGANConfig,
        *,
        seed: int = 0,
        device: torch.device | str = "cpu",
        data: Tensor | None = None,
        labels: Tensor | None = None,
        clock: str | None = None,
        **options: Any,
    ) -> None:
        """`options`: fd_tracker, checkpoint_path, checkpoint_every, snapshot_latents, snapshot_every,
        description, log (see `GrowingGANTrainer`)."""
        self.config = config
        schedule = config.schedule()
        rng = seed_everything(seed)
        generator, critic = build_models(config, device=device)
        betas = (float(config.betas[0]), float(config.betas[1]))
        super().__init__(
            generator,
            critic,
            WassersteinLoss(gp_weight=config.gp_weight, drift=config.drift),
            schedule,
            real_sampler(config, data, labels),
            rng=rng,
            optimizer=functools.partial(torch.optim.Adam, lr=config.lr, betas=betas),
            device=device,
            ema_half_life_images=config.ema_half_life_images,
            ema_rampup=config.ema_rampup,
            channels_last=config.channels_last,
            evals_per_phase=config.evals_per_phase,
            eval_every_images=config.eval_every_images,
            clock=clock or config.clock,
            meta={"kind": "progan", "config": config.meta()},
            **options,
        )

    def check_checkpoint(self, path: Path, meta: dict) -> None:
        super().check_checkpoint(path, meta)
        saved = ProGANConfig.from_meta(meta["config"])
        if saved.conditional != self.config.conditional:
            was, now = ("conditional" if c else "unconditional" for c in (saved.conditional, self.config.conditional))
            raise ValueError(
                f"{path} holds a{'n' if was[0] == 'u' else ''} {was} ProGAN and this run is {now}; use the same config "
                "to resume, or start over without the checkpoint"
            )
        if saved.schedule() != self.schedule or saved.max_resolution != self.config.max_resolution:
            raise ValueError(
                f"{path} was written with another schedule/profile ({saved.profile}); use the same config to resume"
            )


# ---- shipped weights (weights.py) ------------------------------------------------------------------
ShippedProGAN = GrownGAN  # what `load_asset` and `load_or_train` return (`growing.GrownGAN`)


def asset_path(profile: str = "quick") -> Path:
    return weights_path("progan", profile)


def save_asset(run: ProGANTrainer | GrownGAN, path: str | Path, extra_meta: dict | None = None) -> Path:
    """EMA generator (fp16) + snapshots + FD curve + schedule in one small file (`GrownGAN.save`).

    Takes a trainer, or a `ShippedProGAN` (to rewrite a shipped file with more metadata)."""
    run = run.result(run.config) if isinstance(run, ProGANTrainer) else run
    data = {"source": "procedural sprites", "n": run.config.n_data, "seed": run.config.data_seed}
    return run.save(path, kind=KIND, data=data, meta=extra_meta)


def _build(meta: dict) -> tuple[ProGANConfig, ProGenerator]:
    config = ProGANConfig.from_meta(meta["config"])
    return config, build_generator(config, int(meta["resolution"]))


def load_asset(path: str | Path | None = None, device: torch.device | str = "cpu") -> ShippedProGAN:
    path = Path(path) if path is not None else asset_path()
    return GrownGAN.load(path, _build, kind=KIND, make_script=MAKE_SCRIPT, what="shipped ProGAN", device=device)


def train_here(
    config: ProGANConfig,
    tracker: FDTracker,
    *,
    seed: int = 0,
    device: torch.device | str = "cpu",
    chapters: "BaselineChapters | None" = None,
    log: Callable[[str], None] | None = None,
) -> ShippedProGAN:
    """Train the config's run for its budget and measure it as the weights script does: the same
    object as `load_asset` gives, with the floors and, given `chapters`, the matching baselines."""
    trainer = ProGANTrainer(config, seed=seed, device=device, fd_tracker=tracker, log=log, description="ProGAN")
    trainer.run(budget_seconds=config.budget_seconds)
    floors = resolution_floors(config, config.curve_n, tracker)
    baselines = {}
    for name in matching_baselines(config.conditional) if chapters is not None else ():
        res = train_baseline_for(name, trainer.seconds, tracker, profile=config.profile, clock=config.clock,
                                 device=device, seed=seed, chapters=chapters)  # fmt: skip
        res.pop("generator")
        baselines[name] = res
    trainer.generator_ema.eval()
    return trainer.result(
        config, clock=config.clock, seed=seed, threads=torch.get_num_threads(), device=str(device),
        budget_seconds=config.budget_seconds, resolution_floors={str(k): v for k, v in floors.items()},
        baselines=baselines,
    )  # fmt: skip


def load_or_train(
    profile: str, retrain: bool, tracker: FDTracker, *, device="cpu", chapters=None, log=None
) -> LoadedOrTrained[ShippedProGAN]:
    """The shipped run of `profile` (`load_asset`), or, with `retrain` or a profile that ships none,
    the same run trained here (`train_here`): a `ShippedProGAN` either way; print it for which."""
    config, path = ProGANConfig.for_profile(profile), asset_path(profile)

    def train() -> ShippedProGAN:
        return train_here(config, tracker, device=device, chapters=chapters, log=log)

    return load_or_train_weights(path, load=lambda: load_asset(path, device), train=train, profile=profile,
                                 retrain=retrain, make_script=MAKE_SCRIPT, kind=KIND)  # fmt: skip


# ---- the equal-time baselines of chapters 2 and 3 ---------------------------------------------------
#: chapter 2's recipes (conditional, label-free remedy, plain) and chapter 3's WGAN-GP with and without
#: labels; a ProGAN is compared first with the ones conditioned as it is
BASELINES = ("dcgan-cond", "wgan-gp-cond", "dcgan-pac2-ema", "dcgan", "wgan-gp")


def matching_baselines(conditional: bool) -> tuple[str, str]:
    """(chapter-2 DCGAN, chapter-3 WGAN-GP) baselines told as much as a ProGAN that is / is not conditional."""
    return ("dcgan-cond", "wgan-gp-cond") if conditional else ("dcgan-pac2-ema", "wgan-gp")


@dataclass(frozen=True)
class BaselineChapters:
    """What the baselines need from chapters 2 and 3, handed in by the caller (notebook, weights script,
    tests) so that this recipe imports no other recipe: `BaselineChapters.of(dcgan_pixels, wgan)`."""

    dcgan_recipe: Callable[[str], Any]  # chapter 2's get_recipe: a DCGAN recipe by name
    dcgan_config: Callable[[str], Any]  # chapter 2's DCGANConfig.for_profile
    dcgan_with_steps: Callable[..., Any]  # chapter 2's with_steps
    make_dcgan_run: Callable[..., Any]  # chapter 2's make_run
    wgan_config: Callable[[str], Any]  # chapter 3's WGANConfig.for_profile
    wgan_gp: Any  # chapter 3's METHODS["gp"]
    train_wgan_for_budget: Callable[..., Any]  # chapter 3's train_for_budget

    @classmethod
    def of(cls, ch2: Any, ch3: Any) -> "BaselineChapters":
        """From the chapter-2 and chapter-3 recipe modules' public names."""
        return cls(
            ch2.get_recipe, ch2.DCGANConfig.for_profile, ch2.with_steps, ch2.make_run,
            ch3.WGANConfig.for_profile, ch3.METHODS["gp"], ch3.train_for_budget,
        )  # fmt: skip


def _check_baseline(name: str) -> None:
    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; choose from {BASELINES}")


def baseline_recipe(name: str, chapters: BaselineChapters, profile: str = "quick") -> dict:
    """What defines how a baseline trains (its chapter-2 recipe or chapter-3 method, and the
    profile's config), as JSON values: stored with its result, so that a later ProGAN-only retrain
    keeps the result only while none of it has changed."""
    _check_baseline(name)
    if name.startswith("wgan-gp"):
        config = replace(chapters.wgan_config(profile), conditional=name == "wgan-gp-cond")
        recipe = {"method": asdict(chapters.wgan_gp), "config": asdict(config)}
    else:
        recipe = {"recipe": asdict(chapters.dcgan_recipe(name)), "config": asdict(chapters.dcgan_config(profile))}
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
    *,
    chapters: BaselineChapters,
) -> dict:
    """Train a chapter-2 DCGAN recipe ("dcgan-cond", "dcgan-pac2-ema", "dcgan") or chapter 3's WGAN-GP
    ("wgan-gp-cond" with labels, "wgan-gp" without) for `seconds` of training time on `clock`
    (evaluations excluded), with an FD point at each fraction in `marks`;
    return steps, seconds, the curve and chapter 2's metrics of the final generator."""
    _check_baseline(name)
    curve: list[dict] = []
    if name.startswith("wgan-gp"):
        config = replace(chapters.wgan_config(profile), conditional=name == "wgan-gp-cond")
        run = chapters.train_wgan_for_budget(
            "gp", config, seed=seed, device=device, budget_seconds=seconds, clock=clock, log=None,
            score=(lambda x: {"fd": tracker(x)}) if tracker is not None else None,
            checkpoints=list(marks) if tracker else [1.0],
        )  # fmt: skip
        curve = [{"step": p.step, "seconds": p.seconds, "fd": p.fd} for p in run.curve] if tracker else []
        generator, steps, used = run.generator, run.steps, run.seconds
    else:
        config = chapters.dcgan_with_steps(chapters.dcgan_config(profile), frames=2)
        run = chapters.make_dcgan_run(name, config, seed=seed, device=device, total_steps=10**9)

        def measure(loop: TrainLoop, used: float) -> None:
            curve.append({"step": loop.step, "seconds": used, "fd": tracker(run.sample(tracker.n, seed=2024))})

        budget = TimeBudget(seconds, clock, marks if tracker else (), measure)
        run.trainer.loop.callbacks.append(budget.callback())
        with redirect_stdout(io.StringIO()):
            used = budget.run(lambda: run.train(10**9))
        generator, steps = run.generator, run.trainer.step
    ev = evaluate_generator(generator, n=2000)
    return dict(recipe=name, steps=steps, seconds=used, curve=curve, metrics=ev.metrics(), generator=generator)
