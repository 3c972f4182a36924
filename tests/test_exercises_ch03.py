"""Chapter 3's exercise checks can pass (the reference solutions) and can fail (wrong answers, with
the reason), and an unanswered exercise says so."""

import torch

from musicgan_lib.exercises import ch03

SPEARMAN = {"gp": 0.987, "clip": 0.802, "dcgan": -0.420}  # as chapter 3 measured them


def test_reference_solutions_pass_their_checks():
    assert ch03.check_clipped_slope(ch03.solution_clipped_slope()).passed
    assert ch03.check_penalty_term(ch03.solution_penalty_term).passed
    assert ch03.check_progress_meters(ch03.solution_progress_meters(SPEARMAN), SPEARMAN).passed
    assert ch03.check_progress_meters(["gp", "clip"], SPEARMAN).passed  # any collection of names
    other = {"gp": 0.95, "clip": 0.4, "dcgan": 0.1}  # the answer follows the measured numbers
    assert ch03.check_progress_meters("gp", other).passed


def test_wrong_answers_fail_and_say_why():
    cases = [
        (ch03.check_clipped_slope(30.72), "L1 norm"),
        (ch03.check_clipped_slope(0.3072), "square root"),
        (ch03.check_clipped_slope(0.01), "one weight"),
        (ch03.check_clipped_slope(1.0), "how long can w be"),
        (ch03.check_clipped_slope("steep"), "answer with a number"),
        (ch03.check_penalty_term(lambda n, lam: lam * ((n - 1).clamp(min=0) ** 2).mean()), "one-sided"),
        (ch03.check_penalty_term(lambda n, lam: lam * ((n - 1).clamp(max=0) ** 2).mean()), "both sides"),
        (ch03.check_penalty_term(lambda n, lam: ((n - 1) ** 2).mean()), "lambda is missing"),
        (ch03.check_penalty_term(lambda n, lam: lam * (n**2).mean()), "slope of 1"),
        (ch03.check_penalty_term(lambda n, lam: lam * ((n - 1) ** 2).sum()), "mean over the batch"),
        (ch03.check_penalty_term(lambda n, lam: lam * ((n**2 - 1) ** 2).mean()), "squared norms"),
        (ch03.check_penalty_term(lambda n, lam: lam * (n - 1).abs().mean()), "square the distance"),
        (ch03.check_penalty_term(lambda n, lam: lam), "the term is"),
        (ch03.check_penalty_term(lambda n, lam: n[5]), "raised IndexError"),
        (ch03.check_penalty_term(lambda n, lam: torch.ones(3)), "one number"),
        (ch03.check_progress_meters({"gp", "clip", "dcgan"}, SPEARMAN), "negative"),
        (ch03.check_progress_meters({"gp"}, SPEARMAN), "clip is missing"),
        (ch03.check_progress_meters({"gp", "wgan"}, SPEARMAN), "not a run"),
        (ch03.check_progress_meters({"gp", "clip"}, {"gp": 0.95, "clip": 0.4, "dcgan": 0.1}), "below 0.7"),
    ]
    for verdict, reason in cases:
        assert not verdict.passed and reason in verdict.message, (reason, verdict)
        assert str(verdict).startswith("NOT YET")


def test_an_unanswered_exercise_says_so():
    for check, args in [
        (ch03.check_clipped_slope, ()),
        (ch03.check_penalty_term, ()),
        (ch03.check_progress_meters, (SPEARMAN,)),
    ]:
        verdict = check(None, *args)
        assert not verdict.passed and "no answer yet" in verdict.message
    verdict = ch03.check_penalty_term(lambda norms, gp_weight: None)  # the page's stub
    assert not verdict.passed and "returns None" in verdict.message
