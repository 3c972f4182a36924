"""Progressive growing on the one training core: `GrowingGANTrainer` and the run it leaves, `GrownGAN`.

Chapter 4's trainer is a `train.GANTrainer`: the GAN step, progress bar, NaN stop, checkpoints and
exact resume are the core's. This module adds only what growing needs (the growth schedule,
fade-in of networks and real images, Adam restarts at each growth, an EMA with a half-life in
images, a training-time budget, snapshots and the FD curve), and the record a shipped file holds.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from .checkpoint import read_checkpoint_meta
from .data.progan_sprites import fade_real, resize_real
from .models.progan_schedule import GrowthSchedule
from .train import CLOCKS, BudgetSpent, CurvePoint, Every, GANTrainer, Snapshot, TrainLoop, latent_sampler
from .weights import load_weights, read_weights_meta, save_weights


class GrowingGANTrainer(GANTrainer):
    """Progressive growing (Karras et al. 2018) on `GANTrainer`: the GAN step, progress, NaN stop,
    checkpoints and exact resume are the core's; this adds what growing needs.

    - At each step the `schedule` (`models.progan_schedule.GrowthSchedule`) gives the phase and
      alpha: the networks grow when a fade starts, every network's alpha follows the fade, the
      batch size is the phase's, and real images are pooled to the resolution and faded
      (`data.progan_sprites.resize_real` / `fade_real`) like the generator's output.
    - `optimizer(parameters)` makes each network's optimizer, afresh at every growth (Adam restarts).
    - The EMA generator (`generator_ema`, grown in place with the others) has a half-life in
      images, ramped up from each growth (`ema_beta`).
    - `seconds` counts training time only (evaluations and snapshots excluded) on `clock`
      ("process": CPU seconds, robust on a busy machine); `run(budget_seconds=...)` stops there.
    - At evaluation steps (every phase boundary and `evals_per_phase` times inside each phase;
      the last phase at least every `eval_every_images`) it keeps a `Snapshot` of fixed latents
      and, with an `fd_tracker` (images -> FD, with `.n`), a `CurvePoint` of the FD curve.

    Checkpoint metadata carries resolution, alpha and phase (plus `meta`, e.g. kind and config);
    `resume()` grows the fresh networks to the stored resolution before loading.
    """

    def __init__(
        self,
        generator: nn.Module,
        critic: nn.Module,
        loss,
        schedule: GrowthSchedule,
        sample_real: Callable[[int, torch.Generator], Tensor | tuple[Tensor, Tensor]],
        *,
        rng: torch.Generator,
        optimizer: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer],
        device: torch.device | str = "cpu",
        ema_half_life_images: float = 10000,
        ema_rampup: float = 0.05,
        channels_last: bool = False,
        fd_tracker: Callable[[Tensor], float] | None = None,
        evals_per_phase: int = 4,
        eval_every_images: int = 10000,
        snapshot_latents: int = 16,
        snapshot_every: int = 0,
        clock: str = "process",
        checkpoint_path: str | Path | None = None,
        checkpoint_every: int = 0,
        description: str = "ProGAN",
        log: Callable[[str], None] | None = None,
        meta: Mapping[str, object] | None = None,
    ) -> None:
        self.schedule = schedule
        self.optimizer = optimizer
        self.ema_half_life_images, self.ema_rampup = ema_half_life_images, ema_rampup
        self.channels_last = channels_last
        self.generator_ema = copy.deepcopy(generator).requires_grad_(False)
        super().__init__(
            generator,
            critic,
            loss,
            optimizer(generator.parameters()),
            optimizer(critic.parameters()),
            sample_real,
            latent_sampler(generator.latent_dim),
            batch_size=schedule.phases[0].batch_size,
            rng=rng,
            device=device,
            checkpoint_path=checkpoint_path,
            checkpoint_every=checkpoint_every,
            callbacks=[Every(1, self._after_step, at_end=False)],
            description=description,
        )
        self.loop.modules["generator_ema"] = self.generator_ema
        self.prepare_real = self._fade_real
        self.log = log
        self.fd_tracker = fd_tracker
        self.fixed_latents = torch.randn(
            snapshot_latents, generator.latent_dim, generator=torch.Generator().manual_seed(4321)
        )
        self.snapshots: list[Snapshot] = []
        self.snapshot_every = snapshot_every
        self.curve: list[CurvePoint] = []
        self.clock = CLOCKS[clock]
        self.seconds = 0.0
        self.growth_log: list[int] = []
        self.eval_steps = self._eval_steps(evals_per_phase, eval_every_images)
        self._budget: float | None = None
        self._phase, self._alpha = schedule.phases[0], 1.0
        self.loop.meta.update(meta or {})
        self._update_meta(1.0)

    # ---- growing ----------------------------------------------------------------------------
    def _eval_steps(self, evals_per_phase: int, eval_every_images: int) -> set[int]:
        """Where the FD curve and snapshots are taken: every phase boundary and evenly inside each phase."""
        steps = {0}
        for p in self.schedule.phases:
            k = max(1, evals_per_phase)
            if p is self.schedule.phases[-1]:  # the last phase may be cut short by a time budget
                k = max(k, p.images // max(eval_every_images, 1))
            steps.update(p.start_step + (p.steps * i) // k for i in range(1, k + 1))
        return steps

    def _fresh_optimizers(self) -> None:
        self.set_optimizers(self.optimizer(self.generator.parameters()), self.optimizer(self.critic.parameters()))

    def grow(self) -> None:
        """One growth step: G, D and the EMA get a new block (EMA's new layers = G's), the optimizers restart."""
        self.generator.grow()
        self.critic.grow()
        self.generator_ema.grow()
        self.generator_ema.blocks[-1].load_state_dict(self.generator.blocks[-1].state_dict())
        self.generator_ema.to_rgb[-1].load_state_dict(self.generator.to_rgb[-1].state_dict())
        self._format()
        self._fresh_optimizers()
        self.growth_log.append(self.loop.step)

    def _format(self) -> None:
        """Give freshly grown layers the networks' memory format; the EMA never gets gradients."""
        if self.channels_last:
            for m in (self.generator, self.critic, self.generator_ema):
                m.to(memory_format=torch.channels_last)
        self.generator_ema.requires_grad_(False)

    def _set_alpha(self, alpha: float) -> None:
        for m in (self.generator, self.critic, self.generator_ema):
            m.set_alpha(alpha)

    def _fade_real(self, images: Tensor) -> Tensor:
        """Real images [B, 3, S, S] -> [B, 3, R, R] at the step's resolution R, faded with its alpha."""
        return fade_real(resize_real(images, self._phase.resolution), self._alpha)

    def _update_meta(self, alpha: float) -> None:
        phase = self.schedule.phase_at(max(self.loop.step - 1, 0))
        self.loop.meta.update(
            resolution=self.generator.resolution,
            alpha=float(alpha),
            phase=phase.index,
            phase_kind=phase.kind,
            images=self.schedule.images_at(self.loop.step),
            train_seconds=self.seconds,
        )

    def ema_beta(self, batch_size: int, images_seen: int) -> float:
        """Per-step EMA decay from a half-life in images, ramped up as in StyleGAN's code:
        half-life = min(ema_half_life_images, ema_rampup * images seen at this resolution).

        The ramp restarts at every growth: the new block starts from random weights and the old
        ones must adapt to it, so an average over the pre-growth weights would mix a freshly
        initialised block into the samples for thousands of images (a spike in FD)."""
        half_life = self.ema_half_life_images
        if self.ema_rampup:
            half_life = min(half_life, self.ema_rampup * images_seen)
        return 0.5 ** (batch_size / max(half_life, 1e-8))

    @torch.no_grad()
    def _update_ema(self, loop: TrainLoop) -> None:
        first = self.schedule.first_phase_at(self._phase.resolution)
        beta = self.ema_beta(self.batch_size, self.schedule.images_at(loop.step + 1) - first.start_images)
        for pe, p in zip(self.generator_ema.parameters(), self.generator.parameters()):
            pe.lerp_(p, 1.0 - beta)

    # ---- the step: the schedule's phase, then GANTrainer's step -----------------------------
    def _step(self, loop: TrainLoop) -> dict[str, Tensor]:
        t0 = self.clock()
        phase, alpha = self.schedule.at(loop.step)
        while self.generator.resolution < phase.resolution:
            self.grow()
        self._set_alpha(alpha)
        self._phase, self._alpha, self.batch_size = phase, alpha, phase.batch_size
        logs = dict(super()._step(loop))
        self.seconds += self.clock() - t0
        self._update_meta(alpha)
        losses = {k: logs.pop(k) for k in ("d_loss", "g_loss")}
        return {**losses, "resolution": float(phase.resolution), "alpha": alpha, **logs}

    def _after_step(self, loop: TrainLoop) -> None:
        if loop.step in self.eval_steps:
            self.measure()
        elif self.snapshot_every and loop.step % self.snapshot_every == 0:
            self.measure(fd=False)
        if self._budget is not None and self.seconds >= self._budget:
            raise BudgetSpent

    # ---- measuring --------------------------------------------------------------------------
    @torch.no_grad()
    def sample(
        self,
        n: int | None = None,
        latents: Tensor | None = None,
        seed: int = 12345,
        use_ema: bool = True,
        batch: int = 500,
    ) -> Tensor:
        """Samples [n, 3, R, R] at the current resolution and alpha (EMA generator by default), on the CPU."""
        model = self.generator_ema if use_ema else self.generator
        if latents is None:
            latents = torch.randn(n, self.generator.latent_dim, generator=torch.Generator().manual_seed(seed))
        was = model.training
        model.eval()
        out = torch.cat([model(z.to(self.device)).float().cpu() for z in latents.split(batch)])
        model.train(was)
        return out

    def measure(self, fd: bool = True) -> None:
        """Append a snapshot (fixed latents) and, with an FD tracker and `fd`, a point of the FD curve."""
        step = self.loop.step
        phase = self.schedule.phase_at(max(step - 1, 0))
        alpha = float(self.generator.alpha)
        kind = phase.kind if step < self.schedule.total_steps else "stable"
        resolution = self.generator.resolution
        self.snapshots.append(Snapshot(step, resolution, alpha, kind, self.sample(latents=self.fixed_latents)))
        if fd and self.fd_tracker is not None:
            value = self.fd_tracker(self.sample(self.fd_tracker.n, seed=2024))
            images = self.schedule.images_at(step)
            self.curve.append(CurvePoint(step, images, resolution, alpha, kind, self.seconds, value))
            self.loop.meta["curve"] = [c.to_meta() for c in self.curve]
            if self.log:
                self.log(
                    f"step {step:6d}  {resolution:2d}px {kind:6s} alpha {alpha:.2f}  {self.seconds:7.1f} s  FD {value:8.3f}"
                )

    # ---- running, checkpoints ---------------------------------------------------------------
    def run(self, total_steps: int | None = None, budget_seconds: float | None = None) -> dict[str, list[float]]:
        """Train to `total_steps` (default: the whole schedule) or until `budget_seconds` of training
        time (on the trainer's clock, evaluations excluded), whichever comes first. The last state
        always gets a snapshot and an FD point."""
        target = self.schedule.total_steps if total_steps is None else total_steps
        if self.loop.step == 0 and not self.curve and not self.snapshots:
            self.measure()
        self._budget = budget_seconds
        try:
            self.loop.run(target)
        except BudgetSpent:
            if self.loop.checkpoint_path and self.loop.checkpoint_every:
                self.loop.save()
        finally:
            self._budget = None
        if not self.snapshots or self.snapshots[-1].step != self.loop.step:
            self.measure()
        return self.loop.history

    def check_checkpoint(self, path: Path, meta: dict) -> None:
        """Refuse a checkpoint this run cannot continue (a subclass adds its config's checks)."""
        kind = self.loop.meta.get("kind")
        if meta.get("kind") != kind:
            raise ValueError(f"{path} is not a {kind} training checkpoint")

    def resume(self) -> bool:
        """Continue from checkpoint_path if it exists: grow to its resolution, then load everything."""
        path = self.loop.checkpoint_path
        if path is None or not path.exists():
            return False
        meta = read_checkpoint_meta(path)
        self.check_checkpoint(path, meta)
        while self.generator.resolution < int(meta["resolution"]):
            self.generator.grow()
            self.critic.grow()
            self.generator_ema.grow()
        self._format()
        self._fresh_optimizers()
        meta = self.loop.load()
        self._set_alpha(float(meta["alpha"]))
        self.seconds = float(meta.get("train_seconds", 0.0))
        self.snapshots.clear()
        self.curve = [CurvePoint(**p) for p in meta.get("curve", [])]
        self.loop.meta["curve"] = [c.to_meta() for c in self.curve]
        return True

    def save(self, path: str | Path | None = None) -> Path:
        """A training checkpoint (all three networks, both optimizers, RNG, resolution/alpha/phase)."""
        return self.loop.save(path)

    def result(self, config: object = None, **meta: object) -> "GrownGAN":
        """What the run leaves: the EMA generator, schedule, FD curve and snapshots (+ steps, train_seconds, `meta`)."""
        info = {"steps": self.step, "train_seconds": self.seconds, **meta}
        return GrownGAN(self.generator_ema, config, self.schedule, self.curve, self.snapshots, info)


@dataclass
class GrownGAN:
    """A progressive run, as `GrowingGANTrainer.result()` leaves it and a shipped file holds it: the EMA
    generator at its final resolution and alpha, the config and schedule it was trained with, its FD
    curve and snapshots, and the metadata (steps, train_seconds, and what the chapter adds)."""

    generator: nn.Module
    config: object
    schedule: GrowthSchedule
    curve: list[CurvePoint]
    snapshots: list[Snapshot]
    meta: dict = field(repr=False)

    @torch.no_grad()
    def sample(self, n: int, seed: int = 12345, batch: int = 500) -> Tensor:
        """n samples [n, 3, R, R] of the EMA generator, on the CPU."""
        z = torch.randn(n, self.generator.latent_dim, generator=torch.Generator().manual_seed(seed))
        dev = next(self.generator.parameters()).device
        return torch.cat([self.generator(c.to(dev)).float().cpu() for c in z.split(batch)])

    def save(self, path: str | Path, *, kind: str, data: Mapping[str, object], meta: Mapping | None = None) -> Path:
        """The EMA generator (fp16), snapshots, curve and schedule in one small file (`weights.save_weights`);
        `meta` adds to (or replaces) the run's metadata, `data` is used when that names none."""
        g = self.generator
        info = {
            **{k: v for k, v in self.meta.items() if k not in ("curve", "snapshots")},
            "resolution": g.resolution,
            "alpha": float(g.alpha),
            "schedule": self.schedule.to_meta(),
            "curve": [c.to_meta() for c in self.curve],
            "snapshots": [{"step": s.step, "resolution": s.resolution, "alpha": s.alpha, "kind": s.kind} for s in self.snapshots],
            **(meta or {}),
        }  # fmt: skip
        data = info.pop("data", None) or data
        steps, seconds = info.pop("steps"), info.pop("train_seconds")
        for key in ("kind", "config", "dtype"):  # save_weights writes these
            info.pop(key, None)
        tensors = {f"snapshot/{i}": s.images.half() for i, s in enumerate(self.snapshots)}
        config = self.config.meta() if hasattr(self.config, "meta") else self.config
        return save_weights(path, {"generator_ema": g}, kind=kind, config=config, steps=steps,
                            train_seconds=seconds, data=data, half=True, tensors=tensors, meta=info)  # fmt: skip

    @classmethod
    def load(
        cls,
        path: str | Path,
        build: Callable[[dict], tuple[object, nn.Module]],
        *,
        kind: str,
        make_script: str,
        what: str | None = None,
        device: torch.device | str = "cpu",
    ) -> "GrownGAN":
        """Read a file `save` wrote; `build(meta)` gives (config, generator at meta["resolution"])."""
        meta = read_weights_meta(path, kind=kind, make_script=make_script, what=what)
        config, g = build(meta)
        _, extras = load_weights(path, {"generator_ema": g}, kind=kind, make_script=make_script, device=device)
        g.requires_grad_(False).set_alpha(float(meta["alpha"]))
        snaps = [
            Snapshot(s["step"], s["resolution"], s["alpha"], s["kind"], extras[f"snapshot/{i}"].float())
            for i, s in enumerate(meta["snapshots"])
        ]
        curve = [CurvePoint(**c) for c in meta["curve"]]
        return cls(g, config, GrowthSchedule.from_meta(meta["schedule"]), curve, snaps, meta)
