"""Chapter 8's wiring: real tunes -> rendered audio -> frame encodings -> (GAN) -> songs.

This file holds the chapter's config, the data it builds (melodies from the music21 corpus,
split by tune, played by SoundFont instruments) and the training of the song autoencoder.
The pieces live in their layers: `data.melodies` / `data.song_clips` (the audio),
`models.song_autoencoder` (the encoding), `train.TrainLoop` (the loop, checkpoints, exact
resume), `weights` (shipped files).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .. import distributed
from ..audio.io import read_wav
from ..checkpoint import read_tensor_file
from ..data.melodies import Melody, load_melodies, split_by_tune
from ..data.song_clips import SongClips, render_clips
from ..device import seed_everything
from ..losses import WassersteinLoss
from ..losses_audio import MultiScaleSpectralLoss
from ..metrics.music import hz_to_midi, seam_ratio, spectral_flux, transcribe
from ..metrics.song_report import (
    autoencoder_report,
    clip_features,
    f0_within,
    frechet,
    kid,
    markov_tunes,
    measure_row,
    nn_ratio,
    reference_row,
    score_notes,
    transcribe_clips,
)
from ..models.song_autoencoder import ASSET_PATH as AE_PATH
from ..models.song_autoencoder import (
    SongAEConfig,
    SongAutoencoder,
    SongEncoding,
    load_song_autoencoder,
    save_song_autoencoder,
)
from ..models.song_gan import ASSET_PATH as GAN_PATH
from ..models.song_gan import (
    FrameCodec,
    ShippedSongGAN,
    SongCritic,
    SongGANConfig,
    SongGenerator,
    gaussian_frames,
    load_song_gan,
    song_anchors,
)
from ..models.song_gan import save_song_gan as _save_generator
from ..profiles import check_profile
from ..train import Every, GANTrainer, TrainLoop


EVAL_PATH = AE_PATH.with_name("song_eval.json")  # the shipped models' evaluation table (make_song_models.py)


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
    # -- the GAN over frame encodings (sizes in models.song_gan.SongGANConfig)
    gan: SongGANConfig = field(default_factory=SongGANConfig)
    window_step_s: float = 4.0  # training windows (8 s) start every 4 s of each tune: they overlap by half
    gan_steps: int = 3000  # generator steps
    gan_batch: int = 16  # windows per critic step
    n_critic: int = 5  # critic steps per generator step (WGAN-GP's official 5)
    gan_lr: float = 1e-4  # Adam, betas (0, 0.9): WGAN-GP's official settings
    gp_weight: float = 10.0  # gradient penalty lambda
    ema_decay: float = 0.999  # the sampling generator is an exponential moving average

    @classmethod
    def for_profile(cls, profile: str) -> SongConfig:
        if check_profile(profile) == "full":  # a GPU: more tunes, a bigger model, longer training
            return cls(
                profile,
                n_tunes=3000,
                model=SongAEConfig(latent_dim=16, hidden=512),
                ae_steps=30_000,
                ae_batch=32,
                gan=SongGANConfig(latent_dim=16, channels=256),
                gan_steps=50_000,
                gan_batch=64,
            )
        return cls(profile)


@dataclass
class SongData:
    """The chapter's tunes (split by tune) and the training clips rendered from the training tunes."""

    train_tunes: list[Melody]
    held_out_tunes: list[Melody]
    clips: SongClips


def split_tunes(config: SongConfig, cache_dir: str | Path | None = None, progress: bool = True) -> tuple[list, list]:
    """(train, held_out) tunes: the config's tunes parsed (cached in `cache_dir`) and split by tune content."""
    tunes = load_melodies(config.collection, config.n_tunes, cache_dir=cache_dir, progress=progress)
    return split_by_tune(tunes, config.held_out, config.data_seed)


def load_song_data(config: SongConfig, cache_dir: str | Path | None = None, progress: bool = True) -> SongData:
    """Parse (cached), split by tune and render the training clips (cached in `cache_dir` too)."""
    train, held = split_tunes(config, cache_dir, progress)
    cache = None
    if cache_dir is not None:
        key = (
            f"{config.collection}_{config.n_tunes}_{config.held_out}_{config.data_seed}_{config.ae_clip_s}_"
            f"{config.ae_clips_per_tune}_{config.tempo_range}_{config.model.sample_rate}_{config.model.frame_rate}"
        )
        cache = Path(cache_dir) / f"song_clips_{_stable_hash(key)}.safetensors"
        if cache.exists():
            tensors, meta = read_tensor_file(cache)
            clips = SongClips.from_tensors(
                {k: v.float() if k == "audio" else v for k, v in tensors.items()},
                int(meta["sr"]),
                int(meta["frame_rate"]),
            )
            return SongData(train, held, clips)
    clips = render_clips(
        train,
        config.ae_clip_s,
        seed=config.data_seed,
        tempo_range=config.tempo_range,
        max_clips_per_tune=config.ae_clips_per_tune,
        sr=config.model.sample_rate,
        frame_rate=config.model.frame_rate,
        progress=progress,
    )
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
@torch.no_grad()
def encode_clips(model: SongAutoencoder, clips: SongClips, batch: int = 16) -> SongEncoding:
    """The autoencoder's encoding of every clip: f0 [N, T] (the score's), loudness [N, T], z [N, T, Z]."""
    parts = [model.encode(clips.audio[i : i + batch], clips.f0_hz[i : i + batch]) for i in range(0, len(clips), batch)]
    return SongEncoding(*(torch.cat([getattr(p, k) for p in parts]) for k in SongEncoding._fields))


def gan_windows(
    config: SongConfig,
    tunes: list[Melody],
    model: SongAutoencoder,
    *,
    step_s: float | None = None,
    progress: bool = True,
) -> tuple[SongEncoding, SongClips]:
    """Play `tunes` as the autoencoder's data was played (same seed) and encode 8-s windows of them."""
    window_s = config.gan.window_frames / config.model.frame_rate
    clips = render_clips(
        tunes,
        window_s,
        step_s=step_s,
        seed=config.data_seed,
        tempo_range=config.tempo_range,
        sr=config.model.sample_rate,
        frame_rate=config.model.frame_rate,
        min_voiced=0.3,
        progress=progress,
    )
    return encode_clips(model, clips), clips


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


def save_song_gan(trainer: GANTrainer, codec: FrameCodec, path: str | Path = GAN_PATH, **meta) -> Path:
    """The trainer's sampling (EMA) generator with its codec, training curves and `meta`."""
    g = trainer.ema.module if trainer.ema is not None else trainer.generator
    return _save_generator(g, codec, path, history=trainer.history, **meta)


def frame_codec(config: SongConfig, train: SongEncoding) -> FrameCodec:
    """The codec whose z statistics come from the training windows."""
    z = train.z.reshape(-1, train.z.shape[-1])
    return FrameCodec(config.gan, z.mean(0), z.std(0))


# ---- what the chapter measures: rows of clips, each decoded through the same autoencoder ---------------
@torch.no_grad()
def decode_frames(ae: SongAutoencoder, codec: FrameCodec, frames: Tensor, batch: int = 8) -> Tensor:
    """GAN frames [N, C, T] -> audio [N, T * hop] through the frozen decoder."""
    parts = []
    for chunk in frames.split(batch):
        f0, loud, z = codec.from_frames(chunk)
        parts.append(ae.decode(SongEncoding(f0, loud, z)))
    return torch.cat(parts)


@torch.no_grad()
def generate_windows(gan: ShippedSongGAN, n: int, seed: int = 0) -> Tensor:
    """n independent 8-s windows of frames [n, C, T] from fresh random anchors."""
    latents = torch.randn(n, gan.generator.cfg.latent_size, generator=torch.Generator().manual_seed(seed))
    return torch.cat([gan.generator(x) for x in latents.split(64)])


@torch.no_grad()
def generate_song(gan: ShippedSongGAN, seconds: float, seed: int = 0) -> Tensor:
    """One song of about `seconds` (whole windows) as frames [1, C, T]: one pass over a long anchor sequence."""
    cfg = gan.generator.cfg
    n_windows = max(1, math.ceil(seconds * 50 / cfg.window_frames))
    return gan.generator.frames_from(*song_anchors(n_windows, cfg, torch.Generator().manual_seed(seed)))


@torch.no_grad()
def reconstruct(ae: SongAutoencoder, clips: SongClips, batch: int = 8) -> Tensor:
    """The autoencoder's reconstruction of every clip [N, S] (encoded with the score's f0)."""
    return torch.cat(
        [ae(clips.audio[i : i + batch], clips.f0_hz[i : i + batch])[0] for i in range(0, len(clips), batch)]
    )


@torch.no_grad()
def mean_timbre(ae: SongAutoencoder, clips: SongClips) -> Tensor:
    """The average z [Z] over the sounding frames of `clips`: one instrument's timbre, without its melody."""
    enc = encode_clips(ae, clips)
    return enc.z[enc.f0_hz > 0].mean(0)


@torch.no_grad()
def encode_audio_file(ae: SongAutoencoder, path: str | Path, max_seconds: float = 30.0) -> tuple[Tensor, SongEncoding]:
    """A WAV of a monophonic instrument (any rate, mono or stereo) -> (its audio [1, S] at 16 kHz, its encoding).

    f0 comes from CREPE (tiny) at twice the frame rate, read at each frame's centre; unvoiced is 0.
    """
    audio, sr = read_wav(path, sr=ae.sample_rate)
    audio = audio[: int(max_seconds * ae.sample_rate)]
    audio = audio[: len(audio) // ae.hop * ae.hop][None]
    if audio.shape[-1] == 0:
        raise ValueError(f"{path} is shorter than one frame ({ae.hop} samples at {ae.sample_rate} Hz)")
    f0, _, rate = transcribe(audio[0].numpy(), ae.sample_rate, hop_s=0.5 / ae.frame_rate)
    centres = np.arange(audio.shape[-1] // ae.hop) * 2 + 1  # frame i's centre is tracker frame 2i + 1
    f0 = torch.from_numpy(f0[np.minimum(centres, len(f0) - 1)]).float()[None]
    return audio, ae.encode(audio, f0)


@torch.no_grad()
def evaluate(
    config: SongConfig,
    data: SongData,
    ae: SongAutoencoder,
    gan: ShippedSongGAN,
    classifier,
    n: int = 48,
    seed: int = 0,
    progress: bool = False,
) -> dict:
    """Every row of the chapter's table on `n` 8-s clips each, plus floors, the seam and the copying check.

    Rows: the held-out score itself, its rendered audio ("real"), the autoencoder's reconstruction
    (the ceiling of this approach), the GAN, and two baselines decoded through the same autoencoder
    (a per-frame Gaussian over the encodings; Markov-1 tunes played and re-encoded). FD/KID compare
    clip features with `n` real clips; the real-vs-real floor uses `n` other held-out clips.
    """
    window_s = config.gan.window_frames / config.model.frame_rate
    play = dict(seed=config.data_seed, tempo_range=config.tempo_range, min_voiced=0.3, progress=progress)
    held = render_clips(data.held_out_tunes, window_s, **play)
    order = torch.randperm(len(held), generator=torch.Generator().manual_seed(seed))
    real, other = held[order[:n]], held[order[n : 2 * n]]
    reference = score_notes(real)
    train_enc, train_clips = gan_windows(config, data.train_tunes[:60], ae, progress=progress)
    codec = gan.codec
    train_frames = codec.to_frames(train_enc.f0_hz, train_enc.loudness_db, train_enc.z)
    markov = render_clips(markov_tunes(data.train_tunes, n, seed=seed), window_s, **play)[:n]
    sets = {
        "real": real.audio,
        "reconstruction": reconstruct(ae, real),
        "GAN": decode_frames(ae, codec, generate_windows(gan, n, seed)),
        "Gaussian": decode_frames(ae, codec, gaussian_frames(train_frames, n, torch.Generator().manual_seed(seed))),
        "Markov-1": reconstruct(ae, markov),
    }
    sr = config.model.sample_rate
    rows = {"corpus": reference_row("corpus (score)", reference).as_dict()}
    feats = {k: clip_features(classifier, v, sr=sr) for k, v in sets.items()}
    other_feats = clip_features(classifier, other.audio, sr=sr)
    heard_real = transcribe_clips(real.audio, sr)
    ae_report = autoencoder_report(ae, real, sets["reconstruction"], train_enc)
    for name, audio in sets.items():
        row = measure_row(name, audio, sr, reference, heard=heard_real if name == "real" else None)
        row.fd, row.kid = (
            frechet(feats["real"], feats[name] if name != "real" else other_feats),
            kid(feats["real"], feats[name] if name != "real" else other_feats),
        )
        rows[name] = row.as_dict()
    train_feats = clip_features(classifier, train_clips.audio[: 4 * n], sr=sr)
    song = decode_frames(ae, codec, generate_song(gan, 64.0, seed))[0]
    joins = [window_s * k for k in range(1, int(len(song) / sr / window_s))]
    flux = spectral_flux(song.numpy(), sr)
    heard = transcribe_clips(song[None], sr)[0]
    return {
        "n": n,
        "rows": rows,
        **ae_report,
        "nn_ratio": nn_ratio(feats["GAN"], train_feats, other_feats),
        "seam_ratio": seam_ratio(flux, 100.0, joins),
        "seam_ratio_pitch": seam_ratio(
            np.abs(np.diff(np.nan_to_num(hz_to_midi(np.where(heard[1] > 0, heard[1], np.nan))), prepend=0.0)),
            heard[2],
            joins,
        ),
        **dict(
            zip(
                ("ae_f0_within_50c", "ae_f0_voicing_recall"),
                np.nanmean(
                    [
                        f0_within(f0, rate, score.numpy(), config.model.frame_rate)
                        for (_, f0, rate), score in zip(heard_real, real.f0_hz)
                    ],
                    axis=0,
                ).tolist(),
            )
        ),
    }


__all__ = [
    "EVAL_PATH",
    "evaluate",
    "gaussian_frames",
    "decode_frames",
    "generate_song",
    "generate_windows",
    "encode_audio_file",
    "mean_timbre",
    "reconstruct",
    "split_tunes",
    "AE_PATH",
    "GAN_PATH",
    "Every",
    "ShippedSongGAN",
    "encode_clips",
    "frame_codec",
    "gan_windows",
    "load_song_gan",
    "make_gan_trainer",
    "save_song_gan",
    "SongConfig",
    "SongData",
    "load_song_data",
    "load_song_autoencoder",
    "make_ae_trainer",
    "save_song_autoencoder",
    "train_song_autoencoder",
]
