"""Differentiable augmentation (DiffAugment, Zhao et al. 2020) for GANs trained on small sprite sets.

With a few hundred or thousand training images the discriminator memorises them: its score on
held-out real images falls toward its score on fakes, and the generator gets no useful signal.
DiffAugment shows the discriminator only *augmented* images, real and fake alike, in both the
critic's and the generator's step. Because every operation is differentiable, the generator
still learns through the augmentation, and because fakes are augmented too, the generator is
not pushed to produce augmented-looking images (which augmenting the real data alone would do).

Operations, each with its own random draw per sample (`policy` names them, comma-separated):

* ``color``: brightness (add U(-0.5, 0.5)), saturation (scale the deviation from the pixel's
  grey by U(0, 2)), contrast (scale the deviation from the image mean by U(0.5, 1.5));
* ``translation``: shift by up to 1/8 of the image size in x and y, filling with zeros (the
  value of mid-grey in [-1, 1]);
* ``cutout``: zero a square of half the image size at a random place.

Images are [B, C, H, W] in [-1, 1]; the random numbers come from torch's global generator (the
training loop's checkpoints save and restore it, so a resumed run augments identically).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

POLICIES = ("color", "translation", "cutout")


def parse_policy(policy: str) -> tuple[str, ...]:
    """ "color,translation,cutout" -> ("color", "translation", "cutout"); "" -> () (no augmentation)."""
    ops = tuple(p.strip() for p in policy.split(",") if p.strip())
    unknown = [p for p in ops if p not in POLICIES]
    if unknown:
        raise ValueError(f"unknown DiffAugment operation(s) {unknown}; choose from {', '.join(POLICIES)}")
    return ops


def color(x: Tensor) -> Tensor:
    """Random brightness, saturation and contrast per sample; [B, C, H, W] -> same shape."""
    b = x.shape[0]
    x = x + (torch.rand(b, 1, 1, 1, device=x.device, dtype=x.dtype) - 0.5)
    grey = x.mean(dim=1, keepdim=True)
    x = (x - grey) * (torch.rand(b, 1, 1, 1, device=x.device, dtype=x.dtype) * 2) + grey
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (torch.rand(b, 1, 1, 1, device=x.device, dtype=x.dtype) + 0.5) + mean


def translation(x: Tensor, ratio: float = 0.125) -> Tensor:
    """Shift each image by up to `ratio` of its size, zero-filled (a gather, so gradients flow).

    x [B, C, H, W] -> shifted images [B, C, H, W].
    """
    b, _, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sy, sy + 1, (b, 1, 1), device=x.device)
    dx = torch.randint(-sx, sx + 1, (b, 1, 1), device=x.device)
    ys = torch.arange(h, device=x.device).view(1, h, 1) - dy  # source row of each target row
    xs = torch.arange(w, device=x.device).view(1, 1, w) - dx
    inside = ((ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)).unsqueeze(1)  # [B, 1, H, W]
    ys, xs = ys.clamp(0, h - 1).expand(b, h, w), xs.clamp(0, w - 1).expand(b, h, w)
    flat = (ys * w + xs).unsqueeze(1).expand(-1, x.shape[1], -1, -1).reshape(b, x.shape[1], -1)
    shifted = x.reshape(b, x.shape[1], -1).gather(2, flat).view_as(x)
    return shifted * inside.to(x.dtype)


def cutout(x: Tensor, ratio: float = 0.5) -> Tensor:
    """Zero one square of `ratio` x the image size per image, at a random place (may overhang).

    x [B, C, H, W] -> images [B, C, H, W] with the square zeroed.
    """
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), device=x.device)
    cx = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), device=x.device)
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    top, left = cy - ch // 2, cx - cw // 2
    hole = (ys >= top) & (ys < top + ch) & (xs >= left) & (xs < left + cw)  # [B, H, W]
    return x * (~hole).unsqueeze(1).to(x.dtype)


_OPS = {"color": color, "translation": translation, "cutout": cutout}


def diff_augment(x: Tensor, policy: str | tuple[str, ...]) -> Tensor:
    """Apply the policy's operations in order; every one is differentiable in x.

    x: images [B, C, H, W] (in [-1, 1]) -> augmented images [B, C, H, W].
    """
    for op in parse_policy(policy) if isinstance(policy, str) else policy:
        x = _OPS[op](x)
    return x


class AugmentedCritic(nn.Module):
    """A critic that sees `diff_augment(x, policy)` instead of x, for real and fake images alike.

    Extra arguments (a conditional critic's labels) pass through untouched; attributes the
    training code reads (`pack`, `minibatch_std`, ...) are the wrapped critic's."""

    def __init__(self, critic: nn.Module, policy: str = "color,translation,cutout") -> None:
        super().__init__()
        self.critic = critic
        self.policy = parse_policy(policy)

    def forward(self, x: Tensor, *args, **kwargs) -> Tensor:
        """x: images [B, C, H, W] -> the wrapped critic's scores on the augmented images (e.g. [B, 1])."""
        return self.critic(diff_augment(x, self.policy), *args, **kwargs)

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(super().__getattr__("critic"), name)
