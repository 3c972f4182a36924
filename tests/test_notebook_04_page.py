"""Chapter 4's page and library agree: the notebook's fade-in (`faded_generator_output`), its alpha
schedule (`fade_alpha`) and its real-image blend (`faded_real`) are `ProGenerator.forward`,
`GrowthSchedule.at` and `data.progan_sprites.fade_real`."""

import pytest
import torch
import torch.nn.functional as F
from notebook_page import broken_page_definitions, page_definitions

from musicgan_lib.data.progan_sprites import fade_real
from musicgan_lib.models.progan import ProGenerator
from musicgan_lib.models.progan_schedule import GrowthSchedule
from musicgan_lib.recipes import progan as ch4

MARKER = "def faded_generator_output("
ALPHAS = (0.0, 0.1, 0.5, 0.9, 1.0)


def page() -> dict:
    """The page cell's definitions."""
    return page_definitions("04", MARKER, {"torch": torch, "F": F})


def broken_page(old: str, new: str) -> dict:
    """The page with one expression swapped for a plausible mistake."""
    return broken_page_definitions("04", MARKER, old, new, {"torch": torch, "F": F})


def grown_generator(resolution: int) -> ProGenerator:
    """A small ProGenerator that has just grown to `resolution` (alpha 0)."""
    torch.manual_seed(0)
    g = ProGenerator(16, 32, {4: 16, 8: 16, 16: 8, 32: 8}, resolution=resolution // 2).eval()
    g.grow()
    return g


@pytest.mark.parametrize("resolution", [8, 16, 32])
def test_the_fade_on_the_page_is_the_library_generator(resolution):
    faded_generator_output = page()["faded_generator_output"]
    g = grown_generator(resolution)
    z = torch.randn(5, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        for alpha in ALPHAS:
            g.set_alpha(alpha)
            library = g(z)
            assert library.shape == (5, 3, resolution, resolution)
            assert torch.allclose(faded_generator_output(g, z, alpha), library, atol=1e-5), alpha
        # a wrong alpha gives another picture: the comparison is not vacuous
        g.set_alpha(0.3)
        assert not torch.allclose(faded_generator_output(g, z, 0.6), g(z), atol=1e-3)


def test_alpha_on_the_page_is_the_schedules_alpha():
    fade_alpha = page()["fade_alpha"]
    for schedule in (
        ch4.ProGANConfig.for_profile("quick").schedule(),
        GrowthSchedule.build(4, 32, stable_images=100, fade_images=[50, 70, 90], batch_size=8),
    ):
        fades = [p for p in schedule.phases if p.kind == "fade"]
        assert fades
        for p in fades:
            for step in range(p.start_step - 3, p.end_step + 3):
                assert fade_alpha(step, p) == schedule.at(step)[1], (p, step)
            assert fade_alpha(p.start_step, p) == 0.0 and fade_alpha(p.end_step - 1, p) < 1.0


def test_real_images_on_the_page_fade_like_the_library():
    faded_real = page()["faded_real"]
    x = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(2)) * 2 - 1
    for alpha in ALPHAS:
        assert torch.allclose(faded_real(x, alpha), fade_real(x, alpha), atol=1e-6), alpha
    assert not torch.allclose(faded_real(x, 0.2), fade_real(x, 0.7), atol=1e-3)


def test_a_page_with_a_wrong_blend_or_schedule_would_fail():
    """The comparisons catch the mistakes a page could make: the blend's weights swapped, bilinear
    instead of nearest upsampling, alpha off by one step."""
    g = grown_generator(16)
    z = torch.randn(5, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        g.set_alpha(0.25)
        library = g(z)
        for old, new in [
            ("(1 - alpha) * old + alpha * new", "alpha * old + (1 - alpha) * new"),
            ('mode="nearest"', 'mode="bilinear"'),
        ]:
            wrong = broken_page(old, new)["faded_generator_output"](g, z, 0.25)
            assert not torch.allclose(wrong, library, atol=1e-3), new
    schedule = ch4.ProGANConfig.for_profile("quick").schedule()
    fade = next(p for p in schedule.phases if p.kind == "fade")
    off_by_one = broken_page("steps_into_fade / fade.steps", "(steps_into_fade + 1) / fade.steps")["fade_alpha"]
    assert any(off_by_one(s, fade) != schedule.at(s)[1] for s in range(fade.start_step, fade.end_step))
