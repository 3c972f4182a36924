"""Chapter 8's wiring: real tunes -> rendered audio -> frame encodings -> (GAN) -> songs.

This file holds the chapter's config, the data it builds (melodies from the music21 corpus,
split by tune, played by SoundFont instruments) and the training of the song autoencoder.
The pieces live in their layers: `data.melodies` / `data.song_clips` (the audio),
`models.song_autoencoder` (the encoding), `train.TrainLoop` (the loop, checkpoints, exact
resume), `weights` (shipped files).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from ..checkpoint import load_checkpoint, read_asset_meta, read_tensor_file, save_checkpoint
from ..data.melodies import Melody, load_melodies, split_by_tune
from ..data.song_clips import SongClips, render_clips
from ..device import seed_everything
from ..losses_audio import MultiScaleSpectralLoss
from ..models.song_autoencoder import ASSET_PATH as AE_PATH
from ..models.song_autoencoder import MAKE_SCRIPT, SongAEConfig, SongAutoencoder
from ..profiles import check_profile
from ..train import Every, TrainLoop


@dataclass(frozen=True)
class SongConfig:
    """Chapter 8's settings. The defaults are the quick profile (a 2-core CPU); `full` overrides a few."""

    profile: str = "quick"
    # -- data: real tunes, split by tune content
    collection: str = "essen"  # music21 corpus collection (essen, oneill, ryan)
    n_tunes: int = 400  # tunes parsed (the first n of the collection, in corpus order)
    held_out: float = 0.1  # share of tunes (by content) kept for evaluation only
    data_seed: int = 0  # split, instruments, tempos and transpositions
    tempo_range: tuple[float, float] = (80.0, 140.0)  # beats per minute, drawn per tune
    ae_clip_s: float = 2.0  # length of the autoencoder's training clips (seconds)
    ae_clips_per_tune: int = 12  # at most this many clips from one tune (variety over bulk)
    # -- the song autoencoder (sizes in models.song_autoencoder.SongAEConfig)
    model: SongAEConfig = field(default_factory=SongAEConfig)
    ae_steps: int = 1500  # optimizer steps (about an hour on one CPU core)
    ae_batch: int = 8  # clips per step
    ae_lr: float = 1e-3  # Adam; decays linearly to 5 % over the run
    checkpoint_every: int = 100  # steps between checkpoints of a long run

    @classmethod
    def for_profile(cls, profile: str) -> SongConfig:
        if check_profile(profile) == "full":  # a GPU: more tunes, a bigger model, longer training
            return cls(profile, n_tunes=3000, model=SongAEConfig(latent_dim=16, hidden=512), ae_steps=30_000, ae_batch=32)
        return cls(profile)


@dataclass
class SongData:
    """The chapter's tunes (split by tune) and the training clips rendered from the training tunes."""

    train_tunes: list[Melody]
    held_out_tunes: list[Melody]
    clips: SongClips


def load_song_data(config: SongConfig, cache_dir: str | Path | None = None, progress: bool = True) -> SongData:
    """Parse (cached), split by tune and render the training clips (cached in `cache_dir` too)."""
    tunes = load_melodies(config.collection, config.n_tunes, cache_dir=cache_dir, progress=progress)
    train, held = split_by_tune(tunes, config.held_out, config.data_seed)
    cache = None
    if cache_dir is not None:
        key = (f"{config.collection}_{config.n_tunes}_{config.held_out}_{config.data_seed}_{config.ae_clip_s}_"
               f"{config.ae_clips_per_tune}_{config.tempo_range}_{config.model.sample_rate}_{config.model.frame_rate}")
        cache = Path(cache_dir) / f"song_clips_{_stable_hash(key)}.safetensors"
        if cache.exists():
            tensors, meta = read_tensor_file(cache)
            clips = SongClips.from_tensors({k: v.float() if k == "audio" else v for k, v in tensors.items()},
                                           int(meta["sr"]), int(meta["frame_rate"]))
            return SongData(train, held, clips)
    clips = render_clips(train, config.ae_clip_s, seed=config.data_seed, tempo_range=config.tempo_range,
                         max_clips_per_tune=config.ae_clips_per_tune,
                         sr=config.model.sample_rate, frame_rate=config.model.frame_rate, progress=progress)
    if cache is not None:
        from safetensors.torch import save_file

        tensors = clips.tensors()
        tensors["audio"] = tensors["audio"].half()  # half the disk; rendered audio peaks well under 1
        cache.parent.mkdir(parents=True, exist_ok=True)
        save_file(tensors, str(cache), metadata={"sr": str(clips.sr), "frame_rate": str(clips.frame_rate)})
    return SongData(train, held, clips)


def _stable_hash(text: str) -> str:
    import hashlib

    return hashlib.sha1(text.encode()).hexdigest()[:12]


# ---- the song autoencoder ------------------------------------------------------------------------
def make_ae_trainer(config: SongConfig, clips: SongClips, seed: int = 0, device: str | torch.device = "cpu",
                    checkpoint_path: str | Path | None = None) -> tuple[SongAutoencoder, TrainLoop]:
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
        idx = torch.randint(len(clips), (config.ae_batch,), generator=loop.rng)
        audio, f0 = clips.audio[idx].to(dev), clips.f0_hz[idx].to(dev)
        recon, enc = model(audio, f0)
        loss = mss(recon, audio)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 3.0)
        opt.step()
        return {"mss": loss.detach(), "z_rms": enc.z.detach().pow(2).mean().sqrt()}

    def decay(loop: TrainLoop) -> None:
        for group in opt.param_groups:
            group["lr"] = config.ae_lr * (1.0 - 0.95 * min(loop.step / config.ae_steps, 1.0))

    loop = TrainLoop(step, {"autoencoder": model}, {"adam": opt}, rng=rng, checkpoint_path=checkpoint_path,
                     checkpoint_every=config.checkpoint_every if checkpoint_path else 0,
                     callbacks=[Every(1, decay, at_end=False)], description="song autoencoder",
                     meta={"config": asdict(config.model), "seed": seed})
    return model, loop


def save_song_autoencoder(model: SongAutoencoder, path: str | Path = AE_PATH, **meta) -> Path:
    """The model's weights in float16 with its config and `meta` (steps, seconds, data...)."""
    import copy

    half = copy.deepcopy(model).cpu().half()
    return save_checkpoint(path, {"autoencoder": half}, meta={"kind": "song_autoencoder", "config": model.config, **meta})


def load_song_autoencoder(path: str | Path = AE_PATH, device: str | torch.device = "cpu") -> SongAutoencoder:
    """A saved song autoencoder, float32, frozen, in eval mode (deterministic noise)."""
    meta = read_asset_meta(path, "song autoencoder", f"Make it with `.venv/bin/python {MAKE_SCRIPT}`.", kind="song_autoencoder")
    model = SongAutoencoder(SongAEConfig(**meta["config"]))
    load_checkpoint(path, {"autoencoder": model})
    model.meta = meta  # type: ignore[attr-defined]
    return model.eval().requires_grad_(False).to(device)


def train_song_autoencoder(config: SongConfig, clips: SongClips, seed: int = 0, device: str | torch.device = "cpu",
                           checkpoint_path: str | Path | None = None, steps: int | None = None,
                           log_every: int = 0) -> tuple[SongAutoencoder, TrainLoop]:
    """Train (resuming from `checkpoint_path` when it holds a run) to `steps` (default config.ae_steps)."""
    model, loop = make_ae_trainer(config, clips, seed, device, checkpoint_path)
    start = time.perf_counter()
    if log_every:
        def show(lp: TrainLoop) -> None:
            recent = lp.history["mss"][-log_every:]
            print(f"step {lp.step}: mss {sum(recent) / len(recent):.3f} ({time.perf_counter() - start:.0f} s)", flush=True)

        loop.callbacks.append(Every(log_every, show))
    loop.resume()
    loop.run(steps or config.ae_steps)
    return model.eval(), loop


__all__ = ["SongConfig", "SongData", "load_song_data", "load_song_autoencoder", "make_ae_trainer",
           "save_song_autoencoder", "train_song_autoencoder"]
