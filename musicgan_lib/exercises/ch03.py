"""Chapter 3's exercises: how steep a clipped critic can be, the penalty term, which losses track FD."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch

from .core import Verdict, call_answer, unanswered

SPRITE_VALUES = 3 * 32 * 32  # the numbers in one sprite: a linear critic on sprites has this many weights
CLIP = 0.01  # Arjovsky et al.'s clipping bound, the chapter's `WassersteinLoss(clip=0.01)`
PROGRESS_METER_RHO = 0.7  # the chapter's target: a loss tracks FD when Spearman(estimate, FD) >= 0.7


def solution_clipped_slope(n_weights: int = SPRITE_VALUES, clip: float = CLIP) -> float:
    """Reference: the largest gradient norm of a linear critic f(x) = w . x with every |w_i| <= clip.

    The gradient of w . x is w itself, and ||w||_2 is largest when every weight sits at the wall:
    sqrt(n * clip^2) = clip * sqrt(n).
    """
    return clip * math.sqrt(n_weights)


def check_clipped_slope(answer: float | None) -> Verdict:
    """Chapter 3, exercise 1: a linear critic on 3x32x32 sprites with weights clipped to [-0.01, 0.01]:
    the largest gradient norm ||grad_x f||_2 it can have."""
    if (missing := unanswered(answer)) is not None:
        return missing
    try:
        got = float(answer)
    except (TypeError, ValueError):
        return Verdict(False, f"answer with a number; got {answer!r}")
    want = solution_clipped_slope()
    if math.isclose(got, want, rel_tol=0.01):
        return Verdict(
            True,
            f"clip x sqrt(3072) = {want:.3f}: even at its steepest the clipped critic's slope stays below the 1 "
            "that W1 asks for, and a deep critic multiplies such bounds, layer by layer",
        )
    if math.isclose(got, CLIP * SPRITE_VALUES, rel_tol=0.01):
        return Verdict(
            False, "c x 3072 is the L1 norm of w (the largest w . x for pixels in [-1, 1]); the slope is the L2 norm"
        )
    if math.isclose(got, CLIP**2 * SPRITE_VALUES, rel_tol=0.01):
        return Verdict(False, "that is ||w||^2, the sum of the squared weights: take its square root")
    if math.isclose(got, CLIP, rel_tol=0.01):
        return Verdict(False, "0.01 bounds one weight; the gradient of w . x is all of w: 3,072 weights at +-0.01")
    return Verdict(
        False, f"the gradient of f(x) = w . x is w; how long can w be with 3,072 weights in [-c, c]? not {got:g}"
    )


def solution_penalty_term(norms: torch.Tensor, gp_weight: float) -> torch.Tensor:
    """Reference: what the gradient penalty adds to the critic's loss, lambda * mean((||grad|| - 1)^2),
    from the per-sample gradient norms [N] -> a scalar."""
    return gp_weight * ((norms - 1) ** 2).mean()


def check_penalty_term(penalty_term: Callable[[torch.Tensor, float], torch.Tensor] | None) -> Verdict:
    """Chapter 3, exercise 2: `penalty_term(norms [N], gp_weight) -> scalar`, the term the penalty adds
    to the critic's loss."""
    if (missing := unanswered(penalty_term)) is not None:
        return missing
    norms = torch.tensor([0.2, 0.7, 1.0, 1.4, 2.5])  # some slopes below 1, some above
    gp_weight = 10.0
    result, problem = call_answer(penalty_term, norms.clone(), gp_weight)
    if problem is not None:
        return problem
    try:
        got = float(torch.as_tensor(result, dtype=torch.float64))
    except (TypeError, ValueError, RuntimeError):
        return Verdict(False, f"return one number (a scalar tensor or a float); got {result!r}")
    want = float(solution_penalty_term(norms, gp_weight))
    below, above = norms.clamp(max=1.0), norms.clamp(min=1.0)
    mistakes = {
        "one-sided: slopes below 1 are penalised too, (||grad|| - 1)^2 is two-sided": float(
            gp_weight * ((above - 1) ** 2).mean()
        ),
        "only the slopes below 1 are penalised here: (||grad|| - 1)^2 counts both sides": float(
            gp_weight * ((below - 1) ** 2).mean()
        ),
        "lambda is missing: the term is gp_weight x mean((||grad|| - 1)^2)": float(((norms - 1) ** 2).mean()),
        "that penalises ||grad|| itself; the target is a slope of 1: (||grad|| - 1)^2": float(
            gp_weight * (norms**2).mean()
        ),
        "the mean over the batch, not the sum: the term should not grow with the batch size": float(
            gp_weight * ((norms - 1) ** 2).sum()
        ),
        "squared norms: it is (||grad|| - 1)^2, not (||grad||^2 - 1)^2": float(
            gp_weight * ((norms**2 - 1) ** 2).mean()
        ),
        "square the distance from 1: (||grad|| - 1)^2, not |(||grad|| - 1)|": float(
            gp_weight * (norms - 1).abs().mean()
        ),
    }
    if math.isclose(got, want, rel_tol=1e-4):
        return Verdict(True, f"{want:.3f} for these slopes: both a slope of 0.2 and one of 2.5 cost the critic")
    for reason, value in mistakes.items():
        if math.isclose(got, value, rel_tol=1e-4):
            return Verdict(False, reason)
    return Verdict(False, f"for norms {norms.tolist()} and lambda 10 the term is {want:.3f}; got {got:.3f}")


def solution_progress_meters(spearman: dict[str, float]) -> set[str]:
    """Reference: the runs whose loss rises and falls with FD (Spearman >= 0.7)."""
    return {name for name, rho in spearman.items() if rho >= PROGRESS_METER_RHO}


def check_progress_meters(answer: Iterable[str] | str | None, spearman: dict[str, float]) -> Verdict:
    """Chapter 3, exercise 3: from the measured Spearman correlations of each run's critic estimate
    with FD (`spearman`, run name -> rho), which runs' losses can be read as a progress meter?"""
    if (missing := unanswered(answer)) is not None:
        return missing
    chosen = {answer} if isinstance(answer, str) else set(answer)
    if unknown := chosen - set(spearman):
        return Verdict(False, f"{sorted(unknown)} is not a run: name some of {sorted(spearman)}")
    want = solution_progress_meters(spearman)
    if chosen == want:
        return Verdict(
            True,
            "; ".join(f"{n}: rho {spearman[n]:+.2f}" for n in sorted(spearman))
            + f". Where rho >= {PROGRESS_METER_RHO} ({', '.join(sorted(want)) or 'none'}), the estimate falls as FD falls",
        )
    if wrong := sorted(n for n in chosen - want if spearman[n] < 0):
        return Verdict(
            False,
            f"{wrong[0]}'s correlation is negative ({spearman[wrong[0]]:+.2f}): its loss moves against FD, "
            "so it cannot be read as a distance",
        )
    if wrong := sorted(chosen - want):
        return Verdict(
            False, f"{wrong[0]}'s rho is {spearman[wrong[0]]:+.2f}, below {PROGRESS_METER_RHO}: too loose a match"
        )
    missed = sorted(want - chosen)[0]
    why = (
        ": a slow critic can still track FD, its estimate is W1 times an unknown constant, and a constant "
        "does not change the ranking"
        if missed == "clip"
        else ""
    )
    return Verdict(
        False, f"{missed} is missing: its rho is {spearman[missed]:+.2f}, not below {PROGRESS_METER_RHO}{why}"
    )
