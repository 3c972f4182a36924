"""Small MLP generator and discriminator for the 2-D toy mixtures (chapter 1)."""

from __future__ import annotations

from torch import Tensor, nn


def _mlp(sizes: list[int], act: nn.Module) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(act)
    return nn.Sequential(*layers)


class MLPGenerator(nn.Module):
    """z ([B, latent_dim]) -> point in the plane ([B, 2])."""

    def __init__(self, latent_dim: int = 2, hidden: int = 128, layers: int = 3) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.net = _mlp([latent_dim] + [hidden] * layers + [2], nn.ReLU())

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """Point(s) -> one logit. With pack=m it judges m samples at once (PacGAN): a batch of
    B points becomes B/m packed inputs, so a collapsed generator is easy to spot."""

    def __init__(self, hidden: int = 128, layers: int = 3, pack: int = 1) -> None:
        super().__init__()
        self.pack = pack
        self.net = _mlp([2 * pack] + [hidden] * layers + [1], nn.LeakyReLU(0.2))

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[0] % self.pack:
            raise ValueError(f"batch of {x.shape[0]} points cannot be packed in groups of {self.pack}")
        return self.net(x.reshape(x.shape[0] // self.pack, -1))
