"""Chapter 1's page and library agree: the notebook's `update_D` / `update_G` on `make_players`'
networks play the same game as the library's GANTrainer with the "vanilla" method."""

import copy

import torch
from notebook_page import page_definitions
from torch import nn

from musicgan_lib.data.toy2d import ring
from musicgan_lib.recipes import gan_basics as ch1

BATCH, STEPS = 64, 3


def page():
    return page_definitions("01", "def update_D(", {"torch": torch, "nn": nn})


def page_cell_players():
    return page_definitions("01", "def make_players(", {"torch": torch, "nn": nn})["make_players"]


def library_trainer():
    config = ch1.ToyConfig(steps=STEPS, batch_size=BATCH, track_points=0)
    trainer, _, _ = ch1.make_toy_trainer(ring(), "vanilla", 0, config)
    return trainer


def play_on_the_page(trainer, update_D, update_G, make_players, steps=STEPS):
    """The page's game, from the library trainer's starting weights and its exact data and noise."""
    G, D = make_players()
    for page_net, library_net in ((G, trainer.generator), (D, trainer.critic)):
        for mine, theirs in zip(page_net.parameters(), library_net.parameters(), strict=True):
            assert mine.shape == theirs.shape
            mine.data.copy_(theirs.data)
    opt_G = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.999))
    opt_D = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999))
    rng = copy.deepcopy(trainer.loop.rng)  # the same draws the trainer is about to make, in its order
    sample_real = ring().sampler()
    for _ in range(steps):
        real = sample_real(BATCH, rng)
        update_D(G, D, opt_D, real, torch.randn(BATCH, 256, generator=rng))
        update_G(G, D, opt_G, torch.randn(BATCH, 256, generator=rng))
    return G, D


def max_difference(a: nn.Module, b: nn.Module) -> float:
    return max((p - q).abs().max().item() for p, q in zip(a.parameters(), b.parameters(), strict=True))


def test_the_page_game_gives_the_library_trainers_weights():
    ns = page()
    trainer = library_trainer()
    G, D = play_on_the_page(trainer, ns["update_D"], ns["update_G"], page_cell_players())
    start = copy.deepcopy(trainer.generator)
    trainer.run(STEPS)
    assert max_difference(trainer.generator, start) > 1e-3  # the weights did move
    assert max_difference(G, trainer.generator) < 1e-5
    assert max_difference(D, trainer.critic) < 1e-5


def test_a_different_generator_loss_is_caught():
    ns = page()
    bce = ns["bce"]

    def non_saturating_update_G(G, D, opt_G, z):  # not the page's minimax step
        fake_logit = D(G(z))
        loss = bce(fake_logit, torch.ones_like(fake_logit))
        opt_G.zero_grad()
        loss.backward()
        opt_G.step()

    trainer = library_trainer()
    G, _ = play_on_the_page(trainer, ns["update_D"], non_saturating_update_G, page_cell_players())
    trainer.run(STEPS)
    assert max_difference(G, trainer.generator) > 1e-4
