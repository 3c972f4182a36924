"""Self-checking exercises: each chapter's `check_*` says right, or wrong and why.

A notebook's exercise cell holds the learner's answer (a function or a value, `None` until they
write one) and ends with `run_check(check_..., answer, ...)`. A check never raises: it returns a
`Verdict` whose text says what was expected. Batch runs (papermill, nbval, CI) skip the checks
with one line, so an unanswered exercise never stops the book.

Reference solutions live here too (`solution_*`), never on the page; `tests/test_exercises.py`
runs every solution through its check (every check can pass) and a wrong answer through every
check (every check can fail).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .device import is_batch_run
from .metrics.audio import cents_error


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check: `passed`, and a message that says why."""

    passed: bool
    message: str

    def __str__(self) -> str:
        return f"{'RIGHT' if self.passed else 'NOT YET'}: {self.message}"


def run_check(check: Callable[..., Verdict], *args) -> Verdict | None:
    """Print and return `check(*args)`; in a batch run print that the exercise was skipped."""
    if is_batch_run():
        print(f"exercise {check.__name__} skipped in a batch run: open the notebook in JupyterLab to try it")
        return None
    verdict = check(*args)
    print(verdict)
    return verdict


def _unanswered(answer) -> Verdict | None:
    return Verdict(False, "no answer yet: replace the None in the cell above") if answer is None else None


def _call(fn: Callable, *args) -> tuple[object, Verdict | None]:
    """The learner's function's result, or a verdict: it raised, or still returns None (not written yet)."""
    try:
        result = fn(*args)
    except Exception as exc:  # the learner's code: say what broke, do not stop the notebook
        return None, Verdict(False, f"your function raised {type(exc).__name__}: {exc}")
    if result is None:
        return None, Verdict(False, "no answer yet: your function returns None; write its body")
    return result, None


# ---------------------------------------------------------------------------- chapter 6


def solution_cents(f_pred: torch.Tensor, f_true: torch.Tensor) -> torch.Tensor:
    """Reference: the pitch error in cents, |1200 * log2(f_pred / f_true)|, elementwise ([N] -> [N])."""
    return (1200.0 * torch.log2(f_pred / f_true)).abs()


def check_cents(cents: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None) -> Verdict:
    """Chapter 6, exercise 1: `cents(f_pred [N], f_true [N]) -> [N]`, the absolute error in cents."""
    if (missing := _unanswered(cents)) is not None:
        return missing
    f_true = torch.tensor([440.0, 440.0, 261.63, 1000.0, 100.0])
    f_pred = torch.tensor([880.0, 466.16, 261.63, 970.0, 97.0])
    result, problem = _call(cents, f_pred, f_true)
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
    if (missing := _unanswered(answer)) is not None:
        return missing
    want = solution_harmonics_below_nyquist()
    if answer == want:
        return Verdict(True, "3 kHz and 6 kHz lie below the 8 kHz Nyquist limit; 9 kHz would fold back (alias)")
    if answer == want + 1:
        return Verdict(False, "8 kHz is not below 8 kHz: a harmonic exactly at Nyquist is dropped too")
    return Verdict(False, f"count k with k x 3000 Hz < 16000 / 2 Hz; {answer} is not it")


def check_worst_phase(answer: str | None, phases: dict[str, dict[str, float]]) -> Verdict:
    """Chapter 6, exercise 3: from the measured `phases` (`recipes.autoencoder.phase_errors`), which
    phase of a note does the decoder keep worst, relative to the mean-note baseline?"""
    if (missing := _unanswered(answer)) is not None:
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


# ---------------------------------------------------------------------------- chapter 7


def solution_nn_ratio(generated_to_train: torch.Tensor, held_out_to_train: torch.Tensor) -> float:
    """Reference: mean nearest-training-neighbour distance of generated samples ([N]) over that of
    held-out real ones ([M]); about 1 means as new as fresh data, near 0 means copies."""
    return float(generated_to_train.mean() / held_out_to_train.mean())


def check_nn_ratio(nn_ratio: Callable[[torch.Tensor, torch.Tensor], float] | None) -> Verdict:
    """Chapter 7, exercise 1: `nn_ratio(generated_to_train [N], held_out_to_train [M]) -> float`."""
    if (missing := _unanswered(nn_ratio)) is not None:
        return missing
    gen = torch.tensor([0.2, 0.4, 0.3, 0.5])
    held = torch.tensor([0.5, 0.6, 0.7])
    result, problem = _call(nn_ratio, gen, held)
    if problem is not None:
        return problem
    got = float(result)
    want = solution_nn_ratio(gen, held)
    if math.isclose(got, 1 / want, rel_tol=1e-4):
        return Verdict(False, "upside down: generated over held-out, so copies (distance 0) give 0")
    if not math.isclose(got, want, rel_tol=1e-4):
        return Verdict(False, f"expected the ratio of the two mean distances, {want:.3f}; got {got:.3f}")
    return Verdict(True, f"{want:.3f}: these samples sit closer to the training set than real data do")


def check_gan_beats_gaussian(answer: bool | None, records: dict[str, float]) -> Verdict:
    """Chapter 7, exercise 2: from the recorded numbers, does the GAN beat the Gaussian baseline on FD
    by more than the real floor's seed spread? Answer True or False."""
    if (missing := _unanswered(answer)) is not None:
        return missing
    margin = records["fd_gaussian_baseline"] - records["fd"]
    want = margin > records["fd_real_floor_spread"]
    if bool(answer) == want:
        return Verdict(
            True, f"the margin is {margin:.3f} against a seed spread of {records['fd_real_floor_spread']:.3f}"
        )
    return Verdict(False, "compare fd_gaussian_baseline - fd with fd_real_floor_spread, not fd alone")


__all__ = [
    "Verdict",
    "check_cents",
    "check_gan_beats_gaussian",
    "check_harmonics_below_nyquist",
    "check_nn_ratio",
    "check_worst_phase",
    "run_check",
    "solution_cents",
    "solution_harmonics_below_nyquist",
    "solution_nn_ratio",
]
