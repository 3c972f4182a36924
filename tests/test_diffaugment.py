"""DiffAugment: each operation does what it says, per sample, differentiably, and reproducibly."""

import pytest
import torch
from torch import nn

from musicgan_lib.models.diffaugment import AugmentedCritic, cutout, diff_augment, parse_policy, translation


def test_translation_shifts_whole_pixels_and_fills_with_zero():
    x = torch.arange(1, 65, dtype=torch.float32).view(1, 1, 8, 8).repeat(64, 1, 1, 1)
    torch.manual_seed(0)
    out = translation(x)  # up to 1 px on an 8 px image
    for img in out:
        ys, xs = torch.nonzero(img[0] == 28, as_tuple=True)  # value 28 sits at (3, 3) before the shift
        dy, dx = int(ys[0]) - 3, int(xs[0]) - 3
        assert abs(dy) <= 1 and abs(dx) <= 1
        assert torch.equal(img[0], torch.roll(x[0, 0], (dy, dx), (0, 1)) * _inside(dy, dx))
    assert len({tuple(torch.nonzero(img[0] == 28)[0].tolist()) for img in out}) > 4  # each sample its own shift


def _inside(dy, dx, n=8):
    mask = torch.ones(n, n)
    if dy > 0:
        mask[:dy] = 0
    if dy < 0:
        mask[dy:] = 0
    if dx > 0:
        mask[:, :dx] = 0
    if dx < 0:
        mask[:, dx:] = 0
    return mask


def test_cutout_zeroes_one_square_of_half_the_size_at_most():
    torch.manual_seed(1)
    out = cutout(torch.ones(32, 3, 16, 16))
    holes = (out[:, 0] == 0).sum(dim=(1, 2))
    assert holes.max() == 64 and holes.min() > 0  # 8 x 8 when inside, less when it overhangs
    assert torch.equal(out[:, 0], out[:, 2])  # the same hole in every channel


def test_every_operation_passes_gradients_and_repeats_with_the_seed():
    x = torch.randn(4, 3, 16, 16, requires_grad=True)
    torch.manual_seed(5)
    a = diff_augment(x, "color,translation,cutout")
    a.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    torch.manual_seed(5)
    assert torch.equal(a, diff_augment(x, "color,translation,cutout"))
    assert torch.equal(diff_augment(x, ""), x)


def test_policy_errors_name_the_choices():
    assert parse_policy(" color , cutout ") == ("color", "cutout")
    with pytest.raises(ValueError, match=r"unknown DiffAugment operation\(s\) \['flip'\]; choose from color"):
        parse_policy("color,flip")


def test_augmented_critic_passes_labels_and_attributes_through():
    class Critic(nn.Module):
        pack = 2

        def forward(self, x, labels=None):
            return x.mean(dim=(1, 2, 3)) + (0 if labels is None else labels.float())

    critic = AugmentedCritic(Critic(), "translation")
    assert critic.pack == 2
    out = critic(torch.zeros(3, 3, 8, 8), labels=torch.tensor([1, 2, 3]))
    assert torch.equal(out, torch.tensor([1.0, 2.0, 3.0]))
