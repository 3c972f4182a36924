import math

import pytest
import torch
from torch import nn

from musicgan_lib.losses import MinimaxLoss, NonSaturatingLoss, WassersteinLoss, gradient_penalty


class Const(nn.Module):
    """A critic returning fixed logits for the batch it is given (by batch size)."""

    def __init__(self, logits):
        super().__init__()
        self.logits = torch.tensor(logits).reshape(-1, 1)

    def forward(self, x):
        return self.logits[: x.shape[0]]


def test_minimax_and_non_saturating_values_match_hand_computation():
    real, fake = torch.zeros(1, 2), torch.zeros(1, 2)
    d_real, d_fake = 0.8, 0.3
    logit = lambda p: math.log(p / (1 - p))
    critic_real, critic_fake = Const([logit(d_real)]), Const([logit(d_fake)])
    loss = MinimaxLoss()
    # critic loss = -log D(x) - log(1 - D(G(z)))
    d_loss, logs = loss.critic_loss(lambda x: critic_real(x) if x is real else critic_fake(x), real, fake)
    assert d_loss.item() == pytest.approx(-math.log(d_real) - math.log(1 - d_fake), rel=1e-6)
    assert logs["d_real"].item() == pytest.approx(d_real, rel=1e-6)
    # minimax G minimises log(1 - D(G(z))); non-saturating G minimises -log D(G(z))
    assert loss.generator_loss(critic_fake, fake).item() == pytest.approx(math.log(1 - d_fake), rel=1e-6)
    assert NonSaturatingLoss().generator_loss(critic_fake, fake).item() == pytest.approx(-math.log(d_fake), rel=1e-6)


def test_non_saturating_gradient_is_strong_where_minimax_saturates():
    # When D confidently rejects fakes (D(G(z)) ~ 0), minimax's gradient vanishes.
    logit = torch.tensor([[-8.0]], requires_grad=True)
    critic = lambda x: logit
    MinimaxLoss().generator_loss(critic, torch.zeros(1, 2)).backward()
    minimax_grad = logit.grad.abs().item()
    logit.grad = None
    NonSaturatingLoss().generator_loss(critic, torch.zeros(1, 2)).backward()
    assert logit.grad.abs().item() > 100 * minimax_grad


def test_wasserstein_losses_and_clipping():
    real, fake = torch.zeros(2, 3), torch.ones(2, 3)
    critic = lambda x: x.sum(dim=1, keepdim=True) * 2.0  # real -> 0, fake -> 6
    loss = WassersteinLoss()
    d_loss, logs = loss.critic_loss(critic, real, fake)
    assert d_loss.item() == pytest.approx(6.0) and logs["w_distance"].item() == pytest.approx(-6.0)
    assert loss.generator_loss(critic, fake).item() == pytest.approx(-6.0)
    lin = nn.Linear(4, 1)
    nn.init.constant_(lin.weight, 0.5)
    WassersteinLoss(clip=0.01).after_critic_step(lin)
    assert lin.weight.abs().max().item() == pytest.approx(0.01)


def test_gradient_penalty_zero_for_unit_slope_and_known_for_other_slopes():
    torch.manual_seed(0)
    real, fake = torch.randn(8, 3, 4, 4), torch.randn(8, 3, 4, 4)
    w = torch.randn(3 * 4 * 4)
    for scale in (1.0, 3.0):
        direction = scale * w / w.norm()  # ||grad|| = scale everywhere
        critic = lambda x: x.flatten(1) @ direction
        penalty, norms = gradient_penalty(critic, real, fake)
        assert torch.allclose(norms, torch.full((8,), scale), atol=1e-5)
        assert penalty.item() == pytest.approx((scale - 1) ** 2, abs=1e-5)


def test_gradient_penalty_norm_is_per_sample_not_per_channel():
    # critic = sum of squares: grad = 2 x_hat, so the norm is 2 ||x_hat|| over all dims of a sample
    real = torch.ones(4, 2, 3)
    fake = torch.ones(4, 2, 3)
    _, norms = gradient_penalty(lambda x: (x**2).flatten(1).sum(1), real, fake)
    assert norms.shape == (4,)
    assert torch.allclose(norms, torch.full((4,), 2 * math.sqrt(6)))


def test_gradient_penalty_is_differentiable_wrt_critic_parameters():
    critic = nn.Linear(5, 1)
    penalty, _ = gradient_penalty(critic, torch.randn(6, 5), torch.randn(6, 5))
    penalty.backward()
    assert critic.weight.grad is not None and critic.weight.grad.abs().sum() > 0


def test_gradient_penalty_rejects_mismatched_batches():
    with pytest.raises(ValueError, match="must match"):
        gradient_penalty(nn.Linear(2, 1), torch.zeros(3, 2), torch.zeros(4, 2))
