"""Readable additive synthesis: oscillators, sums of sine partials, ADSR envelopes, filtered noise.

Everything here is plain PyTorch on tensors shaped [..., time] so the same functions serve
chapter 5's demonstrations and the autoencoder's decoder later. The one subtle piece is the
phase: a sine at frequency f(t) has phase 2*pi * cumsum(f / sr). Summed naively in float32
over a long note the running sum reaches thousands of cycles and loses its fractional part
(audible as pitch wobble and phase jumps). `phase_from_frequency` sums within short blocks
in float32 and carries the block offsets in float64, wrapped to one cycle, so the phase stays
exact to float32 resolution however long the note is.

Every public function checks its arguments and raises a TypeError or ValueError that names the
argument, the bad value and what is expected: sample rates are positive finite numbers of Hz,
lengths and counts are at least 1, frequencies are finite and >= 0 Hz (0 Hz is silence, as for
an unvoiced frame; a negative frequency would slip past the Nyquist mask and alias), and
`sine` refuses a frequency at or above Nyquist instead of letting it fold back. Integer
tensors, lists and arrays are converted to float. Tensor values (NaN/Inf, negatives) are
checked here because these are user-facing functions; the training-time synth in
`kernels.harmonic_synth` checks only what costs no device sync.
"""

from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F

from ..checks import require_int, require_number, require_sample_rate

TWO_PI = 2.0 * math.pi


# ----------------------------------------------------------------------------- argument checks


def _as_signal(name: str, x, *, layout: str, min_dim: int = 1, hz: bool = False) -> torch.Tensor:
    """x as a real floating tensor with at least min_dim axes and finite values (>= 0 when `hz`).

    Numbers, lists, arrays and integer tensors are converted to float; the errors name `name`
    and the expected `layout`. Reads the values, so it is for user-facing functions only.
    """
    if isinstance(x, bool):
        raise TypeError(f"{name} must be a tensor or numbers, got {x!r}")
    if not isinstance(x, torch.Tensor):
        try:
            x = torch.tensor(float(x)) if isinstance(x, numbers.Real) else torch.as_tensor(x)
        except (TypeError, ValueError, RuntimeError) as e:
            raise TypeError(f"{name} must be a tensor (or numbers), got {type(x).__name__}") from e
    if x.is_complex():
        raise TypeError(f"{name} must be real, got a {x.dtype} tensor")
    if not x.is_floating_point():
        x = x.float()
    if x.dim() < min_dim:
        raise ValueError(f"{name} must be {layout}, got shape {tuple(x.shape)}")
    bad = ~torch.isfinite(x)
    if bad.any():
        first = tuple(bad.nonzero()[0].tolist())
        raise ValueError(f"{name} has {int(bad.sum())} NaN/Inf values (the first at index {first}); it must be finite")
    if hz and x.numel() and float(x.min()) < 0:
        raise ValueError(
            f"{name} must be >= 0 Hz (0 is silence), got {float(x.min()):g} Hz: a negative frequency would "
            "slip past the Nyquist mask and alias"
        )
    return x


def _alias_hz(freq: float, sr: float) -> float:
    """The frequency a sampled sine at `freq` is heard at: folded into [0, sr/2]."""
    return abs((freq + sr / 2) % sr - sr / 2)


# ----------------------------------------------------------------------------- synthesis


def midi_to_hz(pitch: float | torch.Tensor) -> float | torch.Tensor:
    """Equal-tempered frequency of a MIDI note number (69 = A4 = 440 Hz): a number, or a tensor [*S] of any shape S
    (-> Hz [*S]).

    A number must be finite; tensor values are not checked (this runs inside training).
    """
    if isinstance(pitch, numbers.Real):
        require_number("pitch", pitch)
    return 440.0 * 2.0 ** ((pitch - 69.0) / 12.0)


def hz_to_midi(freq_hz: float | torch.Tensor) -> float | torch.Tensor:
    """MIDI note number (fractional) of a frequency in Hz: a number, or a tensor [*S] of any shape S
    (-> MIDI [*S]).

    A number must be finite and > 0; tensor values are not checked (this runs inside training,
    where callers clamp f0 first): 0 Hz gives -inf there.
    """
    if isinstance(freq_hz, torch.Tensor):
        return 69.0 + 12.0 * torch.log2(freq_hz / 440.0)
    return 69.0 + 12.0 * math.log2(require_number("freq_hz", freq_hz, low=0.0, low_open=True) / 440.0)


def upsample_frames(frames: torch.Tensor, n_samples: int) -> torch.Tensor:
    """Linearly interpolate a frame-rate control signal [..., n_frames] to audio rate [..., n_samples].

    frames [..., F] -> [..., T] with F = n_frames, T = n_samples (frames' float dtype, else float32).

    Frame i sits at sample i * hop with hop = n_samples / n_frames; the last frame is held
    to the end. This is how frame-rate labels (f0, loudness, partial amplitudes) drive a synth.
    Integer frames are converted to float; the values are not checked (NaN stays NaN).
    """
    if not isinstance(frames, torch.Tensor):
        raise TypeError(f"frames must be a tensor [..., n_frames], got {type(frames).__name__}")
    if frames.dim() == 0 or frames.shape[-1] == 0:
        raise ValueError(f"frames must be [..., n_frames] with at least one frame, got shape {tuple(frames.shape)}")
    n_samples = require_int("n_samples", n_samples)
    if not frames.is_floating_point():
        frames = frames.float()
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


def _check_initial_phase(name: str, phase, lead: torch.Size) -> torch.Tensor | float:
    """A finite number, or a finite tensor that broadcasts to the leading shape `lead` ([...] of [..., T])."""
    if not isinstance(phase, torch.Tensor):
        return require_number(name, phase)
    phase = _as_signal(name, phase, layout=f"a number or a tensor [...] broadcasting to {tuple(lead)}", min_dim=0)
    try:
        ok = torch.broadcast_shapes(phase.shape, lead) == lead
    except RuntimeError:
        ok = False
    if not ok:
        raise ValueError(f"{name} must broadcast to {tuple(lead)} (one phase per oscillator), got {tuple(phase.shape)}")
    return phase


def phase_from_frequency(
    freq_hz: torch.Tensor, sr: int, *, block: int = 64, initial_phase: torch.Tensor | float = 0.0
) -> torch.Tensor:
    """Phase in radians, wrapped to [0, 2*pi), of an oscillator with per-sample frequency [..., T].

    phase[n] = initial_phase + 2*pi * sum_{i<=n} freq[i] / sr  (the DDSP convention: the
    first sample has already advanced by one step). Sums run in float32 inside blocks of
    `block` samples; block offsets are accumulated in float64 and wrapped, so there is no
    drift on notes of any length. freq_hz must be finite and >= 0 Hz; initial_phase is a
    number or a tensor [...] (one per oscillator).
    """
    freq_hz = _as_signal("freq_hz", freq_hz, layout="a per-sample curve [..., T]", hz=True)
    sr = require_sample_rate(sr)
    block = require_int("block", block)
    initial_phase = _check_initial_phase("initial_phase", initial_phase, freq_hz.shape[:-1])
    return _phase(freq_hz, sr, block, initial_phase)


def _phase(freq_hz: torch.Tensor, sr: float, block: int = 64, initial_phase: torch.Tensor | float = 0.0):
    """phase_from_frequency without the argument checks (for callers that made them)."""
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
    """A sine wave [T]; freq_hz may be a number or a per-sample curve [frames] (a glide, a vibrato).

    Frequencies must be finite, >= 0 Hz and below Nyquist (sr / 2): a higher one would alias
    (be heard at another frequency), so it raises a ValueError naming both. amplitude is a
    number or a tensor [T] (or [1]); T = round(duration_s * sr) must be at least 1.
    """
    sr = require_sample_rate(sr)
    duration_s = require_number("duration_s", duration_s, low=0.0, low_open=True)
    n = int(round(duration_s * sr))
    if n < 1:
        raise ValueError(
            f"duration_s={duration_s:g} s at sr={sr} Hz is {duration_s * sr:.3g} samples; need at least one sample"
        )
    f = _as_signal("freq_hz", freq_hz, layout="a number or a curve [frames]", min_dim=0, hz=True)
    if f.dim() > 1 or f.numel() == 0:
        raise ValueError(f"freq_hz must be a number or a 1-D curve [frames], got shape {tuple(f.shape)}")
    top = float(f.max())
    if top >= sr / 2:
        raise ValueError(
            f"freq_hz {top:g} Hz is at or above the Nyquist frequency sr/2 = {sr / 2:g} Hz: sampled at {sr} Hz "
            f"it would alias to {_alias_hz(top, sr):g} Hz. Use a frequency below {sr / 2:g} Hz or a higher sr"
        )
    f = f.float()  # the oscillator runs in float32, as it always has
    f = upsample_frames(f, n) if f.dim() == 1 else f.expand(n)
    if isinstance(amplitude, torch.Tensor):
        amplitude = _as_signal("amplitude", amplitude, layout=f"a number or a tensor [T] = [{n}]", min_dim=0)
        if amplitude.dim() > 1 or amplitude.numel() not in (1, n):
            raise ValueError(
                f"amplitude must be a number or a tensor [T] = [{n}] (or [1]), got {tuple(amplitude.shape)}"
            )
    else:
        amplitude = require_number("amplitude", amplitude)
    phase = require_number("phase", phase)
    # start at `phase`: subtract the first step so that sample 0 has exactly that phase
    ph = _phase(f, sr, initial_phase=phase - TWO_PI * float(f[0]) / sr)
    return amplitude * torch.sin(ph)


def nyquist_mask(freq_hz: torch.Tensor, sr: int, margin: float = 0.0) -> torch.Tensor:
    """1.0 where a partial lies below the Nyquist frequency (minus margin Hz), else 0.0; same shape as freq_hz.

    freq_hz [*S] in Hz (any shape S) -> mask [*S] of 0.0 / 1.0 (freq_hz's float dtype, else float32).

    A partial above sr/2 does not vanish when sampled: it folds back as an unrelated
    lower tone (aliasing). Synths therefore silence such partials instead of rendering them.
    The test is on |freq|: a negative frequency aliases just like a positive one.
    """
    if not isinstance(freq_hz, torch.Tensor):
        freq_hz = _as_signal("freq_hz", freq_hz, layout="a tensor of frequencies", min_dim=0)
    sr = require_sample_rate(sr)
    margin = require_number("margin", margin, low=0.0)
    dtype = freq_hz.dtype if freq_hz.is_floating_point() else torch.float32
    return (freq_hz.abs() < sr / 2 - margin).to(dtype)


def additive(
    freqs_hz: torch.Tensor,
    amps: torch.Tensor,
    sr: int = 16000,
    n_samples: int | None = None,
    phases: torch.Tensor | None = None,
) -> torch.Tensor:
    """Sum of sine partials: freqs and amps are [..., K, T] (audio rate) or [..., K, frames], or [K] (constant).

    Frame-rate controls are linearly upsampled to n_samples. Partials at or above Nyquist
    are zeroed sample by sample. `phases` [..., K] are the starting phases (default 0).
    Frequencies must be finite and >= 0 Hz (0 is a silent partial), amplitudes finite.
    Returns [..., T].
    """
    layout = "[K] (constant) or [..., K, T] / [..., K, frames]"
    freqs_hz = _as_signal("freqs_hz", freqs_hz, layout=layout, hz=True)
    amps = _as_signal("amps", amps, layout=layout)
    sr = require_sample_rate(sr)
    if n_samples is not None:
        n_samples = require_int("n_samples", n_samples)
    if freqs_hz.device != amps.device:
        raise ValueError(f"freqs_hz ({freqs_hz.device}) and amps ({amps.device}) must be on one device")
    return _additive(freqs_hz, amps, sr, n_samples, phases)


def _additive(freqs_hz, amps, sr, n_samples, phases) -> torch.Tensor:
    """additive without the value checks (harmonic calls it with checked controls)."""
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
    try:
        f, a = torch.broadcast_tensors(f, a)
    except RuntimeError as e:
        raise ValueError(
            f"freqs_hz {tuple(freqs_hz.shape)} and amps {tuple(amps.shape)} do not match: both must be "
            "[..., K, T or frames] with the same K (or [K] for constant partials)"
        ) from e
    phases = 0.0 if phases is None else _check_initial_phase("phases", phases, f.shape[:-1])
    ph = _phase(f, sr, initial_phase=phases)
    return (a * nyquist_mask(f, sr) * torch.sin(ph)).sum(dim=-2)


def harmonic(
    f0_hz: torch.Tensor,
    harmonic_amps: torch.Tensor,
    sr: int = 16000,
    n_samples: int | None = None,
    inharmonicity: float | torch.Tensor = 0.0,
) -> torch.Tensor:
    """Harmonic (or stiff-string) tone [..., T]: partial k at k * f0 * sqrt(1 + B k^2).

    f0_hz [..., T or frames], harmonic_amps [..., K, T or frames] or [..., K] (constant).
    f0 must be finite and >= 0 Hz (0 Hz gives silence, e.g. for unvoiced frames); a one-frame
    f0 needs n_samples. B = inharmonicity >= 0 (0 for an ideal string, ~1e-4..1e-3 for guitar
    and piano strings).
    """
    f0_hz = _as_signal("f0_hz", f0_hz, layout="[..., T] or [..., frames]", hz=True)
    harmonic_amps = _as_signal("harmonic_amps", harmonic_amps, layout="[..., K] or [..., K, frames]")
    sr = require_sample_rate(sr)
    if f0_hz.device != harmonic_amps.device:
        raise ValueError(f"f0_hz ({f0_hz.device}) and harmonic_amps ({harmonic_amps.device}) must be on one device")
    if n_samples is None:
        if f0_hz.shape[-1] == 1:
            raise ValueError("a constant f0 (one frame) needs n_samples to say how long the sound is")
        n_samples = f0_hz.shape[-1]
    n_samples = require_int("n_samples", n_samples)
    if isinstance(inharmonicity, torch.Tensor):
        inharmonicity = _as_signal("inharmonicity", inharmonicity, layout="a number or [...]", min_dim=0)
        if inharmonicity.numel() and float(inharmonicity.min()) < 0:
            raise ValueError(f"inharmonicity must be >= 0, got {float(inharmonicity.min()):g}")
    else:
        inharmonicity = require_number("inharmonicity", inharmonicity, low=0.0)
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
    return _additive(freqs, harmonic_amps, sr, n_samples, None)


def adsr(
    n_samples: int,
    sr: int,
    attack: float = 0.01,
    decay: float = 0.1,
    sustain: float = 0.7,
    release: float = 0.2,
    note_off: float | None = None,
) -> torch.Tensor:
    """Attack-decay-sustain-release envelope [T] (times in seconds >= 0, sustain a level in 0..1).

    Linear attack to 1, exponential-looking decay to the sustain level, hold until note_off
    (default: the end minus the release), then release to 0. Release starts from wherever
    the envelope is at note_off, so short notes do not jump.
    """
    n_samples = require_int("n_samples", n_samples)
    sr = require_sample_rate(sr)
    attack, decay, release = (
        require_number(k, v, low=0.0) for k, v in (("attack", attack), ("decay", decay), ("release", release))
    )
    sustain = require_number("sustain", sustain, low=0.0, high=1.0)  # a level, not a time
    if note_off is not None:
        note_off = require_number("note_off", note_off, low=0.0)
    t = torch.arange(n_samples, dtype=torch.float32) / sr
    if note_off is None:
        note_off = max(n_samples / sr - release, 0.0)
    att = (t / attack).clamp(max=1.0) if attack > 0 else torch.ones_like(t)
    dec_t = (t - attack).clamp(min=0.0)
    dec = sustain + (1.0 - sustain) * torch.exp(-dec_t / max(decay, 1e-6) * 3.0)  # ~5 % left after `decay`
    on = torch.where(t < attack, att, dec)
    level_at_off = float(on[min(int(note_off * sr), n_samples - 1)])
    rel = level_at_off * (1.0 - ((t - note_off) / max(release, 1e-6))).clamp(0.0, 1.0)
    return torch.where(t < note_off, on, rel)


def filtered_noise(
    n_samples: int,
    sr: int = 16000,
    low_hz: float = 0.0,
    high_hz: float | None = None,
    generator: torch.Generator | None = None,
    batch: int | tuple[int, ...] = (),
) -> torch.Tensor:
    """White Gaussian noise band-limited to [low_hz, high_hz] with an FFT mask; unit RMS; [*batch, n_samples].

    Returns [*batch, T] float32 with T = n_samples, each row of unit RMS.

    Breath in a flute, the scrape of a bow, the thump of a mallet: the noisy part of a
    sound that no sum of a few sines captures. The band must start below Nyquist and hold
    at least one FFT bin (bins are sr / n_samples apart), else the result would be silence.
    """
    n_samples = require_int("n_samples", n_samples)
    sr = require_sample_rate(sr)
    batch = (batch,) if isinstance(batch, numbers.Integral) and not isinstance(batch, bool) else tuple(batch)
    batch = tuple(require_int("batch", b) for b in batch)
    low_hz = require_number("low_hz", low_hz)
    high_hz = sr / 2 if high_hz is None else require_number("high_hz", high_hz)
    if not 0 <= low_hz < high_hz:
        raise ValueError(f"need 0 <= low_hz < high_hz, got low_hz={low_hz:g}, high_hz={high_hz:g}")
    if low_hz >= sr / 2:
        raise ValueError(
            f"low_hz {low_hz:g} Hz is at or above the Nyquist frequency sr/2 = {sr / 2:g} Hz: the band is empty"
        )
    freqs = torch.fft.rfftfreq(n_samples, 1.0 / sr)
    band = (freqs >= low_hz) & (freqs <= high_hz)
    if not band.any():
        raise ValueError(
            f"the band [{low_hz:g}, {high_hz:g}] Hz holds no frequency bin of a {n_samples}-sample FFT (bins are "
            f"{sr / n_samples:g} Hz apart), so the noise would be silence: widen the band or use more samples"
        )
    white = torch.randn(*batch, n_samples, generator=generator)
    spec = torch.fft.rfft(white) * band
    out = torch.fft.irfft(spec, n=n_samples)
    return out / out.pow(2).mean(dim=-1, keepdim=True).sqrt().clamp(min=1e-12)
