"""Chapter 2's page and library agree: the notebook's `dcgan_generator` and `dcgan_discriminator` are
the library's `DCGANGenerator` and `DCGANDiscriminator`, layer for layer, on the chapter's sizes."""

import pytest
import torch
from notebook_page import page_definitions
from torch import nn

from musicgan_lib.recipes import dcgan_pixels as ch2

CONFIG = ch2.DCGANConfig.for_profile("quick")  # latent 100, ngf = ndf = 32: the networks the chapter trains


@pytest.fixture(scope="module")
def page():
    generator = page_definitions("02", "def dcgan_generator(", {"nn": nn})["dcgan_generator"]
    discriminator = page_definitions("02", "def dcgan_discriminator(", {"nn": nn})["dcgan_discriminator"]
    return generator(CONFIG.latent_dim, CONFIG.ngf), discriminator(CONFIG.ndf)


def _scramble(network: nn.Module) -> nn.Module:
    """Weights that make outputs of order 1 and batch-norm layers that are far from identity.

    Why: with the DCGAN init (N(0, 0.02)) the untrained generator's pixels are about 1e-3, so an
    absolute tolerance would hide a wrong layer; here every layer visibly changes the result."""
    for module in network.modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.kaiming_normal_(module.weight, a=0.2)
            if module.bias is not None:
                nn.init.normal_(module.bias, 0.0, 0.1)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.uniform_(module.weight, 0.5, 1.5)
            nn.init.normal_(module.bias, 0.0, 0.3)
    return network


@pytest.fixture(scope="module")
def library():
    torch.manual_seed(0)
    return tuple(_scramble(network) for network in ch2.build_models(CONFIG, ch2.PLAIN))


def test_the_generator_on_the_page_is_the_library_generator(page, library):
    page_g, library_g = page[0], library[0]
    page_g.load_state_dict(library_g.net.state_dict())  # strict: same layers, same order, same shapes
    z = torch.randn(32, CONFIG.latent_dim, 1, 1, generator=torch.Generator().manual_seed(1))
    for mode in (True, False):  # batch statistics, then the running statistics both just updated alike
        page_g.train(mode), library_g.train(mode)
        with torch.no_grad():
            ours, theirs = page_g(z), library_g(z)
        assert ours.shape == theirs.shape == (32, 3, 32, 32)
        assert torch.allclose(ours, theirs, atol=1e-5)
        assert ours.abs().max() <= 1 and ours.std() > 0.1  # tanh pixels, spread out: a wrong layer would show


def test_the_discriminator_on_the_page_is_the_library_discriminator(page, library):
    page_d, library_d = page[1], library[1]
    page_d.load_state_dict(library_d.net.state_dict())
    sprites = torch.rand(32, 3, 32, 32, generator=torch.Generator().manual_seed(2)) * 2 - 1
    for mode in (True, False):
        page_d.train(mode), library_d.train(mode)
        with torch.no_grad():
            ours, theirs = page_d(sprites), library_d(sprites)
        assert ours.shape == (32, 1, 1, 1) and theirs.shape == (32, 1)
        assert torch.allclose(ours.flatten(1), theirs, rtol=1e-4, atol=1e-4) and theirs.std() > 0.1


def test_the_comparison_notices_a_page_that_drifts(page, library):
    """A page block with the discriminator's slope changed, or one weight nudged, no longer matches:
    the tolerance is tight enough to catch a real difference."""
    page_d, library_d = page[1], library[1]
    page_d.load_state_dict(library_d.net.state_dict())
    page_d.eval(), library_d.eval()
    sprites = torch.rand(16, 3, 32, 32, generator=torch.Generator().manual_seed(3)) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(page_d(sprites).flatten(1), library_d(sprites), rtol=1e-4, atol=1e-4)
        page_d[1].negative_slope = 0.1  # LeakyReLU(0.1) instead of the paper's 0.2
        assert not torch.allclose(page_d(sprites).flatten(1), library_d(sprites), rtol=1e-4, atol=1e-4)
        page_d[1].negative_slope = 0.2
        page_d[0].weight[0, 0, 0, 0] += 0.01
        assert not torch.allclose(page_d(sprites).flatten(1), library_d(sprites), rtol=1e-4, atol=1e-4)
