"""Readable additive synthesis: oscillators, sums of sine partials, ADSR envelopes, filtered noise.

Everything here is plain PyTorch on tensors shaped [..., time] so the same functions serve
chapter 5's demonstrations and the autoencoder's decoder later. The one subtle piece is the
phase: a sine at frequency f(t) has phase 2*pi * cumsum(f / sr). Summed naively in float32
over a long note the running sum reaches thousands of cycles and loses its fractional part
(audible as pitch wobble and phase jumps). `phase_from_frequency` sums within short blocks
in float32 and carries the block offsets in float64, wrapped to one cycle, so the phase stays
exact to float32 resolution however long the note is.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

TWO_PI = 2.0 * math.pi


def midi_to_hz(pitch: float | torch.Tensor) -> float | torch.Tensor:
    """Equal-tempered frequency of a MIDI note number (69 = A4 = 440 Hz)."""
    return 440.0 * 2.0 ** ((pitch - 69.0) / 12.0)


def hz_to_midi(freq_hz: float | torch.Tensor) -> float | torch.Tensor:
    """MIDI note number (fractional) of a frequency in Hz."""
    if isinstance(freq_hz, torch.Tensor):
        return 69.0 + 12.0 * torch.log2(freq_hz / 440.0)
    return 69.0 + 12.0 * math.log2(freq_hz / 440.0)


def upsample_frames(frames: torch.Tensor, n_samples: int) -> torch.Tensor:
    """Linearly interpolate a frame-rate control signal [..., n_frames] to audio rate [..., n_samples].

    Frame i sits at sample i * hop with hop = n_samples / n_frames; the last frame is held
    to the end. This is how frame-rate labels (f0, loudness, partial amplitudes) drive a synth.
    """
    n_frames = frames.shape[-1]
    if n_frames == n_samples:
        return frames
    lead = frames.shape[:-1]
    x = frames.reshape(-1, 1, n_frames)
    if n_samples % n_frames == 0 and n_frames > 1:
        # integer hop: frame i lands exactly on sample i * hop, then hold for the last hop - 1
        hop = n_samples // n_frames
        out = F.interpolate(x, size=(n_frames - 1) * hop + 1, mode="linear", align_corners=True)
        out = F.pad(out, (0, hop - 1), mode="replicate")
        return out.reshape(*lead, n_samples)
    hop = n_samples / n_frames
    pos = (torch.arange(n_samples, device=frames.device, dtype=torch.float64) / hop).clamp(max=n_frames - 1)
    lo = pos.floor().long()
    hi = (lo + 1).clamp(max=n_frames - 1)
    w = (pos - lo).to(frames.dtype)
    x = x.reshape(-1, n_frames)
    out = x[:, lo] * (1 - w) + x[:, hi] * w
    return out.reshape(*lead, n_samples)


def phase_from_frequency(
    freq_hz: torch.Tensor, sr: int, *, block: int = 64, initial_phase: torch.Tensor | float = 0.0
) -> torch.Tensor:
    """Phase in radians, wrapped to [0, 2*pi), of an oscillator with per-sample frequency [..., T].

    phase[n] = initial_phase + 2*pi * sum_{i<=n} freq[i] / sr  (the DDSP convention: the
    first sample has already advanced by one step). Sums run in float32 inside blocks of
    `block` samples; block offsets are accumulated in float64 and wrapped, so there is no
    drift on notes of any length.
    """
    if sr <= 0:
        raise ValueError(f"sample rate must be positive, got {sr}")
    dtype = freq_hz.dtype if freq_hz.dtype in (torch.float32, torch.float64) else torch.float32
    cycles = freq_hz.to(dtype) / sr  # cycles advanced per sample
    n = cycles.shape[-1]
    pad = (-n) % block
    if pad:
        cycles = F.pad(cycles, (0, pad))
    blocks = cycles.reshape(*cycles.shape[:-1], -1, block)
    within = torch.cumsum(blocks, dim=-1)  # small numbers: at most block/2 cycles
    totals = within[..., -1].to(torch.float64)
    offsets = torch.cumsum(totals, dim=-1) - totals  # cycles before each block
    if isinstance(initial_phase, torch.Tensor):
        offsets = offsets + (initial_phase.to(torch.float64) / TWO_PI).unsqueeze(-1)
    elif initial_phase:
        offsets = offsets + initial_phase / TWO_PI
    offsets = torch.remainder(offsets, 1.0).to(dtype)
    phase = torch.remainder(within + offsets.unsqueeze(-1), 1.0)
    phase = phase.reshape(*cycles.shape[:-1], -1)[..., :n]
    return phase * TWO_PI


def sine(
    freq_hz: float | torch.Tensor,
    duration_s: float,
    sr: int = 16000,
    amplitude: float | torch.Tensor = 1.0,
    phase: float = 0.0,
) -> torch.Tensor:
    """A sine wave [T]; freq_hz may be a number or a per-sample curve (a glide, a vibrato)."""
    n = int(round(duration_s * sr))
    if isinstance(freq_hz, torch.Tensor) and freq_hz.dim() > 0:
        f = upsample_frames(freq_hz.float(), n)
    else:
        f = torch.full((n,), float(freq_hz))
    # start at `phase`: subtract the first step so that sample 0 has exactly that phase
    ph = phase_from_frequency(f, sr, initial_phase=phase - TWO_PI * float(f[0]) / sr)
    return amplitude * torch.sin(ph)


def nyquist_mask(freq_hz: torch.Tensor, sr: int, margin: float = 0.0) -> torch.Tensor:
    """1.0 where a partial lies below the Nyquist frequency (minus margin Hz), else 0.0.

    A partial above sr/2 does not vanish when sampled: it folds back as an unrelated
    lower tone (aliasing). Synths therefore silence such partials instead of rendering them.
    """
    return (freq_hz < sr / 2 - margin).to(freq_hz.dtype)


def additive(
    freqs_hz: torch.Tensor,
    amps: torch.Tensor,
    sr: int = 16000,
    n_samples: int | None = None,
    phases: torch.Tensor | None = None,
) -> torch.Tensor:
    """Sum of sine partials: freqs and amps are [..., K, T] (audio rate) or [..., K, frames].

    Frame-rate controls are linearly upsampled to n_samples. Partials at or above Nyquist
    are zeroed sample by sample. `phases` [..., K] are the starting phases (default 0).
    Returns [..., T].
    """
    if freqs_hz.dim() == 1:
        freqs_hz = freqs_hz.unsqueeze(-1)
    if amps.dim() == 1:
        amps = amps.unsqueeze(-1)
    if n_samples is None:
        n_samples = max(freqs_hz.shape[-1], amps.shape[-1])
        if n_samples == 1:
            raise ValueError("constant partials need n_samples to say how long the sound is")
    f = upsample_frames(freqs_hz, n_samples) if freqs_hz.shape[-1] != n_samples else freqs_hz
    a = upsample_frames(amps, n_samples) if amps.shape[-1] != n_samples else amps
    f, a = torch.broadcast_tensors(f, a)
    ph = phase_from_frequency(f, sr, initial_phase=phases if phases is not None else 0.0)
    return (a * nyquist_mask(f, sr) * torch.sin(ph)).sum(dim=-2)


def harmonic(
    f0_hz: torch.Tensor,
    harmonic_amps: torch.Tensor,
    sr: int = 16000,
    n_samples: int | None = None,
    inharmonicity: float | torch.Tensor = 0.0,
) -> torch.Tensor:
    """Harmonic (or stiff-string) tone: partial k at k * f0 * sqrt(1 + B k^2).

    f0_hz [..., T or frames], harmonic_amps [..., K, T or frames] or [..., K] (constant).
    B = inharmonicity (0 for an ideal string, ~1e-4..1e-3 for guitar and piano strings).
    """
    n_samples = n_samples or f0_hz.shape[-1]
    if harmonic_amps.dim() == f0_hz.dim():  # [..., K]: constant in time
        harmonic_amps = harmonic_amps.unsqueeze(-1)
    elif harmonic_amps.dim() != f0_hz.dim() + 1:
        raise ValueError(
            f"harmonic_amps must be [..., K] or [..., K, frames] for f0 {tuple(f0_hz.shape)}, "
            f"got {tuple(harmonic_amps.shape)}"
        )
    k = harmonic_amps.shape[-2]
    ks = torch.arange(1, k + 1, dtype=f0_hz.dtype, device=f0_hz.device)
    b = torch.as_tensor(inharmonicity, dtype=f0_hz.dtype, device=f0_hz.device)
    ratios = ks * torch.sqrt(1.0 + b.unsqueeze(-1) * ks**2)  # [..., K] or [K]
    f0 = upsample_frames(f0_hz, n_samples)
    freqs = f0.unsqueeze(-2) * ratios.unsqueeze(-1)
    return additive(freqs, harmonic_amps, sr, n_samples)


def adsr(
    n_samples: int,
    sr: int,
    attack: float = 0.01,
    decay: float = 0.1,
    sustain: float = 0.7,
    release: float = 0.2,
    note_off: float | None = None,
) -> torch.Tensor:
    """Attack-decay-sustain-release envelope [T] (times in seconds, sustain a level in 0..1).

    Linear attack to 1, exponential-looking decay to the sustain level, hold until note_off
    (default: the end minus the release), then release to 0. Release starts from wherever
    the envelope is at note_off, so short notes do not jump.
    """
    if not 0.0 <= sustain <= 1.0:
        raise ValueError(f"sustain is a level between 0 and 1, got {sustain}")
    t = torch.arange(n_samples, dtype=torch.float32) / sr
    if note_off is None:
        note_off = max(n_samples / sr - release, 0.0)
    att = (t / attack).clamp(max=1.0) if attack > 0 else torch.ones_like(t)
    dec_t = (t - attack).clamp(min=0.0)
    dec = sustain + (1.0 - sustain) * torch.exp(-dec_t / max(decay, 1e-6) * 3.0)  # ~5 % left after `decay`
    on = torch.where(t < attack, att, dec)
    level_at_off = float(on[min(int(note_off * sr), n_samples - 1)]) if n_samples else 0.0
    rel = level_at_off * (1.0 - ((t - note_off) / max(release, 1e-6))).clamp(0.0, 1.0)
    return torch.where(t < note_off, on, rel)


def filtered_noise(
    n_samples: int,
    sr: int = 16000,
    low_hz: float = 0.0,
    high_hz: float | None = None,
    generator: torch.Generator | None = None,
    batch: tuple[int, ...] = (),
) -> torch.Tensor:
    """White Gaussian noise band-limited to [low_hz, high_hz] with an FFT mask; unit RMS.

    Breath in a flute, the scrape of a bow, the thump of a mallet: the noisy part of a
    sound that no sum of a few sines captures.
    """
    high_hz = sr / 2 if high_hz is None else high_hz
    if not 0 <= low_hz < high_hz:
        raise ValueError(f"need 0 <= low_hz < high_hz, got {low_hz}, {high_hz}")
    white = torch.randn(*batch, n_samples, generator=generator)
    spec = torch.fft.rfft(white)
    freqs = torch.fft.rfftfreq(n_samples, 1.0 / sr)
    spec = spec * ((freqs >= low_hz) & (freqs <= high_hz))
    out = torch.fft.irfft(spec, n=n_samples)
    return out / out.pow(2).mean(dim=-1, keepdim=True).sqrt().clamp(min=1e-12)
