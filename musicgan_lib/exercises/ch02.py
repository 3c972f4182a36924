"""Chapter 2's exercises: the size a transposed convolution makes, the weights of the generator's
first layer, and which recipe collapsed most."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from torch import nn

from ..data.sprites import N_COMBINATIONS, expected_coverage
from .core import Verdict, call_answer, unanswered

if TYPE_CHECKING:
    from ..metrics.sprite_eval import SpriteEvaluation

# (input side, kernel, stride, padding): the generator's layers for 32x32 (the three doubling ones
# first, then the 1x1 -> 4x4 one), then two that no simple rule of thumb gets right
TRANSPOSED_CONV_CASES = ((8, 4, 2, 1), (4, 4, 2, 1), (16, 4, 2, 1), (1, 4, 1, 0), (5, 3, 2, 0), (7, 5, 3, 2))


def solution_transposed_conv_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Reference: the side of `nn.ConvTranspose2d(kernel, stride, padding)`'s output for a size x size
    input, (size - 1) * stride - 2 * padding + kernel: the input pixels are spread `stride` apart, each
    stamps a kernel x kernel patch, and `padding` is cropped from every edge."""
    return (size - 1) * stride - 2 * padding + kernel


def _conv_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """An ordinary convolution's output side, the mistake of running the formula the wrong way."""
    return (size + 2 * padding - kernel) // stride + 1


def check_transposed_conv_size(transposed_conv_size: Callable[[int, int, int, int], int] | None) -> Verdict:
    """Chapter 2, exercise 1: `transposed_conv_size(size, kernel, stride, padding) -> int`, the output side."""
    if (missing := unanswered(transposed_conv_size)) is not None:
        return missing
    for size, kernel, stride, padding in TRANSPOSED_CONV_CASES:
        result, problem = call_answer(transposed_conv_size, size, kernel, stride, padding)
        if problem is not None:
            return problem
        try:
            got = float(result)
        except (TypeError, ValueError):
            return Verdict(False, f"return the output's side as a whole number; got {result!r}")
        want = solution_transposed_conv_size(size, kernel, stride, padding)
        if got == want:
            continue
        layer = f"ConvTranspose2d(kernel={kernel}, stride={stride}, padding={padding})"
        if got == _conv_size(size, kernel, stride, padding):
            return Verdict(
                False,
                f"that is an ordinary convolution's size, which shrinks ({size}x{size} -> {int(got)}x{int(got)}); "
                f"a transposed one runs it backwards: {layer} turns {size}x{size} into {want}x{want}",
            )
        if got == size * stride:
            return Verdict(
                False,
                f"size x stride holds for the generator's 4x4, stride-2, padding-1 layers, not in general: "
                f"{layer} turns {size}x{size} into {want}x{want}",
            )
        return Verdict(False, f"{layer} turns {size}x{size} into {want}x{want}; your function gave {got:g}")
    return Verdict(
        True, "(size - 1) x stride - 2 x padding + kernel: 1 -> 4 -> 8 -> 16 -> 32 through the generator's four layers"
    )


def _first_transposed_conv(generator: nn.Module) -> nn.ConvTranspose2d:
    return next(m for m in generator.modules() if isinstance(m, nn.ConvTranspose2d))


def solution_first_layer_weights(generator: nn.Module) -> int:
    """Reference: the weights of the generator's first transposed convolution, in x out x k x k
    (no bias: batch norm follows it and would subtract any bias again)."""
    layer = _first_transposed_conv(generator)
    return layer.in_channels * layer.out_channels * layer.kernel_size[0] * layer.kernel_size[1]


def check_first_layer_weights(answer: int | None, generator: nn.Module) -> Verdict:
    """Chapter 2, exercise 2: how many weights has the generator's first layer (the 1x1 -> 4x4 one)?"""
    if (missing := unanswered(answer)) is not None:
        return missing
    layer = _first_transposed_conv(generator)
    c_in, c_out, (k, _) = layer.in_channels, layer.out_channels, layer.kernel_size
    want = solution_first_layer_weights(generator)
    if answer == want:
        total = sum(p.numel() for p in generator.parameters())
        return Verdict(
            True,
            f"{c_in} x {c_out} x {k} x {k} = {want:,}: {want / total:.0%} of the generator's weights are in this layer",
        )
    if answer == want + c_out:
        return Verdict(
            False, "this layer has no bias (bias=False): batch norm right after it subtracts the mean, bias included"
        )
    if answer == want + 2 * c_out:
        return Verdict(False, "count the transposed convolution's weights only, not batch norm's scale and shift")
    if answer == c_in * c_out:
        return Verdict(False, f"each (input, output) channel pair has its own {k}x{k} kernel: {k * k} weights, not 1")
    return Verdict(
        False, f"the layer maps {c_in} channels to {c_out} with {k}x{k} kernels; {answer} is not its number of weights"
    )


def _share_of_ideal(evaluation: SpriteEvaluation) -> float:
    """Combinations covered / what as many uniformly spread high-quality samples would cover (0 if none)."""
    a = evaluation.attributes
    k = round(a.high_quality * a.n)
    return a.n_covered / (expected_coverage(k) * N_COMBINATIONS) if k else 0.0


def check_most_collapsed(answer: str | None, evaluations: Mapping[str, SpriteEvaluation]) -> Verdict:
    """Chapter 2, exercise 3: from the measured `evaluations` (recipe -> `evaluate_generator`), which
    recipe's high-quality sprites cover the smallest share of what uniformly spread ones would?"""
    if (missing := unanswered(answer)) is not None:
        return missing
    if answer not in evaluations:
        return Verdict(False, f"answer one of {sorted(evaluations)}")
    share = {name: _share_of_ideal(ev) for name, ev in evaluations.items()}
    want = min(share, key=share.get)
    if answer == want:
        return Verdict(
            True, f"{want}'s good sprites cover {share[want]:.0%} of what uniformly spread ones would: they repeat"
        )
    fewest_good = min(evaluations, key=lambda name: evaluations[name].attributes.high_quality)
    if answer == fewest_good:
        return Verdict(
            False,
            f"{answer} has the fewest high-quality sprites, but they cover {share[answer]:.0%} of what uniformly "
            "spread ones would; collapse is about variety, so compare coverage with that, not quality",
        )
    return Verdict(
        False,
        f"{answer}'s good sprites cover {share[answer]:.0%} of what uniformly spread ones would; another covers less",
    )
