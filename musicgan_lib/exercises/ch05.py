"""Chapter 5's exercises: a sine of given frequency and phase, the period of a sum of sines, and
which harmonic of the chapter's guitar note is the strongest."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from fractions import Fraction

import numpy as np
import torch

from ..audio.analysis import Partials
from ..audio.synth import sine
from .core import Verdict, call_for_tensor, unanswered


def solution_sine_wave(freq_hz: float, phase: float, duration_s: float, sr: int) -> torch.Tensor:
    """Reference: sin(2 pi f t + phase) at t = n / sr, n = 0 .. round(duration_s * sr) - 1 -> [T].

    Sample 0 sits at t = 0, so it is sin(phase): the phase says where in its cycle the wave starts.
    """
    t = torch.arange(round(duration_s * sr), dtype=torch.float64) / sr
    return torch.sin(2 * math.pi * freq_hz * t + phase).float()


def _diagnose_sine(got: torch.Tensor, freq_hz: float, phase: float, sr: int) -> str:
    """Why `got` [T] is not the sine: the usual slips, each recognised by what it computes."""
    n = torch.arange(got.numel(), dtype=torch.float64)
    slips = [
        (torch.cos(2 * math.pi * freq_hz * n / sr + phase), "that is a cosine: the wave is sin(2 pi f t + phase)"),
        (torch.sin(freq_hz * n / sr + phase), "one cycle is 2 pi radians: the angle is 2 pi f t, not f t"),
        (torch.sin(2 * math.pi * freq_hz * n / sr), "the phase is missing: sample 0 must be sin(phase), not 0"),
        (torch.sin(2 * math.pi * freq_hz * n + phase), "t is in seconds: sample n sits at t = n / sr"),
        (
            torch.sin(2 * math.pi * freq_hz * (n + 1) / sr + phase),
            "off by one sample: sample 0 sits at t = 0, so it must be sin(phase)",
        ),
    ]
    for wrong, why in slips:
        if torch.allclose(got, wrong, atol=1e-3):
            return why
    return f"sample 0 should be sin(phase) = {math.sin(phase):.3f} and the wave x(t) = sin(2 pi f t + phase)"


def check_sine_wave(sine_wave: Callable[[float, float, float, int], torch.Tensor] | None) -> Verdict:
    """Chapter 5, exercise 1: `sine_wave(freq_hz, phase, duration_s, sr) -> [T]`, T = round(duration_s * sr),
    a sine of amplitude 1 starting at `phase` radians. Compared with the library's `sine`."""
    if (missing := unanswered(sine_wave)) is not None:
        return missing
    for freq_hz, phase, duration_s, sr in [(440.0, math.pi / 3, 0.01, 16000), (1000.0, 1.0, 0.004, 8000)]:
        got, problem = call_for_tensor(sine_wave, freq_hz, phase, duration_s, sr, what="samples")
        if problem is not None:
            return problem
        want = sine(freq_hz, duration_s, sr, phase=phase).double()
        if got.numel() != want.numel():
            return Verdict(
                False,
                f"{duration_s} s at {sr} Hz is round(duration_s * sr) = {want.numel()} samples; "
                f"you returned {got.numel()}",
            )
        if not torch.allclose(got, want, atol=1e-4):
            return Verdict(False, f"at {freq_hz:g} Hz, phase {phase:.3f}: " + _diagnose_sine(got, freq_hz, phase, sr))
    return Verdict(True, "x[n] = sin(2 pi f n / sr + phase): the phase only shifts where the cycle starts")


def solution_sum_period(freqs_hz: Sequence[float] = (300.0, 450.0, 750.0)) -> float:
    """Reference: the period in seconds of a sum of sines at `freqs_hz`: 1 / (their greatest common
    divisor), the longest time after which every sine has completed a whole number of cycles."""
    common = Fraction(0)  # gcd(0, f) = f
    for f in (Fraction(f).limit_denominator(1000) for f in freqs_hz):  # exact rationals: 27.5 Hz = 55/2
        common = Fraction(
            math.gcd(common.numerator * f.denominator, f.numerator * common.denominator),
            common.denominator * f.denominator,
        )
    return float(1 / common)


def check_sum_period(answer: float | None, freqs_hz: Sequence[float] = (300.0, 450.0, 750.0)) -> Verdict:
    """Chapter 5, exercise 2: after how many seconds does the sum of sines at `freqs_hz` repeat?"""
    if (missing := unanswered(answer)) is not None:
        return missing
    if isinstance(answer, bool) or not isinstance(answer, numbers.Real) or not math.isfinite(answer) or answer <= 0:
        return Verdict(False, f"answer a positive number of seconds, got {answer!r}")
    want = solution_sum_period(freqs_hz)
    fundamental = 1 / want
    listed = ", ".join(f"{f:g}" for f in freqs_hz)
    if math.isclose(answer, want, rel_tol=1e-2):
        return Verdict(
            True,
            f"1/{fundamental:g} s: every sine completes a whole number of cycles in it "
            f"({', '.join(f'{f / fundamental:g}' for f in freqs_hz)}), so you hear one tone at {fundamental:g} Hz",
        )
    if math.isclose(answer, fundamental, rel_tol=1e-2):
        return Verdict(
            False, f"{fundamental:g} Hz is the frequency of the tone you hear; its period is 1/f, in seconds"
        )
    if math.isclose(answer, 1000 * want, rel_tol=1e-2):
        return Verdict(False, "that is in milliseconds: answer in seconds")
    for f in freqs_hz:
        if math.isclose(answer, 1 / f, rel_tol=1e-2):
            others = [g for g in freqs_hz if abs(g / f - round(g / f)) > 1e-9]
            if others:
                return Verdict(
                    False,
                    f"1/{f:g} s is one cycle of the {f:g} Hz sine, but the {others[0]:g} Hz sine does "
                    f"{others[0] / f:g} cycles in it: the sum repeats only when every sine has done a whole number",
                )
    return Verdict(
        False, f"find the largest frequency f that divides {listed} Hz exactly: the sum repeats every 1/f seconds"
    )


def solution_strongest_harmonic(parts: Partials, f0_hz: float) -> int:
    """Reference: the harmonic number (1 = the fundamental) of the partial with the most energy,
    its frequency over f0, rounded (`Partials.table` lists the partials strongest first)."""
    return int(round(float(parts.freqs_hz[int(np.argmax(parts.energy()))]) / f0_hz))


def check_strongest_harmonic(answer: int | None, parts: Partials, f0_hz: float) -> Verdict:
    """Chapter 5, exercise 3: from the chapter's decomposition `parts` of the guitar note and its
    f0 label, which harmonic carries the most energy? Answer its number (1 = the fundamental)."""
    if (missing := unanswered(answer)) is not None:
        return missing
    if isinstance(answer, bool) or not isinstance(answer, numbers.Real) or not math.isfinite(answer):
        return Verdict(False, f"answer a whole number (1 = the fundamental, 2 = the octave above), got {answer!r}")
    want = solution_strongest_harmonic(parts, f0_hz)
    strongest_hz = float(parts.freqs_hz[int(np.argmax(parts.energy()))])
    if answer == want:
        return Verdict(
            True,
            f"harmonic {want}: {strongest_hz:.0f} Hz is about {want} x {f0_hz:.1f} Hz. You still hear the pitch of "
            "f0: the ear follows the spacing of the harmonics, not the loudest one",
        )
    if abs(answer - strongest_hz) < 0.05 * strongest_hz:
        return Verdict(False, "that is the partial's frequency in Hz: divide it by the f0 label for its number")
    if answer == 1:
        return Verdict(
            False, "the fundamental is not always the strongest partial: the table lists them strongest first"
        )
    return Verdict(
        False, f"the table lists the partials strongest first: divide the first row's frequency by f0 = {f0_hz:.1f} Hz"
    )
