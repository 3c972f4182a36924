"""Chapter 3's page and library agree: the notebook's `gradient_penalty` and `critic_loss` are
`losses.gradient_penalty` and `WassersteinLoss(gp_weight=10).critic_loss`, draw for draw."""

import torch
from notebook_page import broken_page_definitions, page_definitions

from musicgan_lib import losses
from musicgan_lib.data.sprites import make_sprites
from musicgan_lib.models.dcgan import DCGANDiscriminator
from musicgan_lib.recipes import wgan as ch3
from musicgan_lib.train import judged

MARKER = "def gradient_penalty("


def page() -> dict:
    """The page cell's definitions."""
    return page_definitions("03", MARKER, {"torch": torch})


def broken_page(old: str, new: str) -> dict:
    """The page with one expression swapped for a plausible mistake."""
    return broken_page_definitions("03", MARKER, old, new, {"torch": torch})


def sprites_and_fakes(n: int = 6):
    real = make_sprites(n, seed=3)
    fake = torch.randn(n, 3, 32, 32, generator=torch.Generator().manual_seed(4)).tanh()
    return real.images, real.labels, fake


def same_draws(fn, *args, seed: int = 1):
    """Call fn with the global RNG at `seed`: the page and the library then draw the same epsilons."""
    torch.manual_seed(seed)
    return fn(*args)


def test_the_penalty_on_the_page_is_the_library_penalty():
    gradient_penalty = page()["gradient_penalty"]
    real, labels, fake = sprites_and_fakes()
    torch.manual_seed(0)
    plain = DCGANDiscriminator(16, norm="layer")
    _, conditional = ch3.build_models(ch3.WGANConfig.for_profile("quick"))
    for critic in (plain, judged(conditional, labels)):  # the chapter's own critic, as the trainer calls it
        page_penalty, page_norms = same_draws(gradient_penalty, critic, real, fake)
        lib_penalty, lib_norms = same_draws(losses.gradient_penalty, critic, real, fake)
        assert page_norms.shape == (len(real),)
        assert torch.allclose(page_norms, lib_norms, rtol=1e-5)
        assert torch.allclose(page_penalty, lib_penalty, rtol=1e-5)
        # the penalty trains the critic: both give its weights the same gradient
        params = list((plain if critic is plain else conditional).parameters())
        page_grads = torch.autograd.grad(page_penalty, params, allow_unused=True)
        lib_grads = torch.autograd.grad(lib_penalty, params, allow_unused=True)
        for a, b in zip(page_grads, lib_grads):
            assert (a is None and b is None) or torch.allclose(a, b, rtol=1e-4, atol=1e-7)
    # other interpolation draws give another penalty: the comparison above is not vacuous
    other, _ = same_draws(gradient_penalty, plain, real, fake, seed=2)
    same, _ = same_draws(losses.gradient_penalty, plain, real, fake, seed=1)
    assert not torch.allclose(other, same, rtol=1e-3)


def test_the_critic_loss_on_the_page_is_the_library_loss():
    critic_loss = page()["critic_loss"]
    real, _, fake = sprites_and_fakes()
    torch.manual_seed(0)
    critic = DCGANDiscriminator(16, norm="layer")
    page_loss = same_draws(critic_loss, critic, real, fake)
    lib_loss, logs = same_draws(losses.WassersteinLoss(gp_weight=10.0).critic_loss, critic, real, fake)
    assert torch.allclose(page_loss, lib_loss, rtol=1e-5)
    assert logs["gp"] > 0  # the penalty term is really part of the comparison
    no_penalty = same_draws(critic_loss, critic, real, fake, 0.0)
    assert torch.allclose(no_penalty, -logs["w_distance"], rtol=1e-5)
    assert not torch.allclose(no_penalty, lib_loss, rtol=1e-3)


def test_a_page_with_a_wrong_norm_or_a_wrong_target_would_fail():
    """The comparison catches the mistakes a page could make: the norm per channel instead of per
    image, a one-sided penalty, one epsilon for the whole batch."""
    real, _, fake = sprites_and_fakes()
    torch.manual_seed(0)
    critic = DCGANDiscriminator(16, norm="layer")
    lib_penalty, lib_norms = same_draws(losses.gradient_penalty, critic, real, fake)
    mistakes = [
        ("grad.flatten(1).norm(dim=1)", "grad.flatten(2).norm(dim=2).mean(1)"),  # per channel, averaged
        ("((norms - 1) ** 2).mean()", "((norms - 1).clamp(min=0) ** 2).mean()"),  # one-sided
        ("torch.rand(len(real), 1, 1, 1, device=real.device)", "torch.rand(1, device=real.device)"),  # one eps
    ]
    for old, new in mistakes:
        wrong_penalty, _ = same_draws(broken_page(old, new)["gradient_penalty"], critic, real, fake)
        assert not torch.allclose(wrong_penalty, lib_penalty, rtol=1e-3), new
