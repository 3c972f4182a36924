"""Chapter 6's exercises: pitch error in cents, harmonics below Nyquist, the worst-kept note phase."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..metrics.audio import cents_error
from .core import Verdict, call_answer, unanswered


def solution_cents(f_pred: torch.Tensor, f_true: torch.Tensor) -> torch.Tensor:
    """Reference: the pitch error in cents, |1200 * log2(f_pred / f_true)|, elementwise ([N] -> [N])."""
    return (1200.0 * torch.log2(f_pred / f_true)).abs()


def check_cents(cents: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None) -> Verdict:
    """Chapter 6, exercise 1: `cents(f_pred [N], f_true [N]) -> [N]`, the absolute error in cents."""
    if (missing := unanswered(cents)) is not None:
        return missing
    f_true = torch.tensor([440.0, 440.0, 261.63, 1000.0, 100.0])
    f_pred = torch.tensor([880.0, 466.16, 261.63, 970.0, 97.0])
    result, problem = call_answer(cents, f_pred, f_true)
    if problem is not None:
        return problem
    got = torch.as_tensor(result, dtype=torch.float64)
    want = cents_error(f_pred, f_true).double()
    if got.shape != want.shape:
        return Verdict(False, f"expected one number per frequency, shape {tuple(want.shape)}; got {tuple(got.shape)}")
    if torch.allclose(got.abs(), want, atol=0.1) and not torch.allclose(got, want, atol=0.1):
        return Verdict(
            False, "some errors come out negative: report the size of the error, |...|, whichever note is higher"
        )
    if torch.allclose(got, want / 100, atol=0.01):
        return Verdict(False, "these are semitones: a cent is 1/100 of a semitone (1200 per octave)")
    if not torch.allclose(got, want, atol=0.1):
        return Verdict(False, f"an octave (880 vs 440 Hz) should be 1200 cents, you gave {float(got[0]):.1f}")
    return Verdict(True, "an octave is 1200 cents, a semitone 100; 970 vs 1000 Hz is 52.7 cents: a quarter tone off")


def solution_harmonics_below_nyquist(f0_hz: float = 3000.0, sample_rate: int = 16000, n_harmonics: int = 48) -> int:
    """Reference: how many of harmonics 1..H of f0 lie strictly below Nyquist (sr / 2)."""
    return sum(1 for k in range(1, n_harmonics + 1) if k * f0_hz < sample_rate / 2)


def check_harmonics_below_nyquist(answer: int | None) -> Verdict:
    """Chapter 6, exercise 2: of 48 harmonics of a 3,000 Hz note at 16 kHz, how many can be played?"""
    if (missing := unanswered(answer)) is not None:
        return missing
    want = solution_harmonics_below_nyquist()
    if answer == want:
        return Verdict(True, "3 kHz and 6 kHz lie below the 8 kHz Nyquist limit; 9 kHz would fold back (alias)")
    if answer == want + 1:
        return Verdict(False, "8 kHz is not below 8 kHz: a harmonic exactly at Nyquist is dropped too")
    return Verdict(False, f"count k with k x 3000 Hz < 16000 / 2 Hz; {answer} is not it")


def check_worst_phase(answer: str | None, phases: dict[str, dict[str, float]]) -> Verdict:
    """Chapter 6, exercise 3: from the measured `phases` (`metrics.note_autoencoder_eval.phase_errors`), which
    phase of a note does the decoder keep worst, relative to the mean-note baseline?"""
    if (missing := unanswered(answer)) is not None:
        return missing
    if answer not in phases:
        return Verdict(False, f"answer one of {sorted(phases)}")
    want = max(phases, key=lambda p: phases[p]["ratio"])
    if answer == want:
        return Verdict(True, f"the {want} has the highest model / baseline ratio ({phases[want]['ratio']:.2f})")
    return Verdict(
        False,
        f"compare the ratios, not the raw MSS: {answer} has {phases[answer]['ratio']:.2f}, another phase more",
    )
