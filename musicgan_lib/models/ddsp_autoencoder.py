"""A note autoencoder whose decoder is an additive synthesizer (DDSP, Engel et al. 2020).

The encoder listens to a note and writes down a handful of numbers: its pitch curve f0(t) and
a small **per-note latent** ``z`` (<= 16 numbers) that says how the note is played (family,
brightness, envelope, loudness). The decoder never generates samples one by one: it turns
``(z, f0)`` into per-frame *controls* of a synthesizer -- an overall amplitude, a harmonic
distribution (how the energy is shared among harmonics k·f0) and the magnitudes of a filtered
noise -- and the synthesizer (``kernels.harmonic_synth``: phase = cumulative sum of 2πf0/sr,
a sine per harmonic) plus filtered noise makes the sound. Because the synth is a fixed,
differentiable formula, the networks only have to learn *controls*, and those are compact
enough for a GAN to generate (chapter 7).

Contract with chapter 7 (keep it stable)
---------------------------------------
* ``NoteAutoencoder`` (an ``nn.Module``), attributes ``latent_dim`` (<= 16), ``sample_rate``
  (16 000), ``frame_rate`` (250 frames/s, hop 64), ``n_samples`` (note length it was trained
  on, 16 000 = 1 s), ``n_frames`` (250), ``n_harmonics``, ``n_noise_bands``, ``config``.
* ``encode(audio [B, S]) -> NoteEncoding(f0_hz [B, F], z [B, Z], loudness_db [B, F])`` with
  F = S / 64; f0 is the encoder's own estimate, loudness is measured from the audio
  (A-weighted, ``audio.analysis.loudness_db``). Extras: ``pitch_logits`` [B, 37] (MIDI 48..84).
* ``decode(z [B, Z], f0_hz [B, F], noise_seed=None) -> audio [B, F * 64]``: the whole note from
  the latent and the pitch curve alone. For a generated note pass the constant curve
  ``midi_to_hz(pitch)`` (vibrato is then simply absent). The noise is fresh in training mode;
  in eval mode (``model.eval()``, as ``load_autoencoder`` returns it) it is seeded with
  ``noise_seed`` (default 0), so decoding is deterministic.
* ``controls(z, f0_hz) -> SynthControls(amplitude [B, F], harmonic_distribution [B, F, H],
  noise_magnitudes [B, F, N])`` for plots; the distribution is Nyquist-masked and sums to 1.
* ``forward(audio) -> (reconstruction [B, S], NoteEncoding)``.
* ``load_autoencoder(device="cpu", path=None)`` loads the shipped, frozen
  ``assets/note_autoencoder.safetensors`` (config in its metadata); it is built by
  ``scripts/make_note_models.py``.

Design choices
--------------
* **f0 is supervised**, not learned from the spectral loss (which is non-convex in frequency):
  the encoder predicts the note's MIDI pitch class (cross-entropy on the label) plus a
  per-frame offset in semitones (L1 on the labelled f0 curve: vibrato, detune, onset glide),
  f0 = midi_to_hz(48 + class + offset). The decoder is trained on the *labelled* f0 curve
  (teacher forcing) and evaluated on the encoder's.
* **Per-note latent.** z comes from pooling the encoder's frame features over the whole note;
  the decoder is a per-frame MLP over ``[z, f0 feature, time features]`` (a "neural field" in
  time: sin/cos of the note time plus a few onset decays), so a note of any pitch curve can be
  decoded from z without an encoder in sight.
* **DDSP scaling** ``2·sigmoid(x)^ln10 + 1e-7`` for amplitude, harmonic weights and noise
  magnitudes (noise starts 5 logits low, as in DDSP); harmonics at or above Nyquist are zeroed
  and the distribution renormalised at frame rate (``normalize_harmonic_distribution``).
* **Filtered noise** by frequency sampling in the STFT domain: per frame, white noise's
  spectrum (n_fft 256, hop 64) is multiplied by the interpolated band magnitudes and inverted.
* No learned reverb: the synthetic notes are dry.
"""

from __future__ import annotations

import math
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..audio.analysis import loudness_db as measure_loudness_db
from ..audio.synth import hz_to_midi, midi_to_hz
from ..device import pick_device, torch_threads
from ..kernels.harmonic_synth import harmonic_synth, normalize_harmonic_distribution
from ..weights import load_weights, read_weights_meta, save_weights, weights_path
from .ddsp_synth import FilteredNoise, ddsp_scale, frames_to_samples

_frames_to_samples = frames_to_samples  # the name chapter 6's tests and benchmarks know

ASSET_PATH = weights_path("note_autoencoder", None)  # one shipped model serves every profile
MAKE_SCRIPT = "scripts/make_note_models.py"
KIND = "note_autoencoder"
LOWEST_PITCH, HIGHEST_PITCH = 48, 84
N_PITCH_CLASSES = HIGHEST_PITCH - LOWEST_PITCH + 1
MAX_LATENT_DIM = 16


@dataclass(frozen=True)
class DDSPConfig:
    """Sizes of the autoencoder (stored in the checkpoint metadata)."""

    latent_dim: int = 16
    n_harmonics: int = 48
    n_noise_bands: int = 65
    hidden: int = 256
    frame_hidden: int = 128
    decoder_layers: int = 3
    encoder_channels: int = 128
    n_mels: int = 64
    time_features: int = 16
    sample_rate: int = 16000
    frame_rate: int = 250
    n_samples: int = 16000
    noise_fft: int = 256

    def __post_init__(self) -> None:
        if not 1 <= self.latent_dim <= MAX_LATENT_DIM:
            raise ValueError(f"latent_dim must be 1..{MAX_LATENT_DIM}, got {self.latent_dim}")
        if self.n_harmonics < 32:
            raise ValueError(f"use at least 32 harmonics, got {self.n_harmonics}")
        if self.sample_rate % self.frame_rate or self.n_samples % (self.sample_rate // self.frame_rate):
            raise ValueError("sample_rate must be a multiple of frame_rate, n_samples a multiple of the hop")

    @property
    def hop(self) -> int:
        return self.sample_rate // self.frame_rate


class NoteEncoding(NamedTuple):
    """What the encoder writes down about a note."""

    f0_hz: Tensor  # [B, F] the encoder's pitch curve
    z: Tensor  # [B, Z] per-note latent
    loudness_db: Tensor  # [B, F] measured A-weighted loudness
    pitch_logits: Tensor | None = None  # [B, 37] MIDI 48..84
    f0_offset: Tensor | None = None  # [B, F] semitones relative to the pitch class


class SynthControls(NamedTuple):
    """Per-frame synthesizer controls (frame rate)."""

    amplitude: Tensor  # [B, F]
    harmonic_distribution: Tensor  # [B, F, H], zero above Nyquist, sums to 1
    noise_magnitudes: Tensor  # [B, F, N]


class NoteEncoder(nn.Module):
    """Two paths over the note's spectrum.

    * **pitch**: the note's time-averaged log-mel (128 bands, 2048-point FFT, relative to its
      peak) -> a small conv over the frequency axis -> 37 pitch-class logits. Averaging over
      time makes this a clean template-matching problem (where are the harmonics?).
    * **frames**: log-mel (64 bands, hop 64) + loudness per frame -> a conv stack over time ->
      a per-frame f0 offset in semitones (vibrato, glide, detune) and, pooled over the whole
      note, the latent z.
    """

    def __init__(self, cfg: DDSPConfig) -> None:
        super().__init__()
        import torchaudio

        self.cfg = cfg
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=cfg.sample_rate,
            n_fft=1024,
            hop_length=cfg.hop,
            n_mels=cfg.n_mels,
            f_min=30.0,
            f_max=cfg.sample_rate / 2,
            power=2.0,
        )
        self.pitch_mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=cfg.sample_rate,
            n_fft=2048,
            hop_length=4 * cfg.hop,
            n_mels=128,
            f_min=30.0,
            f_max=cfg.sample_rate / 2,
            power=2.0,
        )
        for module in [*self.mel.modules(), *self.pitch_mel.modules()]:  # window, filter bank: recomputed, not stored
            module._non_persistent_buffers_set.update(n for n, _ in module.named_buffers(recurse=False))
        c = cfg.encoder_channels
        self.frames = nn.Sequential(
            nn.Conv1d(cfg.n_mels + 1, c, 5, padding=2), nn.GELU(),
            nn.Conv1d(c, c, 5, padding=2, stride=2), nn.GELU(),
            nn.Conv1d(c, c, 5, padding=2, stride=2), nn.GELU(),
            nn.Conv1d(c, c, 3, padding=1), nn.GELU(),
        )  # fmt: skip
        self.offset_head = nn.Conv1d(c, 1, 3, padding=1)
        self.note = nn.Sequential(nn.Linear(2 * c, c), nn.GELU())
        self.z_head = nn.Linear(c, cfg.latent_dim)
        self.pitch_net = nn.Sequential(
            nn.Conv1d(1, 16, 5, padding=2), nn.GELU(), nn.MaxPool1d(2),
            nn.Conv1d(16, 32, 5, padding=2), nn.GELU(), nn.MaxPool1d(2),
            nn.Flatten(), nn.Linear(32 * 32, 128), nn.GELU(), nn.Linear(128, N_PITCH_CLASSES),
        )  # fmt: skip

    def pitch_logits(self, audio: Tensor) -> Tensor:
        """[B, 37] logits of MIDI 48..84 from the note's average log-mel spectrum."""
        spec = self.pitch_mel(audio).mean(dim=-1)  # [B, 128] mean power over the note
        db = 10.0 * torch.log10(spec + 1e-10)
        db = (db - db.amax(dim=-1, keepdim=True)).clamp(min=-80.0) / 40.0 + 1.0
        return self.pitch_net(db.unsqueeze(1))

    def features(self, audio: Tensor, loudness: Tensor) -> Tensor:
        """audio [B, T], loudness [B, F] (dB) -> per-frame features [B, C, ceil(F / 4)], C = encoder_channels
        (two stride-2 convs over time).
        """
        n_frames = loudness.shape[-1]
        mel = 10.0 * torch.log10(self.mel(audio) + 1e-8)[..., :n_frames]  # [B, M, F]
        x = torch.cat([(mel + 40.0) / 40.0, (loudness.unsqueeze(1) + 40.0) / 40.0], dim=1)
        return self.frames(x)

    def forward(self, audio: Tensor, loudness: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(pitch_logits [B, 37], f0 offset in semitones [B, F], z [B, Z])."""
        n_frames = loudness.shape[-1]
        h = self.features(audio, loudness)
        offset = 2.0 * torch.tanh(self.offset_head(h) / 2.0)
        offset = F.interpolate(offset, size=n_frames, mode="linear", align_corners=True)[:, 0]
        pooled = self.note(torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1))
        return self.pitch_logits(audio), offset, self.z_head(pooled)


class ControlDecoder(nn.Module):
    """(z, f0 curve, frame time) -> per-frame amplitude, harmonic distribution, noise magnitudes.

    Two parts, added as logits: a **per-note** part (an MLP on z and the note's mean pitch gives
    a static harmonic and noise spectrum, computed once per note) and a **per-frame** part (a
    small MLP on time features and the frame's pitch, FiLM-modulated by z) for everything that
    moves: the amplitude envelope, the decay of upper partials, the noise burst of an attack.
    Time enters as sin/cos of the note time plus decays exp(-t/tau) that make sharp attacks easy.
    The split makes training cheap (the frame MLP is narrow) and fast (the static spectrum gets
    the gradient of every frame).
    """

    TAUS = (0.005, 0.02, 0.08, 0.3)

    def __init__(self, cfg: DDSPConfig) -> None:
        super().__init__()
        self.cfg = cfg
        h, fh = cfg.hidden, cfg.frame_hidden
        n_out = 1 + cfg.n_harmonics + cfg.n_noise_bands
        self.note = nn.Sequential(
            nn.Linear(cfg.latent_dim + 1, h), nn.GELU(), nn.Linear(h, h), nn.GELU(),
        )  # fmt: skip
        self.static = nn.Linear(h, n_out)
        self.film = nn.Linear(h, 2 * fh * cfg.decoder_layers)
        n_in = 1 + 2 * cfg.time_features + len(self.TAUS) + 1
        self.inp = nn.Linear(n_in, fh)
        self.layers = nn.ModuleList(nn.Linear(fh, fh) for _ in range(cfg.decoder_layers))
        self.out = nn.Linear(fh, n_out)

    def time_features(self, n_frames: int, device: torch.device, dtype: torch.dtype) -> Tensor:
        """[F, 2K + len(TAUS) + 1] features of frame time t = i / frame_rate (seconds)."""
        t = torch.arange(n_frames, device=device, dtype=dtype) / self.cfg.frame_rate
        period = self.cfg.n_samples / self.cfg.sample_rate  # the training note length
        k = torch.arange(1, self.cfg.time_features + 1, device=device, dtype=dtype)
        arg = math.pi * t[:, None] * k / period
        taus = torch.tensor(self.TAUS, device=device, dtype=dtype)
        return torch.cat([torch.sin(arg), torch.cos(arg), torch.exp(-t[:, None] / taus), (t / period)[:, None]], dim=1)

    def forward(self, z: Tensor, f0_hz: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Raw (pre-scaling) amplitude [B, F], harmonic [B, F, H] and noise [B, F, N] logits."""
        b, n_frames = f0_hz.shape
        pitch = (hz_to_midi(f0_hz.clamp(min=1.0)) - 66.0) / 18.0  # about -1..1 over MIDI 48..84
        note = self.note(torch.cat([z, pitch.mean(dim=1, keepdim=True)], dim=1))
        films = self.film(note).view(b, len(self.layers), 2, 1, -1)
        tf = self.time_features(n_frames, z.device, z.dtype).expand(b, -1, -1)
        x = self.inp(torch.cat([pitch.unsqueeze(-1), tf], dim=-1))
        for i, layer in enumerate(self.layers):
            x = F.gelu(layer(x) * (1.0 + films[:, i, 0]) + films[:, i, 1])
        out = self.out(x) + self.static(note).unsqueeze(1)
        amp, harm, noise = out.split([1, self.cfg.n_harmonics, self.cfg.n_noise_bands], dim=-1)
        return amp[..., 0], harm, noise


class NoteAutoencoder(nn.Module):
    """Encoder (audio -> f0 curve + per-note z) and DDSP decoder ((z, f0) -> audio). See the module docstring."""

    def __init__(self, config: DDSPConfig | None = None, **overrides: Any) -> None:
        super().__init__()
        cfg = config or DDSPConfig()
        if overrides:
            cfg = DDSPConfig(**{**asdict(cfg), **overrides})
        self.cfg = cfg
        self.config = asdict(cfg)
        self.latent_dim = cfg.latent_dim
        self.sample_rate = cfg.sample_rate
        self.frame_rate = cfg.frame_rate
        self.hop = cfg.hop
        self.n_samples = cfg.n_samples
        self.n_frames = cfg.n_samples // cfg.hop
        self.n_harmonics = cfg.n_harmonics
        self.n_noise_bands = cfg.n_noise_bands
        self.encoder = NoteEncoder(cfg)
        self.decoder = ControlDecoder(cfg)
        self.noise = FilteredNoise(cfg.noise_fft, cfg.hop)
        self.synth_backend = "auto"

    # ---------------------------------------------------------------------------- encoder
    def _check_audio(self, audio: Tensor) -> Tensor:
        if audio.dim() != 2 or audio.shape[-1] % self.hop:
            raise ValueError(
                f"expected audio [B, samples] with samples a multiple of {self.hop}, got {tuple(audio.shape)}"
            )
        return audio.float()

    def measure_loudness(self, audio: Tensor) -> Tensor:
        """A-weighted loudness per frame [B, F] (dB), the same measure as the note labels."""
        return measure_loudness_db(audio, self.sample_rate, hop=self.hop, n_frames=audio.shape[-1] // self.hop)

    def encode(self, audio: Tensor) -> NoteEncoding:
        """audio [B, S] -> NoteEncoding(f0_hz [B, F], z [B, Z], loudness_db [B, F], pitch_logits, f0_offset)."""
        audio = self._check_audio(audio)
        loud = self.measure_loudness(audio)
        logits, offset, z = self.encoder(audio, loud)
        midi = LOWEST_PITCH + logits.argmax(dim=1, keepdim=True).to(offset.dtype) + offset
        return NoteEncoding(midi_to_hz(midi), z, loud, logits, offset)

    # ---------------------------------------------------------------------------- decoder
    def controls(self, z: Tensor, f0_hz: Tensor) -> SynthControls:
        """Per-frame synth controls from a latent and a pitch curve (DDSP-scaled, Nyquist-masked).

        z [B, Z], f0_hz [B, F] -> SynthControls(amplitude [B, F], harmonic_distribution [B, F, H],
        noise_magnitudes [B, F, N]).
        """
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must be [B, {self.latent_dim}], got {tuple(z.shape)}")
        if f0_hz.dim() != 2 or f0_hz.shape[0] != z.shape[0]:
            raise ValueError(f"f0_hz must be [B, frames] with B = {z.shape[0]}, got {tuple(f0_hz.shape)}")
        amp, harm, noise = self.decoder(z, f0_hz)
        dist = normalize_harmonic_distribution(ddsp_scale(harm), f0_hz, self.sample_rate)
        return SynthControls(ddsp_scale(amp), dist, ddsp_scale(noise - 5.0))

    def synthesize(self, controls: SynthControls, f0_hz: Tensor, noise_seed: int | None = None) -> Tensor:
        """Harmonic synth + filtered noise from frame-rate controls, audio [B, F * hop]."""
        n_samples = f0_hz.shape[-1] * self.hop
        f0_up = frames_to_samples(f0_hz, self.hop)
        amp_up = frames_to_samples(controls.amplitude, self.hop)
        dist_up = frames_to_samples(controls.harmonic_distribution, self.hop)
        harmonic = harmonic_synth(f0_up, amp_up, dist_up, self.sample_rate, backend=self.synth_backend)
        if noise_seed is None and not self.training:
            noise_seed = 0
        gen = torch.Generator().manual_seed(noise_seed) if noise_seed is not None else None
        return harmonic + self.noise(controls.noise_magnitudes, n_samples, gen)

    def decode(self, z: Tensor, f0_hz: Tensor, noise_seed: int | None = None) -> Tensor:
        """(z [B, Z], f0_hz [B, F]) -> audio [B, F * hop]: the whole note from the latent and its pitch."""
        return self.synthesize(self.controls(z, f0_hz), f0_hz, noise_seed)

    def forward(self, audio: Tensor) -> tuple[Tensor, NoteEncoding]:
        """Encode, then decode with the encoder's own f0: (reconstruction [B, S], encoding)."""
        enc = self.encode(audio)
        return self.decode(enc.z, enc.f0_hz), enc


def f0_supervision_loss(
    enc_logits: Tensor, enc_offset: Tensor, f0_label_hz: Tensor, pitch_label: Tensor, mask: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """(cross-entropy of the pitch class, L1 of the per-frame offset in semitones) against the labels.

    enc_logits [B, 37] (MIDI 48..84), enc_offset [B, F] (semitones), f0_label_hz [B, F] (Hz > 0), pitch_label [B]
    (MIDI), mask [B, F] bool -> (scalar [], scalar []).

    The offset target is the labelled curve relative to the labelled MIDI pitch (vibrato, detune,
    glide), clamped to +-2 semitones; `mask` restricts it to sounding frames.
    """
    ce = F.cross_entropy(enc_logits, (pitch_label - LOWEST_PITCH).long())
    target = (hz_to_midi(f0_label_hz) - pitch_label[:, None].to(f0_label_hz.dtype)).clamp(-2.0, 2.0)
    err = (enc_offset - target).abs()
    if mask is not None:
        maskf = mask.to(err.dtype)
        l1 = (err * maskf).sum() / maskf.sum().clamp(min=1.0)
    else:
        l1 = err.mean()
    return ce, l1


def cpu_threads_for(cpu_threads: int | None, device: str | torch.device | None) -> AbstractContextManager:
    """Run a block with `cpu_threads` torch threads when on the CPU (None: leave torch's setting).

    One thread by default in chapter 6: this model is many small ops, and on a busy 2-core
    machine every op's OpenMP barrier waits for a descheduled thread (measured several times
    slower with 2 threads while other processes ran); on an idle machine 1 and 2 are close.
    """
    on_cpu = device is None or torch.device(device).type == "cpu"
    return torch_threads(cpu_threads) if (on_cpu and cpu_threads) else nullcontext()


# ------------------------------------------------------------------------------ weights (musicgan_lib.weights)
def save_autoencoder(
    model: NoteAutoencoder,
    path: str | Path = ASSET_PATH,
    extra_meta: Mapping[str, Any] | None = None,
    half: bool = True,
    *,
    steps: int = 0,
    train_seconds: float = 0.0,
    data: Mapping[str, Any] | str = "unrecorded notes",
) -> Path:
    """Write the model (fp16 weights by default, to keep the shipped file small) with its config and
    the standard metadata (steps, train_seconds, the `data` it learned from) plus `extra_meta`."""
    return save_weights(
        path,
        {"autoencoder": model},
        kind=KIND,
        config=dict(model.config),
        steps=steps,
        train_seconds=train_seconds,
        data=data,
        half=half,
        meta=extra_meta,
    )


def load_autoencoder(device: str | torch.device = "cpu", path: str | Path | None = None) -> NoteAutoencoder:
    """The shipped autoencoder, frozen, float32, in eval mode (deterministic noise), on `device`.

    Its metadata is `model.meta` (steps and train_seconds read as today's keys from older files too: `weights.read_weights_meta`).
    """
    path = Path(path) if path is not None else ASSET_PATH
    make = f"{MAKE_SCRIPT} --only autoencoder"  # 10-25 minutes on a 2-core CPU, or RETRAIN = True in notebook 06
    model = NoteAutoencoder(DDSPConfig(**read_weights_meta(path, kind=KIND, make_script=make)["config"]))
    meta, _ = load_weights(path, {"autoencoder": model}, kind=KIND, make_script=make, device=pick_device(device))
    model.meta = meta  # type: ignore[attr-defined]
    return model.requires_grad_(False)
