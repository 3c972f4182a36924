"""Every exercise check can pass (its reference solution) and can fail (a wrong answer), with a reason."""

import torch

from musicgan_lib.exercises import ch06, ch07

PHASES = {
    "attack": {"model": 3.0, "baseline": 4.0, "ratio": 0.75},
    "sustain": {"model": 2.0, "baseline": 8.0, "ratio": 0.25},
    "release": {"model": 1.0, "baseline": 2.0, "ratio": 0.5},
}
RECORDS = {"fd": 2.0, "fd_gaussian_baseline": 2.5, "fd_real_floor_spread": 0.1}


def test_reference_solutions_pass_their_checks():
    assert ch06.check_cents(ch06.solution_cents).passed
    assert ch06.check_harmonics_below_nyquist(ch06.solution_harmonics_below_nyquist()).passed
    assert ch06.check_worst_phase("attack", PHASES).passed
    assert ch07.check_nn_ratio(ch07.solution_nn_ratio).passed
    assert ch07.check_gan_beats_gaussian(True, RECORDS).passed
    assert ch07.check_gan_beats_gaussian(False, {**RECORDS, "fd_real_floor_spread": 0.6}).passed


def test_wrong_answers_fail_and_say_why():
    cases = [
        (ch06.check_cents(lambda p, t: 1200 * torch.log2(t / p)), "negative"),
        (ch06.check_cents(lambda p, t: (12 * torch.log2(p / t)).abs()), "semitones"),
        (ch06.check_cents(lambda p, t: p - t), "1200 cents"),
        (ch06.check_cents(lambda p, t: 1 / 0), "raised ZeroDivisionError"),
        (ch06.check_harmonics_below_nyquist(3), "exactly at Nyquist"),
        (ch06.check_harmonics_below_nyquist(48), "k x 3000"),
        (ch06.check_worst_phase("sustain", PHASES), "ratios"),
        (ch06.check_worst_phase("decay", PHASES), "one of"),
        (ch07.check_nn_ratio(lambda g, h: float(h.mean() / g.mean())), "upside down"),
        (ch07.check_nn_ratio(lambda g, h: float(g.min() / h.min())), "ratio of the two mean"),
        (ch07.check_gan_beats_gaussian(False, RECORDS), "fd_real_floor_spread"),
    ]
    for verdict, reason in cases:
        assert not verdict.passed and reason in verdict.message, verdict
        assert str(verdict).startswith("NOT YET")


def test_an_unanswered_exercise_says_so():
    for check, args in [(ch06.check_cents, ()), (ch06.check_worst_phase, (PHASES,)), (ch07.check_nn_ratio, ())]:
        verdict = check(None, *args)
        assert not verdict.passed and "no answer yet" in verdict.message
    for check in (
        ch06.check_cents,
        ch07.check_nn_ratio,
    ):  # the page's stub: a function whose body is still `return None`
        verdict = check(lambda a, b: None)
        assert not verdict.passed and "returns None" in verdict.message
