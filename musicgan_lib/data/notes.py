"""Synthetic instrument notes with exact labels: the note data the rest of the book uses.

Each note is a sum of partials (harmonic, stretched like a stiff string, or the inharmonic
modes of a struck bar) with a family-specific spectrum, amplitude envelope, decay of the
upper partials, vibrato and a band of noise, in the spirit of NSynth but made on the fly.
Because we make the sound, the labels are exact:

* ``f0_hz``      [N, frames]  the fundamental the synth played, one value per frame
* ``loudness_db`` [N, frames] A-weighted loudness measured from the audio (0 dB = full-scale 1 kHz sine)
* ``family``     [N]          index into FAMILIES
* ``pitch``      [N]          MIDI note number, ``velocity`` [N] MIDI velocity 1..127

Frames: FRAME_RATE = 250 per second (hop 64 samples at 16 kHz, as in DDSP); frame i describes
time i / 250 s, so a 1-second note has 250 frames. `upsample_frames` in audio.synth turns a
frame curve back into a per-sample curve exactly as the generator here does.

Note i of `make_notes(n, seed=s)` depends only on (s, i) and the settings, not on n, so
`make_notes(100, seed=s)` is the first 100 notes of `make_notes(10_000, seed=s)`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import torch

from ..audio.analysis import loudness_db, single_blas_thread
from ..checks import require_int, require_sample_rate
from ..audio.synth import TWO_PI, midi_to_hz, upsample_frames

SAMPLE_RATE = 16000
FRAME_RATE = 250
FAMILIES: tuple[str, ...] = (
    "plucked_string",
    "bowed_string",
    "reed",
    "brass",
    "flute",
    "mallet",
    "organ",
    "keyboard",
)
PITCH_RANGE = (48, 84)  # C3..C6 inclusive: three octaves
VELOCITY_RANGE = (40, 127)
MAX_PARTIALS = 48


@dataclass
class NoteBatch:
    """N notes of equal length with their labels (see the module docstring for the shapes)."""

    audio: torch.Tensor  # [N, samples] float32, roughly within +-1
    f0_hz: torch.Tensor  # [N, frames]
    loudness_db: torch.Tensor  # [N, frames]
    family: torch.Tensor  # [N] long, index into FAMILIES
    pitch: torch.Tensor  # [N] long, MIDI note number
    velocity: torch.Tensor  # [N] long, 1..127
    program: torch.Tensor | None = None  # [N] long, General MIDI program for SoundFont notes
    sr: int = SAMPLE_RATE
    frame_rate: int = FRAME_RATE
    source: str = "synthetic"
    extras: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.audio.shape[0]
        for name in ("f0_hz", "loudness_db", "family", "pitch", "velocity"):
            if getattr(self, name).shape[0] != n:
                raise ValueError(f"NoteBatch.{name} has {getattr(self, name).shape[0]} rows, audio has {n}")
        if self.f0_hz.shape != self.loudness_db.shape:
            raise ValueError(f"f0 {tuple(self.f0_hz.shape)} and loudness {tuple(self.loudness_db.shape)} differ")

    def __len__(self) -> int:
        return self.audio.shape[0]

    @property
    def hop(self) -> int:
        """Samples per label frame."""
        return self.sr // self.frame_rate

    @property
    def duration_s(self) -> float:
        return self.audio.shape[-1] / self.sr

    @property
    def family_names(self) -> list[str]:
        return [FAMILIES[int(i)] for i in self.family]

    def __getitem__(self, idx) -> NoteBatch:
        """A sub-batch: an int, slice, index tensor or boolean mask over notes."""
        if isinstance(idx, int):
            idx = [idx]  # keep the batch dimension
        kw = {}
        for f in fields(self):
            v = getattr(self, f.name)
            kw[f.name] = v[idx] if isinstance(v, torch.Tensor) else v
        return NoteBatch(**kw)

    def to(self, device) -> NoteBatch:
        return replace(
            self,
            **{
                f.name: getattr(self, f.name).to(device)
                for f in fields(self)
                if isinstance(getattr(self, f.name), torch.Tensor)
            },
        )

    def f0_samples(self) -> torch.Tensor:
        """The f0 label upsampled to audio rate [N, samples], as the synth used it."""
        return upsample_frames(self.f0_hz, self.audio.shape[-1])

    @staticmethod
    def cat(batches: Sequence[NoteBatch]) -> NoteBatch:
        """Concatenate batches of the same length, sample rate and frame rate."""
        first = batches[0]
        for b in batches[1:]:
            if (b.sr, b.frame_rate, b.audio.shape[-1]) != (first.sr, first.frame_rate, first.audio.shape[-1]):
                raise ValueError("can only concatenate notes with the same sr, frame rate and length")
        kw = {}
        for f in fields(first):
            vals = [getattr(b, f.name) for b in batches]
            if f.name == "program":  # synthetic notes have no program: -1
                kw[f.name] = (
                    None
                    if all(v is None for v in vals)
                    else torch.cat(
                        [
                            v if v is not None else torch.full((len(b),), -1, dtype=torch.long)
                            for v, b in zip(vals, batches)
                        ]
                    )
                )
            elif isinstance(vals[0], torch.Tensor):
                kw[f.name] = torch.cat(vals)
            elif f.name == "source":
                kw[f.name] = "+".join(dict.fromkeys(vals))
            else:
                kw[f.name] = vals[0]
        return NoteBatch(**kw)

    def save(self, path: str | Path) -> Path:
        """Write to a .safetensors file (tensors + JSON metadata), atomically."""
        import json
        import os

        from safetensors.torch import save_file

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {
            f.name: getattr(self, f.name).contiguous()
            for f in fields(self)
            if isinstance(getattr(self, f.name), torch.Tensor)
        }
        meta = {
            "sr": str(self.sr),
            "frame_rate": str(self.frame_rate),
            "source": self.source,
            "extras": json.dumps(self.extras),
        }
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        save_file(tensors, str(tmp), metadata=meta)
        os.replace(tmp, path)
        return path

    @staticmethod
    def load(path: str | Path) -> NoteBatch:
        import json

        from ..checkpoint import read_tensor_file

        tensors, meta = read_tensor_file(path)  # readable and finite, or a ValueError naming the file
        missing = [k for k in ("sr", "frame_rate", "source") if k not in meta]
        if missing:
            raise ValueError(
                f"{path} is not a saved NoteBatch (no {', '.join(missing)} in its metadata); delete it and make it again"
            )
        return NoteBatch(
            **tensors,
            sr=int(meta["sr"]),
            frame_rate=int(meta["frame_rate"]),
            source=meta["source"],
            extras=json.loads(meta.get("extras", "{}")),
        )


# --------------------------------------------------------------------------- the families

# Partial ratios of a free-free bar (xylophone/vibraphone-like, untuned overtones).
_BAR_RATIOS = np.array([1.0, 2.756, 5.404, 8.933, 13.34, 18.64])


def _note_params(family: int, pitch: int, velocity: int, duration: float, rng: np.random.Generator) -> dict:
    """Draw the synthesis parameters of one note: spectrum, envelopes, vibrato, noise."""
    name = FAMILIES[family]
    f0 = float(midi_to_hz(pitch))
    vel = velocity / 127.0
    ks = np.arange(1, MAX_PARTIALS + 1, dtype=np.float64)
    ratios = ks.copy()
    inharm = 0.0
    decay = np.zeros(MAX_PARTIALS)  # per-partial exponential decay (1/s)
    hold = duration * rng.uniform(0.6, 0.8)  # note-off time
    attack, release, sustain, dec_t = 0.01, 0.1, 1.0, 0.1
    vib_rate, vib_depth, vib_delay = 0.0, 0.0, 0.0  # Hz, cents, s
    noise_level, noise_band, noise_burst = 0.0, (500.0, 6000.0), False
    onset_glide = 0.0  # cents at the onset, decays in ~50 ms
    bright = 0.6 + 0.4 * vel  # louder notes are brighter
    if name == "plucked_string":
        p = rng.uniform(0.1, 0.25)  # pluck position along the string
        amps = np.abs(np.sin(np.pi * ks * p)) / ks ** (2.2 - 0.8 * bright) + 1e-3 / ks
        inharm = rng.uniform(2e-5, 1.5e-4)
        base = rng.uniform(1.5, 3.0) * (f0 / 220.0) ** 0.5
        decay = base * (1.0 + 0.15 * (ks - 1) ** 1.2)
        attack, sustain, release = 0.003, 1.0, 0.08
        noise_level, noise_band, noise_burst = 0.05, (1500.0, 7000.0), True
    elif name == "bowed_string":
        amps = 1.0 / ks ** (1.3 - 0.4 * bright)
        body = 1.0 + 0.8 * np.sin(ks * f0 / rng.uniform(350.0, 500.0) + rng.uniform(0, TWO_PI))  # body resonances
        amps = amps * body
        attack, dec_t, sustain, release = rng.uniform(0.05, 0.15), 0.1, 0.85, rng.uniform(0.1, 0.2)
        vib_rate, vib_depth, vib_delay = rng.uniform(5.0, 6.5), rng.uniform(10.0, 25.0), rng.uniform(0.1, 0.25)
        noise_level, noise_band = 0.03, (2000.0, 7500.0)
    elif name == "reed":
        amps = 1.0 / ks ** (1.4 - 0.5 * bright)
        amps[1::2] *= rng.uniform(0.05, 0.2)  # a cylindrical bore: weak even harmonics (clarinet)
        attack, dec_t, sustain, release = rng.uniform(0.02, 0.05), 0.08, 0.9, 0.06
        vib_rate, vib_depth, vib_delay = rng.uniform(4.5, 5.5), rng.uniform(0.0, 8.0), 0.2
        noise_level, noise_band = 0.04, (1000.0, 5000.0)
    elif name == "brass":
        amps = 1.0 / ks ** (2.2 - 1.3 * bright)
        amps[0] *= 0.6
        attack, dec_t, sustain, release = rng.uniform(0.03, 0.06), 0.15, 0.8, 0.08
        onset_glide = -rng.uniform(20.0, 50.0)  # lips settle onto the pitch from below
        vib_rate, vib_depth, vib_delay = 5.0, rng.uniform(0.0, 6.0), 0.3
        noise_level, noise_band = 0.02, (500.0, 4000.0)
    elif name == "flute":
        amps = 1.0 / ks**3.0
        amps[1] = rng.uniform(0.2, 0.5)
        attack, dec_t, sustain, release = rng.uniform(0.04, 0.09), 0.1, 0.9, 0.08
        vib_rate, vib_depth, vib_delay = rng.uniform(4.5, 5.5), rng.uniform(8.0, 20.0), 0.15
        noise_level, noise_band = 0.12, (max(f0 * 0.8, 300.0), min(f0 * 6, 7500.0))
    elif name == "mallet":
        nb = len(_BAR_RATIOS)
        ratios = np.concatenate([_BAR_RATIOS, np.full(MAX_PARTIALS - nb, 1.0)])
        amps = np.zeros(MAX_PARTIALS)
        amps[:nb] = np.array([1.0, 0.5, 0.3, 0.15, 0.08, 0.04]) * rng.uniform(0.6, 1.4, nb) * bright ** np.arange(nb)
        decay = np.zeros(MAX_PARTIALS)
        decay[:nb] = rng.uniform(2.0, 5.0) * (1.0 + 1.5 * np.arange(nb))
        attack, sustain, release = 0.001, 1.0, 0.05
        noise_level, noise_band, noise_burst = 0.15, (2000.0, 7500.0), True
    elif name == "organ":
        amps = np.zeros(MAX_PARTIALS)
        drawbars = {
            1: 1.0,
            2: rng.uniform(0.3, 1.0),
            3: rng.uniform(0.2, 0.8),
            4: rng.uniform(0.2, 0.7),
            6: rng.uniform(0.0, 0.5),
            8: rng.uniform(0.0, 0.5),
        }
        for h, a in drawbars.items():
            amps[h - 1] = a
        attack, dec_t, sustain, release = 0.005, 0.05, 1.0, 0.02
        vib_rate, vib_depth = rng.uniform(6.0, 7.0), rng.uniform(0.0, 5.0)  # a slow Leslie-ish wobble
        noise_level, noise_band = 0.01, (3000.0, 7500.0)
    elif name == "keyboard":
        p = 1.0 / rng.uniform(7.0, 9.0)  # hammer strikes near 1/8 of the string
        amps = (0.3 + np.abs(np.sin(np.pi * ks * p))) / ks ** (2.0 - 0.8 * bright)
        inharm = rng.uniform(1e-4, 4e-4) * (f0 / 262.0)
        base = rng.uniform(0.8, 1.6) * (f0 / 262.0) ** 0.6
        decay = base * (1.0 + 0.25 * (ks - 1))
        attack, sustain, release = 0.002, 1.0, 0.15
        noise_level, noise_band, noise_burst = 0.04, (300.0, 4000.0), True
    else:  # pragma: no cover - FAMILIES and this function must agree
        raise AssertionError(name)
    if inharm:
        ratios = ks * np.sqrt(1.0 + inharm * ks**2)
    detune = rng.normal(0.0, 3.0)  # a player is never exactly in tune (cents)
    amps = amps * rng.uniform(0.85, 1.15, MAX_PARTIALS)
    return dict(
        family=name,
        f0=f0 * 2.0 ** (detune / 1200.0),
        ratios=ratios,
        amps=amps,
        decay=decay,
        hold=hold,
        attack=attack,
        dec_t=dec_t,
        sustain=sustain,
        release=release,
        vib_rate=vib_rate,
        vib_depth=vib_depth,
        vib_delay=vib_delay,
        vib_phase=rng.uniform(0, TWO_PI),
        onset_glide=onset_glide,
        noise_level=noise_level,
        noise_band=noise_band,
        noise_burst=noise_burst,
        gain=10.0 ** ((velocity - 127) / 127.0 * 30.0 / 20.0),  # velocity 40..127 spans ~20 dB
        noise_seed=int(rng.integers(2**31)),
    )


def _frame_curves(params: list[dict], n_frames: int, frame_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """f0 curve [N, frames] (vibrato, onset glide) and amplitude envelope [N, frames] per note."""
    t = np.arange(n_frames, dtype=np.float64) / frame_rate
    f0s = np.empty((len(params), n_frames))
    envs = np.empty((len(params), n_frames))
    for i, p in enumerate(params):
        cents = p["onset_glide"] * np.exp(-t / 0.05)
        if p["vib_depth"] > 0:
            ramp = np.clip((t - p["vib_delay"]) / 0.2, 0.0, 1.0)
            cents = cents + p["vib_depth"] * ramp * np.sin(TWO_PI * p["vib_rate"] * t + p["vib_phase"])
        f0s[i] = p["f0"] * 2.0 ** (cents / 1200.0)
        att = np.minimum(t / p["attack"], 1.0)
        dec = p["sustain"] + (1 - p["sustain"]) * np.exp(-np.maximum(t - p["attack"], 0) / p["dec_t"] * 3.0)
        on = np.where(t < p["attack"], att, dec)
        off_level = p["sustain"] + (1 - p["sustain"]) * math.exp(-max(p["hold"] - p["attack"], 0) / p["dec_t"] * 3.0)
        rel = off_level * np.exp(-np.maximum(t - p["hold"], 0) / p["release"] * 4.0)
        envs[i] = np.where(t < p["hold"], on, rel)
        if n_frames > 1:
            envs[i, -1] = 0.0  # every note ends in silence
    return f0s.astype(np.float32), envs.astype(np.float32)


def _upsample(frames: np.ndarray, hop: int, n_samples: int) -> np.ndarray:
    """Frame i at sample i * hop, linear in between, last frame held (as audio.synth.upsample_frames)."""
    n_frames = frames.shape[1]
    pos = np.arange(n_samples) / hop
    i0 = np.minimum(pos.astype(np.int64), n_frames - 1)
    i1 = np.minimum(i0 + 1, n_frames - 1)
    w = (np.minimum(pos, n_frames - 1) - i0).astype(np.float32)
    return frames[:, i0] * (1 - w) + frames[:, i1] * w


_TABLE = 4096  # wavetable length: linear interpolation error of harmonic 48 is below -70 dB
_BLOCK = 128  # block length of the damped-partials matrix product
_DAMPED = ("plucked_string", "mallet", "keyboard")  # constant pitch, each partial decays on its own


def _wavetable_voices(params: list[dict], f0: np.ndarray, sr: int) -> np.ndarray:
    """Sustained families: a fixed harmonic spectrum played at a moving f0 is one waveform
    period (a wavetable) read at the oscillator's phase, so the cost does not grow with the
    number of harmonics. Harmonics above Nyquist at the note's highest f0 are left out.

    The phase is a float64 running sum of f0 / sr (cycles), wrapped to [0, 1): exact to far
    below a sample for notes of any practical length."""
    n = f0.shape[0]
    fmax = f0.max(axis=1).astype(np.float64)
    k = np.arange(1, MAX_PARTIALS + 1)
    amps = np.stack([p["amps"] for p in params]) * (k[None, :] * fmax[:, None] < sr / 2 * 0.95)
    coef = np.zeros((n, _TABLE // 2 + 1), dtype=np.complex128)
    coef[:, 1 : MAX_PARTIALS + 1] = -0.5j * amps * _TABLE  # sum_k a_k sin(2 pi k x)
    tables = np.fft.irfft(coef, n=_TABLE, axis=1)
    tables /= np.maximum(np.abs(tables).max(axis=1, keepdims=True), 1e-9)  # peak 1
    tables = tables.astype(np.float32)
    cycles = np.cumsum(f0.astype(np.float64) / sr, axis=1)
    pos = ((cycles - np.floor(cycles)) * _TABLE).astype(np.float32)
    i0 = np.minimum(pos.astype(np.int64), _TABLE - 1)
    frac = pos - i0
    flat = np.concatenate([tables, tables[:, :1]], axis=1).ravel()  # one guard sample per table
    i0 += (np.arange(n) * (_TABLE + 1))[:, None]
    v0 = flat[i0]
    return v0 + frac * (flat[i0 + 1] - v0)


def _damped_voices(params: list[dict], n_samples: int, sr: int) -> np.ndarray:
    """Plucked and struck families: partials of constant frequency, each decaying at its own rate.

    Sample b*L + j of partial k is A_k z_k^(bL) * z_k^j with z_k = exp((-d_k + i w_k) / sr),
    so the sum over partials of a whole note is one matrix product [blocks, 2K] @ [2K, L]:
    BLAS does the work instead of K passes over the signal. The block starting values are
    computed in float64 and wrapped, so phases stay exact to the end of the note.
    """
    n = len(params)
    n_blocks = -(-n_samples // _BLOCK)
    freqs = np.stack([p["f0"] * p["ratios"] for p in params])  # [N, K]
    amps = np.stack([p["amps"] for p in params])
    amps = np.where(freqs < sr / 2 * 0.95, amps, 0.0)
    amps = amps / np.maximum(np.abs(amps).sum(axis=1, keepdims=True), 1e-9)
    decay = np.stack([p["decay"] for p in params])
    live = np.nonzero((np.abs(amps) > 0).any(axis=0))[0]
    k = int(live.max()) + 1 if len(live) else 1
    freqs, amps, decay = freqs[:, :k], amps[:, :k], decay[:, :k]
    tb = np.arange(n_blocks) * (_BLOCK / sr)  # block start times
    tj = np.arange(_BLOCK) / sr
    # left: amplitude and phase at each block start [N, B, K]
    env_b = amps[:, None, :] * np.exp(np.maximum(-decay[:, None, :] * tb[None, :, None], -60.0))
    ph_b = np.remainder(freqs[:, None, :] * tb[None, :, None], 1.0) * TWO_PI
    left = np.concatenate([env_b * np.sin(ph_b), env_b * np.cos(ph_b)], axis=2).astype(np.float32)
    # right: evolution inside a block [N, K, L]
    env_j = np.exp(-decay[:, :, None] * tj[None, None, :])
    ph_j = TWO_PI * freqs[:, :, None] * tj[None, None, :]
    right = np.concatenate([env_j * np.cos(ph_j), env_j * np.sin(ph_j)], axis=1).astype(np.float32)
    return np.matmul(left, right).reshape(n, -1)[:, :n_samples]


_NOISE: np.ndarray | None = None


def _noise_table() -> np.ndarray:
    """2^20 samples of fixed white noise; each note reads its own stretch (cheaper than a fresh draw)."""
    global _NOISE
    if _NOISE is None:
        _NOISE = np.random.default_rng(20240605).standard_normal(1 << 20, dtype=np.float32)
    return _NOISE


def _render(params: list[dict], n_samples: int, sr: int, frame_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Audio [N, samples] and f0 label [N, frames] for a list of note parameters.

    NumPy on one core by design: these arrays are small, and on a busy machine multi-threaded
    tensor ops spend more time waiting for each other than computing.
    """
    n = len(params)
    hop = sr // frame_rate
    n_frames = -(-n_samples // hop)
    f0_frames, env_frames = _frame_curves(params, n_frames, frame_rate)
    env = _upsample(env_frames, hop, n_samples)
    damped = np.array([p["family"] in _DAMPED for p in params])
    audio = np.empty((n, n_samples), dtype=np.float32)
    if damped.any():
        idx = np.nonzero(damped)[0]
        audio[idx] = _damped_voices([params[i] for i in idx], n_samples, sr)
    if (~damped).any():
        idx = np.nonzero(~damped)[0]
        audio[idx] = _wavetable_voices([params[i] for i in idx], _upsample(f0_frames[idx], hop, n_samples), sr)
    audio *= env

    # the noisy part: band-limited noise with a burst envelope (plucks, strikes) or the note's envelope
    table = _noise_table()
    if n_samples < len(table) // 2:
        starts = np.array([p["noise_seed"] % (len(table) - n_samples) for p in params])
        noise = table[starts[:, None] + np.arange(n_samples)[None, :]]
    else:  # very long notes: a fresh draw per note
        noise = np.stack(
            [np.random.default_rng(p["noise_seed"]).standard_normal(n_samples, dtype=np.float32) for p in params]
        )
    spec = np.fft.rfft(noise, axis=1)
    freqs = np.fft.rfftfreq(n_samples, 1.0 / sr)
    lo = np.array([p["noise_band"][0] for p in params])[:, None]
    hi = np.array([p["noise_band"][1] for p in params])[:, None]
    noise = np.fft.irfft(spec * ((freqs >= lo) & (freqs <= hi)), n=n_samples, axis=1).astype(np.float32)
    noise /= np.maximum(np.sqrt((noise**2).mean(axis=1, keepdims=True)), 1e-9)
    t = np.arange(n_samples, dtype=np.float32) / sr
    burst = np.exp(np.maximum(-t / 0.015, -60.0))
    is_burst = np.array([p["noise_burst"] for p in params])[:, None]
    noise_env = np.where(is_burst, burst * env, env)
    level = np.array([p["noise_level"] for p in params], dtype=np.float32)[:, None]
    audio += level * 0.3 * noise * noise_env
    gain = np.array([p["gain"] for p in params], dtype=np.float32)[:, None]
    return (0.8 * gain * audio).astype(np.float32), f0_frames


def synth_notes(
    families: Sequence[int | str],
    pitches: Sequence[int],
    velocities: Sequence[int] | int = 100,
    duration: float = 1.0,
    *,
    seed: int = 0,
    sr: int = SAMPLE_RATE,
    frame_rate: int = FRAME_RATE,
    index_offset: int = 0,
    chunk: int = 64,
) -> NoteBatch:
    """Render the notes you name: one per (family, pitch, velocity) triple, labels included.

    Families may be names from FAMILIES or their indices. Note i's random details (pluck
    position, vibrato, noise, ...) come from the stream (seed, index_offset + i).
    """
    require_sample_rate(sr, integer=True)
    require_int("frame_rate", frame_rate)
    if sr % frame_rate:
        raise ValueError(
            f"sr ({sr}) must be a multiple of frame_rate ({frame_rate}): a frame is a whole number of samples"
        )
    fam = [FAMILIES.index(f) if isinstance(f, str) else int(f) for f in families]
    n = len(fam)
    if isinstance(velocities, int):
        velocities = [velocities] * n
    if not (len(pitches) == len(velocities) == n):
        raise ValueError(f"need as many pitches ({len(pitches)}) and velocities ({len(velocities)}) as families ({n})")
    for f in fam:
        if not 0 <= f < len(FAMILIES):
            raise ValueError(f"family index {f} out of range 0..{len(FAMILIES) - 1} ({', '.join(FAMILIES)})")
    for v in velocities:
        if not 1 <= int(v) <= 127:
            raise ValueError(f"velocity {v} outside MIDI range 1..127")
    if sr % frame_rate:
        raise ValueError(f"sr {sr} must be a multiple of frame_rate {frame_rate}")
    n_samples = int(round(duration * sr))
    if n_samples < sr // frame_rate:
        raise ValueError(f"duration {duration} s is shorter than one frame")
    params = [
        _note_params(
            fam[i], int(pitches[i]), int(velocities[i]), duration, np.random.default_rng([seed, index_offset + i])
        )
        for i in range(n)
    ]
    n_frames = -(-n_samples // (sr // frame_rate))
    audio = np.empty((n, n_samples), dtype=np.float32)
    f0 = np.empty((n, n_frames), dtype=np.float32)
    loud = np.empty((n, n_frames), dtype=np.float32)
    with single_blas_thread():
        for start in range(0, n, chunk):  # chunks keep the working set in cache and memory bounded
            a, f = _render(params[start : start + chunk], n_samples, sr, frame_rate)
            audio[start : start + chunk] = a
            f0[start : start + chunk] = f
            loud[start : start + chunk] = loudness_db(a, sr, hop=sr // frame_rate, n_frames=n_frames)
    return NoteBatch(
        audio=torch.from_numpy(audio),
        f0_hz=torch.from_numpy(f0),
        loudness_db=torch.from_numpy(loud),
        family=torch.tensor(fam, dtype=torch.long),
        pitch=torch.tensor([int(p) for p in pitches], dtype=torch.long),
        velocity=torch.tensor([int(v) for v in velocities], dtype=torch.long),
        program=None,
        sr=sr,
        frame_rate=frame_rate,
        source="synthetic",
    )


def random_labels(
    n: int,
    seed: int = 0,
    *,
    families: Sequence[int | str] | None = None,
    pitch_range: tuple[int, int] = PITCH_RANGE,
    velocity_range: tuple[int, int] = VELOCITY_RANGE,
    index_offset: int = 0,
) -> tuple[list[int], list[int], list[int]]:
    """(families, pitches, velocities) for n notes: uniform over the families, pitches (inclusive
    range) and velocities; label i depends only on (seed, index_offset + i)."""
    fams = [FAMILIES.index(f) if isinstance(f, str) else int(f) for f in (families or range(len(FAMILIES)))]
    lo, hi = pitch_range
    if lo > hi or lo < 0 or hi > 127:
        raise ValueError(f"pitch_range {pitch_range} must be MIDI notes lo <= hi within 0..127")
    out_f, out_p, out_v = [], [], []
    for i in range(n):
        u = np.random.default_rng([seed, index_offset + i, 1]).random(3)
        out_f.append(fams[int(u[0] * len(fams))])
        out_p.append(lo + int(u[1] * (hi - lo + 1)))
        out_v.append(velocity_range[0] + int(u[2] * (velocity_range[1] - velocity_range[0] + 1)))
    return out_f, out_p, out_v


def make_notes(
    n: int,
    duration: float = 1.0,
    *,
    seed: int = 0,
    families: Sequence[int | str] | None = None,
    pitch_range: tuple[int, int] = PITCH_RANGE,
    velocity_range: tuple[int, int] = VELOCITY_RANGE,
    sr: int = SAMPLE_RATE,
    frame_rate: int = FRAME_RATE,
    index_offset: int = 0,
) -> NoteBatch:
    """A data set of n random synthetic notes of `duration` seconds with exact labels.

    Families, pitches and velocities are drawn uniformly (pass `families` to restrict them,
    `index_offset` to draw a disjoint split with the same seed, e.g. a test set).
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    fam, pit, vel = random_labels(
        n, seed, families=families, pitch_range=pitch_range, velocity_range=velocity_range, index_offset=index_offset
    )
    return synth_notes(fam, pit, vel, duration, seed=seed, sr=sr, frame_rate=frame_rate, index_offset=index_offset)
