"""Looking at sound: spectra, spectrograms, mel spectrograms, loudness, and partial decomposition.

The decomposition is chapter 5's central experiment: a recorded note is modelled as K
exponentially decaying sines, x(t) = sum_k A_k exp(-d_k t) cos(2 pi f_k t + phi_k) from the
onset on. Peaks of the spectrum give the starting frequencies, the STFT track of each peak
gives its decay, linear least squares gives amplitudes and phases, and a few Gauss-Newton
(Levenberg-Marquardt) steps on all parameters together polish the fit. The quality of the
resynthesis is measured as a signal-to-noise ratio in dB.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

__all__ = [
    "Partials",
    "a_weighting_db",
    "decompose_partials",
    "envelope_knots",
    "loudness_db",
    "mel_spectrogram",
    "plot_spectrogram",
    "plot_spectrum",
    "plot_waveform",
    "resynthesize",
    "single_blas_thread",
    "snr_db",
    "spectrogram",
    "spectrum",
]


def _as_numpy(audio) -> np.ndarray:
    if isinstance(audio, torch.Tensor):
        audio = audio.detach().cpu().numpy()
    x = np.asarray(audio, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"expected one mono signal [samples], got shape {x.shape}")
    return x


def _as_tensor(audio) -> torch.Tensor:
    if isinstance(audio, torch.Tensor):
        return audio.detach().float().cpu()
    return torch.as_tensor(np.asarray(audio), dtype=torch.float32)


# --------------------------------------------------------------------------- spectra


def spectrum(audio, sr: int, *, window: str = "hann", n_fft: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Magnitude spectrum of a whole signal [samples]: (frequencies in Hz [n_fft // 2 + 1], magnitude in dB
    re. a full-scale sine [n_fft // 2 + 1]).

    The window's coherent gain is divided out, so a sine of amplitude A shows a peak at
    20 log10(A) dB whatever the signal length.
    """
    x = _as_numpy(audio)
    n = len(x)
    if n == 0:
        raise ValueError("cannot take the spectrum of an empty signal")
    w = _window(window, n)
    n_fft = max(n_fft or 0, n)
    mag = np.abs(np.fft.rfft(x * w, n=n_fft)) * 2.0 / w.sum()
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    return freqs, 20.0 * np.log10(np.maximum(mag, 1e-10))


def _blackman_harris(n: int) -> np.ndarray:
    """4-term Blackman-Harris window (periodic): side lobes below -92 dB, so weak partials
    next to strong ones still show as peaks."""
    x = 2.0 * np.pi * np.arange(n) / n
    return 0.35875 - 0.48829 * np.cos(x) + 0.14128 * np.cos(2 * x) - 0.01168 * np.cos(3 * x)


def _window(name: str, n: int) -> np.ndarray:
    if name == "hann":
        return np.hanning(n + 1)[:-1] if n > 1 else np.ones(n)
    if name in ("rect", "boxcar", "none"):
        return np.ones(n)
    if name == "blackmanharris":
        return _blackman_harris(n)
    raise ValueError(f"unknown window {name!r}: use 'hann', 'blackmanharris' or 'rect'")


def spectrogram(audio, sr: int, *, n_fft: int = 1024, hop: int = 256, floor_db: float = -100.0) -> torch.Tensor:
    """STFT magnitude in dB [..., n_fft//2 + 1, frames] (Hann window, centred frames)."""
    x = _as_tensor(audio)
    win = torch.hann_window(n_fft)
    spec = torch.stft(x, n_fft, hop, window=win, center=True, return_complex=True).abs()
    spec = spec * (2.0 / win.sum())
    return (20.0 * torch.log10(spec.clamp(min=10 ** (floor_db / 20)))).clamp(min=floor_db)


def mel_spectrogram(
    audio, sr: int, *, n_mels: int = 64, n_fft: int = 1024, hop: int = 256, floor_db: float = -80.0
) -> torch.Tensor:
    """Log-mel spectrogram in dB [..., n_mels, frames] with torchaudio's MelSpectrogram.

    audio [..., T] (array or tensor) at sr Hz -> dB [..., M, F] with M = n_mels, F = T // hop + 1 frames,
    power in dB re 1, clamped below at floor_db.

    The mel scale spaces bands like the ear does (about linear below 1 kHz, logarithmic above);
    the classifier that later judges generated notes looks at sounds through it.
    """
    import torchaudio

    x = _as_tensor(audio)
    mel = torchaudio.transforms.MelSpectrogram(
        sample_rate=sr, n_fft=n_fft, hop_length=hop, n_mels=n_mels, f_min=20.0, f_max=sr / 2, power=2.0
    )(x)
    return (10.0 * torch.log10(mel.clamp(min=1e-10))).clamp(min=floor_db)


def a_weighting_db(freqs_hz: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """IEC 61672 A-weighting in dB [*S] of frequencies [*S] (Hz, any shape S): how much quieter the ear finds
    each than 1 kHz."""
    lib = torch if isinstance(freqs_hz, torch.Tensor) else np
    f2 = freqs_hz**2
    num = (12194.0**2) * f2**2
    den = (f2 + 20.6**2) * lib.sqrt((f2 + 107.7**2) * (f2 + 737.9**2)) * (f2 + 12194.0**2)
    ra = num / den
    return 20.0 * lib.log10(lib.clip(ra, 1e-20, None) if lib is np else ra.clamp(min=1e-20)) + 2.0


def _fast_len(n: int) -> int:
    """Smallest 2^a 3^b 5^c >= n: FFT lengths with only small prime factors are fast."""
    best = 1 << (n - 1).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


def loudness_db(
    audio: torch.Tensor | np.ndarray,
    sr: int,
    *,
    hop: int = 64,
    window: int = 1024,
    n_frames: int | None = None,
    floor_db: float = -100.0,
) -> torch.Tensor | np.ndarray:
    """Perceptual loudness per frame in dB [..., frames]: A-weighted mean power around each frame.

    audio [..., T] at sr Hz, in [-1, 1] -> loudness [..., F] in dB (>= floor_db), F = n_frames or ceil(T / hop).

    The signal is A-weighted in the frequency domain (one FFT per signal), squared, summed in
    hop-long blocks and averaged under a Hann^2 window of `window` samples centred on each
    frame (the mean A-weighted STFT power, by Parseval, at a fraction of the cost). 0 dB is a
    full-scale 1 kHz sine; silence reads floor_db. One frame every `hop` samples from sample
    0; n_frames defaults to ceil(samples / hop), the frame grid of the note labels.
    Tensors in, tensor out (on their device); NumPy arrays in, NumPy out (one core).
    """
    if isinstance(audio, np.ndarray):
        xp, x = np, audio.astype(np.float32, copy=False)
    else:
        xp, x = torch, (audio.float() if isinstance(audio, torch.Tensor) else _as_tensor(audio))
    n = x.shape[-1]
    lead = tuple(x.shape[:-1])
    n_frames = n_frames or -(-n // hop)
    x = x.reshape(-1, n)
    n_fft = _fast_len(n + window)  # zero padding keeps the circular FFT filter from wrapping around
    if xp is np:
        freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
        gain = (10.0 ** (a_weighting_db(np.maximum(freqs, 1.0)) / 20.0)).astype(np.float32)
        y = np.fft.irfft(np.fft.rfft(x, n=n_fft, axis=-1) * gain, n=n_fft, axis=-1)[:, :n].astype(np.float32)
    else:
        freqs = torch.fft.rfftfreq(n_fft, 1.0 / sr, device=x.device)
        gain = 10.0 ** (a_weighting_db(freqs.clamp(min=1.0)) / 20.0)
        y = torch.fft.irfft(torch.fft.rfft(x, n=n_fft) * gain, n=n_fft)[:, :n]
    # block powers, then a Hann^2-weighted sum over the blocks around each frame
    n_win = max(window // hop, 1)
    pad_front = (n_win // 2) * hop
    total = pad_front + hop * (n_frames + n_win)
    power = y * y
    if xp is np:
        power = np.pad(power, ((0, 0), (pad_front, total - pad_front - n)))
    else:
        power = torch.nn.functional.pad(power, (pad_front, total - pad_front - n))
    blocks = power.reshape(power.shape[0], -1, hop).mean(-1)
    kernel = np.hanning(n_win + 2)[1:-1] ** 2
    kernel = kernel / kernel.sum()
    frames = sum(float(kernel[i]) * blocks[:, i : i + n_frames] for i in range(n_win))
    ratio = frames / 0.5
    floor = 10 ** (floor_db / 10)
    db = 10.0 * (np.log10(np.maximum(ratio, floor)) if xp is np else torch.log10(ratio.clamp(min=floor)))
    return db.reshape(*lead, n_frames)


# --------------------------------------------------------------------------- plots


def plot_waveform(
    audio, sr: int, *, ax=None, seconds: tuple[float, float] | None = None, title: str | None = None, **kw
):
    """Waveform [samples] against time in seconds, optionally only the window `seconds=(start, end)`."""
    import matplotlib.pyplot as plt

    x = _as_numpy(audio)
    ax = ax or plt.subplots(figsize=(5, 2))[1]
    t = np.arange(len(x)) / sr
    if seconds is not None:
        sel = (t >= seconds[0]) & (t < seconds[1])
        t, x = t[sel], x[sel]
    ax.plot(t, x, lw=0.8, **kw)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("amplitude")
    if title:
        ax.set_title(title)
    return ax


def plot_spectrum(
    audio,
    sr: int,
    *,
    ax=None,
    log_freq: bool = False,
    fmax: float | None = None,
    floor_db: float = -90.0,
    title: str | None = None,
    **kw,
):
    """Magnitude spectrum of audio [samples] in dB; log_freq puts octaves at equal distances (how pitch is heard)."""
    import matplotlib.pyplot as plt

    freqs, mag = spectrum(audio, sr)
    ax = ax or plt.subplots(figsize=(5, 2))[1]
    sel = freqs > (20.0 if log_freq else -1.0)
    ax.plot(freqs[sel], np.maximum(mag[sel], floor_db), lw=0.8, **kw)
    if log_freq:
        ax.set_xscale("log")
    ax.set_xlim(20.0 if log_freq else 0.0, fmax or sr / 2)
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("magnitude (dB)")
    if title:
        ax.set_title(title)
    return ax


def _stft_db_np(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Magnitude STFT in dB [bins, frames] with NumPy (Hann window, centred frames)."""
    xp = np.pad(x, (n_fft // 2, n_fft // 2))
    n_frames = 1 + (len(xp) - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]
    win = np.hanning(n_fft + 1)[:-1]
    mag = np.abs(np.fft.rfft(xp[idx] * win, axis=1)).T * (2.0 / win.sum())
    return 20.0 * np.log10(np.maximum(mag, 1e-10))


def plot_spectrogram(
    audio,
    sr: int,
    *,
    ax=None,
    log_freq: bool = False,
    n_fft: int = 1024,
    hop: int = 128,
    floor_db: float = -80.0,
    title: str | None = None,
    colorbar: bool = False,
    labels: bool = True,
    fmin: float = 40.0,
    colors: int | None = None,
):
    """Spectrogram image of audio [samples] (time x frequency, colour = dB); log_freq for a log-frequency axis.

    colors: quantise the colour map to that many levels (much smaller PNGs in notebooks).

    Drawn with imshow (one image, fast even in a grid of dozens); for log_freq the rows are
    resampled onto log-spaced frequencies first.
    """
    import matplotlib.pyplot as plt

    x = _as_numpy(audio)
    spec = _stft_db_np(x, n_fft, hop)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    duration = len(x) / sr
    ax = ax or plt.subplots(figsize=(5, 2.5))[1]
    vmax = max(float(spec.max()), floor_db + 1)
    if log_freq:
        rows = np.geomspace(fmin, sr / 2, 160)
        pos = np.interp(rows, freqs, np.arange(len(freqs)))
        i0 = np.minimum(pos.astype(int), len(freqs) - 2)
        w = (pos - i0)[:, None]
        spec = spec[i0] * (1 - w) + spec[i0 + 1] * w
        extent = (0.0, duration, np.log10(fmin), np.log10(sr / 2))
    else:
        extent = (0.0, duration, 0.0, sr / 2)
    cmap = plt.get_cmap("magma", colors) if colors else "magma"
    im = ax.imshow(
        spec,
        origin="lower",
        aspect="auto",
        extent=extent,
        cmap=cmap,
        vmin=max(floor_db, vmax - 80),
        vmax=vmax,
        interpolation="nearest",
    )
    if log_freq:
        ticks = [t for t in (100, 1000, 4000) if fmin <= t <= sr / 2]
        ax.set_yticks(np.log10(ticks), [f"{t // 1000}k" if t >= 1000 else str(t) for t in ticks])
    if labels:
        ax.set_xlabel("time (s)")
        ax.set_ylabel("Hz")
    if title:
        ax.set_title(title, fontsize=9)
    if colorbar:
        plt.colorbar(im, ax=ax, label="dB")
    return ax


# --------------------------------------------------------------------------- partials


@dataclass
class Partials:
    """K partials of a note. Partial k at time t after the onset is Re(c_k(t) exp(2 pi i f_k t)):

    * decay model: c_k(t) = amp_k exp(-decay_k t + i phase_k), a sine that fades exponentially;
    * envelope model (when `envelopes` is set): c_k(t) follows the complex values in
      envelopes[k], so each partial's
      loudness and phase may wander slowly, as in real instruments and the DDSP decoder
      (values at the sample positions `knots` after the onset, linear in between).
    """

    freqs_hz: np.ndarray
    amps: np.ndarray
    decays: np.ndarray  # 1/s; amplitude falls by 1/e every 1/decay seconds
    phases: np.ndarray
    onset_s: float
    sr: int
    envelopes: np.ndarray | None = None  # [K, knots] complex
    knots: np.ndarray | None = None  # sample positions (after the onset) of the envelope values

    def __len__(self) -> int:
        return len(self.freqs_hz)

    def energy(self) -> np.ndarray:
        """Energy of each partial [K] under the decay model (amp^2 / 2 integrated over its decay)."""
        return self.amps**2 / (4.0 * np.maximum(self.decays, 1e-3))

    def strongest(self, k: int) -> Partials:
        """The k partials with the most energy (the rest dropped, nothing refitted)."""
        order = np.sort(np.argsort(-self.energy())[:k])
        env = self.envelopes[order] if self.envelopes is not None else None
        return Partials(
            self.freqs_hz[order],
            self.amps[order],
            self.decays[order],
            self.phases[order],
            self.onset_s,
            self.sr,
            env,
            self.knots,
        )

    def table(self, n: int = 8) -> str:
        """A few lines describing the strongest partials, for printing."""
        rows = ["   f (Hz)    amp   decay (1/s)"]
        for i in np.argsort(-self.energy())[:n]:
            rows.append(f"{self.freqs_hz[i]:9.1f}  {self.amps[i]:6.3f}  {self.decays[i]:8.2f}")
        return "\n".join(rows)


def snr_db(reference, estimate) -> float:
    """Signal-to-noise ratio of an estimate [...] in dB: 10 log10(sum ref^2 / sum (ref - est)^2); same shapes."""
    r = _as_numpy(reference)
    e = _as_numpy(estimate)
    if r.shape != e.shape:
        raise ValueError(f"reference and estimate differ in length: {r.shape} vs {e.shape}")
    err = np.sum((r - e) ** 2)
    sig = np.sum(r**2)
    if sig == 0:
        raise ValueError("the reference is silent; SNR is undefined")
    return float(10.0 * np.log10(sig / max(err, 1e-30)))


def _basis(t: np.ndarray, f: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    env = np.exp(-np.outer(t, d))
    arg = 2.0 * np.pi * np.outer(t, f)
    return env, np.cos(arg), np.sin(arg)


def resynthesize(partials: Partials, n_samples: int, *, envelopes: bool | None = None) -> torch.Tensor:
    """Render Partials back to audio [T] float32, T = n_samples (silence before the onset).

    envelopes=None uses the envelope model when the partials carry one, else the decay model;
    past the last envelope value a partial continues with its exponential decay.
    """
    sr = partials.sr
    start = int(round(partials.onset_s * sr))
    out = np.zeros(n_samples)
    use_env = partials.envelopes is not None if envelopes is None else envelopes
    if use_env and partials.envelopes is None:
        raise ValueError("these partials carry no envelopes: decompose with envelopes=True")
    if start < n_samples and len(partials):
        m = n_samples - start
        t = np.arange(m) / sr
        if use_env:
            c = _interp_envelopes(partials, m)  # [m, K] complex
        else:
            c = partials.amps * np.exp(-np.outer(t, partials.decays) + 1j * partials.phases)
        arg = 2.0 * np.pi * np.outer(t, partials.freqs_hz)
        out[start:] = (c.real * np.cos(arg) - c.imag * np.sin(arg)).sum(axis=1)
    return torch.as_tensor(out, dtype=torch.float32)


def _interp_envelopes(partials: Partials, m: int) -> np.ndarray:
    env, knots = partials.envelopes, partials.knots
    pos = np.arange(m)
    c = np.stack([np.interp(pos, knots, e.real) + 1j * np.interp(pos, knots, e.imag) for e in env], axis=1)
    beyond = pos > knots[-1]  # after the analysed stretch: keep decaying from the last value
    if beyond.any():
        dt = (pos[beyond] - knots[-1]) / partials.sr
        c[beyond] = env[:, -1] * np.exp(-np.outer(dt, partials.decays))
    return c


def _find_onset(x: np.ndarray, threshold: float = 0.02) -> int:
    peak = np.abs(x).max()
    above = np.nonzero(np.abs(x) > threshold * peak)[0]
    return int(above[0]) if len(above) else 0


def _spectral_peaks(x: np.ndarray, sr: int, k: int, fmin: float, fmax: float, min_sep_hz: float, pad: int = 4):
    """The k highest local maxima of a Blackman-Harris spectrum, frequencies refined by parabolic fit."""
    n = len(x)
    w = _blackman_harris(n)
    n_fft = 1 << int(math.ceil(math.log2(n * pad)))
    mag = np.abs(np.fft.rfft(x * w, n_fft))
    logm = np.log(np.maximum(mag, 1e-12))
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    is_peak = (logm[1:-1] > logm[:-2]) & (logm[1:-1] >= logm[2:])
    idx = np.nonzero(is_peak)[0] + 1
    idx = idx[(freqs[idx] >= fmin) & (freqs[idx] <= fmax)]
    # peaks closer than min_sep_hz (at least the window's main lobe) are one partial: keep the larger
    order = idx[np.argsort(-mag[idx])]
    min_sep = max(4.0 * pad, min_sep_hz * n_fft / sr)
    chosen: list[int] = []
    for i in order:
        if all(abs(i - j) >= min_sep for j in chosen):
            chosen.append(i)
            if len(chosen) == k:
                break
    chosen_arr = np.array(sorted(chosen), dtype=int)
    a, b, c = logm[chosen_arr - 1], logm[chosen_arr], logm[chosen_arr + 1]
    denom = a - 2 * b + c
    delta = np.where(np.abs(denom) > 1e-12, 0.5 * (a - c) / np.where(denom == 0, 1, denom), 0.0)
    return (chosen_arr + np.clip(delta, -0.5, 0.5)) * sr / n_fft


def _track_block(n: int) -> int:
    """Block length for partial tracking: 2048 samples, shorter for short signals."""
    return int(2 ** round(math.log2(max(min(n // 4, 2048), 64))))


def _track_partials(x: np.ndarray, sr: int, freqs: np.ndarray, rounds: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Refine each partial's frequency and estimate its decay by following it through time.

    Shifting the signal by -f_k (multiplying by exp(-2 pi i f_k t)) moves partial k to 0 Hz;
    Hann-windowed sums over short blocks then isolate it from its neighbours. If f_k is a
    little off, the phase of those sums turns at a constant rate (the error in Hz), and their
    log magnitude falls at the decay rate: two weighted straight-line fits.
    """
    n = len(x)
    block = _track_block(n)
    hop = block // 4
    if n < block + hop:
        return freqs, np.zeros(len(freqs))
    t = np.arange(n) / sr
    starts = np.arange(0, n - block + 1, hop)
    centres = (starts + block / 2) / sr
    win = np.hanning(block)
    idx = starts[:, None] + np.arange(block)[None, :]
    f0 = freqs.astype(np.float64)
    f = f0.copy()
    max_shift = sr / block / 2  # a partial may move at most half a block's bin width
    decays = np.zeros(len(f))
    for _ in range(rounds):
        demod = x[None, :] * np.exp(-2j * np.pi * np.outer(f, t))  # [K, n]
        c = (demod[:, idx] * win).sum(axis=2)  # [K, blocks]
        mag = np.abs(c)
        for k in range(len(f)):
            m = mag[k]
            keep = m > m.max() * 1e-2  # within 40 dB of the partial's peak
            first = int(np.argmax(m))
            keep[:first] = False  # fit the decay after the attack
            if keep.sum() < 3:
                continue
            w = m[keep]
            ph = np.unwrap(np.angle(c[k, keep]))
            tk = centres[keep]
            slope_ph = np.polyfit(tk, ph, 1, w=w)[0]
            f[k] = np.clip(f[k] + slope_ph / (2 * np.pi), f0[k] - max_shift, f0[k] + max_shift)
            decays[k] = max(-np.polyfit(tk, np.log(m[keep]), 1, w=w)[0], 0.0)
    return f, decays


def _solve_normal(basis: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Least squares through the normal equations with a whisper of ridge.

    Much faster than an SVD-based lstsq for tall, thin problems (and far less sensitive to
    busy CPUs); the ridge keeps nearly coincident partials from blowing up.
    """
    g = basis.T @ basis
    g[np.diag_indices_from(g)] += 1e-9 * np.trace(g) / len(g) + 1e-12
    return np.linalg.solve(g, basis.T @ x)


def _linear_amplitudes(x, t, f, d):
    """Best cos/sin amplitudes (a_k, b_k) of decaying partials with known f and decay."""
    env, c, s = _basis(t, f, d)
    coef = _solve_normal(np.concatenate([env * c, env * s], axis=1), x)
    k = len(f)
    return coef[:k], coef[k:]


def envelope_knots(n: int, sr: int, step_s: float, first_s: float = 0.004, growth: float = 1.5) -> np.ndarray:
    """Sample positions [knots] of envelope knots: dense at the onset (the attack changes fast),
    widening by `growth` per knot up to one every step_s seconds; the last knot is at n - 1."""
    step_max = max(int(round(step_s * sr)), 1)
    step = min(max(int(round(first_s * sr)), 1), step_max)
    knots = [0]
    while knots[-1] < n - 1:
        knots.append(min(knots[-1] + step, n - 1))
        step = min(int(math.ceil(step * growth)), step_max)
    if len(knots) == 1:
        knots.append(1)
    return np.array(knots)


def _fit_envelopes(x: np.ndarray, sr: int, f: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """Complex envelopes c_k at the knot positions (linear in between), by least squares.

    Sample i between knots j and j+1 depends only on those two knots, so the normal
    equations are block tridiagonal: assembled with batched matrix products and solved
    knot by knot (block Cholesky / Thomas algorithm) instead of as one dense system.
    """
    n, k = len(x), len(f)
    m = 2 * k
    n_knots = len(knots)
    lengths = np.diff(knots)
    lengths[-1] += 1  # the last interval includes its end sample
    width = int(lengths.max())
    rows = knots[:-1, None] + np.arange(width)[None, :]  # [J-1, width] sample index
    valid = (np.arange(width)[None, :] < lengths[:, None]) & (rows < n)
    rows = np.where(valid, rows, 0)
    t = rows / sr
    arg = 2.0 * np.pi * t[..., None] * f  # [J-1, width, K]
    bi = np.concatenate([np.cos(arg), -np.sin(arg)], axis=2) * valid[..., None]  # Re(c e^{iwt})
    xi = np.where(valid, x[rows], 0.0)
    w = (np.arange(width)[None, :] / np.diff(knots)[:, None])[..., None]
    b0, b1 = bi * (1.0 - w), bi * w
    b0t, b1t = b0.transpose(0, 2, 1), b1.transpose(0, 2, 1)
    g00, g01, g11 = b0t @ b0, b0t @ b1, b1t @ b1
    r0 = (b0t @ xi[..., None])[..., 0]
    r1 = (b1t @ xi[..., None])[..., 0]
    diag = np.zeros((n_knots, m, m))
    diag[:-1] += g00
    diag[1:] += g11
    rhs = np.zeros((n_knots, m))
    rhs[:-1] += r0
    rhs[1:] += r1
    ridge = 1e-7 * np.trace(diag, axis1=1, axis2=2).mean() / m + 1e-12
    diag += ridge * np.eye(m)
    # forward elimination: S_j = D_j - O_{j-1}^T S_{j-1}^-1 O_{j-1}, then back substitution
    s_inv_o = np.zeros((n_knots, m, m))
    s_blocks = np.zeros((n_knots, m, m))
    y = np.zeros((n_knots, m))
    s_blocks[0], y[0] = diag[0], rhs[0]
    for j in range(1, n_knots):
        sol = np.linalg.solve(s_blocks[j - 1], np.concatenate([g01[j - 1], y[j - 1][:, None]], axis=1))
        s_inv_o[j - 1] = sol[:, :m]
        s_blocks[j] = diag[j] - g01[j - 1].T @ sol[:, :m]
        y[j] = rhs[j] - g01[j - 1].T @ sol[:, m]
    coef = np.zeros((n_knots, m))
    coef[-1] = np.linalg.solve(s_blocks[-1], y[-1])
    for j in range(n_knots - 2, -1, -1):
        coef[j] = np.linalg.solve(s_blocks[j], y[j]) - s_inv_o[j] @ coef[j + 1]
    return (coef[:, :k] + 1j * coef[:, k:]).T  # [K, knots]


def _refine_jointly(x, t, f, d, a, b, steps: int, f_lo, f_hi):
    """Levenberg-Marquardt on all partials' (frequency, decay, cos and sin amplitude) at once.

    Partials that overlap in time and frequency (the attack, close peaks) are fitted
    together rather than one by one; each step solves the damped normal equations.
    """
    k = len(f)
    tt = t[:, None]

    def model(p):
        env, c, s = _basis(t, p[:k], p[k : 2 * k])
        ec, es = env * c, env * s
        return ec, es, ec @ p[2 * k : 3 * k] + es @ p[3 * k :]

    lower = np.concatenate([f_lo, np.full(k, -0.5), np.full(2 * k, -np.inf)])
    upper = np.concatenate([f_hi, np.full(k, 500.0), np.full(2 * k, np.inf)])
    p = np.concatenate([f, d, a, b])
    ec, es, m = model(p)
    r = m - x
    cost = r @ r
    lam = 1e-3
    for _ in range(steps):
        aa, bb = p[2 * k : 3 * k], p[3 * k :]
        jac = np.concatenate([2.0 * np.pi * tt * (ec * bb - es * aa), -tt * (ec * aa + es * bb), ec, es], axis=1)
        h = jac.T @ jac
        g = jac.T @ r
        diag = np.diag(h).copy() + 1e-12
        improved = False
        while lam < 1e8:
            step = np.linalg.solve(h + lam * np.diag(diag), -g)
            p_new = np.clip(p + step, lower, upper)
            ec_n, es_n, m_n = model(p_new)
            r_n = m_n - x
            cost_n = r_n @ r_n
            if cost_n < cost:
                p, ec, es, r, lam, improved = p_new, ec_n, es_n, r_n, lam / 3.0, True
                converged = (cost - cost_n) < 1e-6 * cost
                cost = cost_n
                break
            lam *= 4.0
        if not improved or converged:
            break
    return p[:k], p[k : 2 * k], p[2 * k : 3 * k], p[3 * k :]


def decompose_partials(
    audio,
    sr: int,
    k: int,
    *,
    envelopes: bool = True,
    envelope_s: float = 0.05,
    fmin: float = 20.0,
    fmax: float | None = None,
    rounds: int = 2,
    refine_steps: int = 0,
    max_seconds: float | None = None,
) -> Partials:
    """Decompose a recorded note [samples] into its k strongest partials (frequency, amplitude, decay, phase [k]).

    1. the k highest peaks of the spectrum (from the onset on) give starting frequencies;
    2. `rounds` passes of partial tracking refine each frequency and measure its decay;
    3. least squares gives each partial's amplitude and phase under the decay model, then
       (envelopes=True) a slowly varying complex envelope per partial, one value every
       envelope_s seconds (denser during the attack), which lets loudness and phase drift
       as they do in real notes;
    4. optionally `refine_steps` Levenberg-Marquardt steps polish the decay model jointly.

    The fit uses at most max_seconds of the note (None: all of it).
    """
    with single_blas_thread():
        return _decompose(audio, sr, k, envelopes, envelope_s, fmin, fmax, rounds, refine_steps, max_seconds)


def single_blas_thread():
    """Run NumPy's BLAS on one thread: these are many mid-sized products, where a second thread
    gains little on an idle machine and loses 10x on a busy one (threads wait for each other)."""
    try:
        from threadpoolctl import threadpool_limits

        return threadpool_limits(1, user_api="blas")
    except Exception:  # threadpoolctl comes with scikit-learn; without it, just run
        import contextlib

        return contextlib.nullcontext()


def _decompose(audio, sr, k, envelopes, envelope_s, fmin, fmax, rounds, refine_steps, max_seconds) -> Partials:
    x_full = _as_numpy(audio)
    if not np.all(np.isfinite(x_full)):
        raise ValueError("audio contains NaN or Inf samples")
    if len(x_full) == 0 or np.abs(x_full).max() == 0:
        raise ValueError("the note is silent: nothing to decompose")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    fmax = fmax or sr / 2 * 0.98
    onset = _find_onset(x_full)
    x = x_full[onset:]
    if max_seconds is not None:
        x = x[: int(max_seconds * sr)]
    t = np.arange(len(x)) / sr
    f = _spectral_peaks(x, sr, k, fmin, fmax, min_sep_hz=2.0 * sr / _track_block(len(x)))
    f_peak = f
    f, d = _track_partials(x, sr, f, rounds=rounds)
    a, b = _linear_amplitudes(x, t, f, d)
    if refine_steps > 0:
        shift = sr / _track_block(len(x)) / 2
        f, d, a, b = _refine_jointly(x, t, f, d, a, b, refine_steps, f_peak - shift, f_peak + shift)
    amps = np.hypot(a, b)
    phases = np.arctan2(-b, a)
    env, knots = None, None
    if envelopes:
        knots = envelope_knots(len(x), sr, envelope_s)
        env = _fit_envelopes(x, sr, f, knots)
    return Partials(f, amps, d, phases, onset / sr, sr, env, knots)
