"""Chapter 2's exercise checks can pass (the reference solutions) and can fail (wrong answers), with a reason."""

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from musicgan_lib import exercises
from musicgan_lib.exercises import ch02
from musicgan_lib.models.dcgan import DCGANGenerator


def _evaluation(high_quality: float, n_covered: int, n: int = 2000) -> SimpleNamespace:
    """What `check_most_collapsed` reads of an `evaluate_generator` result."""
    return SimpleNamespace(attributes=SimpleNamespace(high_quality=high_quality, n_covered=n_covered, n=n))


# as measured in the shipped notebook: dcgan has more good sprites than pac2-ema, but they repeat more
EVALUATIONS = {
    "dcgan": _evaluation(0.337, 174),
    "dcgan-pac2-ema": _evaluation(0.304, 251),
    "dcgan-cond": _evaluation(0.992, 477),
}
GENERATOR = DCGANGenerator(latent_dim=100, ngf=32)  # the quick profile's: ConvTranspose2d(100, 128, 4) first


@pytest.mark.parametrize("case", ch02.TRANSPOSED_CONV_CASES)
def test_the_reference_transposed_conv_size_is_what_pytorch_makes(case):
    size, kernel, stride, padding = case
    layer = nn.ConvTranspose2d(1, 1, kernel, stride, padding)
    assert layer(torch.zeros(1, 1, size, size)).shape[-1] == ch02.solution_transposed_conv_size(*case)


def test_reference_solutions_pass_their_checks():
    assert ch02.check_transposed_conv_size(ch02.solution_transposed_conv_size).passed
    weights = ch02.solution_first_layer_weights(GENERATOR)
    assert weights == GENERATOR.net[0].weight.numel() == 100 * 128 * 4 * 4
    verdict = ch02.check_first_layer_weights(weights, GENERATOR)
    assert verdict.passed and "55%" in verdict.message  # 204,800 of 370,624
    verdict = ch02.check_most_collapsed("dcgan", EVALUATIONS)
    assert verdict.passed and "48%" in verdict.message


def test_wrong_answers_fail_and_say_why():
    def conv_size(size, kernel, stride, padding):  # the ordinary convolution: shrinks instead of grows
        return (size + 2 * padding - kernel) // stride + 1

    cases = [
        (ch02.check_transposed_conv_size(conv_size), "ordinary convolution"),
        (ch02.check_transposed_conv_size(lambda size, k, s, p: size * s), "not in general"),
        (ch02.check_transposed_conv_size(lambda size, k, s, p: size * s + k), "your function gave"),
        (ch02.check_transposed_conv_size(lambda size, k, s, p: "big"), "whole number"),
        (ch02.check_transposed_conv_size(lambda size, k, s, p: size // 0), "raised ZeroDivisionError"),
        (ch02.check_first_layer_weights(204_800 + 128, GENERATOR), "no bias"),
        (ch02.check_first_layer_weights(204_800 + 256, GENERATOR), "batch norm's scale"),
        (ch02.check_first_layer_weights(100 * 128, GENERATOR), "4x4 kernel"),
        (ch02.check_first_layer_weights(370_624, GENERATOR), "not its number of weights"),
        (ch02.check_most_collapsed("dcgan-pac2-ema", EVALUATIONS), "fewest high-quality"),
        (ch02.check_most_collapsed("dcgan-cond", EVALUATIONS), "another covers less"),
        (ch02.check_most_collapsed("real", EVALUATIONS), "one of"),
    ]
    for verdict, reason in cases:
        assert not verdict.passed and reason in verdict.message, verdict
        assert str(verdict).startswith("NOT YET")


def test_the_most_collapsed_recipe_is_read_from_the_measurements():
    """The answer follows the numbers passed in, not a name the check knows by heart."""
    swapped = {**EVALUATIONS, "dcgan": _evaluation(0.337, 300), "dcgan-pac2-ema": _evaluation(0.304, 150)}
    assert ch02.check_most_collapsed("dcgan-pac2-ema", swapped).passed
    assert not ch02.check_most_collapsed("dcgan", swapped).passed
    no_good_sprite = {**EVALUATIONS, "dcgan-cond": _evaluation(0.0, 0)}
    assert ch02.check_most_collapsed("dcgan-cond", no_good_sprite).passed


def test_an_unanswered_exercise_says_so_and_batch_runs_skip(monkeypatch, capsys):
    for check, args in [
        (ch02.check_transposed_conv_size, ()),
        (ch02.check_first_layer_weights, (GENERATOR,)),
        (ch02.check_most_collapsed, (EVALUATIONS,)),
    ]:
        verdict = check(None, *args)
        assert not verdict.passed and "no answer yet" in verdict.message
    verdict = ch02.check_transposed_conv_size(lambda size, kernel, stride, padding: None)  # the page's stub
    assert not verdict.passed and "returns None" in verdict.message
    monkeypatch.setenv("MUSICGAN_BATCH", "1")
    assert exercises.run_check(ch02.check_most_collapsed, None, EVALUATIONS) is None
    assert "skipped in a batch run" in capsys.readouterr().out
    monkeypatch.delenv("MUSICGAN_BATCH")
    monkeypatch.delenv("CI", raising=False)
    assert exercises.run_check(ch02.check_transposed_conv_size, ch02.solution_transposed_conv_size).passed
    assert capsys.readouterr().out.startswith("RIGHT")
