"""Chapter 6's numbers: how well the note autoencoder reconstructs held-out notes.

`evaluate` measures every recorded number on held-out notes (the encoder's own f0 drives the
decoder): f0 error in cents over the sounding frames, A-weighted loudness L1 in dB, the
multi-scale spectral distance next to a mean-note-of-the-same-pitch baseline (`fit_baseline`),
and the frozen note classifier's pitch and family accuracy on reconstructions and originals.
`phase_errors` splits the spectral distance by note phase (attack, sustain, release).

`config` below is any object with the chapter's evaluation settings (the recipe's
AutoencoderConfig): source and soundfont (which notes), soundfont_notes (the training set's
size, so held-out notes skip it), eval_notes, baseline_notes and cpu_threads.
"""

from __future__ import annotations

import functools
import time
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor

from ..data.note_sets import NoteData, choose_note_data, held_out_notes, note_set
from ..data.notes import NoteBatch
from ..models.ddsp_autoencoder import NoteAutoencoder, cpu_threads_for
from .audio import MeanNoteBaseline, f0_report, loudness_l1_db, mss_by_phase, mss_distance, sounding_frames
from .audio_classifier import load_note_classifier, note_accuracy

__all__ = ["BASELINE_OFFSET", "AutoencoderReport", "evaluate", "fit_baseline", "phase_errors", "reconstruct"]

BASELINE_OFFSET = 4_000_000  # the notes the mean-note baseline is fitted on (training-like, not held out)


@dataclass
class AutoencoderReport:
    """Every chapter-6 number on one set of held-out notes."""

    n: int
    f0_median_cents: float
    f0_within_50c: float
    loudness_l1_db: float
    mss_model: float
    mss_baseline: float
    recon_pitch_accuracy: float
    real_pitch_accuracy: float
    recon_family_accuracy: float
    real_family_accuracy: float
    seconds: float = 0.0

    @property
    def mss_ratio(self) -> float:
        return self.mss_model / self.mss_baseline

    def as_dict(self) -> dict[str, float]:
        d = asdict(self)
        d["mss_ratio"] = self.mss_ratio
        return d

    def records(self) -> dict[str, float]:
        """The six numbers the chapter records."""
        return {
            "f0_median_cents": self.f0_median_cents,
            "f0_within_50c": self.f0_within_50c,
            "loudness_l1_db": self.loudness_l1_db,
            "mss_ratio": self.mss_ratio,
            "recon_pitch_accuracy": self.recon_pitch_accuracy,
            "real_pitch_accuracy": self.real_pitch_accuracy,
        }

    def summary(self) -> str:
        return (
            f"held-out notes: {self.n}\n"
            f"f0: median error {self.f0_median_cents:.2f} cents, {100 * self.f0_within_50c:.1f}% of sounding frames within 50 cents\n"
            f"loudness L1: {self.loudness_l1_db:.2f} dB (A-weighted frames)\n"
            f"multi-scale spectral distance: model {self.mss_model:.3f} vs mean-note-of-same-pitch baseline "
            f"{self.mss_baseline:.3f} (ratio {self.mss_ratio:.3f})\n"
            f"classifier on reconstructions: pitch {100 * self.recon_pitch_accuracy:.1f}%, family "
            f"{100 * self.recon_family_accuracy:.1f}% | on the real notes: pitch {100 * self.real_pitch_accuracy:.1f}%, "
            f"family {100 * self.real_family_accuracy:.1f}%"
        )

    def targets(self, profile: str) -> dict[str, bool]:
        """{"f0_median_cents < 20": passed, ...}: the chapter's targets for `profile`, for `record.check_targets`."""
        full = profile == "full"
        checks = [
            ("f0_median_cents", self.f0_median_cents, "<", 5.0 if full else 20.0),
            ("f0_within_50c", self.f0_within_50c, ">=", 0.95),
            ("loudness_l1_db", self.loudness_l1_db, "<", 0.5 if full else 1.5),
            ("mss_ratio", self.mss_ratio, "<=", 0.25 if full else 0.5),
            ("recon_pitch_accuracy gap", self.real_pitch_accuracy - self.recon_pitch_accuracy, "<=", 0.05),
        ]
        outcomes = {}
        for name, value, op, target in checks:
            ok = value < target if op == "<" else (value >= target if op == ">=" else value <= target)
            outcomes[f"{name} {op} {target:g}"] = bool(ok)
        return outcomes


def fit_baseline(n: int, data: NoteData | None = None, seed: int = 0) -> MeanNoteBaseline:
    """The mean-note-of-the-same-pitch baseline, fitted on n training notes of `data`
    (SoundFont: the first n of the training set; synthetic: a training-like stretch of the stream)."""
    data = data or NoteData("synthetic")
    return MeanNoteBaseline().fit(*_baseline_notes(n, data, seed))


@functools.lru_cache(maxsize=2)  # one chapter run asks for them four times (two fonts x MSS and phases)
def _baseline_notes(n: int, data: NoteData, seed: int) -> tuple[Tensor, Tensor]:
    """(audio [n, S], pitch [n]) of the baseline's notes: the training set's first n, or a training-like stretch."""
    notes = note_set(data, n, seed=seed, index_offset=0 if data.real else BASELINE_OFFSET)
    return notes.audio, notes.pitch


def phase_errors(
    notes: NoteBatch, recon: Tensor, config: Any, data: NoteData, seed: int = 0
) -> dict[str, dict[str, float]]:
    """MSS of the reconstructions per note phase (attack 0-0.1 s, sustain to the key release,
    release after it), each next to a mean-note baseline fitted on that phase of training notes.

    notes: held-out NoteBatch [N, S]; recon: its reconstructions [N, S]. See `metrics.audio.mss_by_phase`.
    """
    base_audio, base_pitch = _baseline_notes(config.baseline_notes, data, seed)
    hold = float(notes.extras.get("hold_s", 0.75 * notes.audio.shape[-1] / notes.sr))
    return mss_by_phase(recon, notes.audio, notes.pitch, base_audio, base_pitch, notes.sr, hold)


@torch.no_grad()
def reconstruct(
    model: NoteAutoencoder, audio: Tensor, batch_size: int = 64, f0_hz: Tensor | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """(reconstructions, encoder f0 [N, F], z [N, Z]) on the CPU, batched, in eval mode.

    With `f0_hz` the decoder uses that pitch curve instead of the encoder's (e.g. the labels).
    """
    was = model.training
    model.eval()
    dev = next(model.parameters()).device
    outs, f0s, zs = [], [], []
    try:
        for i in range(0, audio.shape[0], batch_size):
            enc = model.encode(audio[i : i + batch_size].to(dev))
            f0 = enc.f0_hz if f0_hz is None else f0_hz[i : i + batch_size].to(dev)
            outs.append(model.decode(enc.z, f0, noise_seed=i).cpu())
            f0s.append(enc.f0_hz.cpu())
            zs.append(enc.z.cpu())
    finally:
        model.train(was)
    return torch.cat(outs), torch.cat(f0s), torch.cat(zs)


def evaluate(
    model: NoteAutoencoder,
    config: Any,
    n: int | None = None,
    device: str | torch.device | None = None,
    notes: NoteBatch | None = None,
    classifier=None,
    baseline: MeanNoteBaseline | None = None,
    seed: int = 0,
    outputs: tuple[Tensor, Tensor, Tensor] | None = None,
) -> AutoencoderReport:
    """All chapter-6 metrics on held-out notes (the encoder's own f0 drives the decoder).

    outputs: (reconstructions [N, T], encoder f0 [N, F] in Hz, z [N, Z]) on the CPU, as `reconstruct` returns.

    `outputs` = `reconstruct(model, notes.audio)` when the caller already has them.
    """
    dev = device if device is not None else next(model.parameters()).device
    with cpu_threads_for(config.cpu_threads, dev):
        return _evaluate(model, config, n, device, notes, classifier, baseline, seed, outputs)


def _evaluate(model, config, n, device, notes, classifier, baseline, seed, outputs) -> AutoencoderReport:
    t0 = time.perf_counter()
    if device is not None:
        model = model.to(device)
    data = choose_note_data(config.source, config.soundfont, warn=False)
    notes = notes if notes is not None else held_out_notes(n or config.eval_notes, data, seed, config.soundfont_notes)
    recon, f0, _ = outputs if outputs is not None else reconstruct(model, notes.audio)
    mask = sounding_frames(notes.loudness_db)
    f0r = f0_report(f0, notes.f0_hz, mask)
    loud = float(loudness_l1_db(recon, notes.audio, model.sample_rate, model.hop, notes.f0_hz.shape[-1]).mean())
    mss_model = float(mss_distance(recon, notes.audio).mean())
    if baseline is None:
        baseline = fit_baseline(config.baseline_notes, data, seed)
    mss_base = float(baseline.distance(notes.audio, notes.pitch).mean())
    classifier = classifier or load_note_classifier()
    acc_real = note_accuracy(classifier, notes.audio, notes.pitch, notes.family)
    acc_recon = note_accuracy(classifier, recon, notes.pitch, notes.family)
    return AutoencoderReport(
        n=len(notes),
        f0_median_cents=f0r.median_cents,
        f0_within_50c=f0r.within_50c,
        loudness_l1_db=loud,
        mss_model=mss_model,
        mss_baseline=mss_base,
        recon_pitch_accuracy=acc_recon["pitch"],
        real_pitch_accuracy=acc_real["pitch"],
        recon_family_accuracy=acc_recon["family"],
        real_family_accuracy=acc_real["family"],
        seconds=time.perf_counter() - t0,
    )
