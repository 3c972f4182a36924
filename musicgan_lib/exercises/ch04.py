"""Chapter 4's exercises: alpha at a step of the schedule, how many growths, the worst growth point."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from .core import Verdict, call_answer, unanswered


def solution_alpha_at_step(schedule, step: int) -> float:
    """Reference: the fade weight alpha at `step` of a `models.progan_schedule.GrowthSchedule` (its `at`)."""
    return schedule.at(step)[1]


def check_alpha_at_step(answer: float | None, schedule, step: int) -> Verdict:
    """Chapter 4, exercise 1: with the printed `schedule`, the alpha the networks use at `step`."""
    if (missing := unanswered(answer)) is not None:
        return missing
    try:
        got = float(answer)
    except (TypeError, ValueError):
        return Verdict(False, f"answer with a number between 0 and 1; got {answer!r}")
    phase, want = schedule.at(step)
    where = f"step {step} is in the {phase.resolution}px {phase.kind} phase, steps {phase.start_step}-{phase.end_step}"
    if math.isclose(got, want, abs_tol=5e-4):
        return Verdict(
            True,
            f"{where}: alpha = ({step} - {phase.start_step}) / {phase.steps} = {want:.4f}"
            if phase.kind == "fade"
            else f"{where}: alpha is 1 outside a fade",
        )
    if phase.kind != "fade":
        return Verdict(False, f"{where}: only a fade blends, alpha is 1 there")
    steps_in = step - phase.start_step
    if math.isclose(got, 1 - want, abs_tol=5e-4):
        return Verdict(False, f"{where}; alpha is the new block's weight: it rises from 0 when the networks grow")
    if math.isclose(got, (steps_in + 1) / phase.steps, abs_tol=5e-4):
        return Verdict(False, f"{where}; alpha is 0 at the fade's first step: (step - start) / steps, no + 1")
    if got in (0.0, 1.0):
        return Verdict(False, f"{where}: alpha rises linearly through the fade, neither end applies")
    return Verdict(False, f"{where}: how far through it is step {step}? not {got:g}")


def solution_n_growths(start_resolution: int, final_resolution: int) -> int:
    """Reference: how many times the networks grow (double) from start to final resolution."""
    return round(math.log2(final_resolution / start_resolution))


def check_n_growths(n_growths: Callable[[int, int], int] | None) -> Verdict:
    """Chapter 4, exercise 2: `n_growths(start_resolution, final_resolution) -> int`, the number of times
    the networks grow, e.g. from 4x4 to 32x32."""
    if (missing := unanswered(n_growths)) is not None:
        return missing
    cases = [(4, 32), (4, 64), (8, 8), (4, 8), (8, 64)]
    got = []
    for start, final in cases:
        result, problem = call_answer(n_growths, start, final)
        if problem is not None:
            return problem
        got.append(result)
    want = [solution_n_growths(s, f) for s, f in cases]
    if all(isinstance(g, (int, float)) and math.isclose(g, w) for g, w in zip(got, want)):
        return Verdict(
            True, "4 -> 8 -> 16 -> 32 is 3 growths: log2(32 / 4); each adds a fade and a stable phase to the schedule"
        )
    by_case = dict(zip(cases, got))
    if by_case[(4, 32)] == 8:
        return Verdict(
            False, "32 / 4 = 8 is how much larger the sprite is; each growth doubles it: count the doublings"
        )
    if by_case[(4, 32)] == 4:
        return Verdict(False, "4, 8, 16 and 32 are four resolutions but three growths between them")
    wrong = next(c for c, g, w in zip(cases, got, want) if not (isinstance(g, (int, float)) and math.isclose(g, w)))
    return Verdict(False, f"from {wrong[0]}x{wrong[0]} to {wrong[1]}x{wrong[1]}: got {by_case[wrong]!r}")


def solution_worst_growth(spikes: Sequence[dict]) -> int:
    """Reference: the resolution grown to at the growth point whose fade raised FD the most, relative to
    the FD just before it (`metrics.progan_fd.growth_spikes`: the largest `ratio`)."""
    return max(spikes, key=lambda s: s["ratio"])["resolution"]


def check_worst_growth(answer: int | None, spikes: Sequence[dict]) -> Verdict:
    """Chapter 4, exercise 3: from the measured growth points (`spikes`), at which growth (the resolution
    grown to) did the fade hurt FD the most?"""
    if (missing := unanswered(answer)) is not None:
        return missing
    by_resolution = {s["resolution"]: s for s in spikes}
    if answer not in by_resolution:
        return Verdict(False, f"answer one of the resolutions grown to: {sorted(by_resolution)}")
    want = solution_worst_growth(spikes)
    if answer == want:
        return Verdict(True, f"growing to {want}px: worst FD during the fade x{by_resolution[want]['ratio']:.2f}")
    if answer == max(spikes, key=lambda s: s["fd_max_fade"])["resolution"]:
        return Verdict(
            False,
            f"{answer}px has the highest raw FD, but FD is high at low resolution whatever the fade does: "
            "compare the ratio of the worst FD during the fade to the FD just before it",
        )
    return Verdict(
        False, f"the ratio at {answer}px is x{by_resolution[answer]['ratio']:.2f}; another growth point's is higher"
    )
