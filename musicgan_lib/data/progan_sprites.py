"""Chapter 4's sprites at every resolution of a growing GAN.

- `upsample2` / `downsample2`: the two resizes everything progressive uses (nearest 2x up,
  2x2 average pooling down); the networks in `models/progan.py` use the same two.
- `resize_real`: real images at the resolution training is at (2x2 average pooling, as in the paper).
- `fade_real`: real images are faded too: during a fade at resolution R the critic sees
  lerp(up(avgpool2(x_R)), x_R, alpha), the same blend the generator's output goes through.
- `to_eval_space`: any resolution -> 32x32, the one space FD is measured in.
- `detailed_sprites_2x`: the full profile's 64x64 source. The procedural sprites are drawn at
  32x32; this is a nearest 2x upscale plus a one-pixel bevel on every 2x2 block (top-left
  lighter, bottom-right darker by the same amount): the same characters with a synthetic shading
  texture, not new detail, but its 2x2 average is exactly the 32x32 sprite, so FD stays comparable.
- `real_sampler`: the training batches, (images, labels) for a conditional run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from .sprites import SPRITE_SIZE, make_sprites, tensor_sampler

EVAL_SIZE = SPRITE_SIZE  # FD / attribute metrics are computed on 32x32 images


def upsample2(x: Tensor) -> Tensor:
    """Nearest-neighbour 2x upsampling: [B, C, R, R] -> [B, C, 2R, 2R] (the generator's blocks and the fade-in)."""
    return F.interpolate(x, scale_factor=2, mode="nearest")


def downsample2(x: Tensor) -> Tensor:
    """2x2 average pooling: [B, C, 2R, 2R] -> [B, C, R, R] (the critic's blocks, the fade-in, real-image fading)."""
    return F.avg_pool2d(x, 2)


def detailed_sprites_2x(images: Tensor, strength: float = 0.12) -> Tensor:
    """32x32 sprites [B, 3, 32, 32] -> [B, 3, 64, 64]: nearest 2x upscale plus a bevel inside every 2x2 block.

    The top-left pixel of each block moves towards white and the bottom-right one towards black
    by the same amount d = strength * min(1 - x, x + 1) (so nothing leaves [-1, 1]); the other
    two are unchanged. The 2x2 average of the result is exactly the input sprite.
    """
    up = upsample2(images)
    d = strength * torch.minimum(1.0 - images, images + 1.0)
    bevel = torch.zeros_like(up)
    bevel[..., 0::2, 0::2] = d
    bevel[..., 1::2, 1::2] = -d
    return up + bevel


def to_eval_space(images: Tensor) -> Tensor:
    """[B, 3, R, R] at any resolution -> [B, 3, 32, 32] in [-1, 1]: nearest upsampling from below,
    2x2 average pooling from above."""
    x = images.float().clamp(-1.0, 1.0)
    if x.shape[-1] < EVAL_SIZE:
        x = F.interpolate(x, size=(EVAL_SIZE, EVAL_SIZE), mode="nearest")
    while x.shape[-1] > EVAL_SIZE:
        x = downsample2(x)
    return x


def resize_real(images: Tensor, resolution: int) -> Tensor:
    """Real images [B, 3, S, S] at the training resolution: [B, 3, resolution, resolution] (2x2 average pooling)."""
    x = images
    while x.shape[-1] > resolution:
        x = downsample2(x)
    if x.shape[-1] != resolution:
        raise ValueError(
            f"cannot make {resolution}x{resolution} images from {images.shape[-1]}x{images.shape[-1]} ones"
        )
    return x


def fade_real(images: Tensor, alpha: float) -> Tensor:
    """During a fade, blend real images [B, 3, R, R] with their 2x2-average-pooled-then-upsampled version.

    alpha = 0 gives exactly the lower-resolution picture the critic saw before growing,
    alpha = 1 the full-resolution one; in between the same lerp the generator's output uses.
    """
    if alpha >= 1.0:
        return images
    return torch.lerp(upsample2(downsample2(images)), images, float(alpha))


def training_sprites(config: Any) -> Tensor:
    """The training set [n_data, 3, 32, 32]: the same procedural sprites as chapters 2 and 3
    (`config` needs `n_data` and `data_seed`, as `recipes.progan.ProGANConfig` has)."""
    return make_sprites(config.n_data, seed=config.data_seed).images


def real_sampler(
    config: Any, data: Tensor | None = None, labels: Tensor | None = None
) -> Callable[[int, torch.Generator], Tensor | tuple[Tensor, Tensor]]:
    """sample(batch, rng) -> real images [batch, 3, 32, 32], or `detailed_sprites_2x` of them
    [batch, 3, 64, 64] for a 64x64 run; (images, labels [batch, 5]) for a conditional config (`labels`
    default to the procedural sprites' own; an unconditional config ignores them).

    `config` needs max_resolution, n_data, data_seed and conditional (`recipes.progan.ProGANConfig`).
    The trainer average-pools the images down to the resolution it is at.
    """
    if config.max_resolution > 2 * SPRITE_SIZE:
        raise ValueError(f"sprite sources exist up to 64x64, not {config.max_resolution}")
    if data is None:  # the procedural sprites, drawn once, with their labels
        sprites = make_sprites(config.n_data, seed=config.data_seed)
        data, labels = sprites.images, sprites.labels
    elif config.conditional and labels is None:
        raise ValueError(
            "a conditional ProGAN needs the attribute labels of its training images: pass labels=[N, 5] "
            "with data, or set conditional=False"
        )
    base = tensor_sampler(data, labels if config.conditional else None)
    if config.max_resolution <= data.shape[-1]:
        return base
    if config.conditional:

        def detailed_with_labels(batch: int, rng: torch.Generator) -> tuple[Tensor, Tensor]:
            images, y = base(batch, rng)
            return detailed_sprites_2x(images), y

        return detailed_with_labels
    return lambda batch, rng: detailed_sprites_2x(base(batch, rng))
