"""Chapter 8's wiring: real tunes -> rendered audio -> frame encodings -> (GAN) -> songs.

This file holds the chapter's config, the two runs it makes (the song autoencoder, then a
WGAN-GP over its encodings) and `load_or_train`, which hands the notebook both models, shipped
or trained here. The pieces live in their layers: `data.song_clips` (the tunes, split by tune,
and their audio), `models.song_autoencoder` / `models.song_gan` (the encoding, the GAN,
generation, their shipped files), `train` (the loop, checkpoints, exact resume), `metrics.song_report`
(the chapter's table), `weights` (the load-or-train decision).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from torch import Tensor

from .. import distributed, weights
from ..data.song_clips import SongClips, load_song_data
from ..device import seed_everything
from ..losses import WassersteinLoss
from ..losses_audio import MultiScaleSpectralLoss
from ..models.song_autoencoder import ASSET_PATH as AE_PATH
from ..models.song_autoencoder import MAKE_SCRIPT, SongAEConfig, SongAutoencoder, SongEncoding, load_song_autoencoder
from ..models.song_gan import ASSET_PATH as GAN_PATH
from ..models.song_gan import (
    FrameCodec,
    ShippedSongGAN,
    SongCritic,
    SongGANConfig,
    SongGenerator,
    gan_windows,
    load_song_gan,
)
from ..profiles import check_profile
from ..train import Every, GANTrainer, TrainLoop

EVAL_PATH = AE_PATH.with_name("song_eval.json")  # the shipped models' evaluation table (make_song_models.py)

# How the shipped GAN writes pitch (docs/experiments/08_songs.md, attempts 1-10): a song picks a key (tonic and
# major or minor); each note is a scale degree of it, held until the next onset; onsets come from a clock whose
# rate the generator writes, restarted at every anchor so windows stay exact pieces of one long pass. Without
# these the generator writes a softmax over semitone bins (attempt 1: out of key, and moving by leaps).
HELD_DEGREES = dict(
    pitch_mode="continuous", note_hold=True, scale_degrees=True, onset_clock=True, clock_per_anchor=True
)


@dataclass(frozen=True)
class SongConfig:
    """Chapter 8's settings. The defaults ARE the quick profile (a 2-core CPU); `FULL` lists what `full` changes."""

    profile: str = "quick"  # the profile these settings are; stored in the shipped files' metadata
    # -- data: real tunes, split by tune content
    collection: str = "essen"  # music21 corpus collection (essen, oneill, ryan): folk tunes, one melody line
    n_tunes: int = 400  # tunes parsed (the first n of the collection, in corpus order; parsed once, then cached)
    held_out: float = 0.1  # share of tunes (by content) kept for evaluation only, so no tune is in both sets
    data_seed: int = 0  # split, instruments, tempos and transpositions: the same performances in every run
    tempo_range: tuple[float, float] = (80.0, 140.0)  # beats per minute, one drawn per tune
    ae_clip_s: float = 2.0  # seconds per autoencoder training clip: long enough for a few notes and their decay
    ae_clips_per_tune: int = 12  # at most this many clips from one tune (variety over bulk)
    # -- the song autoencoder (its sizes: models.song_autoencoder.SongAEConfig)
    model: SongAEConfig = field(default_factory=SongAEConfig)
    ae_steps: int = 1500  # optimizer steps (the shipped run: 9 min on a CPU)
    ae_batch: int = 8  # clips per step
    ae_lr: float = 1e-3  # Adam; decays linearly to 5 % over the run
    checkpoint_every: int = 100  # steps between checkpoints of a long run: a killed run loses at most this many
    # -- the GAN over frame encodings (its sizes: models.song_gan.SongGANConfig; how it writes pitch: HELD_DEGREES)
    gan: SongGANConfig = field(default_factory=lambda: SongGANConfig(**HELD_DEGREES))
    window_step_s: float = 4.0  # seconds between training windows (8 s each) of a tune: they overlap by half
    gan_steps: int = 3000  # generator steps (the shipped run: 33 min on one CPU thread)
    gan_batch: int = 16  # windows per critic step
    n_critic: int = 5  # critic steps per generator step (WGAN-GP's official 5)
    gan_lr: float = 1e-4  # Adam, betas (0, 0.9): WGAN-GP's official settings
    gp_weight: float = 10.0  # gradient penalty lambda (WGAN-GP's official 10)
    ema_decay: float = 0.999  # the sampling generator is an exponential moving average (per generator step)

    @classmethod
    def for_profile(cls, profile: str) -> SongConfig:
        """`quick`: the defaults; `full`: the defaults with `FULL`'s overrides."""
        return replace(cls(), profile="full", **FULL) if check_profile(profile) == "full" else cls()


# a GPU: more tunes, a bigger autoencoder and GAN, and about 20x longer training
FULL = dict(
    n_tunes=3000,
    model=SongAEConfig(latent_dim=16, hidden=512),
    ae_steps=30_000,
    ae_batch=32,
    gan=SongGANConfig(latent_dim=16, channels=256, **HELD_DEGREES),
    gan_steps=50_000,
    gan_batch=64,
)


# ---- the song autoencoder ------------------------------------------------------------------------
def make_ae_trainer(
    config: SongConfig,
    clips: SongClips,
    seed: int = 0,
    device: str | torch.device = "cpu",
    checkpoint_path: str | Path | None = None,
) -> tuple[SongAutoencoder, TrainLoop]:
    """The model and its TrainLoop (not run): each step reconstructs `ae_batch` random clips, MSS loss.

    The decoder reads the score's f0 (supervision, not learned) and the measured loudness; only
    z(t) and the decoder learn, from the multi-scale spectral distance alone.
    """
    rng = seed_everything(seed)
    dev = torch.device(device)
    model = SongAutoencoder(config.model).to(dev)
    mss = MultiScaleSpectralLoss()
    opt = torch.optim.Adam(model.parameters(), lr=config.ae_lr)

    def step(loop: TrainLoop) -> dict[str, Tensor]:
        idx = distributed.shard(torch.randint(len(clips), (config.ae_batch,), generator=loop.rng))  # rank's share
        audio, f0 = clips.audio[idx].to(dev), clips.f0_hz[idx].to(dev)
        recon, enc = model(audio, f0)
        loss = mss(recon, audio)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        distributed.average_gradients(model)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 3.0)
        opt.step()
        return distributed.average_scalars({"mss": loss.detach(), "z_rms": enc.z.detach().pow(2).mean().sqrt()})

    def decay(loop: TrainLoop) -> None:
        for group in opt.param_groups:
            group["lr"] = config.ae_lr * (1.0 - 0.95 * min(loop.step / config.ae_steps, 1.0))

    loop = TrainLoop(
        step,
        {"autoencoder": model},
        {"adam": opt},
        rng=rng,
        checkpoint_path=checkpoint_path,
        checkpoint_every=config.checkpoint_every if checkpoint_path else 0,
        callbacks=[Every(1, decay, at_end=False)],
        description="song autoencoder",
        meta={"config": asdict(config.model), "seed": seed},
    )
    return model, loop


def train_song_autoencoder(
    config: SongConfig,
    clips: SongClips,
    seed: int = 0,
    device: str | torch.device = "cpu",
    checkpoint_path: str | Path | None = None,
    steps: int | None = None,
    log_every: int = 0,
) -> tuple[SongAutoencoder, TrainLoop]:
    """Train (resuming from `checkpoint_path` when it holds a run) to `steps` (default config.ae_steps)."""
    model, loop = make_ae_trainer(config, clips, seed, device, checkpoint_path)
    start = time.perf_counter()
    if log_every:

        def show(lp: TrainLoop) -> None:
            recent = lp.history["mss"][-log_every:]
            print(
                f"step {lp.step}: mss {sum(recent) / len(recent):.3f} ({time.perf_counter() - start:.0f} s)", flush=True
            )

        loop.callbacks.append(Every(log_every, show))
    loop.resume()
    loop.run(steps or config.ae_steps)
    return model.eval(), loop


# ---- the GAN ---------------------------------------------------------------------------------------
def frame_codec(config: SongConfig, train: SongEncoding) -> FrameCodec:
    """The codec whose z statistics come from the training windows' encoding (z [N, T, Z])."""
    z = train.z.reshape(-1, train.z.shape[-1])
    return FrameCodec(config.gan, z.mean(0), z.std(0))


def make_gan_trainer(
    config: SongConfig,
    frames: Tensor,
    seed: int = 0,
    device: str | torch.device = "cpu",
    checkpoint_path: str | Path | None = None,
    codec: FrameCodec | None = None,
) -> GANTrainer:
    """WGAN-GP on the book's training core: random training windows `frames` [N, C, T] against generated ones
    (dequantized by `codec` in continuous pitch mode)."""
    rng = seed_everything(seed)
    g, d = SongGenerator(config.gan).to(device), SongCritic(config.gan).to(device)
    adam = dict(lr=config.gan_lr, betas=(0.0, 0.9))

    def real(batch: int, generator: torch.Generator) -> Tensor:
        chosen = frames[torch.randint(len(frames), (batch,), generator=generator)]
        return codec.dequantize(chosen, generator) if codec is not None else chosen

    def latent(batch: int, generator: torch.Generator) -> Tensor:
        return torch.randn(batch, config.gan.latent_size, generator=generator)

    return GANTrainer(
        g,
        d,
        WassersteinLoss(gp_weight=config.gp_weight),
        torch.optim.Adam(g.parameters(), **adam),
        torch.optim.Adam(d.parameters(), **adam),
        real,
        latent,
        batch_size=config.gan_batch,
        rng=rng,
        device=device,
        n_critic=config.n_critic,
        ema_decay=config.ema_decay,
        checkpoint_path=checkpoint_path,
        checkpoint_every=config.checkpoint_every if checkpoint_path else 0,
        description="song GAN",
    )


def trained_song_gan(trainer: GANTrainer, codec: FrameCodec) -> ShippedSongGAN:
    """What `load_song_gan` returns, from a trainer: its sampling (EMA) generator, frozen, with `codec` and
    the run's steps, training seconds and curves as metadata (save it with `models.song_gan.save_song_gan`)."""
    g = trainer.ema.module if trainer.ema is not None else trainer.generator
    meta = {"steps": trainer.step, "train_seconds": trainer.loop.seconds, "history": trainer.history}
    return ShippedSongGAN(g.eval().requires_grad_(False), codec, meta)


# ---- both models, shipped or trained here -----------------------------------------------------------
@dataclass
class SongModels:
    """The chapter's two models: the frozen song autoencoder and the GAN over its frames."""

    autoencoder: SongAutoencoder
    gan: ShippedSongGAN


def train_song_models(
    config: SongConfig, seed: int = 0, work_dir: str | Path | None = None, log_every: int = 100
) -> SongModels:
    """Train both here on the CPU (about 45 min in the quick profile), as `scripts/make_song_models.py` does.

    With `work_dir`, the data are cached there and both runs checkpoint there (a killed run resumes).
    """
    ckpt = (lambda name: Path(work_dir) / name) if work_dir is not None else (lambda name: None)
    data = load_song_data(config, cache_dir=work_dir)
    ae, loop = train_song_autoencoder(
        config, data.clips, seed, checkpoint_path=ckpt("song_autoencoder.ckpt"), log_every=log_every
    )
    ae.requires_grad_(False)
    ae.meta = {"steps": loop.step, "train_seconds": loop.seconds, "history": loop.history}  # type: ignore[attr-defined]
    encoded, _ = gan_windows(config, data.train_tunes, ae, step_s=config.window_step_s)
    codec = frame_codec(config, encoded)
    trainer = make_gan_trainer(
        config, codec.to_frames(*encoded), seed, checkpoint_path=ckpt("song_gan.ckpt"), codec=codec
    )
    trainer.loop.resume()
    trainer.run(config.gan_steps)
    return SongModels(ae, trained_song_gan(trainer, codec))


def load_or_train(
    config: SongConfig,
    *,
    retrain: bool,
    seed: int = 0,
    device: str | torch.device = "cpu",
    work_dir: str | Path | None = None,
) -> weights.LoadedOrTrained[SongModels]:
    """Both models: the shipped files (`AE_PATH`, `GAN_PATH`) when the profile ships them and `retrain` is
    False, else `train_song_models` (on the CPU). The same `SongModels` either way; print the result to say which."""

    def load() -> SongModels:
        return SongModels(load_song_autoencoder(device=device), load_song_gan(device=device))

    return weights.load_or_train(
        [AE_PATH, GAN_PATH],
        load=load,
        train=lambda: train_song_models(config, seed, work_dir),
        profile=config.profile,
        retrain=retrain,
        make_script=MAKE_SCRIPT,
    )


__all__ = [
    "AE_PATH",
    "EVAL_PATH",
    "FULL",
    "GAN_PATH",
    "HELD_DEGREES",
    "SongConfig",
    "SongModels",
    "frame_codec",
    "load_or_train",
    "make_ae_trainer",
    "make_gan_trainer",
    "train_song_autoencoder",
    "train_song_models",
    "trained_song_gan",
]
