"""Chapter 1's exercises: the discriminator's loss from logits, the saturation of the minimax
loss, and a measured outcome: a method that covers the whole ring."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import torch
import torch.nn.functional as F

from .core import Verdict, call_answer, unanswered

RING_MODES = 8
MIN_HIGH_QUALITY = 0.5


def solution_critic_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Reference: -mean log D(real) - mean log(1 - D(fake)) from logits ([B], [B] -> scalar), with
    log sigmoid(l) = -softplus(-l) and log(1 - sigmoid(l)) = -softplus(l), stable for any logit."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def check_critic_loss(critic_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None) -> Verdict:
    """Chapter 1, exercise 1: `critic_loss(real_logits [B], fake_logits [B]) -> scalar`."""
    if (missing := unanswered(critic_loss)) is not None:
        return missing
    real = torch.tensor([2.0, 0.5, -1.0, 3.0])
    fake = torch.tensor([-2.0, 0.3, 1.5, -0.5])
    result, problem = call_answer(critic_loss, real, fake)
    if problem is not None:
        return problem
    got = torch.as_tensor(result, dtype=torch.float64)
    if got.numel() != 1:
        return Verdict(False, f"expected one number (the mean over the batch), got shape {tuple(got.shape)}")
    got = float(got)
    want = float(solution_critic_loss(real, fake))
    swapped = float(solution_critic_loss(fake, real))
    summed = float(F.softplus(-real).sum() + F.softplus(fake).sum())
    on_probabilities = float(-torch.sigmoid(real).mean() + torch.sigmoid(fake).mean())
    if math.isclose(got, swapped, rel_tol=1e-4):
        return Verdict(False, "the labels are swapped: D should call real points 1 (real) and generated ones 0")
    if math.isclose(got, -want, rel_tol=1e-4):
        return Verdict(False, "the sign is flipped: D *maximises* V, so the loss it minimises is -V")
    if math.isclose(got, summed, rel_tol=1e-4):
        return Verdict(False, "that is a sum over the batch: take the mean, so the loss does not grow with B")
    if math.isclose(got, on_probabilities, rel_tol=1e-4):
        return Verdict(False, "take the log of the probabilities: -log D(real) - log(1 - D(fake))")
    if not math.isclose(got, want, rel_tol=1e-4):
        return Verdict(False, f"expected -mean log D(real) - mean log(1 - D(fake)) = {want:.4f}; got {got:.4f}")
    # the stable form matters: a logit of 100 must not give inf or nan
    result, problem = call_answer(critic_loss, torch.tensor([-100.0]), torch.tensor([100.0]))
    if problem is not None:
        return problem
    if not math.isfinite(float(result)):
        return Verdict(
            False, "right for ordinary logits, but a logit of ±100 gives inf: use softplus, not log(sigmoid)"
        )
    return Verdict(True, f"{want:.4f}: the same number update_D minimises, and finite for any logit")


def solution_saturation_ratio(d_of_fake: float = 0.01) -> float:
    """Reference: |d/dl softplus(-l)| / |d/dl (-softplus(l))| = (1 - D) / D at D = sigmoid(l)."""
    return (1 - d_of_fake) / d_of_fake


def check_saturation_ratio(answer: float | None) -> Verdict:
    """Chapter 1, exercise 2: at D(G(z)) = 0.01, the non-saturating over the minimax gradient."""
    if (missing := unanswered(answer)) is not None:
        return missing
    want = solution_saturation_ratio()
    try:
        got = float(answer)
    except (TypeError, ValueError):
        return Verdict(False, f"answer a number, not {answer!r}")
    if math.isclose(got, want, abs_tol=0.05):
        return Verdict(
            True, "99: minimax gives G a gradient of D = 0.01, non-saturating 1 - D = 0.99, just when G is losing"
        )
    if math.isclose(got, 1 / want, rel_tol=0.01):
        return Verdict(False, "upside down: the non-saturating gradient is the larger one while D rejects the fakes")
    if math.isclose(got, 100, abs_tol=0.05):
        return Verdict(False, "close: the gradients are D and 1 - D, so the ratio is 0.99 / 0.01, not 1 / 0.01")
    return Verdict(
        False, "differentiate -softplus(l) and softplus(-l) with respect to the logit l, at sigmoid(l) = 0.01"
    )


def solution_cover_the_ring(vanilla):
    """Reference: `vanilla` (`ch1.METHODS["vanilla"]`) on the chapter's stabilised networks (batch
    norm, 2-d noise, deeper MLPs, a decaying learning rate): `networks=None` means "the config's"."""
    return replace(vanilla, name="vanilla on the stabilised networks", networks=None)


def check_covers_every_mode(run) -> Verdict:
    """Chapter 1, exercise 3: a trained `ToyRun` on the ring with all 8 modes and >= 50 % high quality."""
    if (missing := unanswered(run)) is not None:
        return missing
    report = getattr(run, "report", None)
    if report is None or not hasattr(run, "mixture"):
        return Verdict(False, "pass the run that ch1.train_toy_gan(RING, method, SEED, config) returns")
    if run.mixture != "ring":
        return Verdict(False, f"that run is on the {run.mixture}; this exercise is about the ring")
    if report.modes_covered < RING_MODES:
        top = max(report.nearest_share, default=0.0)
        return Verdict(
            False,
            f"{report.modes_covered} of 8 modes; {100 * top:.0f} % of the samples sit nearest one mode: still "
            "collapsed. Which change in the remedies plot spread the samples out?",
        )
    if report.high_quality < MIN_HIGH_QUALITY:
        return Verdict(
            False,
            f"all 8 modes, but only {100 * report.high_quality:.1f} % of samples within 3 sigma: spread out, "
            "not settled. What else does the stabilised recipe change?",
        )
    return Verdict(True, f"{report}: every mode, and most samples on target")
