"""Data-parallel training on CPU with 2 gloo processes: the same weights as one process with the
same global batch, and a 2-rank checkpoint resumed by 1 rank.

The data order is the same by construction: every rank draws the whole global batch from the one
seeded stream and keeps its slice (`distributed.shard`), so rank 0 trains on samples 0..B/2-1 and
rank 1 on B/2..B-1 of exactly the batch a single process draws. The model is chapter 1's "vanilla"
toy GAN (no batch norm, no minibatch statistics), whose losses are means over samples.
"""

import os
import socket
import time
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from musicgan_lib import distributed
from musicgan_lib.data.toy2d import ring
from musicgan_lib.recipes import gan_basics as ch1
from musicgan_lib.train import Every

GLOBAL_BATCH = 64


def toy_trainer(steps: int, checkpoint: Path | None = None, checkpoint_every: int = 0):
    config = ch1.ToyConfig(steps=steps, batch_size=GLOBAL_BATCH, hidden=32)
    trainer, _, _ = ch1.make_toy_trainer(ring(), "vanilla", 0, config)
    if checkpoint is not None:
        trainer.loop.checkpoint_path, trainer.loop.checkpoint_every = checkpoint, checkpoint_every
    return trainer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(rank: int, size: int, port: int, steps: int, out: str, checkpoint: str | None) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(size))
    torch.set_num_threads(1)
    w = distributed.setup(backend="gloo", timeout_s=60)
    assert (w.rank, w.size) == (rank, size)
    try:
        trainer = toy_trainer(steps, Path(checkpoint) if checkpoint else None, checkpoint_every=steps)
        trainer.run(steps)
        real, _ = trainer._real_batch(trainer.loop)  # after training: these draws change nothing above
        assert real.shape[0] == GLOBAL_BATCH // size and trainer._latent(GLOBAL_BATCH).shape[0] == GLOBAL_BATCH // size
        if w.is_main:
            torch.save({k: v.clone() for k, v in trainer.generator.state_dict().items()}, Path(out) / "G.pt")
            torch.save(trainer.history, Path(out) / "history.pt")
    finally:
        distributed.teardown()


def run_ranks(size: int, steps: int, out: Path, checkpoint: Path | None = None) -> None:
    mp.spawn(
        _rank_main, args=(size, free_port(), steps, str(out), str(checkpoint) if checkpoint else None), nprocs=size
    )


def close(a: dict, b: dict, atol: float = 1e-5) -> bool:
    return a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=atol) for k in a)


def test_shard_splits_a_global_batch_evenly_and_refuses_an_uneven_one():
    batch = torch.arange(12).reshape(6, 2)
    assert torch.equal(distributed.shard(batch, distributed.World(1, 3)), batch[2:4])
    assert torch.equal(distributed.shard(batch, distributed.World(0, 1)), batch)
    with pytest.raises(ValueError, match="a global batch of 6 does not split evenly over 4 ranks"):
        distributed.shard(batch, distributed.World(0, 4))


@pytest.mark.slow
def test_two_ranks_train_the_weights_one_rank_trains(tmp_path):
    steps = 5
    run_ranks(2, steps, tmp_path)
    torch.manual_seed(0)
    single = toy_trainer(steps)
    start = {k: v.clone() for k, v in single.generator.state_dict().items()}
    single.run(steps)
    two = torch.load(tmp_path / "G.pt")
    assert not close(start, single.generator.state_dict(), atol=1e-4)  # training moved the weights
    assert close(two, single.generator.state_dict())
    history = torch.load(tmp_path / "history.pt")  # the logged losses are the global batch's too
    assert history["d_loss"] == pytest.approx(single.history["d_loss"], abs=1e-5)


@pytest.mark.slow
def test_a_two_rank_checkpoint_resumes_on_one_rank(tmp_path):
    checkpoint = tmp_path / "toy.safetensors"
    run_ranks(2, 3, tmp_path, checkpoint)
    assert checkpoint.exists()
    resumed = toy_trainer(6, checkpoint, checkpoint_every=6)
    assert resumed.loop.resume() and resumed.step == 3
    resumed.run(6)
    straight = toy_trainer(6)
    straight.run(6)
    assert close(resumed.generator.state_dict(), straight.generator.state_dict())


def _crashing_rank_main(rank: int, port: int, out: str) -> None:
    """Rank 1 raises at step 3; rank 0 writes what it got, and how long after the start."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE="2")
    torch.set_num_threads(1)
    distributed.setup(backend="gloo", timeout_s=120)
    trainer = toy_trainer(50)
    if rank == 1:

        def crash(loop):
            if loop.step == 3:
                raise ValueError("rank 1 ran out of data (a deliberate crash)")

        trainer.loop.callbacks.append(Every(1, crash))
    start = time.monotonic()
    try:
        trainer.run(50)
    except distributed.PeerLostError as exc:
        Path(out, "rank0.txt").write_text(f"{time.monotonic() - start:.1f}\n{exc}")
        raise
    finally:
        distributed.teardown()


@pytest.mark.slow
def test_a_crashed_rank_stops_the_others_with_a_clear_error_instead_of_a_hang(tmp_path):
    context = mp.start_processes(
        _crashing_rank_main, args=(free_port(), str(tmp_path)), nprocs=2, join=False, start_method="spawn"
    )
    deadline = time.monotonic() + 90  # far below the process group's 120 s timeout: no waiting it out
    with pytest.raises(mp.ProcessRaisedException, match="deliberate crash"):
        while not context.join(timeout=1):
            assert time.monotonic() < deadline, "the surviving rank hangs"
    for process in context.processes:
        process.join(timeout=30)
    seconds, message = (tmp_path / "rank0.txt").read_text().split("\n", 1)
    assert float(seconds) < 60
    assert message.startswith("rank 0: averaging the") and "another rank stopped" in message
    assert "traceback" in message and "resumes from the last checkpoint" in message
