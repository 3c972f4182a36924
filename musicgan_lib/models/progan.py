"""Progressive GAN (Karras, Aila, Laine & Lehtinen, 2018): a generator and critic that grow.

Training starts at 4x4, where a GAN learns the coarse layout (where the colours go) in a few
thousand cheap steps; each time the networks *grow* they get one more 2x block, which only has
to learn the detail one octave finer. Every ingredient of the paper is here:

- `EqualizedConv2d` / `EqualizedLinear`: weights stored as N(0, 1) and multiplied at *run time*
  by gain / sqrt(fan_in) (He's constant). Adam's step size is then the same for every layer,
  whatever its fan-in. The bias is *not* scaled.
- `PixelNorm`: each pixel's feature vector is scaled to unit mean square (generator only; it
  keeps G's signal magnitudes from escalating, standing in for batch norm).
- `MinibatchStdDev`: the critic's last block gets one extra channel, the average standard
  deviation of features over a group of samples; a collapsed generator (too little variety)
  is visible there. The group size must divide the batch (batches are drop_last).
- `ProGenerator.grow()` / `ProCritic.grow()`: add one block at twice the resolution; during the
  *fade-in* the new block's output is blended with the old output, upsampled (G) or the old
  path on a 2x average-pooled input (D), with weight `alpha` going 0 -> 1. At alpha = 0 the
  grown generator draws exactly the upsampled picture it drew before growing.

`build_models(config)` builds a config's pair (conditional or not). The schedule is in
`models/progan_schedule.py`, real-image fading in `data/progan_sprites.py`, and growth, Adam
reset and the EMA in `growing.GrowingGANTrainer`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data.progan_sprites import downsample2, upsample2
from ..data.sprites import ATTRIBUTE_SIZES
from .conditional import AttributeCodes, check_sizes

LRELU_SLOPE = 0.2
RELU_GAIN = math.sqrt(2.0)


def _check_resolution(resolution: int, name: str = "resolution") -> int:
    if (
        isinstance(resolution, bool)
        or not isinstance(resolution, int)
        or resolution < 4
        or resolution & (resolution - 1)
    ):
        raise ValueError(f"{name} must be a power of two >= 4 (4, 8, 16, 32, 64, ...), got {resolution!r}")
    return int(math.log2(resolution)) - 2  # level: 4x4 is level 0


class EqualizedConv2d(nn.Module):
    """A conv whose weight is N(0, 1) at init and scaled by gain / sqrt(in * k * k) in forward.

    Why at run time and not at init: Adam normalises every parameter's step by its own gradient
    scale, so with the scale folded into the stored weight a layer with a large fan-in would
    learn relatively faster. Keeping the stored weights at unit scale equalizes that.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        padding: int = 0,
        gain: float = RELU_GAIN,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.scale = gain / math.sqrt(in_channels * kernel_size * kernel_size)
        self.padding = padding

    def forward(self, x: Tensor) -> Tensor:
        """x [B, C_in, H, W] -> [B, C_out, H', W'] with H' = H + 2 * padding - kernel_size + 1 (likewise W')."""
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)

    def extra_repr(self) -> str:
        o, i, k, _ = self.weight.shape
        return f"{i}, {o}, kernel_size={k}, padding={self.padding}, scale={self.scale:.4g}"


class EqualizedLinear(nn.Module):
    """A linear layer with N(0, 1) weights scaled by gain / sqrt(in_features) at run time (bias unscaled)."""

    def __init__(self, in_features: int, out_features: int, gain: float = RELU_GAIN, bias: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        self.scale = gain / math.sqrt(in_features)

    def forward(self, x: Tensor) -> Tensor:
        """x [..., I] -> [..., O] with I = in_features, O = out_features."""
        return F.linear(x, self.weight * self.scale, self.bias)

    def extra_repr(self) -> str:
        o, i = self.weight.shape
        return f"{i}, {o}, scale={self.scale:.4g}"


class PixelNorm(nn.Module):
    """x / sqrt(mean over channels of x^2 + eps): every pixel's feature vector gets unit mean square."""

    def __init__(self, eps: float = 1e-8) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        """x [B, C, H, W] (or [B, C]) -> the same shape, normalised over the channels (dim 1)."""
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + self.eps)


class MinibatchStdDev(nn.Module):
    """Append one channel: the std of each feature over a group of samples, averaged to one number.

    Samples i and i + k*(B / G) form a group (the paper's reshape [G, B/G, ...]). The variance is
    the biased one (divide by G) plus 1e-8, so even a group of one gives a finite 1e-4, never NaN;
    a batch size the group does not divide is refused (sample real batches with drop_last).
    """

    def __init__(self, group_size: int = 4) -> None:
        super().__init__()
        if group_size < 1:
            raise ValueError(f"group_size must be >= 1, got {group_size}")
        self.group_size = group_size

    def forward(self, x: Tensor) -> Tensor:
        """x [B, C, H, W] -> [B, C + 1, H, W] (B a multiple of the group size, or smaller)."""
        b, c, h, w = x.shape
        g = min(self.group_size, b)
        if b % g:
            raise ValueError(
                f"minibatch stddev: group size {g} does not divide the batch of {b}; "
                "use a batch size that is a multiple of the group size (drop_last batches)"
            )
        y = x.reshape(g, b // g, c, h, w)
        std = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # [b // g]
        std = std.repeat(g).reshape(b, 1, 1, 1).expand(b, 1, h, w)
        return torch.cat([x, std], dim=1)


def channel_plan(fmap_base: int = 2048, fmap_max: int = 128, fmap_min: int = 16) -> Callable[[int], int]:
    """The paper's width rule: channels(res) = clamp(fmap_base / res, fmap_min, fmap_max)."""

    def channels(resolution: int) -> int:
        return int(max(fmap_min, min(fmap_max, fmap_base // resolution)))

    return channels


def _lrelu(x: Tensor) -> Tensor:
    return F.leaky_relu(x, LRELU_SLOPE)


class _GBlock(nn.Module):
    """Upsample 2x, then two 3x3 equalized convs, each followed by LReLU and pixel norm."""

    def __init__(self, cin: int, cout: int, pixel_norm: bool = True) -> None:
        super().__init__()
        self.conv1 = EqualizedConv2d(cin, cout, 3, padding=1)
        self.conv2 = EqualizedConv2d(cout, cout, 3, padding=1)
        self.norm = PixelNorm() if pixel_norm else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        x = self.norm(_lrelu(self.conv1(upsample2(x))))
        return self.norm(_lrelu(self.conv2(x)))


class _GFirst(nn.Module):
    """Latent -> 4x4: pixel-normalised z, a dense layer to 4x4xC, then a 3x3 conv (LReLU + pixel norm).

    `extra_dim` > 0: a conditional generator's one-hot attribute codes join the normalised noise
    before the dense layer (they are not normalised: they say *which* character, not how).
    """

    def __init__(self, latent_dim: int, cout: int, pixel_norm: bool = True, extra_dim: int = 0) -> None:
        super().__init__()
        self.cout = cout
        self.dense = EqualizedLinear(
            latent_dim + extra_dim, cout * 16, gain=RELU_GAIN / 4
        )  # the paper's gain for the 4x4 dense
        self.conv = EqualizedConv2d(cout, cout, 3, padding=1)
        self.norm = PixelNorm() if pixel_norm else nn.Identity()

    def forward(self, z: Tensor, extra: Tensor | None = None) -> Tensor:
        x = self.norm(z[:, :, None, None])[:, :, 0, 0]
        if extra is not None:
            x = torch.cat([x, extra], 1)
        x = self.norm(_lrelu(self.dense(x).reshape(-1, self.cout, 4, 4)))
        return self.norm(_lrelu(self.conv(x)))


class ProGenerator(nn.Module):
    """z [B, latent_dim] -> images [B, image_channels, R, R], R the current resolution (starts at 4).

    `grow()` adds a block for 2R and its toRGB layer and sets alpha = 0; the trainer raises
    `alpha` to 1 over the fade. The output is linear (no tanh), as in the paper; clamp to
    [-1, 1] for display and metrics.
    """

    def __init__(
        self,
        latent_dim: int = 128,
        max_resolution: int = 32,
        channels: Mapping[int, int] | Callable[[int], int] | None = None,
        image_channels: int = 3,
        resolution: int = 4,
        pixel_norm: bool = True,
    ) -> None:
        super().__init__()
        _check_resolution(max_resolution, "max_resolution")
        self.latent_dim, self.max_resolution, self.image_channels = latent_dim, max_resolution, image_channels
        self._channels = channels if channels is not None else channel_plan()
        self.pixel_norm = pixel_norm
        self.first = self._make_first()
        self.blocks = nn.ModuleList()  # blocks[i] makes resolution 4 * 2^(i+1)
        self.to_rgb = nn.ModuleList([EqualizedConv2d(self.channels(4), image_channels, 1, gain=1.0)])
        self.register_buffer("alpha", torch.ones(()))
        self.grow_to(resolution)
        self.alpha.fill_(1.0)

    def _make_first(self) -> nn.Module:
        return _GFirst(self.latent_dim, self.channels(4), self.pixel_norm)

    def _start(self, z: Tensor) -> Tensor:
        """The 4x4 features the blocks grow from."""
        return self.first(z)

    def channels(self, resolution: int) -> int:
        c = self._channels
        return int(c[resolution] if isinstance(c, Mapping) else c(resolution))

    @property
    def resolution(self) -> int:
        return 4 * 2 ** len(self.blocks)

    @property
    def level(self) -> int:
        return len(self.blocks)

    def set_alpha(self, alpha: float) -> None:
        if not 0.0 <= float(alpha) <= 1.0:
            raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
        self.alpha.fill_(float(alpha))

    def grow(self) -> None:
        """Add one 2x block (new layers freshly initialised; old ones untouched) and start a fade (alpha = 0)."""
        new = self.resolution * 2
        if new > self.max_resolution:
            raise ValueError(f"the generator is already at its max_resolution {self.max_resolution}")
        cin, cout = self.channels(self.resolution), self.channels(new)
        ref = next(self.parameters())
        self.blocks.append(_GBlock(cin, cout, self.pixel_norm).to(ref.device, ref.dtype))
        self.to_rgb.append(EqualizedConv2d(cout, self.image_channels, 1, gain=1.0).to(ref.device, ref.dtype))
        self.alpha.fill_(0.0)

    def grow_to(self, resolution: int) -> None:
        """Grow until `resolution` (used to rebuild a network before loading a checkpoint)."""
        _check_resolution(resolution)
        if resolution > self.max_resolution:
            raise ValueError(f"resolution {resolution} is above max_resolution {self.max_resolution}")
        while self.resolution < resolution:
            self.grow()

    def forward(self, z: Tensor) -> Tensor:
        """z [B, latent_dim] -> images [B, image_channels, R, R] at the current resolution R (linear, about [-1, 1])."""
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"expected latents [B, {self.latent_dim}], got {tuple(z.shape)}")
        x = self._start(z)
        if not self.blocks:
            return self.to_rgb[0](x)
        for block in self.blocks[:-1]:
            x = block(x)
        new = self.to_rgb[-1](self.blocks[-1](x))
        if float(self.alpha) >= 1.0:
            return new
        old = upsample2(self.to_rgb[-2](x))
        return torch.lerp(old, new, self.alpha.to(new.dtype))


class _DBlock(nn.Module):
    """Two 3x3 equalized convs with LReLU, then 2x2 average pooling."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1 = EqualizedConv2d(cin, cin, 3, padding=1)
        self.conv2 = EqualizedConv2d(cin, cout, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return downsample2(_lrelu(self.conv2(_lrelu(self.conv1(x)))))


class _DLast(nn.Module):
    """4x4 -> score: minibatch stddev, 3x3 conv, 4x4 conv (valid), linear to one score."""

    def __init__(self, cin: int, group_size: int) -> None:
        super().__init__()
        self.mbstd = MinibatchStdDev(group_size) if group_size else None
        self.conv = EqualizedConv2d(cin + (1 if group_size else 0), cin, 3, padding=1)
        self.conv4 = EqualizedConv2d(cin, cin, 4)
        self.out = EqualizedLinear(cin, 1, gain=1.0)

    def features(self, x: Tensor) -> Tensor:
        """The [B, cin] vector the score is read from."""
        if self.mbstd is not None:
            x = self.mbstd(x)
        return _lrelu(self.conv4(_lrelu(self.conv(x)))).flatten(1)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.features(x))


class ProCritic(nn.Module):
    """images [B, image_channels, R, R] -> one score per image [B, 1] (a WGAN critic: no sigmoid).

    `grow()` adds a fromRGB layer and a block for 2R; during the fade the new path is blended
    with the old one fed a 2x2 average-pooled image (weight 1 - alpha).
    `mbstd_group` 0 turns the minibatch-stddev channel off.
    """

    def __init__(
        self,
        max_resolution: int = 32,
        channels: Mapping[int, int] | Callable[[int], int] | None = None,
        image_channels: int = 3,
        resolution: int = 4,
        mbstd_group: int = 4,
    ) -> None:
        super().__init__()
        _check_resolution(max_resolution, "max_resolution")
        self.max_resolution, self.image_channels = max_resolution, image_channels
        self._channels = channels if channels is not None else channel_plan()
        self.last = _DLast(self.channels(4), mbstd_group)
        self.blocks = nn.ModuleList()  # blocks[i] takes resolution 4 * 2^(i+1) down to half of it
        self.from_rgb = nn.ModuleList([EqualizedConv2d(image_channels, self.channels(4), 1)])
        self.register_buffer("alpha", torch.ones(()))
        self.grow_to(resolution)
        self.alpha.fill_(1.0)

    channels = ProGenerator.channels
    resolution = ProGenerator.resolution
    level = ProGenerator.level
    set_alpha = ProGenerator.set_alpha
    grow_to = ProGenerator.grow_to

    def grow(self) -> None:
        """Add a fromRGB layer and a block for twice the resolution, old layers untouched; alpha = 0."""
        new = self.resolution * 2
        if new > self.max_resolution:
            raise ValueError(f"the critic is already at its max_resolution {self.max_resolution}")
        cin, cout = self.channels(new), self.channels(self.resolution)
        ref = next(self.parameters())
        self.blocks.append(_DBlock(cin, cout).to(ref.device, ref.dtype))
        self.from_rgb.append(EqualizedConv2d(self.image_channels, cin, 1).to(ref.device, ref.dtype))
        self.alpha.fill_(0.0)

    def trunk(self, x: Tensor) -> Tensor:
        """Images at the current resolution (fade included) -> the 4x4 features `last` reads.

        x [B, image_channels, R, R] -> features [B, C, 4, 4], C = channels(4).
        """
        r = self.resolution
        if x.dim() != 4 or x.shape[1:] != (self.image_channels, r, r):
            raise ValueError(
                f"the critic is at {r}x{r}: expected images [B, {self.image_channels}, {r}, {r}], got {tuple(x.shape)}"
            )
        h = _lrelu(self.from_rgb[-1](x))
        if self.blocks:
            h = self.blocks[-1](h)
            if float(self.alpha) < 1.0:
                old = _lrelu(self.from_rgb[-2](downsample2(x)))
                h = torch.lerp(old, h, self.alpha.to(h.dtype))
            for block in reversed(self.blocks[:-1]):
                h = block(h)
        return h

    def forward(self, x: Tensor) -> Tensor:
        """x: images [B, image_channels, R, R] (R = resolution) -> raw scores [B, 1]."""
        return self.last(self.trunk(x))


# ---- conditional versions (chapter 2's cure for collapse, grown) ----------------------------------
class CodedProGenerator(AttributeCodes, ProGenerator):
    """A growing generator told which character to draw: the last len(sizes) latent coordinates are
    attribute codes (chapter 2's `CodedGenerator` rule), fed as one-hot vectors into the 4x4 dense
    layer next to the pixel-normalised noise. `latent_dim` counts noise and codes."""

    def __init__(
        self,
        sizes: Sequence[int],
        latent_dim: int = 128,
        max_resolution: int = 32,
        channels=None,
        image_channels: int = 3,
        resolution: int = 4,
        pixel_norm: bool = True,
    ) -> None:
        self.sizes = check_sizes(sizes)
        self.noise_dim = latent_dim - len(self.sizes)
        if self.noise_dim < 1:
            raise ValueError(f"latent_dim {latent_dim} leaves no noise next to {len(self.sizes)} attribute codes")
        super().__init__(latent_dim, max_resolution, channels, image_channels, resolution, pixel_norm)

    def _make_first(self) -> nn.Module:
        return _GFirst(self.noise_dim, self.channels(4), self.pixel_norm, extra_dim=sum(self.sizes))

    def _start(self, z: Tensor) -> Tensor:
        return self.first(z[:, : self.noise_dim], self.one_hot_codes(z))


class ProjectionProCritic(ProCritic):
    """A growing critic that is told the attributes: score = out(f) + sum_k <embed_k[y_k], f> / sqrt(C),
    f the last block's feature vector (the projection discriminator of Miyato & Koyama, 2018).

    The embeddings are stored N(0, 1) and scaled at run time like the equalized layers, so Adam
    moves them at the same relative rate as every other weight."""

    def __init__(
        self,
        sizes: Sequence[int],
        max_resolution: int = 32,
        channels=None,
        image_channels: int = 3,
        resolution: int = 4,
        mbstd_group: int = 4,
    ) -> None:
        super().__init__(max_resolution, channels, image_channels, resolution, mbstd_group)
        self.sizes = check_sizes(sizes)
        width = self.channels(4)
        self.embed = nn.Parameter(torch.randn(sum(self.sizes), width))
        self.embed_scale = 1.0 / math.sqrt(width)
        self.register_buffer("offsets", torch.tensor([0, *self.sizes[:-1]]).cumsum(0), persistent=False)
        self.register_buffer("largest", torch.tensor(self.sizes) - 1, persistent=False)

    def forward(self, x: Tensor, labels: Tensor) -> Tensor:
        """x: images [B, image_channels, R, R], labels [B, A] int64 (A = len(sizes)) -> raw scores [B, 1]."""
        if labels.shape != (x.shape[0], len(self.sizes)):
            raise ValueError(f"labels must have shape [{x.shape[0]}, {len(self.sizes)}], got {tuple(labels.shape)}")
        # an out-of-range label would silently read another attribute's row: refused on the CPU;
        # on an accelerator (where checking would wait for the device) clamped, as `with_labels` does
        if labels.device.type == "cpu" and bool(((labels < 0) | (labels > self.largest)).any()):
            raise ValueError(f"labels out of range: attribute sizes are {self.sizes}")
        labels = labels.clamp(min=0).minimum(self.largest)
        f = self.last.features(self.trunk(x))
        e = self.embed[labels + self.offsets].sum(1) * self.embed_scale  # [B, C]: the requested attributes' vectors
        return self.last.out(f) + (e.to(f.dtype) * f).sum(1, keepdim=True)


def count_parameters(module: nn.Module) -> int:
    """Trainable parameters of a network at its current size."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def build_generator(config: Any, resolution: int | None = None) -> ProGenerator:
    """The config's generator (conditional or not) at `resolution` (default: the start), alpha = 1.

    `config` needs conditional, latent_dim, max_resolution, channels and start_resolution
    (`recipes.progan.ProGANConfig`)."""
    r = resolution or config.start_resolution
    if config.conditional:
        return CodedProGenerator(
            ATTRIBUTE_SIZES, config.latent_dim, config.max_resolution, config.channels, resolution=r
        )
    return ProGenerator(config.latent_dim, config.max_resolution, config.channels, resolution=r)


def build_models(
    config: Any, resolution: int | None = None, device: torch.device | str = "cpu"
) -> tuple[ProGenerator, ProCritic]:
    """Generator and critic at `resolution` (default: the start), alpha = 1, on `device` in the
    config's memory format (`channels_last`); a conditional config gets `CodedProGenerator` and
    `ProjectionProCritic` (told the sprites' attributes)."""
    r = resolution or config.start_resolution
    g = build_generator(config, r)
    if config.conditional:
        d: ProCritic = ProjectionProCritic(
            ATTRIBUTE_SIZES, config.max_resolution, config.channels, resolution=r, mbstd_group=config.mbstd_group
        )
    else:
        d = ProCritic(config.max_resolution, config.channels, resolution=r, mbstd_group=config.mbstd_group)
    fmt = torch.channels_last if config.channels_last else torch.preserve_format
    return g.to(device, memory_format=fmt), d.to(device, memory_format=fmt)
