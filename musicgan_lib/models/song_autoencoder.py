"""Chapter 8's encoding of music: f0, loudness and a learned timbre vector z, per frame.

A song is too long for a GAN as audio (16,000 numbers a second), so we write it down as
**frames** of a few numbers each, 50 frames a second (a frame is 20 ms; a sixteenth note at
140 bpm still spans five of them):

* ``f0(t)`` -- the frequency being played. Not learned: it comes from the score while we
  train, and from a real pitch tracker (CREPE) for audio you bring; supervising f0 instead of
  learning it avoids the non-convex spectral loss in frequency (DDSP).
* ``loudness(t)`` -- measured from the audio (A-weighted dB).
* ``z(t)`` -- ``latent_dim`` numbers (8 by default) that the encoder learns: *how* the note
  sounds -- which instrument, bright or dull, the bow or breath noise, the attack. Nothing
  tells it the instrument; it learns whatever the decoder needs.

The decoder is DDSP's: a recurrent network reads ``(f0, loudness, z)`` frame by frame and
writes the controls of a harmonic-plus-noise synthesizer (amplitude, how the energy is
shared among ``n_harmonics`` harmonics of f0, and ``n_noise_bands`` noise magnitudes), which
`models.ddsp_synth` and `kernels.harmonic_synth` turn into sound. So the encoding is exactly
"frequencies, magnitudes, and how to overlap them", and any sequence of frames -- a real
song's, or one a GAN writes -- decodes into audio.

Why not chapter 6's model? It encodes one note with a single z and a decoder that knows the
time since the note began. A song has no single note: z has to move with time, and the
decoder has to carry state from frame to frame (a GRU) instead of reading a note clock.

Shapes: audio [B, S] with S = F * hop; f0_hz, loudness_db [B, F]; z [B, F, Z].
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping, NamedTuple

import torch
from torch import Tensor, nn

from ..audio.analysis import loudness_db as measure_loudness_db
from ..audio.synth import hz_to_midi
from ..data.song_clips import SongClips
from ..kernels.harmonic_synth import harmonic_synth, normalize_harmonic_distribution
from ..weights import load_weights, read_weights_meta, save_weights, weights_path
from .ddsp_synth import FilteredNoise, ddsp_scale, frames_to_samples

ASSET_PATH = weights_path("song_autoencoder", None)  # one shipped model for every profile
MAKE_SCRIPT = "scripts/make_song_models.py"
KIND = "song_autoencoder"
MAX_LATENT_DIM = 16


@dataclass(frozen=True)
class SongAEConfig:
    """Sizes of the song autoencoder (stored in its checkpoint). Defaults are the quick profile."""

    # -- audio and frames
    sample_rate: int = 16000  # Hz; the corpus is rendered at this rate
    frame_rate: int = 50  # frames per second of the encoding (hop 320 samples)
    # -- the encoding
    latent_dim: int = 8  # z(t): learned numbers per frame besides f0 and loudness (at most 16)
    # -- encoder: log-mel spectrogram -> convolutions over time -> z(t)
    n_mels: int = 64  # mel bands of the encoder's input
    encoder_channels: int = 96  # width of the encoder's convolutions
    # -- decoder: (f0, loudness, z) -> GRU -> synth controls
    hidden: int = 192  # GRU and MLP width
    n_harmonics: int = 60  # harmonics of f0 (those above Nyquist are silenced per frame)
    n_noise_bands: int = 65  # noise magnitudes from 0 Hz to Nyquist
    noise_fft: int = 1024  # FFT size of the filtered noise (>= hop)

    def __post_init__(self) -> None:
        if not 1 <= self.latent_dim <= MAX_LATENT_DIM:
            raise ValueError(f"latent_dim must be 1..{MAX_LATENT_DIM}, got {self.latent_dim}")
        if self.sample_rate % self.frame_rate:
            raise ValueError(f"sample_rate ({self.sample_rate}) must be a multiple of frame_rate ({self.frame_rate})")

    @property
    def hop(self) -> int:
        return self.sample_rate // self.frame_rate


class SongEncoding(NamedTuple):
    """One clip written down as frames: f0_hz [B, F] (0 = no pitch), loudness_db [B, F], z [B, F, Z]."""

    f0_hz: Tensor
    loudness_db: Tensor
    z: Tensor


def fill_unvoiced(f0_hz: Tensor) -> Tensor:
    """f0 [B, F] with each unvoiced frame (0) holding the last voiced value (the first voiced one before it).

    A note's release and the rests still sound (reverb, decay), so the synth needs *some*
    frequency there; holding the last one is what an instrument's ringing string does.
    An all-unvoiced row becomes 220 Hz (it is silent anyway: loudness drives the amplitude).
    """
    voiced = f0_hz > 0
    idx = torch.where(voiced, torch.arange(f0_hz.shape[-1], device=f0_hz.device), 0)
    last = torch.cummax(idx, dim=-1).values  # index of the last voiced frame so far (0 if none)
    held = torch.gather(f0_hz, -1, last)
    first = torch.where(
        voiced.any(-1),
        f0_hz.gather(-1, voiced.float().argmax(-1, keepdim=True)).squeeze(-1),
        torch.full_like(f0_hz[:, 0], 220.0),
    )
    return torch.where(held > 0, held, first[:, None].expand_as(held))


class SongEncoder(nn.Module):
    """audio [B, S] + loudness [B, F] -> z [B, F, Z]: log-mel frames through a same-length conv stack."""

    def __init__(self, cfg: SongAEConfig) -> None:
        super().__init__()
        import torchaudio

        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=cfg.sample_rate,
            n_fft=1024,
            hop_length=cfg.hop,
            n_mels=cfg.n_mels,
            f_min=30.0,
            f_max=cfg.sample_rate / 2,
            power=2.0,
        )
        for module in self.mel.modules():  # window, filter bank: recomputed, not stored
            module._non_persistent_buffers_set.update(n for n, _ in module.named_buffers(recurse=False))
        c = cfg.encoder_channels
        self.net = nn.Sequential(
            nn.Conv1d(cfg.n_mels + 1, c, 5, padding=2), nn.GELU(),
            nn.Conv1d(c, c, 5, padding=2), nn.GELU(),
            nn.Conv1d(c, c, 5, padding=2), nn.GELU(),
            nn.Conv1d(c, cfg.latent_dim, 3, padding=1),
        )  # fmt: skip

    def forward(self, audio: Tensor, loudness_db: Tensor) -> Tensor:
        """audio [B, S], loudness_db [B, F] -> z [B, F, Z]."""
        n_frames = loudness_db.shape[-1]
        mel = 10.0 * torch.log10(self.mel(audio) + 1e-8)[..., :n_frames]  # [B, M, F]
        x = torch.cat([(mel + 40.0) / 40.0, (loudness_db.unsqueeze(1) + 40.0) / 40.0], dim=1)
        return self.net(x).transpose(1, 2)  # [B, F, Z]


class SongDecoder(nn.Module):
    """(f0 [B, F], loudness [B, F], z [B, F, Z]) -> raw amplitude [B, F], harmonic [B, F, H], noise [B, F, N]."""

    def __init__(self, cfg: SongAEConfig) -> None:
        super().__init__()
        h = cfg.hidden
        self.cfg = cfg
        self.inp = nn.Sequential(nn.Linear(2 + cfg.latent_dim, h), nn.LayerNorm(h), nn.GELU())
        self.gru = nn.GRU(h, h, batch_first=True)
        self.out = nn.Sequential(
            nn.Linear(2 * h, h), nn.LayerNorm(h), nn.GELU(),
            nn.Linear(h, 1 + cfg.n_harmonics + cfg.n_noise_bands),
        )  # fmt: skip

    def forward(self, f0_hz: Tensor, loudness_db: Tensor, z: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """f0_hz [B, F], loudness_db [B, F], z [B, F, Z] -> amplitude [B, F], harmonic [B, F, H], noise [B, F, N]."""
        pitch = (hz_to_midi(f0_hz.clamp(min=20.0)) - 66.0) / 24.0  # about -1..1 over MIDI 42..90
        loud = (loudness_db.clamp(min=-100.0) + 40.0) / 30.0
        x = self.inp(torch.cat([pitch.unsqueeze(-1), loud.unsqueeze(-1), z], dim=-1))
        y, _ = self.gru(x)
        out = self.out(torch.cat([x, y], dim=-1))
        amp, harm, noise = out.split([1, self.cfg.n_harmonics, self.cfg.n_noise_bands], dim=-1)
        return amp[..., 0], harm, noise


class SongAutoencoder(nn.Module):
    """Encoder (audio + f0 -> encoding) and DDSP decoder (encoding -> audio). See the module docstring."""

    def __init__(self, config: SongAEConfig | None = None, **overrides: Any) -> None:
        super().__init__()
        cfg = SongAEConfig(**{**asdict(config or SongAEConfig()), **overrides})
        self.cfg, self.config = cfg, asdict(cfg)
        self.sample_rate, self.frame_rate, self.hop, self.latent_dim = (
            cfg.sample_rate,
            cfg.frame_rate,
            cfg.hop,
            cfg.latent_dim,
        )
        self.encoder = SongEncoder(cfg)
        self.decoder = SongDecoder(cfg)
        self.noise = FilteredNoise(cfg.noise_fft, cfg.hop)
        self.synth_backend = "auto"

    def _check(self, audio: Tensor) -> Tensor:
        if audio.dim() != 2 or audio.shape[-1] % self.hop or audio.shape[-1] == 0:
            raise ValueError(
                f"expected audio [B, samples] with samples a positive multiple of {self.hop} "
                f"(frames of {1000 // self.frame_rate} ms), got {tuple(audio.shape)}"
            )
        return audio.float()

    def measure_loudness(self, audio: Tensor) -> Tensor:
        """A-weighted loudness per frame [B, F] in dB."""
        return measure_loudness_db(audio, self.sample_rate, hop=self.hop, n_frames=audio.shape[-1] // self.hop)

    def encode(self, audio: Tensor, f0_hz: Tensor) -> SongEncoding:
        """audio [B, F * hop] and its f0 [B, F] (score or pitch tracker; 0 = unvoiced) -> SongEncoding."""
        audio = self._check(audio)
        if f0_hz.shape != (audio.shape[0], audio.shape[-1] // self.hop):
            raise ValueError(
                f"f0_hz must be [B, frames] = {(audio.shape[0], audio.shape[-1] // self.hop)}, got {tuple(f0_hz.shape)}"
            )
        loud = self.measure_loudness(audio)
        return SongEncoding(f0_hz, loud, self.encoder(audio, loud))

    def decode(self, enc: SongEncoding, noise_seed: int | None = None) -> Tensor:
        """SongEncoding (f0 [B, F], loudness [B, F], z [B, F, Z]) -> audio [B, F * hop]."""
        f0 = fill_unvoiced(enc.f0_hz)
        amp, harm, noise = self.decoder(f0, enc.loudness_db, enc.z)
        dist = normalize_harmonic_distribution(ddsp_scale(harm), f0, self.sample_rate)
        n_samples = f0.shape[-1] * self.hop
        harmonic = harmonic_synth(
            frames_to_samples(f0, self.hop),
            frames_to_samples(ddsp_scale(amp), self.hop),
            frames_to_samples(dist, self.hop),
            self.sample_rate,
            backend=self.synth_backend,
        )
        if noise_seed is None and not self.training:
            noise_seed = 0
        gen = torch.Generator().manual_seed(noise_seed) if noise_seed is not None else None
        return harmonic + self.noise(ddsp_scale(noise - 5.0), n_samples, gen)

    def forward(self, audio: Tensor, f0_hz: Tensor) -> tuple[Tensor, SongEncoding]:
        """Encode, then decode: (reconstruction [B, S], encoding)."""
        enc = self.encode(audio, f0_hz)
        return self.decode(enc), enc


@torch.no_grad()
def encode_clips(model: SongAutoencoder, clips: SongClips, batch: int = 16) -> SongEncoding:
    """The autoencoder's encoding of every clip: f0 [N, F] (the score's), loudness [N, F], z [N, F, Z]."""
    parts = [model.encode(clips.audio[i : i + batch], clips.f0_hz[i : i + batch]) for i in range(0, len(clips), batch)]
    return SongEncoding(*(torch.cat([getattr(p, k) for p in parts]) for k in SongEncoding._fields))


@torch.no_grad()
def reconstruct(ae: SongAutoencoder, clips: SongClips, batch: int = 8) -> Tensor:
    """The autoencoder's reconstruction of every clip, audio [N, S] (encoded with the score's f0)."""
    return torch.cat(
        [ae(clips.audio[i : i + batch], clips.f0_hz[i : i + batch])[0] for i in range(0, len(clips), batch)]
    )


@torch.no_grad()
def mean_timbre(ae: SongAutoencoder, clips: SongClips) -> Tensor:
    """The average z [Z] over the sounding frames of `clips`: one instrument's timbre, without its melody."""
    enc = encode_clips(ae, clips)
    return enc.z[enc.f0_hz > 0].mean(0)


def save_song_autoencoder(
    model: SongAutoencoder,
    path: str | Path = ASSET_PATH,
    *,
    steps: int,
    train_seconds: float,
    data: Mapping[str, Any] | str,
    **meta: Any,
) -> Path:
    """The model's weights in float16 with the standard metadata (`weights.save_weights`) and `meta` (seed...)."""
    return save_weights(
        path,
        {"autoencoder": model},
        kind=KIND,
        config=model.config,
        steps=steps,
        train_seconds=train_seconds,
        data=data,
        half=True,
        meta=meta,
    )


def load_song_autoencoder(path: str | Path = ASSET_PATH, device: str | torch.device = "cpu") -> SongAutoencoder:
    """A saved song autoencoder, float32, frozen, in eval mode (deterministic noise); its metadata as `.meta`."""
    meta = read_weights_meta(path, kind=KIND, make_script=MAKE_SCRIPT)
    model = SongAutoencoder(SongAEConfig(**meta["config"]))
    load_weights(path, {"autoencoder": model}, kind=KIND, make_script=MAKE_SCRIPT, device=device)
    model.meta = meta  # type: ignore[attr-defined]
    return model.requires_grad_(False)
