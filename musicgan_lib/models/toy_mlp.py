"""Small MLP generator and discriminator for the 2-D toy mixtures (chapter 1)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def _mlp(sizes: list[int], act: nn.Module, batchnorm: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            if batchnorm:
                layers.append(nn.BatchNorm1d(b))
            layers.append(act)
    return nn.Sequential(*layers)


class MLPGenerator(nn.Module):
    """z ([B, latent_dim]) -> point in the plane ([B, 2])."""

    def __init__(self, latent_dim: int = 2, hidden: int = 128, layers: int = 3, batchnorm: bool = False) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.net = _mlp([latent_dim] + [hidden] * layers + [2], nn.ReLU(), batchnorm)

    def forward(self, z: Tensor) -> Tensor:
        """z [B, latent_dim] -> points [B, 2]."""
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """Point(s) -> one logit.

    pack=m judges m samples at once (PacGAN): a batch of B points becomes B/m packed inputs.
    minibatch_std=True appends, before the last layer, the batch's average feature standard
    deviation (as in progressive GANs): a generator whose samples are all alike has a tell-tale
    low value, yet every sample is still judged on its own.
    """

    def __init__(self, hidden: int = 128, layers: int = 3, pack: int = 1, minibatch_std: bool = False) -> None:
        super().__init__()
        self.pack = pack
        self.minibatch_std = minibatch_std
        self.body = _mlp([2 * pack] + [hidden] * layers, nn.LeakyReLU(0.2))
        self.act = nn.LeakyReLU(0.2)
        self.head = nn.Linear(hidden + int(minibatch_std), 1)

    def forward(self, x: Tensor) -> Tensor:
        """x: points [B, 2] (B a multiple of pack) -> logits [B / pack, 1]."""
        if x.shape[0] % self.pack:
            raise ValueError(f"batch of {x.shape[0]} points cannot be packed in groups of {self.pack}")
        h = self.act(self.body(x.reshape(x.shape[0] // self.pack, -1)))
        if self.minibatch_std:
            if h.shape[0] < 2:
                raise ValueError("minibatch_std needs at least 2 samples per batch")
            std = h.std(dim=0, unbiased=False).mean().expand(h.shape[0], 1)
            h = torch.cat([h, std], dim=1)
        return self.head(h)
