"""How close is a resynthesised note to the real one? Pitch, loudness and spectrum, each in its own unit.

* **f0 error in cents** (1200 · |log2(f_pred / f_true)|; 100 cents = one semitone) over the
  frames where the note sounds: the median, and the share of frames within 50 cents (a
  quarter tone: closer than that and you hear the right note).
* **loudness L1 in dB**: mean |L_pred - L_true| of A-weighted frame loudness
  (`audio.analysis.loudness_db`, the same measure as the note labels) over the sounding frames.
* **multi-scale spectral (MSS) distance**: the loss of `losses_audio` per note, printed next to
  a **trivial baseline**: the mean note of the same pitch, i.e. the average magnitude
  spectrogram (at every FFT size) of the training notes with that MIDI pitch. A model that
  only knew the pitch could do about this well; `mss_ratio` = model / baseline says how much
  of the rest the model captured (0 = perfect, 1 = no better than knowing the pitch).

"Sounding frames" are frames whose reference loudness lies within `SOUNDING_RANGE_DB` (60 dB)
of the note's loudest frame; in the silence after a note there is no pitch to measure, and
loudness differences between -95 and -100 dB are inaudible.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..audio.analysis import loudness_db
from ..losses_audio import MultiScaleSpectralLoss

SOUNDING_RANGE_DB = 60.0


def sounding_frames(reference_loudness_db: Tensor, range_db: float = SOUNDING_RANGE_DB) -> Tensor:
    """Boolean [N, frames]: frames within `range_db` of each note's loudest frame."""
    peak = reference_loudness_db.amax(dim=-1, keepdim=True)
    return reference_loudness_db >= peak - range_db


def cents_error(f0_pred_hz: Tensor, f0_true_hz: Tensor) -> Tensor:
    """|1200 · log2(pred / true)| elementwise; both must be positive.

    f0_pred_hz, f0_true_hz: frequencies in Hz of one shape [*S] (e.g. [N, F] frames) -> cents [*S], float32 >= 0.
    """
    if f0_pred_hz.shape != f0_true_hz.shape:
        raise ValueError(f"f0 shapes differ: {tuple(f0_pred_hz.shape)} vs {tuple(f0_true_hz.shape)}")
    if (f0_true_hz <= 0).any() or (f0_pred_hz <= 0).any():
        raise ValueError("f0 values must be positive (Hz) to compare them in cents")
    return (1200.0 * torch.log2(f0_pred_hz.double() / f0_true_hz.double())).abs().float()


@dataclass
class F0Report:
    median_cents: float
    within_50c: float
    mean_cents: float
    n_frames: int


def f0_report(f0_pred_hz: Tensor, f0_true_hz: Tensor, mask: Tensor | None = None) -> F0Report:
    """Median cents error and the share of frames within 50 cents, over `mask` (default: all).

    f0_pred_hz, f0_true_hz: Hz, one shape [*S] (e.g. [N, F] frames); mask: bool [*S], True = compare that frame.
    """
    err = cents_error(f0_pred_hz, f0_true_hz)
    if mask is not None:
        err = err[mask]
    else:
        err = err.flatten()
    if err.numel() == 0:
        raise ValueError("no frames to compare (empty mask)")
    return F0Report(float(err.median()), float((err <= 50.0).float().mean()), float(err.mean()), int(err.numel()))


def loudness_l1_db(
    pred_audio: Tensor,
    true_audio: Tensor,
    sr: int,
    hop: int,
    n_frames: int | None = None,
    range_db: float = SOUNDING_RANGE_DB,
) -> Tensor:
    """Per-note mean |loudness_pred - loudness_true| (dB) over the reference's sounding frames, [N]."""
    if pred_audio.shape != true_audio.shape:
        raise ValueError(f"audio shapes differ: {tuple(pred_audio.shape)} vs {tuple(true_audio.shape)}")
    lp = loudness_db(pred_audio, sr, hop=hop, n_frames=n_frames)
    lt = loudness_db(true_audio, sr, hop=hop, n_frames=n_frames)
    mask = sounding_frames(lt, range_db).float()
    return ((lp - lt).abs() * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)


def mss_distance(pred_audio: Tensor, true_audio: Tensor, loss: MultiScaleSpectralLoss | None = None) -> Tensor:
    """Multi-scale spectral distance per note [N] (FFT 2048..64, 75 % overlap, lin + log magnitude)."""
    loss = loss or MultiScaleSpectralLoss()
    with torch.no_grad():
        return loss(pred_audio, true_audio, reduction="none")


class MeanNoteBaseline:
    """The trivial baseline: predict every note as the mean magnitude spectrogram of its pitch.

    `fit(audio, pitch)` averages the training notes' magnitude spectrograms at every FFT size
    of the loss, per MIDI pitch; `distance(audio, pitch)` is the MSS distance of each note to
    the mean of its pitch (a pitch never seen in training falls back to the overall mean).
    Averaging magnitudes rather than waveforms matters: partial phases differ from note to
    note, so averaged waveforms would cancel out to near silence.
    """

    def __init__(self, loss: MultiScaleSpectralLoss | None = None) -> None:
        self.loss = loss or MultiScaleSpectralLoss()
        self.means: dict[int, list[Tensor]] = {}
        self.overall: list[Tensor] = []
        self.n_samples: int | None = None

    @torch.no_grad()
    def fit(self, audio: Tensor, pitch: Tensor, batch_size: int = 256) -> "MeanNoteBaseline":
        """Fit on training notes: audio [N, T] (16 kHz) and their MIDI pitches [N] (integers); returns self."""
        sums: dict[int, list[Tensor]] = {}
        counts: dict[int, int] = {}
        pitch = pitch.cpu()
        for i in range(0, audio.shape[0], batch_size):
            specs = self.loss.spectrograms(audio[i : i + batch_size].float().cpu())
            for p in pitch[i : i + batch_size].unique().tolist():
                sel = pitch[i : i + batch_size] == p
                part = [s[sel].sum(0) for s in specs]
                if p in sums:
                    sums[p] = [a + b for a, b in zip(sums[p], part)]
                else:
                    sums[p] = part
                counts[p] = counts.get(p, 0) + int(sel.sum())
        self.means = {p: [s / counts[p] for s in v] for p, v in sums.items()}
        total = sum(counts.values())
        self.overall = [sum(v[j] for v in sums.values()) / total for j in range(len(self.loss.fft_sizes))]
        self.n_samples = int(audio.shape[-1])
        return self

    @torch.no_grad()
    def distance(self, audio: Tensor, pitch: Tensor) -> Tensor:
        """MSS distance [N] of each note to the mean note of its pitch."""
        if not self.means:
            raise RuntimeError("fit the baseline on training notes first")
        if audio.shape[-1] != self.n_samples:
            raise ValueError(f"baseline was fitted on {self.n_samples}-sample notes, got {audio.shape[-1]}")
        specs = self.loss.spectrograms(audio.float().cpu())
        pitch = pitch.cpu().tolist()
        refs = [torch.stack([self.means.get(p, self.overall)[j] for p in pitch]) for j in range(len(specs))]
        return self.loss.compare(refs, specs, reduction="none")


NOTE_PHASES = ("attack", "sustain", "release")


def phase_bounds(n_samples: int, sr: int, hold_s: float, attack_s: float = 0.1) -> dict[str, tuple[int, int]]:
    """Sample ranges of a note's three phases: attack [0, attack_s), sustain [attack_s, hold_s)
    (the key is still down) and release [hold_s, end) (the key is up, the sound dies away)."""
    a, h = int(round(attack_s * sr)), int(round(hold_s * sr))
    if not 0 < a < h < n_samples:
        raise ValueError(f"need 0 < attack ({attack_s} s) < hold ({hold_s} s) < note length ({n_samples / sr} s)")
    return {"attack": (0, a), "sustain": (a, h), "release": (h, n_samples)}


@torch.no_grad()
def mss_by_phase(
    pred_audio: Tensor,
    true_audio: Tensor,
    pitch: Tensor,
    baseline_audio: Tensor,
    baseline_pitch: Tensor,
    sr: int,
    hold_s: float,
    attack_s: float = 0.1,
) -> dict[str, dict[str, float]]:
    """How much of each note phase the model keeps: MSS of model and mean-note baseline per phase.

    pred_audio, true_audio: [N, S] reconstructions and originals; pitch [N] MIDI.
    baseline_audio [M, S], baseline_pitch [M]: training notes to fit a `MeanNoteBaseline` on
    each phase's samples alone. Returns {phase: {"model", "baseline", "ratio"}}: a ratio near 1
    in the attack means the decoder lost what makes the attack (inharmonic transients, hammer,
    breath and bow noise); a low one in the sustain means it kept the steady timbre.
    """
    out = {}
    for phase, (lo, hi) in phase_bounds(true_audio.shape[-1], sr, hold_s, attack_s).items():
        model = float(mss_distance(pred_audio[:, lo:hi], true_audio[:, lo:hi]).mean())
        base = MeanNoteBaseline().fit(baseline_audio[:, lo:hi], baseline_pitch)
        baseline = float(base.distance(true_audio[:, lo:hi], pitch).mean())
        out[phase] = {"model": model, "baseline": baseline, "ratio": model / baseline}
    return out
