"""Data-parallel training over several processes (`torchrun --nproc_per_node=N`), without a wrapper.

Call `setup()` once at the start of a program that torchrun launched; the trainers read `world()`
and adapt on their own:

* **Data.** Every rank draws the *whole* global batch from the same seeded stream and keeps its
  own slice (`shard`). So N ranks see exactly the samples, in exactly the order, that one process
  sees with the same global batch, and the data stream in a checkpoint is the same whatever the
  number of ranks: a run saved with 2 ranks resumes with 1, or 4. The price is that each rank
  draws samples it does not use, which is cheap for the book's generated data.
* **Gradients.** After each backward, `average_gradients` all-reduces the gradients and divides
  by the number of ranks, as DistributedDataParallel does, but at a moment the GAN step chooses:
  a GAN alternates critic and generator steps on the same networks, where DDP's hooks (one
  reduction per forward) need care; StyleGAN2-ADA reduces by hand for the same reason. Every
  loss in `losses` is a mean over samples, so the average of the ranks' gradients is the
  gradient of the global batch's loss, and the weights stay identical on every rank.
* **Batch statistics stay per rank:** batch norm and the minibatch standard deviation see the
  rank's slice, as with DDP by default. Where that matters (small slices) convert to
  SyncBatchNorm on GPUs; the equivalence tests use networks without batch norm.
* **Only rank 0 writes** checkpoints and progress (`is_main`); every rank loads the same file.
* **No hangs:** a rank whose peer died fails at its next collective with `PeerLostError`, which
  says so and points at the other rank's traceback (gloo notices the closed connection at once;
  the process group's timeout covers a peer that is alive but stuck), and torchrun then stops
  the job. `tests/test_distributed.py` kills a rank mid-run and times the survivor's exit.

NCCL on GPUs, gloo on CPUs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import Tensor, nn


class PeerLostError(RuntimeError):
    """A collective failed because another rank stopped (crashed, was killed) or stalled past the timeout."""


def _collective(what: str, op, *args) -> None:
    """Run a collective; turn a backend's failure into one error that says what happened and what to do."""
    try:
        op(*args)
    except RuntimeError as exc:  # gloo / NCCL report a dead peer or a timeout as RuntimeError subclasses
        raise PeerLostError(
            f"rank {world().rank}: {what} failed because another rank stopped or stalled ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else 'no message'}). The cause is that rank's own error: see "
            "its traceback above or torchrun's summary. This rank stops too, so the job ends instead of hanging; "
            "fix the cause and start again, and training resumes from the last checkpoint."
        ) from exc


@dataclass(frozen=True)
class World:
    """This process's rank and the number of ranks (0 and 1 when not distributed)."""

    rank: int = 0
    size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup(backend: str | None = None, timeout_s: float = 300.0) -> World:
    """Join the process group torchrun describes (WORLD_SIZE, RANK, MASTER_ADDR, ...) when
    WORLD_SIZE > 1; a plain `python` run stays a world of one. Idempotent."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size > 1 and not dist.is_initialized():
        backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend, timeout=timedelta(seconds=timeout_s))
    return world()


def world() -> World:
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size())
    return World()


def is_main() -> bool:
    """True on rank 0, or when not distributed: the process that writes files and prints."""
    return world().is_main


def shard(batch, w: World | None = None):
    """This rank's slice of a global batch: a tensor [B, ...] -> [B / size, ...], or anything that
    has a length and takes a slice (a `NoteBatch`), or a tuple of those (images, labels). B must
    divide evenly, so every rank's mean weighs the same and their average is the global mean."""
    w = w or world()
    if w.size == 1:
        return batch
    if isinstance(batch, tuple):
        return tuple(shard(part, w) for part in batch)
    n = batch.shape[0] if isinstance(batch, Tensor) else len(batch)
    if n % w.size:
        raise ValueError(
            f"a global batch of {n} does not split evenly over {w.size} ranks; use a batch size divisible by {w.size}"
        )
    per_rank = n // w.size
    return batch[w.rank * per_rank : (w.rank + 1) * per_rank]


def average_gradients(module: nn.Module, w: World | None = None) -> None:
    """All-reduce the module's gradients (one flat buffer) and divide by the number of ranks."""
    w = w or world()
    if w.size == 1:
        return
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    _collective("averaging the gradients", dist.all_reduce, flat)
    flat /= w.size
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def average_scalars(values: dict[str, Tensor], w: World | None = None) -> dict[str, Tensor]:
    """The mean over ranks of each logged scalar (losses, scores), so every rank logs the same.

    values: {name: one-element tensor (shape [] or [1]) or number} -> {name: float32 scalar tensor []} (on
    one process the dict comes back unchanged).
    """
    w = w or world()
    if w.size == 1 or not values:
        return values
    names = list(values)
    device = next((v.device for v in values.values() if isinstance(v, Tensor)), torch.device("cpu"))
    stacked = torch.stack(
        [torch.as_tensor(values[n], dtype=torch.float32, device=device).detach().reshape(()) for n in names]
    )
    _collective("averaging the logged scalars", dist.all_reduce, stacked)
    stacked /= w.size
    return dict(zip(names, stacked.unbind()))


def barrier() -> None:
    if world().size > 1:
        _collective("waiting for every rank (barrier)", dist.barrier)


def teardown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
