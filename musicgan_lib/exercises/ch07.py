"""Chapter 7's exercises: the nearest-neighbour ratio, and reading the FD margin against its noise."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .core import Verdict, call_answer, unanswered


def solution_nn_ratio(generated_to_train: torch.Tensor, held_out_to_train: torch.Tensor) -> float:
    """Reference: mean nearest-training-neighbour distance of generated samples ([N]) over that of
    held-out real ones ([M]); about 1 means as new as fresh data, near 0 means copies."""
    return float(generated_to_train.mean() / held_out_to_train.mean())


def check_nn_ratio(nn_ratio: Callable[[torch.Tensor, torch.Tensor], float] | None) -> Verdict:
    """Chapter 7, exercise 1: `nn_ratio(generated_to_train [N], held_out_to_train [M]) -> float`."""
    if (missing := unanswered(nn_ratio)) is not None:
        return missing
    gen = torch.tensor([0.2, 0.4, 0.3, 0.5])
    held = torch.tensor([0.5, 0.6, 0.7])
    result, problem = call_answer(nn_ratio, gen, held)
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
    if (missing := unanswered(answer)) is not None:
        return missing
    margin = records["fd_gaussian_baseline"] - records["fd"]
    want = margin > records["fd_real_floor_spread"]
    if bool(answer) == want:
        return Verdict(
            True, f"the margin is {margin:.3f} against a seed spread of {records['fd_real_floor_spread']:.3f}"
        )
    return Verdict(False, "compare fd_gaussian_baseline - fd with fd_real_floor_spread, not fd alone")
