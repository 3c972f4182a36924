"""One training loop for the whole book.

`TrainLoop` owns what every training run needs: the step counter, a progress bar, the
NaN/Inf stop, atomic checkpoints with RNG state (so a resumed run equals an uninterrupted
one), and callbacks for sampling and metrics. What happens inside a step comes from a
step function; `GANTrainer` supplies the GAN one (n_critic, pluggable losses, EMA);
`growing.GrowingGANTrainer` builds on it to grow the networks on a schedule (chapter 4).
`CLOCKS`, `BudgetSpent` and `CurvePoint` serve every run trained for a time budget.
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm.auto import tqdm

from .checkpoint import NonFiniteTensorError, load_checkpoint, save_checkpoint
from . import distributed
from .checks import require_int, require_number
from .device import bf16_autocast_pays, is_batch_run

StepFn = Callable[["TrainLoop"], Mapping[str, Tensor | float]]


class TrainingDiverged(RuntimeError):
    """A loss became NaN or Inf; the message names the step, the loss and the last good checkpoint."""


#: Clocks for training-time budgets: "process" = CPU seconds of this process (with one torch
#: thread, the time on one idle core, robust to a busy machine); "wall" = elapsed time (GPUs).
CLOCKS: dict[str, Callable[[], float]] = {"process": time.process_time, "wall": time.perf_counter}


class BudgetSpent(Exception):
    """Raised by a step callback to end a run when its training-time budget is used up; the code
    that started the run catches it."""


class TimeBudget:
    """Ends a run after `seconds` of training time on `clock` (a name in `CLOCKS`), the time spent in
    `on_mark` excluded; `on_mark(loop, used)` runs once the time used passes each fraction in `marks`
    (several passed at once: one call). Add `callback()` to the loop's callbacks, then `run(train)`.
    """

    def __init__(
        self,
        seconds: float,
        clock: str = "process",
        marks: Iterable[float] = (),
        on_mark: Callable[["TrainLoop", float], None] | None = None,
    ) -> None:
        self.seconds, self.tick, self.on_mark = seconds, CLOCKS[clock], on_mark
        self.todo = sorted(marks)
        self.start = self.excluded = self.used = 0.0

    def _each_step(self, loop: "TrainLoop") -> None:
        self.used = used = self.tick() - self.start - self.excluded
        t0 = self.tick()
        if self.todo and used >= self.todo[0] * self.seconds:
            while self.todo and used >= self.todo[0] * self.seconds:
                self.todo.pop(0)
            if self.on_mark is not None:
                self.on_mark(loop, used)
        self.excluded += self.tick() - t0
        if used >= self.seconds:
            raise BudgetSpent

    def callback(self) -> "Every":
        return Every(1, self._each_step, at_end=False)

    def run(self, train: Callable[[], object]) -> float:
        """Start the clock, call `train()` until the budget stops it; the training time used."""
        self.start = self.tick()
        try:
            train()
        except BudgetSpent:
            pass
        return self.used


@dataclass
class CurvePoint:
    """One point of a training curve: what was measured at `step`, after `seconds` of training time
    (on the run's budget clock, evaluations excluded).

    One record for every chapter's curves: a progressive run (chapter 4) also says where the
    growing networks were, a run that reads its critic (chapter 3) adds the critic's estimate and
    more scores. Fields a run does not measure stay None and `to_meta()` leaves them out.
    """

    step: int
    # where a progressive run was (chapter 4)
    images: int | None = None  # real images shown so far
    resolution: int | None = None  # pixels per side the networks were at
    alpha: float | None = None  # fade weight of the newest block (1 outside a fade)
    kind: str | None = None  # the phase: "stable" or "fade"
    seconds: float = 0.0  # training time so far
    fd: float = math.nan  # Fréchet distance at the curve's fixed N
    # what else a run may measure (chapter 3)
    critic_estimate: float | None = None  # median of the critic's estimate over the last steps
    coverage: float | None = None
    high_quality: float | None = None
    grad_norm: float | None = None  # mean per-sample critic gradient norm at interpolates
    fd_ema: float | None = None  # the same measurements for the EMA generator
    coverage_ema: float | None = None

    def to_meta(self) -> dict:
        """The measured fields as a JSON-able dict (what checkpoints and shipped files store)."""
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class Snapshot:
    """Fixed-latent samples [n, 3, R, R] of the EMA generator at one point of a progressive run."""

    step: int
    resolution: int
    alpha: float
    kind: str
    images: Tensor


@dataclass
class Every:
    """Call `fn(loop)` every `steps` steps (and after the last step when `at_end`)."""

    steps: int
    fn: Callable[["TrainLoop"], None]
    at_end: bool = True

    def __post_init__(self) -> None:
        self.steps = require_int("Every(steps)", self.steps)


class TrainLoop:
    """Runs `step_fn` until a target step, with progress, NaN stop, checkpoints and callbacks."""

    def __init__(
        self,
        step_fn: StepFn,
        modules: Mapping[str, nn.Module],
        optimizers: Mapping[str, torch.optim.Optimizer],
        *,
        rng: torch.Generator,
        checkpoint_path: str | Path | None = None,
        checkpoint_every: int = 0,
        callbacks: Iterable[Every] = (),
        description: str = "training",
        sync_every: int | None = None,
        meta: Mapping[str, object] | None = None,
    ) -> None:
        self.step_fn = step_fn
        self.modules = dict(modules)
        self.optimizers = dict(optimizers)
        self.rng = rng
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path else None
        self.checkpoint_every = require_int(
            "checkpoint_every (steps between checkpoints; 0 = only at the end)", checkpoint_every, minimum=0
        )
        self.callbacks = list(callbacks)
        self.description = description
        self.meta = dict(meta or {})
        self.step = 0
        self.history: dict[str, list[float]] = {"step": []}
        self.last_checkpoint_step: int | None = None
        self._pending: list[tuple[int, Mapping[str, Tensor | float]]] = []
        devices = {p.device.type for m in self.modules.values() for p in m.parameters()}
        self.sync_every = sync_every or (1 if devices <= {"cpu"} else 25)
        self.seconds = 0.0
        self._running_since: float | None = None  # perf_counter() at the start of the current run()

    def trained_seconds(self) -> float:
        """Training time so far, over every run and resume, including the run in progress."""
        running = time.perf_counter() - self._running_since if self._running_since is not None else 0.0
        return self.seconds + running

    # ---- checkpoints -------------------------------------------------------------------
    def state_tensors(self) -> dict[str, Tensor]:
        """The RNG states to checkpoint: {name: state bytes, uint8 [K]} (K = that generator's state size)."""
        tensors = {"rng/torch": torch.get_rng_state(), "rng/data": self.rng.get_state()}
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            tensors["rng/cuda"] = torch.cuda.get_rng_state()
        return tensors

    def save(self, path: str | Path | None = None) -> Path:
        """Write a checkpoint (atomically) of modules, optimizers, RNG streams and history."""
        target = Path(path) if path else self.checkpoint_path
        if target is None:
            raise ValueError("no checkpoint path: pass one here or as checkpoint_path=")
        self._flush()
        # a checkpoint written mid-run counts the time of that run too, or a resume would lose it
        meta = {"step": self.step, "history": self.history, "seconds": self.trained_seconds(), **self.meta}
        try:
            if distributed.is_main():  # ranks hold identical weights: one writes, the others wait for the file
                save_checkpoint(target, self.modules, self.optimizers, self.state_tensors(), meta)
            distributed.barrier()
        except NonFiniteTensorError as exc:  # a finite loss can still come with inf weights or moments
            raise TrainingDiverged(
                f"{self.description}: the weights became non-finite by step {self.step}; {self._last_good()}. {exc}"
            ) from None
        self.last_checkpoint_step = self.step
        return target

    def load(self, path: str | Path | None = None) -> dict:
        """Restore everything `save` wrote; the next step continues the same random streams."""
        source = Path(path) if path else self.checkpoint_path
        if source is None:
            raise ValueError("no checkpoint path: pass one here or as checkpoint_path=")
        meta, tensors = load_checkpoint(source, self.modules, self.optimizers)
        torch.set_rng_state(tensors["rng/torch"])
        self.rng.set_state(tensors["rng/data"])
        if "rng/cuda" in tensors and torch.cuda.is_available():
            torch.cuda.set_rng_state(tensors["rng/cuda"])
        self.step = int(meta["step"])
        self.history = {k: list(v) for k, v in meta["history"].items()}
        self.seconds = float(meta.get("seconds", 0.0))
        self.last_checkpoint_step = self.step
        return meta

    def resume(self) -> bool:
        """Load the checkpoint at checkpoint_path if there is one; True when it did (and rank 0 says so)."""
        if self.checkpoint_path is not None and self.checkpoint_path.exists():
            self.load()
            if distributed.is_main():
                print(f"{self.description}: resumed from step {self.step} ({self.checkpoint_path})", flush=True)
            return True
        return False

    def _last_good(self) -> str:
        if self.last_checkpoint_step is None:
            return "no checkpoint was written yet"
        return f"the last good checkpoint (step {self.last_checkpoint_step}) is {self.checkpoint_path}"

    # ---- the loop ----------------------------------------------------------------------
    def _flush(self) -> None:
        """Turn pending step logs into floats, stopping at the first non-finite one."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        for step, logs in pending:
            values = {k: float(v) for k, v in logs.items()}
            for name, value in values.items():
                if not math.isfinite(value):
                    raise TrainingDiverged(
                        f"{self.description}: {name} became {value} at step {step}; training stopped and "
                        f"{self._last_good()}. "
                        "Lower the learning rate, check the data for NaN, or resume from that checkpoint."
                    )
            self.history["step"].append(step)
            for name, value in values.items():
                self.history.setdefault(name, []).append(value)

    def run(self, total_steps: int) -> dict[str, list[float]]:
        """Train until `total_steps` steps are done (a resumed loop only does the rest)."""
        total_steps = require_int("total_steps", total_steps, minimum=0)
        if total_steps < self.step:
            raise ValueError(f"asked to train to step {total_steps}, but the loop is already at step {self.step}")
        quiet = is_batch_run() or not distributed.is_main()  # under torchrun, rank 0 reports for all
        bar = tqdm(total=total_steps, initial=self.step, desc=self.description, disable=quiet, leave=True)
        marks = {total_steps * q // 4 for q in (1, 2, 3, 4)} if is_batch_run() and distributed.is_main() else set()
        start = self._running_since = time.perf_counter()
        try:
            while self.step < total_steps:
                for m in self.modules.values():
                    m.train()
                logs = self.step_fn(self)
                self.step += 1
                self._pending.append(
                    (self.step, {k: v.detach() if isinstance(v, Tensor) else v for k, v in logs.items()})
                )
                if len(self._pending) >= self.sync_every or self.step == total_steps:
                    self._flush()
                    if not quiet:
                        bar.update(self.step - bar.n)
                        last = {k: f"{v[-1]:.3g}" for k, v in self.history.items() if k != "step" and v}
                        bar.set_postfix(last, refresh=False)
                for cb in self.callbacks:
                    if self.step % cb.steps == 0 or (cb.at_end and self.step == total_steps):
                        self._flush()
                        cb.fn(self)
                if self.checkpoint_path and self.checkpoint_every and self.step % self.checkpoint_every == 0:
                    self.save()
                if self.step in marks:
                    self._flush()
                    last = ", ".join(f"{k}={v[-1]:.4g}" for k, v in self.history.items() if k != "step" and v)
                    print(
                        f"{self.description}: step {self.step}/{total_steps} ({time.perf_counter() - start:.1f} s) {last}"
                    )
        except KeyboardInterrupt:
            saved = (
                f"step {self.last_checkpoint_step} in {self.checkpoint_path}"
                if self.last_checkpoint_step is not None
                else "none"
            )
            print(f"{self.description}: interrupted at step {self.step}; last good checkpoint: {saved}")
            raise
        finally:
            self.seconds += time.perf_counter() - start
            self._running_since = None
            bar.close()
        if self.checkpoint_path and self.checkpoint_every and self.last_checkpoint_step != self.step:
            self.save()
        return self.history


def train_with_estimate(train_to: Callable[[int], object], start: int, total: int, what: str, probe: int = 4) -> float:
    """Train up to step `total` with `train_to(step)` (e.g. `DCGANRun.train`), saying first how long it will take.

    One warm-up step (allocation, first-call costs) and `probe` timed steps measure this machine;
    the estimate for the rest is printed before the rest runs, so a learner training on their own
    data knows whether to wait or to use the command line. Returns the estimated seconds.
    """
    if total - start <= probe + 1:
        train_to(total)
        return 0.0
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):  # no log of the probe
        train_to(start + 1)
        t0 = time.perf_counter()
        train_to(start + 1 + probe)
        per_step = (time.perf_counter() - t0) / probe
    estimate = per_step * (total - start - 1 - probe)
    if distributed.is_main():
        print(
            f"{what}: {total - start:,} steps at {per_step * 1000:.0f} ms each; about {estimate / 60:.1f} min to go",
            flush=True,
        )
    train_to(total)
    return estimate


def ema_with_warmup(decay: float, warmup: int) -> Callable[[list[Tensor], list[Tensor], Tensor], None]:
    """An EMA update (for `AveragedModel(multi_avg_fn=...)`) whose decay ramps up to `decay`.

    update(averaged, current, num_averaged): parameter lists of matching shapes [*S_i]; num_averaged an int
    tensor [] (updates so far).

    After n updates the decay is min(decay, (1 + n) / (warmup + n)). Why: with a fixed decay
    d the average still holds d^n of the *initial, random* weights after n updates (29 % for
    d = 0.999 after 1,250 updates), so a short run's EMA generator draws noise. The ramp (the
    `num_updates` rule of TensorFlow's ExponentialMovingAverage) forgets the start quickly and
    settles at `decay` once n is large.
    """
    if not 0.0 < decay < 1.0 or warmup < 1:
        raise ValueError(f"need 0 < decay < 1 and warmup >= 1, got decay {decay}, warmup {warmup}")

    @torch.no_grad()
    def update(averaged: list[Tensor], current: list[Tensor], num_averaged: Tensor) -> None:
        # computed on num_averaged's device: no host sync in the training loop
        n = num_averaged.to(torch.float32)
        d = ((1.0 + n) / (warmup + n)).clamp(max=decay)
        if averaged[0].is_floating_point():
            torch._foreach_mul_(averaged, d)
            torch._foreach_add_(averaged, torch._foreach_mul(current, 1.0 - d))
        else:  # integer buffers (batch-norm counters): same rule, written out
            for a, c in zip(averaged, current):
                a.copy_(a * d + c * (1.0 - d))

    return update


def judged(critic: nn.Module, labels: Tensor | None) -> Callable[[Tensor], Tensor]:
    """The critic as the losses call it, a function of images alone: critic(x), or
    critic(x, labels) for a conditional GAN.

    labels: [B, A] int64 (A attributes) or None -> f(x [B, ...]) -> the critic's raw scores (e.g. [B, 1]).
    """
    return critic if labels is None else functools.partial(critic, labels=labels)


def latent_sampler(latent_dim: int) -> Callable[[int, torch.Generator], Tensor]:
    """Standard normal latents drawn from the loop's own generator (so checkpoints restore them).

    sample(B, rng) -> latents [B, D] ~ N(0, 1), D = latent_dim, on rng's device.
    """

    def sample(batch_size: int, rng: torch.Generator) -> Tensor:
        return torch.randn(batch_size, latent_dim, generator=rng)

    return sample


class GANTrainer:
    """A GAN on top of `TrainLoop`: n_critic critic steps per generator step, any loss from `losses`.

    Conditional GANs work too: with a generator that has `labels_of` / `with_labels`
    (`models.conditional.CodedGenerator`), sample_real returns (images, labels), each fake batch
    requests the labels of the real batch it is judged with, and the critic gets the labels.

    sample_real(batch, rng) and sample_latent(batch, rng) draw from the loop's generator, so a
    resumed run sees exactly the data and noise an uninterrupted one would have.

    By default the generator step draws fresh latents, so every step runs the generator twice
    (once without gradients for the critic). `reuse_fakes=True` makes the generator step judge the
    last critic step's fakes instead, as pytorch/examples' DCGAN does: one generator forward per
    step, about 10 % less work for a DCGAN on the CPU (`benchmarks/bench_dcgan_step.py`), for the
    memory of the generator's activations held through the critic step. It is a different random
    stream, so it is off by default: every chapter's results and shipped generators were trained
    with fresh latents.
    """

    def __init__(
        self,
        generator: nn.Module,
        critic: nn.Module,
        loss,
        g_optimizer: torch.optim.Optimizer,
        d_optimizer: torch.optim.Optimizer,
        sample_real: Callable[[int, torch.Generator], Tensor],
        sample_latent: Callable[[int, torch.Generator], Tensor],
        *,
        batch_size: int,
        rng: torch.Generator,
        device: torch.device | str = "cpu",
        n_critic: int = 1,
        ema_decay: float | None = None,
        ema_warmup: int = 0,
        autocast: bool = False,
        checkpoint_path: str | Path | None = None,
        checkpoint_every: int = 0,
        callbacks: Iterable[Every] = (),
        description: str = "GAN",
        reuse_fakes: bool = False,
    ) -> None:
        require_int("batch_size", batch_size)
        require_int("n_critic (critic steps per generator step)", n_critic)
        if ema_decay:
            require_number("ema_decay", ema_decay, low=0, high=1, low_open=True, high_open=True)
        require_int("ema_warmup", ema_warmup, minimum=0)
        self.generator, self.critic, self.loss = generator, critic, loss
        self.reuse_fakes = reuse_fakes
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        self.sample_real, self.sample_latent = sample_real, sample_latent
        self.batch_size, self.n_critic = batch_size, n_critic
        # conditional GAN: the generator reads attribute codes from its latents (models.conditional)
        # and the critic is called as critic(x, labels)
        self.conditional = hasattr(generator, "labels_of") and hasattr(generator, "with_labels")
        self.device = torch.device(device)
        # bf16 autocast where it pays (CUDA, or a CPU with native bf16: device.bf16_autocast_pays);
        # elsewhere bf16 would be emulated, slower than fp32, so `autocast` is quietly off there.
        self.autocast = autocast and bf16_autocast_pays(self.device)
        # ema_warmup > 0 ramps the decay up (see `ema_with_warmup`); 0 keeps it fixed from step 1.
        self.ema = None
        if ema_decay:
            ema_fn = ema_with_warmup(ema_decay, ema_warmup) if ema_warmup else get_ema_multi_avg_fn(ema_decay)
            self.ema = AveragedModel(generator, multi_avg_fn=ema_fn, use_buffers=True)
        # a subclass may prepare this rank's real images before they go to the device
        # (GrowingGANTrainer: pool them to the current resolution and fade them)
        self.prepare_real: Callable[[Tensor], Tensor] | None = None
        modules = {"generator": generator, "critic": critic}
        if self.ema is not None:
            modules["generator_ema"] = self.ema
        self.loop = TrainLoop(
            self._step,
            modules,
            {"generator": g_optimizer, "critic": d_optimizer},
            rng=rng,
            checkpoint_path=checkpoint_path,
            checkpoint_every=checkpoint_every,
            callbacks=callbacks,
            description=description,
        )

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast)

    def _latent(self, n: int) -> Tensor:
        """This rank's share of n latents (all of them when not distributed)."""
        return distributed.shard(self.sample_latent(n, self.loop.rng)).to(self.device, non_blocking=True)

    def _real_batch(self, loop: TrainLoop) -> tuple[Tensor, Tensor | None]:
        """This rank's share of a global batch of `batch_size` real samples (and labels)."""
        batch = self.sample_real(self.batch_size, loop.rng)
        batch = distributed.shard(batch)
        if self.conditional != isinstance(batch, tuple):
            raise TypeError(
                "a conditional generator (one with labels_of / with_labels) needs sample_real to return "
                "(images, labels), and an unconditional one plain images; e.g. tensor_sampler(images, labels)"
            )
        images, labels = batch if self.conditional else (batch, None)
        if self.prepare_real is not None:
            images = self.prepare_real(images)
        if labels is None:
            return images.to(self.device, non_blocking=True), None
        return images.to(self.device, non_blocking=True), labels.to(self.device, non_blocking=True)

    def _step(self, loop: TrainLoop) -> dict[str, Tensor]:
        logs: dict[str, Tensor] = {}
        for i in range(self.n_critic):
            real, labels = self._real_batch(loop)
            z = self._latent(self.batch_size)
            if labels is not None:  # fakes request the real batch's attributes, so both halves match
                z = self.generator.with_labels(z, labels)
            if self.reuse_fakes and i == self.n_critic - 1:  # keep the graph: the G step judges these
                with self._autocast():
                    fake_for_g = self.generator(z)
                fake, z_for_g = fake_for_g.detach(), z
            else:
                with torch.no_grad(), self._autocast():
                    fake = self.generator(z)
            with self._autocast():
                d_loss, logs = self.loss.critic_loss(
                    judged(self.critic, labels), real, fake.float() if self.autocast else fake
                )
            self.d_optimizer.zero_grad(set_to_none=True)
            d_loss.backward()
            distributed.average_gradients(self.critic)  # under torchrun: the global batch's gradient
            self.d_optimizer.step()
            if hasattr(self.loss, "after_critic_step"):
                self.loss.after_critic_step(self.critic)
        for p in self.critic.parameters():
            p.requires_grad_(False)
        if not self.reuse_fakes:
            z_for_g = self._latent(self.batch_size)
        judge = judged(self.critic, self.generator.labels_of(z_for_g) if self.conditional else None)
        with self._autocast():
            g_loss = self.loss.generator_loss(judge, fake_for_g if self.reuse_fakes else self.generator(z_for_g))
        self.g_optimizer.zero_grad(set_to_none=True)
        g_loss.backward()
        distributed.average_gradients(self.generator)
        self.g_optimizer.step()
        for p in self.critic.parameters():
            p.requires_grad_(True)
        self._update_ema(loop)
        return distributed.average_scalars({"d_loss": d_loss.detach(), "g_loss": g_loss.detach(), **logs})

    def _update_ema(self, loop: TrainLoop) -> None:
        """After each generator step: move the EMA generator towards the generator."""
        if self.ema is not None:
            self.ema.update_parameters(self.generator)

    def set_optimizers(self, g_optimizer: torch.optim.Optimizer, d_optimizer: torch.optim.Optimizer) -> None:
        """Train with new optimizers from the next step on (ProGAN restarts Adam when the networks grow)."""
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        self.loop.optimizers.clear()
        self.loop.optimizers.update({"generator": g_optimizer, "critic": d_optimizer})

    # ---- conveniences ------------------------------------------------------------------
    @property
    def history(self) -> dict[str, list[float]]:
        return self.loop.history

    @property
    def step(self) -> int:
        return self.loop.step

    def run(self, total_steps: int) -> dict[str, list[float]]:
        return self.loop.run(total_steps)

    @torch.no_grad()
    def sample(
        self, n: int, *, use_ema: bool = True, rng: torch.Generator | None = None, latents: Tensor | None = None
    ) -> Tensor:
        """Generate n samples in eval mode (from the EMA generator when there is one), on the CPU.

        latents: [N, D] as sample_latent draws (default: n of them) -> samples [N, ...] float32, e.g. images
        [N, 3, 32, 32] in [-1, 1].
        """
        model = self.ema.module if (use_ema and self.ema is not None) else self.generator
        was_training = model.training
        model.eval()
        if latents is None:
            latents = self.sample_latent(n, rng or torch.Generator().manual_seed(12345))
        out = torch.cat([model(z.to(self.device)).float().cpu() for z in latents.split(1024)])
        model.train(was_training)
        return out


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
