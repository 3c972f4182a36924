"""DCGAN generator and discriminator (Radford, Metz & Chintala, 2016), sized for small images.

The recipe the paper found stable, kept as is:
- no pooling and no fully connected hidden layers: the generator upsamples with strided
  transposed convolutions (4x4, stride 2), the discriminator downsamples with strided convolutions;
- batch norm everywhere except the generator's output layer and the discriminator's input layer;
- ReLU in the generator (tanh at the output, images live in [-1, 1]), LeakyReLU(0.2) in the
  discriminator;
- weights drawn from N(0, 0.02) (batch-norm scales from N(1, 0.02)), biases zero;
- Adam with lr 2e-4 and beta1 0.5 (see `dcgan_optimizers`).

The discriminator returns a *logit* per image (no sigmoid): the losses in `musicgan_lib.losses`
apply the sigmoid inside a numerically stable softplus, which is the same game.

Three optional discriminator additions are the mode-collapse remedies the chapters compare
(all off by default, so the default is the paper's network):
- `minibatch_std`: Karras et al.'s minibatch standard-deviation channel at the 4x4 stage: the
  discriminator sees how varied the batch is, so a generator that repeats itself is caught;
- `pack`: PacGAN (Lin et al., 2018), the discriminator judges `pack` images at once;
- `spectral_norm`: Miyato et al.'s spectral normalisation of every conv (a Lipschitz bound).
`norm` also accepts "layer" and "none" (a WGAN-GP critic must not use batch norm; chapter 3).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

NORMS = ("batch", "layer", "none")


def _check_size(image_size: int) -> int:
    """Number of stride-2 stages between 4x4 and image_size (image_size must be 4 * 2^k, k >= 1)."""
    k = int(round(math.log2(image_size))) - 2 if image_size > 0 else -1
    if k < 1 or 4 * 2**k != image_size:
        raise ValueError(f"image_size must be a power of two >= 8 (e.g. 32 or 64), got {image_size}")
    return k


def dcgan_init(module: nn.Module) -> None:
    """Radford et al.'s initialisation: conv weights N(0, 0.02), norm scales N(1, 0.02), biases 0.

    Apply with `model.apply(dcgan_init)`. Spectral-normalised convs are initialised through
    their underlying (unnormalised) weight.
    """
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        if parametrize.is_parametrized(module, "weight"):
            weight = module.parametrizations.weight.original
        else:
            weight = module.weight
        with torch.no_grad():
            nn.init.normal_(weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm2d, nn.GroupNorm)) and module.weight is not None:
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class DCGANGenerator(nn.Module):
    """z [B, latent_dim] (or [B, latent_dim, 1, 1]) -> images [B, channels, size, size] in [-1, 1].

    For size 32: z -> 4x4 (4*ngf) -> 8x8 (2*ngf) -> 16x16 (ngf) -> 32x32 (channels), each step
    a 4x4 stride-2 transposed conv; every hidden layer is ConvT -> BN -> ReLU, the last ConvT -> tanh.
    """

    def __init__(self, latent_dim: int = 100, ngf: int = 64, channels: int = 3, image_size: int = 32) -> None:
        super().__init__()
        stages = _check_size(image_size)
        self.latent_dim, self.ngf, self.channels, self.image_size = latent_dim, ngf, channels, image_size
        widths = [ngf * 2 ** (stages - 1 - i) for i in range(stages)]  # e.g. [4ngf, 2ngf, ngf]
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, widths[0], 4, 1, 0, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(True),
        ]
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)

    def forward(self, z: Tensor) -> Tensor:
        """z [B, latent_dim] or [B, latent_dim, 1, 1] -> images [B, channels, S, S] in [-1, 1] (S = image_size)."""
        if z.dim() == 2:
            z = z[:, :, None, None]
        if z.dim() != 4 or z.shape[1] != self.latent_dim:
            raise ValueError(
                f"expected latents [B, {self.latent_dim}] or [B, {self.latent_dim}, 1, 1], got {tuple(z.shape)}"
            )
        return self.net(z)


class MinibatchStdDev(nn.Module):
    """Append one channel: the feature-wise standard deviation over groups of `group_size` samples,
    averaged to a single number per group (Karras et al., 2018).

    A batch of near-identical fakes has a much smaller value here than a batch of real sprites,
    so the discriminator can reject a collapsed generator from batch statistics alone.
    Batches whose size is not a multiple of the group size use one group per batch.
    """

    def __init__(self, group_size: int = 4) -> None:
        super().__init__()
        self.group_size = group_size

    def forward(self, x: Tensor) -> Tensor:
        """x [B, C, H, W] -> [B, C + 1, H, W]: the group's std repeated over the new channel."""
        b, c, h, w = x.shape
        g = self.group_size if (b % self.group_size == 0 and b >= self.group_size) else b
        if g < 2:  # one sample has no spread: append zeros rather than NaN
            return torch.cat([x, x.new_zeros(b, 1, h, w)], 1)
        y = x.float().reshape(g, b // g, c, h, w)
        std = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # [b // g]
        std = std.to(x.dtype).repeat(g)[:, None, None, None].expand(b, 1, h, w)
        return torch.cat([x, std], 1)


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":  # per-sample normalisation over all features (safe with a gradient penalty)
        return nn.GroupNorm(1, channels)
    return nn.Identity()


class DCGANDiscriminator(nn.Module):
    """images [B, channels, size, size] -> one logit per image, [B, 1] (or [B / pack, 1] when packed).

    For size 32: 32x32 -> 16x16 (ndf, no norm) -> 8x8 (2*ndf) -> 4x4 (4*ndf) -> 1x1 logit; each
    step a 4x4 stride-2 conv followed by norm and LeakyReLU(0.2); the last layer is a 4x4 conv.
    """

    def __init__(
        self,
        ndf: int = 64,
        channels: int = 3,
        image_size: int = 32,
        *,
        norm: str = "batch",
        minibatch_std: bool = False,
        mbstd_group: int = 4,
        pack: int = 1,
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        if pack < 1:
            raise ValueError(f"pack must be >= 1, got {pack}")
        stages = _check_size(image_size)
        self.ndf, self.channels, self.image_size, self.pack = ndf, channels, image_size, pack
        self.config = {
            "ndf": ndf, "channels": channels, "image_size": image_size, "norm": norm,
            "minibatch_std": minibatch_std, "mbstd_group": mbstd_group, "pack": pack, "spectral_norm": spectral_norm,
        }  # fmt: skip
        sn = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda m: m)
        widths = [ndf * 2**i for i in range(stages)]  # e.g. [ndf, 2ndf, 4ndf]
        layers: list[nn.Module] = [sn(nn.Conv2d(channels * pack, widths[0], 4, 2, 1)), nn.LeakyReLU(0.2, True)]
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [sn(nn.Conv2d(a, b, 4, 2, 1, bias=norm == "none")), _norm(norm, b), nn.LeakyReLU(0.2, True)]
        if minibatch_std:
            layers.append(MinibatchStdDev(mbstd_group))
        layers.append(sn(nn.Conv2d(widths[-1] + int(minibatch_std), 1, 4, 1, 0)))
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)

    def forward(self, x: Tensor) -> Tensor:
        """x: images [B, channels, S, S] -> logits [B, 1], or [B / pack, 1] when packed (B a multiple of pack)."""
        if self.pack > 1:
            b = x.shape[0]
            if b % self.pack:
                raise ValueError(
                    f"a batch of {b} images cannot be packed in groups of {self.pack}; use a multiple of it"
                )
            x = x.reshape(b // self.pack, self.pack * x.shape[1], *x.shape[2:])
        return self.net(x).flatten(1)


def dcgan_optimizers(
    generator: nn.Module,
    discriminator: nn.Module,
    lr: float = 2e-4,
    betas: tuple[float, float] = (0.5, 0.999),
    d_lr: float | None = None,
    fast: bool = True,
) -> tuple[torch.optim.Adam, torch.optim.Adam]:
    """Radford et al.'s Adam (lr 2e-4, beta1 0.5) for G and D; `d_lr` gives D its own rate (TTUR).

    `fast` uses the fused single-kernel Adam (CPU and CUDA): the same update, one kernel
    instead of a Python loop over parameters.
    """
    kw = {"fused": True} if fast else {"foreach": False}
    betas = (float(betas[0]), float(betas[1]))
    g_opt = torch.optim.Adam(generator.parameters(), lr=lr, betas=betas, **kw)
    d_opt = torch.optim.Adam(discriminator.parameters(), lr=d_lr if d_lr is not None else lr, betas=betas, **kw)
    return g_opt, d_opt


def count_parameters(module: nn.Module) -> int:
    """Trainable parameters (what a notebook prints next to a model)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


@torch.no_grad()
def recalibrate_batchnorm(generator: nn.Module, batches: int = 16, batch_size: int = 256, seed: int = 0) -> nn.Module:
    """Re-estimate a generator's batch-norm running statistics from its own samples ("standing
    statistics", Brock et al. 2019), in place; returns it in eval mode.

    Needed for an EMA generator: averaging weights *and* running statistics gives statistics
    that do not belong to the averaged weights (its samples turn to mush); a few forward
    passes with the final weights fix that. Also makes eval-mode samples of the raw generator
    independent of the last few training batches.
    """
    bns = [m for m in generator.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return generator.eval()
    p = next(generator.parameters())
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the calibration batches
    g = torch.Generator().manual_seed(seed)
    generator.train()
    for _ in range(batches):
        generator(torch.randn(batch_size, generator.latent_dim, generator=g).to(p.device, p.dtype))
    for m, mom in zip(bns, momenta):
        m.momentum = mom
    return generator.eval()
