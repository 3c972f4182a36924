"""Chapter 1's exercises: every reference solution passes its check, and wrong answers fail with a reason."""

import torch
import torch.nn.functional as F

from musicgan_lib.data.toy2d import ring
from musicgan_lib.exercises import ch01
from musicgan_lib.metrics.modes import ModeReport
from musicgan_lib.recipes import gan_basics as ch1


def test_reference_solutions_pass_their_checks():
    assert ch01.check_critic_loss(ch01.solution_critic_loss).passed
    assert ch01.check_saturation_ratio(ch01.solution_saturation_ratio()).passed


def test_the_reference_method_covers_the_ring_when_trained():
    method = ch01.solution_cover_the_ring(ch1.METHODS["vanilla"])
    run = ch1.train_toy_gan(ring(), method, 0, ch1.ToyConfig.for_profile("quick"), quiet=True)
    verdict = ch01.check_covers_every_mode(run)
    assert verdict.passed, verdict


def _run(mixture, modes, hq, share):
    report = ModeReport(modes, 8, hq, (0,) * 8, share)
    return ch1.ToyRun(mixture, "mine", 0, report, None, None, {})


def test_wrong_answers_fail_and_say_why():
    bce = torch.nn.functional.binary_cross_entropy
    cases = [
        (ch01.check_critic_loss(lambda r, f: ch01.solution_critic_loss(f, r)), "swapped"),
        (ch01.check_critic_loss(lambda r, f: -ch01.solution_critic_loss(r, f)), "sign"),
        (ch01.check_critic_loss(lambda r, f: F.softplus(-r).sum() + F.softplus(f).sum()), "mean"),
        (ch01.check_critic_loss(lambda r, f: -torch.sigmoid(r).mean() + torch.sigmoid(f).mean()), "log"),
        (ch01.check_critic_loss(lambda r, f: F.softplus(-r) + F.softplus(f)), "one number"),
        (
            ch01.check_critic_loss(
                lambda r, f: bce(torch.sigmoid(r), torch.ones_like(r)) + bce(torch.sigmoid(f), torch.zeros_like(f))
                if r.abs().max() < 50
                else -torch.log(torch.sigmoid(r)).mean() - torch.log(1 - torch.sigmoid(f)).mean()
            ),
            "softplus",
        ),
        (ch01.check_critic_loss(lambda r, f: r.mean() - f.mean()), "expected -mean log D"),
        (ch01.check_critic_loss(lambda r, f: r.foo), "raised AttributeError"),
        (ch01.check_saturation_ratio(1 / 99), "upside down"),
        (ch01.check_saturation_ratio(100), "0.99 / 0.01"),
        (ch01.check_saturation_ratio(2), "differentiate"),
        (ch01.check_saturation_ratio("lots"), "a number"),
        (ch01.check_covers_every_mode(_run("ring", 1, 0.9, (0.9,) + (0.1 / 7,) * 7)), "still collapsed"),
        (ch01.check_covers_every_mode(_run("ring", 8, 0.05, (0.125,) * 8)), "not settled"),
        (ch01.check_covers_every_mode(_run("grid", 25, 0.9, ())), "on the grid"),
        (ch01.check_covers_every_mode("a run"), "pass the run"),
    ]
    for verdict, reason in cases:
        assert not verdict.passed and reason in verdict.message, verdict


def test_unanswered_exercises_say_so():
    for check in (ch01.check_critic_loss, ch01.check_saturation_ratio, ch01.check_covers_every_mode):
        assert "no answer yet" in check(None).message
    assert "returns None" in ch01.check_critic_loss(lambda r, f: None).message
