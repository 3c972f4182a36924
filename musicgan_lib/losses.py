"""GAN losses as small objects the training loop calls: one for the critic, one for the generator.

Every loss works on raw critic outputs (logits / scores), never on sigmoids, so the log
terms stay numerically stable.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _score(critic: nn.Module, x: Tensor) -> Tensor:
    """One score per critic output row (a packed critic returns fewer rows than samples)."""
    out = critic(x)
    return out.reshape(out.shape[0], -1).mean(dim=1)


@dataclass
class MinimaxLoss:
    """Goodfellow et al.'s original game: G minimises log(1 - D(G(z))), which saturates early on."""

    name: str = "minimax"

    def critic_loss(self, critic: nn.Module, real: Tensor, fake: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """real, fake: batches [B, ...] (e.g. images [B, 3, H, W]); critic(x) gives raw scores [B] or [B, 1] (any
        [B, ...] is averaged per row). Returns (loss: scalar tensor [], logs: {name: detached scalar []}).
        logs d_real / d_fake are mean sigmoid(score) in [0, 1].
        """
        real_logit, fake_logit = _score(critic, real), _score(critic, fake)
        loss = F.softplus(-real_logit).mean() + F.softplus(fake_logit).mean()
        return loss, {
            "d_real": torch.sigmoid(real_logit).mean().detach(),
            "d_fake": torch.sigmoid(fake_logit).mean().detach(),
        }

    def generator_loss(self, critic: nn.Module, fake: Tensor) -> Tensor:
        """fake: a generated batch [B, ...]; critic(fake) gives raw scores [B] or [B, 1] (averaged per row).
        Returns the scalar loss [] to minimise.
        """
        # log(1 - sigmoid(l)) = -softplus(l)
        return -F.softplus(_score(critic, fake)).mean()


@dataclass
class NonSaturatingLoss(MinimaxLoss):
    """The usual fix: G maximises log D(G(z)) instead, so its gradient is strong when D wins."""

    name: str = "non-saturating"

    def generator_loss(self, critic: nn.Module, fake: Tensor) -> Tensor:
        """fake: a generated batch [B, ...]; critic(fake) gives raw scores [B] or [B, 1] (averaged per row).
        Returns the scalar loss [] to minimise.
        """
        return F.softplus(-_score(critic, fake)).mean()


@dataclass
class HingeLoss:
    """The hinge game of SNGAN / projection GANs (Lim & Ye 2017; Miyato et al. 2018).

    The critic only pushes real scores above +1 and fake scores below -1 (max(0, 1 - D(x)) +
    max(0, 1 + D(G(z)))), so once a sample is clearly classified it stops contributing: the
    discriminator cannot run away to ever larger margins. The generator raises -E[D(G(z))].
    """

    name: str = "hinge"

    def critic_loss(self, critic: nn.Module, real: Tensor, fake: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """real, fake: batches [B, ...] (e.g. images [B, 3, H, W]); critic(x) gives raw scores [B] or [B, 1] (any
        [B, ...] is averaged per row). Returns (loss: scalar tensor [], logs: {name: detached scalar []}).
        """
        real_score, fake_score = _score(critic, real), _score(critic, fake)
        loss = F.relu(1.0 - real_score).mean() + F.relu(1.0 + fake_score).mean()
        return loss, {"score_real": real_score.mean().detach(), "score_fake": fake_score.mean().detach()}

    def generator_loss(self, critic: nn.Module, fake: Tensor) -> Tensor:
        """fake: a generated batch [B, ...]; critic(fake) gives raw scores [B] or [B, 1] (averaged per row).
        Returns the scalar loss [] to minimise.
        """
        return -_score(critic, fake).mean()


@dataclass(kw_only=True)
class AuxClassifierHingeLoss(HingeLoss):
    """The hinge game plus an auxiliary classifier (AC-GAN, Odena et al. 2017) on a critic built
    with classifier heads (`models.conditional.ProjectionDiscriminator(aux_classifier=True)`).

    The critic also learns to name the attributes of *real* images (training it on fakes too would
    teach it the generator's mistakes); the generator is also rewarded when the critic names the
    attributes it requested. `weight` scales the summed per-attribute cross-entropies. The logs
    keep the game's own part of the critic loss as `d_hinge`: the class term falls as the heads
    learn, whatever the generator does, so only `d_hinge` compares with the plain hinge game.
    """

    weight: float = 1.0
    name: str = "hinge+ac"

    def critic_loss(self, critic: nn.Module, real: Tensor, fake: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """real, fake: image batches [B, 3, H, W]; critic(real, with_class_loss=True) gives (scores [B, 1], per-image
        class cross-entropy [B]), critic(fake) scores [B, 1]. Returns (loss: scalar [], logs: {name: scalar []}).
        """
        real_score, class_loss = critic(real, with_class_loss=True)
        real_score = real_score.reshape(real_score.shape[0], -1).mean(dim=1)
        fake_score = _score(critic, fake)
        class_loss = class_loss.mean()
        hinge = F.relu(1.0 - real_score).mean() + F.relu(1.0 + fake_score).mean()
        logs = {
            "score_real": real_score.mean().detach(),
            "score_fake": fake_score.mean().detach(),
            "class_real": class_loss.detach(),
        }
        return hinge + self.weight * class_loss, {**logs, "d_hinge": hinge.detach()}

    def generator_loss(self, critic: nn.Module, fake: Tensor) -> Tensor:
        """fake: a generated batch [B, 3, H, W]; critic(fake, with_class_loss=True) gives (scores [B, 1], class
        cross-entropy [B]). Returns the scalar loss [].
        """
        score, class_loss = critic(fake, with_class_loss=True)
        return -score.mean() + self.weight * class_loss.mean()


def gradient_penalty(critic: nn.Module, real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
    """Gulrajani et al.'s two-sided penalty E[(||grad D(x_hat)|| - 1)^2] at random interpolates.

    One interpolation weight per sample, and the norm is taken per sample over all of its
    dimensions (not per channel). Returns (penalty, per-sample gradient norms).
    """
    if real.shape != fake.shape:
        raise ValueError(
            f"real and fake batches must match for the penalty: {tuple(real.shape)} vs {tuple(fake.shape)}"
        )
    eps = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device, dtype=real.dtype)
    interp = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    scores = critic(interp)
    (grad,) = torch.autograd.grad(scores.sum(), interp, create_graph=True)
    norms = grad.flatten(1).norm(2, dim=1)
    return ((norms - 1) ** 2).mean(), norms


@dataclass
class WassersteinLoss:
    """Wasserstein critic loss E[D(fake)] - E[D(real)], with weight clipping or gradient penalty.

    clip: Arjovsky et al.'s weight clipping bound (0.01); gp_weight: Gulrajani et al.'s lambda
    (10); drift: Karras et al.'s epsilon for E[D(real)^2] (0.001) that keeps scores near zero.
    """

    clip: float | None = None
    gp_weight: float = 0.0
    drift: float = 0.0
    name: str = "wasserstein"

    def critic_loss(self, critic: nn.Module, real: Tensor, fake: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """real, fake: batches [B, ...] (e.g. images [B, 3, H, W]); critic(x) gives raw scores [B] or [B, 1] (any
        [B, ...] is averaged per row). Returns (loss: scalar tensor [], logs: {name: detached scalar []}).
        """
        real_score, fake_score = _score(critic, real), _score(critic, fake)
        distance = real_score.mean() - fake_score.mean()
        loss = -distance
        logs = {"w_distance": distance.detach()}
        if self.gp_weight:
            penalty, norms = gradient_penalty(critic, real, fake)
            loss = loss + self.gp_weight * penalty
            logs["gp"] = penalty.detach()
            logs["grad_norm"] = norms.mean().detach()
        if self.drift:
            loss = loss + self.drift * (real_score**2).mean()
        return loss, logs

    def generator_loss(self, critic: nn.Module, fake: Tensor) -> Tensor:
        """fake: a generated batch [B, ...]; critic(fake) gives raw scores [B] or [B, 1] (averaged per row).
        Returns the scalar loss [] to minimise.
        """
        return -_score(critic, fake).mean()

    @torch.no_grad()
    def after_critic_step(self, critic: nn.Module) -> None:
        if self.clip is not None:
            for p in critic.parameters():
                p.clamp_(-self.clip, self.clip)
